"""--kick-gpus / --kick-gpus-per-worker: each xdist worker sees only its share of GPUs, in its environment, before
torch is imported there. The contract is the environment, so it is checked on a CPU machine."""

import json
import os

import pytest

pytest.importorskip("xdist")

CONFTEST = """
import json, os, sys
from pathlib import Path

# Runs in each worker as it starts: what it sees before any test (and before torch) runs.
seen = {"visible": os.environ.get("CUDA_VISIBLE_DEVICES"), "torch": "torch" in sys.modules}
Path(f"seen-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}.json").write_text(json.dumps(seen))
"""

TESTS = """
import pytest

@pytest.mark.parametrize("i", range(4))
def test_nothing(i):
    pass
"""


# Plugins this check does not need, kept out of the three processes each run starts (they cost seconds each).
QUICK = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-p", "no:anyio")


def clean_environment(monkeypatch):
    """This suite may itself run under xdist: its worker's variables must not leak into the run under test."""
    for name in ("CUDA_VISIBLE_DEVICES", "PYTEST_KICK_GPU_SHARE", "PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT"):
        monkeypatch.delenv(name, raising=False)


def run(pytester, monkeypatch, *args, env=None):
    clean_environment(monkeypatch)
    if env is not None:
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", env)
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_gpus=TESTS)
    result = pytester.runpytest_subprocess(*QUICK, *args)
    result.assert_outcomes(passed=4)
    seen = {p.stem[5:]: json.loads(p.read_text()) for p in pytester.path.glob("seen-*.json")}
    if "-n" in args:
        seen.pop("main")  # the controller runs no test: it keeps what it was given
    return seen


def test_each_worker_sees_one_gpu_of_cuda_visible_devices(pytester, monkeypatch):
    seen = run(pytester, monkeypatch, "-n", "2", env="0,1")
    assert seen == {"gw0": {"visible": "0", "torch": False}, "gw1": {"visible": "1", "torch": False}}


def test_kick_gpus_lists_the_devices_to_share(pytester, monkeypatch):
    seen = run(pytester, monkeypatch, "-n", "2", "--kick-gpus=2,3")
    assert {w: s["visible"] for w, s in seen.items()} == {"gw0": "2", "gw1": "3"}


def test_two_gpus_per_worker(pytester, monkeypatch):
    seen = run(pytester, monkeypatch, "-n", "2", "--kick-gpus-per-worker", "2", env="0,1,2,3")
    assert {w: s["visible"] for w, s in seen.items()} == {"gw0": "0,1", "gw1": "2,3"}


def test_without_workers_the_run_takes_the_first_share(pytester, monkeypatch):
    seen = run(pytester, monkeypatch, "--kick-gpus=5,6", "--kick-gpus-per-worker=2")
    assert seen == {"main": {"visible": "5,6", "torch": False}}


def test_nothing_is_narrowed_when_no_gpus_are_listed(pytester, monkeypatch):
    seen = run(pytester, monkeypatch, "-n", "2")
    assert {s["visible"] for s in seen.values()} == {None}


def test_too_few_gpus_for_a_share_is_a_usage_error(pytester, monkeypatch):
    clean_environment(monkeypatch)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    pytester.makepyfile(test_gpus=TESTS)
    result = pytester.runpytest_subprocess(*QUICK, "-n", "2", "--kick-gpus-per-worker=2")
    assert result.ret != 0
    result.stderr.fnmatch_lines(["*--kick-gpus-per-worker=2 but only 1 GPU(s) are visible*"])


TWO_GPUS = """
import os
if not os.environ.get("PYTEST_XDIST_WORKER"):  # the controller checks the device at start-up: give it two GPUs
    import torch
    torch.cuda.is_available = lambda: True
    torch.cuda.device_count = lambda: 2
"""


def test_a_pinned_device_is_not_narrowed(pytester, monkeypatch):
    pytester.makepyfile(conftest_gpus=TWO_GPUS)
    seen = run(pytester, monkeypatch, "-n", "2", "-p", "conftest_gpus", "--kick-device=cuda:1", env="0,1")
    assert {s["visible"] for s in seen.values()} == {"0,1"}  # every worker keeps both and uses GPU 1


def test_an_in_process_run_gives_the_environment_back(pytester, monkeypatch):
    clean_environment(monkeypatch)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1,2")
    pytester.makepyfile(test_env="import os\n\ndef test_env():\n    assert os.environ['CUDA_VISIBLE_DEVICES'] == '2'\n")
    pytester.runpytest("--kick-gpus=2").assert_outcomes(passed=1)
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "0,1,2" and "PYTEST_KICK_GPU_SHARE" not in os.environ
