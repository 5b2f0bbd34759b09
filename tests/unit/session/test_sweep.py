"""The sweep grammar, the bisection order, what a candidate's finished tests imply for its neighbours, and the
monotonicity check."""

import pytest

from pytest_kick.errors import KickUsageError
from pytest_kick.session.sweep import SweepState, frontier, parse_sweep, parse_sweeps


def test_lists_and_ranges_expand_in_the_order_written():
    assert parse_sweep("rtn{8,6,4,3}-g128").ids == ["rtn8-g128", "rtn6-g128", "rtn4-g128", "rtn3-g128"]
    assert parse_sweep("magnitude{20..70:10}").ids == [f"magnitude{s}" for s in range(20, 80, 10)]
    assert parse_sweep("rtn{8..4:2}").ids == ["rtn8", "rtn6", "rtn4"]  # a range counts down for a knob that shrinks
    assert [s.text for s in parse_sweeps("rtn{8,4}; magnitude{20,40}")] == ["rtn{8,4}", "magnitude{20,40}"]


@pytest.mark.parametrize(
    "text,needle",
    [
        ("rtn4", "one knob as a brace group"),
        ("rtn{8,4}-g{128,64}", "one knob as a brace group"),
        ("rtn{8}", "at least two values"),
        ("rtn{8,,4}", "at least two values"),
        ("magnitude{20,60,40}", "must run one way"),
        ("magnitude{20..70:0}", "step must be positive"),
        ("magnitude{20..70:15}", "must reach its end"),
        ("rtn{8,x}", "unknown compression method"),
        ("rtn{3,4,6,8}-g128", "from the least compressed to the most"),
        ("magnitude{70..20:10}", "magnitude70 keeps 0.3, magnitude60 keeps 0.4"),
    ],
)
def test_bad_sweeps_are_usage_errors(text, needle):
    with pytest.raises(KickUsageError, match=needle):
        parse_sweep(text)


def test_a_candidate_in_two_sweeps_is_refused():
    with pytest.raises(KickUsageError, match="a candidate appears in two sweeps"):
        parse_sweeps("rtn{8,4};rtn{4,3}")


@pytest.mark.parametrize("k,order", [(1, [0]), (3, [1, 0, 2]), (5, [2, 0, 3, 1, 4]), (8, [3, 1, 5, 0, 2, 4, 6, 7])])
def test_the_probe_order_is_bisection_breadth_first(k, order):
    sweep = parse_sweep("magnitude{" + ",".join(str(10 + i) for i in range(max(k, 2))) + "}")
    if k == 1:
        sweep = type(sweep)(sweep.text, sweep.candidates[:1])
    assert sweep.probe_order() == order


def state(tmp_path, sweep, done: dict[str, bool]):
    s = SweepState(tmp_path, (sweep,), {m: 1 for m in sweep.ids})
    for method, passed in done.items():
        s.record(method, f"t.py::test[{method}]", passed, "" if passed else "accuracy gate on mmlu: regressed")
    return s


def test_outcomes_are_implied_both_ways_and_the_frontier_found(tmp_path):
    sweep = parse_sweep("magnitude{10..70:10}")
    s = state(tmp_path, sweep, {"magnitude40": True, "magnitude60": False, "magnitude50": True})
    statuses = [st for st, _ in s.statuses(sweep)]
    assert statuses == ["implied pass"] * 3 + ["pass", "pass", "fail", "implied fail"]
    assert s.skip_reason("magnitude20").endswith(
        "it passes by the monotonicity assumption (magnitude40, more compressed, passed every gate)"
    )
    assert "it fails by the monotonicity assumption (magnitude60, less compressed, failed)" in s.skip_reason("magnitude70")
    assert "already failed a gate" in s.skip_reason("magnitude60") and s.skip_reason("magnitude50") is None
    answer = frontier(s, sweep)
    assert (answer["passes"], answer["fails"], answer["run"], answer["violations"]) == ("magnitude50", "magnitude60", 3, [])
    assert answer["failed_by"] == "t.py::test[magnitude60] (accuracy gate on mmlu: regressed)"


def test_a_pass_beyond_a_fail_is_a_violation_and_not_trusted(tmp_path):
    sweep = parse_sweep("magnitude{10..50:10}")
    answer = frontier(state(tmp_path, sweep, {"magnitude20": False, "magnitude40": True}), sweep)
    assert answer["violations"] == ["magnitude40 passed although magnitude20, less compressed, failed"]
    assert answer["fails"] == "magnitude20" and answer["passes"] == "magnitude10"


def test_a_candidate_passes_only_when_every_one_of_its_tests_did(tmp_path):
    sweep = parse_sweep("rtn{8,4}")
    s = SweepState(tmp_path, (sweep,), {"rtn8": 2, "rtn4": 2})
    s.record("rtn4", "t.py::a[rtn4]", True)
    assert s.run_status("rtn4") == ("open", "")
    s.record("rtn4", "t.py::b[rtn4]", True)
    assert s.run_status("rtn4") == ("pass", "") and s.statuses(sweep)[0][0] == "implied pass"
