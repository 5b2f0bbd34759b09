"""--kick-report=PATH: the whole run (every gate, group, number and flipped example) as JSON with a versioned
schema, written once by the controller after the xdist workers handed over their typed reports."""

import json
from pathlib import Path

import pytest
from conftest import assert_usage_error
from test_fidelity_gate import CONFTEST

import pytest_kick
from pytest_kick.report.run import RunReport

GATES = """
from pytest_kick import assert_fidelity_within, assert_kick_accuracy_within, assert_no_bias_regression


def test_recall(kick_pair):
    assert_kick_accuracy_within(kick_pair, "freebaseqa", max_drop=0.1, k_shot=0)


def test_fidelity(kick_pair):
    assert_fidelity_within(kick_pair, "fact_choice", max_flip_rate=0.15, max_kl=1e-4)


def test_bias(kick_pair):
    assert_no_bias_regression(kick_pair, "crows_pairs", tolerance=0.5, source="builtin", reps=200)
"""


def test_a_directory_is_refused_at_start_up(pytester):
    pytester.mkdir("out")
    assert_usage_error(pytester, ["--kick-report=out"], "--kick-report out: is a directory")


@pytest.mark.slow  # real (tiny) models under two xdist workers
def test_the_report_holds_every_gate_of_every_worker_and_validates(pytester, kick_args, monkeypatch):
    pytest.importorskip("xdist")
    jsonschema = pytest.importorskip("jsonschema")
    for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT"):  # the outer run's workers are not ours
        monkeypatch.delenv(name, raising=False)
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_gates=GATES)
    args = ("-n", "2", "-p", "no:hypothesispytest", "-p", "no:anyio", "--kick-report=reports/run.json", "-rA")
    result = pytester.runpytest_subprocess(*kick_args, "--kick-method=rtn8,magnitude50", *args)
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) + outcomes.get("failed", 0) == 6, result.stdout.str()
    result.stdout.fnmatch_lines(["*pytest-kick summary*", "*pytest-kick report: *reports/run.json*"])
    data = json.loads((pytester.path / "reports" / "run.json").read_text())
    schema = json.loads((Path(pytest_kick.__file__).parent / "report" / "report.schema.json").read_text())
    jsonschema.validate(data, schema, cls=jsonschema.Draft202012Validator)
    report = RunReport.from_json(data)
    assert report.to_json() == data
    kinds = ("accuracy", "fidelity", "safety")
    assert sorted((r.kind, r.method) for r in report.results) == sorted((k, m) for k in kinds for m in ("rtn8", "magnitude50"))
    assert set(report.models) == {"rtn8", "magnitude50"}
    summary = result.stdout.str().split("pytest-kick summary")[1]
    for r in report.results:  # the terminal summary and the file tell the same story
        line = next(x for x in summary.splitlines() if r.test.split("::")[-1] in x and f" {r.method} " in x)
        assert line.rstrip().endswith(r.verdict), line
        assert (f"PASSED {r.test}" in result.stdout.str()) == r.passed  # and pytest's own outcome agrees


@pytest.mark.slow  # a real (tiny) model
def test_kick_html_writes_one_self_contained_page(pytester, kick_args, gate_file, tmp_path):
    pytest.importorskip("matplotlib")
    page = tmp_path / "kick.html"
    markdown = tmp_path / "kick.md"
    result = pytester.runpytest(*kick_args, "--kick-method=rtn8", f"--kick-html={page}", f"--kick-markdown={markdown}")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([f"pytest-kick HTML report: {page}", f"pytest-kick Markdown report: {markdown}"])
    assert (
        markdown.read_text().startswith("## pytest-kick: 1 gate: ✅ 1 pass")
        and "::test_recall[rtn8] | freebaseqa | rtn8 |" in markdown.read_text()
    )
    text = page.read_text()
    assert text.startswith("<!DOCTYPE html>") and "test_recall" in text and text.count("src='data:image/png;base64,") == 1
    assert "http://" not in text and "https://" not in text  # nothing to fetch


def test_kick_markdown_refuses_a_directory(pytester):
    pytester.mkdir("out")
    pytester.makepyfile(test_x="def test_x(kick_pair): pass")
    result = pytester.runpytest("--kick-markdown=out")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --kick-markdown out: is a directory*kick-report.md*"])


def test_kick_html_refuses_a_directory(pytester):
    pytester.mkdir("out")
    pytester.makepyfile(test_x="def test_x(kick_pair): pass")
    result = pytester.runpytest("--kick-html=out")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --kick-html out: is a directory*kick-report.html*"])
