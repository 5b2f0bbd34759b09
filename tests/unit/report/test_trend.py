"""The trend across saved releases: which saved runs it reads and in what order, what it leaves out and says so,
and the intervals of each point."""

import json
import math
import random

import pytest

from pytest_kick.report.baseline import Compared, SavedExample, SavedGate, SavedRun, write
from pytest_kick.report.trend import THIS_RUN, collect, point, wilson


def gate(correct, *, test="test_a.py::test_k", kind="accuracy", method="rtn4", task="freebaseqa", scores=None):
    scores = scores or [None] * len(correct)
    examples = tuple(SavedExample(f"q{i}", c, s, "x") for i, (c, s) in enumerate(zip(correct, scores)))
    return SavedGate(test, kind, task, method, "m", 0.05, 0.05, examples)


def test_wilson_matches_the_closed_form_and_covers():
    lo, hi = wilson(5, 10)
    assert lo == pytest.approx(0.23659, abs=1e-5) and hi == pytest.approx(0.76341, abs=1e-5)
    assert wilson(0, 8) == (0.0, pytest.approx(3.8415 / (8 + 3.8415), abs=1e-4))  # upper z²/(n+z²) at k = 0
    assert all(math.isnan(v) for v in wilson(0, 0))
    assert all(wilson(n, n)[1] == 1.0 for n in range(1, 200))  # contains its own share, rounding or not
    rng, n, p = random.Random(0), 40, 0.3
    covered = 0
    for _ in range(3000):
        lo, hi = wilson(sum(rng.random() < p for _ in range(n)), n)
        covered += lo <= p <= hi
    assert 0.93 < covered / 3000 < 0.97


def test_a_point_is_the_share_right_or_the_mean_score():
    acc = point("v1", gate([True, True, False, True]))
    assert (acc.value, acc.n) == (0.75, 4) and acc.lower < 0.75 < acc.upper
    scores = [0.2, 0.4, None, 0.9, 0.5] * 8
    quality = point("v1", gate([False] * 40, kind="quality", scores=scores))
    assert quality.n == 32 and quality.value == pytest.approx(0.5) and quality.lower < 0.5 < quality.upper
    assert math.isnan(point("v1", gate([False], kind="quality")).value)


def save(folder, name, created, gates):
    write(SavedRun(name, created, gates=gates), folder)


def test_saved_runs_in_time_order_then_this_run_and_every_left_out_file_said(tmp_path):
    # names sort against their time stamps: the order must come from `created`
    old = [gate([True] * 4), gate([True] * 4, kind="quality", method="rtn8")]
    save(tmp_path, "b-old", "2025-01-01T00:00:00Z", old)
    save(tmp_path, "a-new", "2025-06-01T00:00:00Z", [gate([True, True, False, False])])
    save(tmp_path, "this", "2025-09-01T00:00:00Z", [gate([False] * 4)])  # what this very run wrote: not a past release
    (tmp_path / "broken.json").write_text("{")
    (tmp_path / "report.json").write_text(json.dumps({"schema": "pytest-kick run report"}))
    now = [gate([True, False, False, False]), gate([True], task="mmlu"), gate([True], kind="quality", method="rtn8")]
    trend = collect(Compared(("line",), tmp_path, tuple(now), tmp_path / "this.json"))
    assert trend.releases == ("b-old", "a-new", THIS_RUN)
    (series,) = trend.series  # mmlu has no history; rtn8's quality gate has no score anywhere
    assert (series.test, series.task, series.method) == ("test_a.py::test_k", "freebaseqa", "rtn4")
    assert [(p.release, p.value) for p in series.points] == [("b-old", 1.0), ("a-new", 0.5), (THIS_RUN, 0.25)]
    notes = "\n".join(trend.notes)
    assert "broken.json left out of the trend" in notes and "not JSON" in notes
    assert "report.json left out of the trend" in notes and "not a pytest-kick saved run" in notes
    assert "no per-example score saved, so no trend, for: test_a.py::test_k [freebaseqa] rtn8" in notes


def test_a_release_without_the_gate_leaves_a_gap_and_no_compare_no_trend(tmp_path):
    save(tmp_path, "v1", "2025-01-01T00:00:00Z", [gate([True] * 2)])
    save(tmp_path, "v2", "2025-02-01T00:00:00Z", [gate([True] * 2, task="mmlu")])
    trend = collect(Compared((), tmp_path, (gate([True, False]),)))
    assert trend.releases == ("v1", "v2", THIS_RUN) and [p.release for p in trend.series[0].points] == ["v1", THIS_RUN]
    assert collect(Compared(("line",))) is None


def test_the_trend_and_the_comparison_match_saved_gates_by_one_rule(tmp_path):
    """Same test (method parameter ignored), task and kind; of several methods, the gate's own, else the first:
    `SavedRun.find` decides for the comparison line and for the trend's point alike."""
    from pytest_kick.report.baseline import compare

    saved = [gate([True] * 4, method="rtn4"), gate([True, False] * 2, method="rtn8"), gate([True] * 4, kind="quality", method="zz")]
    save(tmp_path, "v1", "2025-01-01T00:00:00Z", saved)
    run = SavedRun.load(tmp_path / "v1.json")
    now = (gate([False] * 4, method="rtn8"), gate([True] * 4, method="magnitude99"), gate([True] * 4, task="mmlu"))
    trend = collect(Compared(("line",), tmp_path, now))
    plotted = {(s.test, s.task, s.method): s.points[0] for s in trend.series}
    for g in now:
        match = run.find(g)
        if match is None:  # no saved gate of that task: neither a comparison nor a trend
            assert (g.test, g.task, g.method) not in plotted
            continue
        assert compare(g, match, "v1").saved_method == plotted[(g.test, g.task, g.method)].method == match.method
    assert run.find(now[0]).method == "rtn8"  # the method parameter: its own where the saved run has it
    assert run.find(now[1]).method == "rtn4"  # else the first, never the quality gate of the same test and task
    assert plotted[("test_a.py::test_k", "freebaseqa", "magnitude99")].value == 1.0
