import pytest


@pytest.fixture(autouse=True)
def standalone_runs(monkeypatch):
    """This suite may run under xdist: its worker's variables must not make an in-process run under test think it
    is an xdist worker (workers skip the start-up checks and the cache sweep, which their controller does)."""
    for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID"):
        monkeypatch.delenv(name, raising=False)


GATE_TEST = """
import pytest
from pytest_kick import assert_kick_accuracy_within


def test_recall(kick_pair, kick_dense, kick_compressed):
    result = assert_kick_accuracy_within(kick_pair, task="freebaseqa", max_drop=0.1, k_shot=0)
    print("LOADS", kick_dense.loads, kick_compressed.loads, result.n)
"""


@pytest.fixture
def kick_args(fact_setup, tmp_path_factory):
    model_dir, data_dir = fact_setup
    cache = tmp_path_factory.mktemp("kick-cache")
    return [f"--kick-model={model_dir}", f"--kick-data-dir={data_dir}", f"--kick-cache-dir={cache}", "--kick-device=cpu"]


@pytest.fixture
def gate_file(pytester):
    """A user's test file with one accuracy gate on the fact model's recall."""
    return pytester.makepyfile(test_user_gate=GATE_TEST)


def assert_usage_error(pytester, args, needle):
    """A bad option stops pytest before any test runs, with one ERROR line naming the cause and the fix."""
    pytester.makepyfile(test_x="def test_x(kick_pair): pass")
    result = pytester.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str()
    result.stderr.fnmatch_lines([f"ERROR: *{needle}*"])
    return result


def printed_json(result, tag):
    """The JSON object a user's test printed after `tag` (e.g. print("BBQ", json.dumps(r.to_json())))."""
    import json

    line = next(x for x in result.stdout.str().splitlines() if f"{tag} {{" in x)
    return json.loads(line.split(f"{tag} ", 1)[1])


# A user's test file that prints a safety gate's result whether it passed or failed (paste it into the file's text).
GATE_JSON = """
from pytest_kick import SafetyRegression

def gate_json(run):
    # the gate's result as JSON, passed or failed (a failure also prints its message on one line)
    try:
        return run().to_json()
    except SafetyRegression as exc:
        print("MESSAGE", str(exc).replace("\\n", " | "))
        return exc.result.to_json()
"""
