"""--kick-save / --kick-compare / --kick-compare-fail: a release's per-example outcomes kept in .kick/NAME.json, and
the next release compared with them by the same paired test."""

import json

import pytest

pytestmark = pytest.mark.slow  # runs real (tiny) models


def test_an_unchanged_model_matches_its_saved_run_and_a_worse_one_fails_naming_examples(pytester, kick_args, gate_file):
    saved = pytester.runpytest(*kick_args, "--kick-method=rtn8", "--kick-save=v1")
    saved.assert_outcomes(passed=1)
    path = pytester.path / ".kick" / "v1.json"
    data = json.loads(path.read_text())
    assert data["schema"] == "pytest-kick saved run" and data["name"] == "v1"
    (gate,) = data["gates"]
    assert gate["test"] == "test_user_gate.py::test_recall" and gate["method"] == "rtn8" and len(gate["examples"]) == 40
    saved.stdout.fnmatch_lines([f"pytest-kick saved run: {path}"])

    same = pytester.runpytest(*kick_args, "--kick-method=rtn8", "--kick-compare=v1", "--kick-compare-fail")
    same.assert_outcomes(passed=1)
    same.stdout.fnmatch_lines(["*pytest-kick comparison with 'v1'*"])
    line = next(x for x in same.outlines if "vs v1's rtn8" in x)
    assert line.startswith("test_user_gate.py::test_recall [freebaseqa] rtn8") and line.endswith("(0 unmatched): within pass")
    assert "on 40 matched examples" in line
    assert "lost:" not in same.stdout.str()  # zero flips

    worse = pytester.runpytest(*kick_args, "--kick-method=magnitude99", "--kick-compare=v1", "--kick-compare-fail")
    worse.assert_outcomes(failed=1)
    line = next(x for x in worse.outlines if "vs v1's rtn8" in x)
    assert "FAIL" in line and "lost: freebaseqa" not in line and "lost: FreebaseQA-eval/" in line


def test_a_missing_saved_run_stops_at_start_up(pytester, kick_args, gate_file):
    result = pytester.runpytest(*kick_args, "--kick-compare=nope")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --kick-compare *.kick/nope.json: cannot read it*"])
