"""The frontier's report: sizes read from the specs, the terminal table and answer line, the JSON answer's shape
(checked against the report's schema), and the HTML section with its Pareto plot."""

import json

import pytest

from pytest_kick.compression import parse_spec
from pytest_kick.gates.accuracy import AccuracyResult
from pytest_kick.report.frontier import lines, size, size_value, sweep_json
from pytest_kick.report.run import RunReport, json_schema
from pytest_kick.session.sweep import SweepState, frontier, parse_sweep


@pytest.mark.parametrize(
    "form,text,value",
    [("rtn4", "4.00 bits/weight", 0.25), ("rtn4-g128", "4.12 bits/weight", (4 + 16 / 128) / 16), ("magnitude30", "70% of weights", 0.7)],
)
def test_sizes_come_from_the_spec(form, text, value):
    assert size(parse_spec(form)) == text and size_value(parse_spec(form)) == pytest.approx(value)


def accuracy(method: str, lower: float, outcome: str) -> AccuracyResult:
    return AccuracyResult(
        test=f"t.py::test_recall[{method}]", task="freebaseqa", method=method, n=40, dense_acc=1.0, compressed_acc=1.0 + lower,
        delta=lower, allowed_drop=0.1, relative=False, alpha=0.05, p_value=0.01, lower_bound=lower, right_to_wrong=0,
        wrong_to_right=0, passed=outcome == "within", outcome=outcome,
    )  # fmt: skip


@pytest.fixture
def answer(tmp_path):
    sweep = parse_sweep("magnitude{10..50:10}")
    state = SweepState(tmp_path, (sweep,), {m: 1 for m in sweep.ids})
    report = RunReport()
    for method, lower, outcome in (("magnitude30", -0.05, "within"), ("magnitude40", -0.3, "regressed")):
        state.record(method, f"t.py::test_recall[{method}]", outcome == "within", "" if outcome == "within" else "accuracy gate: regressed")
        report.add(accuracy(method, lower, outcome))
    return sweep_json(frontier(state, sweep), sweep, report), report


def test_the_terminal_table_and_answer(answer):
    text = "\n".join(lines([answer[0]]))
    assert "sweep magnitude{10..50:10}: 2 of 5 candidates run (the rest implied)" in text
    assert "magnitude30  70% of weights" in text and "within +0.050" in text and "regressed -0.200" in text
    assert "most compressed that passes every gate: magnitude30; first that fails: magnitude40" in text


def test_the_json_answer_follows_the_schema(answer):
    jsonschema = pytest.importorskip("jsonschema")
    data, report = answer
    report.frontier = [data]
    jsonschema.validate(json.loads(json.dumps(report.to_json())), json_schema())
    assert RunReport.from_json(report.to_json()).frontier == [data]
    worst = {c["method"]: c["worst_margin"] for c in data["candidates"]}
    assert worst["magnitude30"] == pytest.approx(0.05) and worst["magnitude10"] is None


def test_the_page_has_the_frontier_and_its_pareto_plot(answer):
    pytest.importorskip("matplotlib")
    from pytest_kick.report.html import render

    data, report = answer
    plain = render(report)
    report.frontier = [data]
    page = render(report)
    assert "<h2>compression frontier</h2>" in page and "most compressed that passes every gate: <b>magnitude30</b>" in page
    assert page.count("data:image/png;base64,") == plain.count("data:image/png;base64,") + 1 and "None" not in page
