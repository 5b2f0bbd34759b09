"""--kick-save / --kick-compare / --kick-compare-fail: a release's per-example outcomes kept in .kick/NAME.json, and
the next release compared with them by the same paired test."""

import json
import re

import pytest
from conftest import GATE_TEST

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
    assert line.startswith("test_user_gate.py::test_recall [freebaseqa] rtn8")
    assert line.endswith("(0 unmatched): within pass; scope: benchmark (all 40)")
    assert "on 40 matched examples" in line
    assert "lost:" not in same.stdout.str()  # zero flips

    worse = pytester.runpytest(*kick_args, "--kick-method=magnitude99", "--kick-compare=v1", "--kick-compare-fail")
    worse.assert_outcomes(failed=1)
    line = next(x for x in worse.outlines if "vs v1's rtn8" in x)
    assert "FAIL" in line and "lost: freebaseqa" not in line and "lost: FreebaseQA-eval/" in line

    # edited into "all wrong", the saved run would let a worse release pass: it is refused at start-up instead
    for example in data["gates"][0]["examples"]:
        example["correct"] = False
    path.write_text(json.dumps(data))
    edited = pytester.runpytest(*kick_args, "--kick-method=magnitude99", "--kick-compare=v1", "--kick-compare-fail")
    assert edited.ret == pytest.ExitCode.USAGE_ERROR
    edited.stderr.fnmatch_lines(
        ["ERROR: *v1.json: gates[[]0[]] (test_user_gate.py::test_recall, freebaseqa) was changed after it was saved*"]
    )


def test_the_html_page_of_a_compare_run_plots_the_trend_across_saved_runs(pytester, kick_args, gate_file, tmp_path):
    # pyplot imported here, before the in-process runs: each puts sys.modules back as it found it, and a pyplot
    # imported inside one would leave two copies of matplotlib's classes for the next
    pytest.importorskip("matplotlib.pyplot")
    for name in ("v1", "v2"):
        pytester.runpytest(*kick_args, "--kick-method=rtn8", f"--kick-save={name}").assert_outcomes(passed=1)
    (pytester.path / ".kick" / "notes.json").write_text("[]")
    page = tmp_path / "kick.html"
    args = ("--kick-method=rtn8", "--kick-compare=v1", "--kick-save=v3", f"--kick-html={page}")
    pytester.runpytest(*kick_args, *args).assert_outcomes(passed=1)
    text = page.read_text()
    trend = text.split("<h2>trend across saved runs</h2>")[1].split("<h2>")[0]
    assert "notes.json left out of the trend: " in trend and trend.count("src='data:image/png;base64,") == 1
    assert text.count("src='data:image/png;base64,") == 2  # the trend and the accuracy plot

    page.unlink()  # a test no saved run has: nothing to trend, and the page says so
    pytester.makepyfile(test_other=GATE_TEST.replace("def test_recall", "def test_other_recall"))
    pytester.runpytest(*kick_args, "--kick-method=rtn4", "--kick-compare=v1", f"--kick-html={page}", "test_other.py")
    assert "no gate of this run is in a saved run of" in page.read_text()


def test_a_missing_saved_run_stops_at_start_up(pytester, kick_args, gate_file):
    result = pytester.runpytest(*kick_args, "--kick-compare=nope")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --kick-compare *.kick/nope.json: cannot read it*"])


SAFETY_GATES = """
from pytest_kick import assert_no_toxicity_regression, assert_perplexity_within

def test_tox(kick_pair):
    assert_no_toxicity_regression(kick_pair, benchmark="realtoxicityprompts", tolerance=0.5, reps=200, max_new_tokens=6)

def test_ppl(kick_pair):
    assert_perplexity_within(kick_pair, max_ratio=1.5, window=256, stride=128, reps=200)
"""


def test_safety_gates_compare_by_their_own_test(pytester, fact_setup, tmp_path):
    """A safety gate's comparison runs the gate's own paired test with the saved release in the dense model's place."""
    pytester.makepyfile(test_team_safety=SAFETY_GATES)
    args = [f"--kick-model={fact_setup[0]}", f"--kick-cache-dir={tmp_path / 'cache'}", "--kick-device=cpu"]
    pytester.runpytest(*args, "--kick-method=magnitude90", "--kick-save=pruned").assert_outcomes(passed=2)
    saved = json.loads((pytester.path / ".kick" / "pruned.json").read_text())
    assert saved["version"] == 3 and {g["kind"] for g in saved["gates"]} == {"safety"}
    assert all(e["values"] or e["scores"] for g in saved["gates"] for e in g["examples"])  # what rebuilds each outcome

    same = pytester.runpytest(*args, "--kick-method=magnitude90", "--kick-compare=pruned", "--kick-compare-fail")
    same.assert_outcomes(passed=2)
    lines = [x for x in same.outlines if "vs pruned's magnitude90" in x]
    assert len(lines) == 2 and all(x.endswith("within pass") and re.search(r" (\d+\.\d+) -> \1 ", x) for x in lines), lines

    # the dense-quality rtn8 model against the saved heavily pruned one: its perplexity is far from the saved one's
    other = pytester.runpytest(*args, "--kick-method=rtn8", "--kick-compare=pruned", "--kick-compare-fail")
    other.assert_outcomes(passed=1, failed=1)
    line = next(x for x in other.outlines if x.startswith("test_team_safety.py::test_ppl [wikitext2] rtn8 vs pruned's magnitude90"))
    assert "perplexity" in line and line.endswith("FAIL")
    other.stdout.fnmatch_lines(["*ComparisonRegression*against the saved run 'pruned'*test_ppl*"])
