"""--kick-markdown: the run as a CI job page or pull-request comment would show it."""

from __future__ import annotations

from gate_reports import report  # noqa: F401 - the fixture

from pytest_kick.report.markdown import render_markdown


def test_markdown_gives_every_verdict_first_and_each_failure_folded_under_its_gate(report):  # noqa: F811
    text = render_markdown(report, ["rtn4 vs release-1: 0.700 -> 0.650 ... regressed FAIL"])
    lines = text.splitlines()
    verdicts = [r.verdict for r in report.results]
    assert lines[0].startswith(f"## pytest-kick: {len(verdicts)} gates: ✅ {verdicts.count('pass')} pass, ❌ {verdicts.count('FAIL')} FAIL")
    for r in report.results:
        assert any(f"| {r.test} |" in line or f"| {r.test.split('::')[-1]} |" in line for line in lines) or r.test in text
    failed = [r for r in report.results if not r.passed]
    assert failed and text.count("<details>") == len(failed) == text.count("</details>")
    for r in failed:
        assert r.explain().splitlines()[0] in text  # the gate's own failure message, examples and all
    assert "### Against the saved release" in text and "regressed FAIL" in text
    tables = [line for line in lines if line.startswith("| ")]
    assert all(line.endswith(" |") for line in tables)
    widths = {line.count(" | ") for line in tables}
    assert len(widths) <= len({r.kind for r in report.results})  # every row of a table has its header's cells


def test_markdown_of_an_empty_run_says_so():
    from pytest_kick.report.run import RunReport

    assert render_markdown(RunReport()).startswith("## pytest-kick: 0 gates: no gate ran")
