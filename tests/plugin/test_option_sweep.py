"""--kick-sweep on the fact-trained tiny model: bisection over magnitude sparsity finds the boundary that running
every candidate's full suite shows (the test runs both), runs fewer candidates, and reports the frontier in the
terminal and the JSON report; bad sweeps stop the run at start-up."""

import json

import pytest
from conftest import GATE_TEST

pytestmark = pytest.mark.slow  # trains, prunes and runs a real (tiny) model

LEVELS = list(range(90, 100))  # magnitude90 ... magnitude99: the tiny model keeps its facts up to about 95% sparsity


def outcomes(result) -> dict[str, str]:
    """'passed' / 'failed' / 'skipped' per method, from pytest's own report lines (-rA)."""
    out = {}
    for line in result.outlines:
        for word in ("PASSED", "FAILED", "SKIPPED"):
            if line.startswith(word) and "[magnitude" in line:
                out[line.split("[")[1].split("]")[0]] = word.lower()
    return out


def test_the_sweep_finds_the_boundary_the_full_evaluation_shows_running_fewer_candidates(pytester, kick_args, tmp_path):
    pytester.makepyfile(test_user_gate=GATE_TEST)
    methods = ",".join(f"magnitude{s}" for s in LEVELS)
    full = outcomes(pytester.runpytest(*kick_args, f"--kick-method={methods}", "-rA", "-p", "no:cacheprovider"))
    assert set(full.values()) <= {"passed", "failed"} and len(full) == len(LEVELS)
    ordered = [full[f"magnitude{s}"] for s in LEVELS]
    first_fail = ordered.index("failed") if "failed" in ordered else len(LEVELS)
    assert "passed" not in ordered[first_fail:], f"not monotone on this model: {ordered}"  # the assumption holds here
    want = f"magnitude{LEVELS[first_fail - 1]}" if first_fail else None

    report = tmp_path / "report.json"
    swept = pytester.runpytest(*kick_args, "--kick-sweep=magnitude{90..99:1}", "-rA", f"--kick-report={report}")
    assert report.exists(), swept.stdout.str()[-3000:] + swept.stderr.str()[-2000:]
    answer = json.loads(report.read_text())["frontier"][0]
    assert answer["passes"] == want and answer["violations"] == []
    assert answer["fails"] == (f"magnitude{LEVELS[first_fail]}" if first_fail < len(LEVELS) else None)
    ran = [m for m, o in outcomes(swept).items() if o != "skipped"]
    assert len(ran) == answer["run"] <= 4 < len(LEVELS)  # bisection: about log2(10) candidates run
    assert all(
        c["status"] == {"passed": "pass", "failed": "fail"}[full[c["method"]]] or c["status"].startswith("implied")
        for c in answer["candidates"]
    )
    assert all(c["status"].endswith({"passed": "pass", "failed": "fail"}[full[c["method"]]]) for c in answer["candidates"])
    swept.stdout.fnmatch_lines(
        [
            "*pytest-kick frontier*",
            "sweep magnitude{90..99:1}: * of 10 candidates run (the rest implied)",
            f"most compressed that passes every gate: {want or 'none of them'}; first that fails: *",
        ]
    )
    assert "it passes by the monotonicity assumption" in swept.stdout.str() or "it fails by the monotonicity" in swept.stdout.str()


@pytest.mark.parametrize(
    "value,needle",
    [
        ("magnitude50", "write one knob as a brace group"),
        ("magnitude{50}", "at least two values in the braces"),
        ("magnitude{20,40,30}", "the values must run one way"),
        ("rtn{8,6}-g{128,64}", "write one knob as a brace group"),
        ("magnitude{20..70:15}", "must reach its end in steps of 15"),
    ],
)
def test_a_bad_sweep_stops_the_run_at_start_up(pytester, kick_args, value, needle):
    pytester.makepyfile(test_x="def test_x(kick_pair): pass")
    result = pytester.runpytest(*kick_args, f"--kick-sweep={value}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: *{needle}*"])


def test_a_sweep_and_a_method_list_are_one_too_many(pytester, kick_args):
    pytester.makepyfile(test_x="def test_x(kick_pair): pass")
    result = pytester.runpytest(*kick_args, "--kick-sweep=magnitude{20,40}", "--kick-method=rtn4")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: *--kick-sweep chooses the methods itself*"])


def test_a_sweep_replaces_the_methods_of_the_ini_file(pytester, kick_args):
    pytester.makeini("[pytest]\nkick_method = rtn4,rtn8\n")
    pytester.makepyfile(test_user_gate=GATE_TEST)
    result = pytester.runpytest(*kick_args, "--kick-sweep=magnitude{20,30,40}", "-v")
    result.assert_outcomes(passed=2, skipped=1)  # the middle first: magnitude30 passes, so magnitude20 is implied
    assert "[rtn4]" not in result.stdout.str() and "test_recall[magnitude40] PASSED" in result.stdout.str()


MIXED = (
    GATE_TEST
    + """

def test_needs_a_judge(kick_pair):
    pytest.skip("no judge configured")  # skipped for its own reason: done, neither pass nor fail


def test_sparsity_budget(kick_method):  # no kick_pair: still one of the candidate's tests, skipped when implied
    assert kick_method.sparsity <= 0.94


def test_deselected(kick_pair):
    assert False, "deselected with -k: never counted"
"""
)


def test_skipped_deselected_and_pair_less_tests_count_right(pytester, kick_args, tmp_path):
    pytester.makepyfile(test_mixed="import pytest\n" + MIXED)
    report = tmp_path / "r.json"
    result = pytester.runpytest(*kick_args, "--kick-sweep=magnitude{90..99:1}", "-k", "not deselected", f"--kick-report={report}", "-rs")
    answer = json.loads(report.read_text())["frontier"][0]
    assert (answer["passes"], answer["fails"]) == ("magnitude94", "magnitude95"), result.stdout.str()[-3000:]
    assert "open" not in {c["status"] for c in answer["candidates"]} and answer["violations"] == []
    implied = [c["method"] for c in answer["candidates"] if c["status"].startswith("implied")]
    skipped = [line for line in result.outlines if line.startswith("SKIPPED") and "--kick-sweep" in line]
    count = sum(int(line.split("[")[1].split("]")[0]) for line in skipped)
    assert implied and count >= 3 * len(implied) - 2  # every test of an implied candidate, pair or not
    assert all("test_mixed.py:" in line for line in skipped)  # at the test's own line


def test_a_saved_frontier_is_kept_checked_and_read_against_a_later_release(pytester, kick_args):
    pytester.makepyfile(test_user_gate=GATE_TEST)
    pytester.runpytest(*kick_args, "--kick-sweep=magnitude{90..99:1}", "--kick-save=v1")
    path = pytester.path / ".kick" / "v1.json"
    data = json.loads(path.read_text())
    assert [a["passes"] for a in data["frontier"]] == ["magnitude96"] and all(a["checksum"] for a in data["frontier"])

    later = pytester.runpytest(*kick_args, "--kick-method=magnitude97,magnitude95", "--kick-compare=v1")
    later.stdout.fnmatch_lines(
        [
            "v1's frontier of magnitude{90..99:1}: magnitude96 (4% of weights) passes every gate; magnitude97 fails first",
            "  this run's magnitude95 (5% of weights) passes every gate, less compressed than magnitude96",
            "  this run's magnitude97 (3% of weights) fails a gate, more compressed than magnitude96",
        ]
    )

    data["frontier"][0]["passes"] = "magnitude99"  # edited into a better frontier: refused at start-up
    path.write_text(json.dumps(data))
    edited = pytester.runpytest(*kick_args, "--kick-method=magnitude95", "--kick-compare=v1")
    assert edited.ret == pytest.ExitCode.USAGE_ERROR
    edited.stderr.fnmatch_lines(["ERROR: *frontier[[]0[]] (magnitude{90..99:1}) was changed after it was saved*"])
