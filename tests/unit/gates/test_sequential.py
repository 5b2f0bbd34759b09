"""The group-sequential design: the published boundaries, alpha spent as the spending function says (checked by
simulating the looks' statistics), looks that are prefixes of one order, and bad arguments refused."""

import math

import numpy as np
import pytest

from pytest_kick.errors import KickUsageError
from pytest_kick.gates.sequential import Schedule, boundaries, schedule_of, spent

QUARTERS = (0.25, 0.5, 0.75, 1.0)


def test_the_boundaries_are_the_published_ones():
    """Lan-DeMets spending, 4 equally spaced looks, one-sided alpha 0.025 (Jennison and Turnbull, 2000, and every
    group-sequential package): O'Brien-Fleming type 4.333, 2.963, 2.359, 2.014; Pocock type 2.368 ... 2.350."""
    assert boundaries(QUARTERS, 0.025) == pytest.approx((4.3326, 2.9631, 2.3594, 2.0140), abs=2e-3)
    assert boundaries(QUARTERS, 0.025, "pocock") == pytest.approx((2.3683, 2.3669, 2.3574, 2.3499), abs=2e-3)


@pytest.mark.parametrize("spending", ["obrien-fleming", "pocock"])
@pytest.mark.parametrize("fractions", [QUARTERS, (0.3, 0.55, 1.0), (0.1, 0.2, 0.5, 0.9, 1.0)])
def test_each_look_spends_what_the_spending_function_says(spending, fractions):
    """Simulated looks of a Brownian motion under H0: the share first crossing at look k is spent(t_k) -
    spent(t_{k-1}), and the total is alpha (400,000 paths: standard error about 0.0003)."""
    alpha, paths = 0.05, 400_000
    c = np.array(boundaries(fractions, alpha, spending))
    rng = np.random.default_rng(7)
    steps = np.diff((0.0, *fractions))
    s = np.cumsum(rng.standard_normal((paths, len(fractions))) * np.sqrt(steps), axis=1)
    z = s / np.sqrt(fractions)
    crossed = z >= c
    first = np.where(crossed.any(axis=1), crossed.argmax(axis=1), -1)
    shares = [np.mean(first == k) for k in range(len(fractions))]
    want = np.diff([0.0] + [spent(t, alpha, spending) for t in fractions])
    assert shares == pytest.approx(want, abs=0.0015)
    assert np.mean(first >= 0) == pytest.approx(alpha, abs=0.0015)


def test_looks_are_equal_shares_and_the_last_is_every_example():
    assert Schedule(4).sizes(134) == [34, 67, 101, 134]
    assert Schedule(4).sizes(3) == [1, 2, 3]  # a look that would add nothing is dropped
    nominal = Schedule(4).nominal(134, 0.05)
    assert all(a < b for a, b in zip(nominal, nominal[1:])) and nominal[-1] < 0.05  # the last look pays for the others


def test_the_spending_at_the_end_is_alpha_and_grows():
    for spending in ("obrien-fleming", "pocock"):
        values = [spent(t, 0.05, spending) for t in (0.1, 0.4, 0.8, 1.0)]
        assert all(a < b for a, b in zip(values, values[1:])) and math.isclose(values[-1], 0.05)


@pytest.mark.parametrize("value", [1, 21, 2.5, "4"])
def test_bad_schedules_are_usage_errors(value):
    with pytest.raises(KickUsageError, match="sequential looks must be an integer from 2 to 20"):
        schedule_of(value)
    with pytest.raises(KickUsageError, match="spending must be one of obrien-fleming, pocock"):
        Schedule(4, "haybittle")


def test_off_on_and_a_number_of_looks():
    assert schedule_of(None) is None and schedule_of(False) is None and schedule_of(0) is None
    assert schedule_of(True) == Schedule(4) and schedule_of(6, "pocock") == Schedule(6, "pocock")


# ---- the accuracy gate in looks (scripted models on the built-in MMLU questions: 134) ----------------------------


def mmlu_pair(dense, comp, **settings):
    from pytest_kick import EvalSettings, FakeRunner, ModelPair, get_task

    prompts = [e.prompt for e in get_task("mmlu").load(None)]
    runners = [FakeRunner({p: answers[i] for i, p in enumerate(prompts)}, miss=-3.0) for answers in (dense, comp)]
    recorded = []
    return ModelPair(*runners, method="rtn4", settings=EvalSettings(**settings), recorder=recorded.append), runners, recorded


def golds():
    from pytest_kick import get_task

    return ["ABCD"[e.gold] for e in get_task("mmlu").load(None)]


def asked(runner) -> int:
    return len({r.context for r in runner.requests})


def test_an_unchanged_model_stops_early_within_and_says_where():
    """No answer changes: the 'within' statistic grows with n and crosses O'Brien-Fleming's boundary at look 3 of 4
    (101 of 134 examples), at that look's nominal level; the fixed design would have asked all 134."""
    from pytest_kick import assert_kick_accuracy_within

    pair, (dense, comp), recorded = mmlu_pair(golds(), golds())
    r = assert_kick_accuracy_within(pair, "mmlu", max_drop=0.05, scope="items", sequential=4)
    assert (r.outcome, r.look, r.looks, r.n, r.alpha) == ("within", 3, 4, 101, 0.05)
    assert r.nominal_alpha == pytest.approx(Schedule(4).nominal(134, 0.05)[2]) and r.p_value <= r.nominal_alpha
    assert asked(comp) == 101 and recorded == [r]
    assert "look 3/4" in r.rows()[0]["scope"]


def test_a_broken_model_is_shown_regressed_at_the_first_look():
    from pytest_kick import AccuracyRegression, assert_kick_accuracy_within

    wrong = ["B" if g == "A" else "A" for g in golds()]
    pair, (dense, comp), _ = mmlu_pair(golds(), wrong)
    level = Schedule(4).nominal(134, 0.05, 134)[0]  # the benchmark scope: 34 of its 134 items, without replacement
    with pytest.raises(AccuracyRegression, match=rf"sequential: look 1 of 4 \(obrien-fleming\), deciding at {level:.3g}"):
        assert_kick_accuracy_within(pair, "mmlu", max_drop=0.05, sequential=True)
    assert asked(comp) == 34


def test_the_run_option_turns_it_on_and_the_gate_argument_wins():
    from pytest_kick import assert_kick_accuracy_within

    pair, _, _ = mmlu_pair(golds(), golds(), sequential=4, scope="items")
    assert assert_kick_accuracy_within(pair, "mmlu", max_drop=0.05).look == 3
    fixed = assert_kick_accuracy_within(pair, "mmlu", max_drop=0.05, sequential=False)
    assert (fixed.look, fixed.looks, fixed.n) == (0, 0, 134)


def test_each_look_is_a_prefix_of_the_next_and_a_rerun_stops_at_the_same_look():
    """Where no look decides, every look is taken: the examples asked at look k are all asked again (from the
    cache, in a real run) at look k + 1; the same data stop at the same look every time."""
    from pytest_kick import AccuracyRegression, assert_kick_accuracy_within

    answers = golds()
    some = [("B" if g == "A" else "A") if i % 25 == 0 else g for i, g in enumerate(answers)]  # 4.5% lost: borderline
    seen = []
    for _ in range(2):
        pair, (_, comp), _ = mmlu_pair(answers, some)
        try:
            r = assert_kick_accuracy_within(pair, "mmlu", max_drop=0.05, scope="items", sequential=4)
        except AccuracyRegression as err:
            r = err.value.result if hasattr(err, "value") else err.result
        seen.append((r.outcome, r.look, r.n))
        per = len(comp.requests) // sum(Schedule(4).sizes(134))  # requests per example (a fixed number of choices)
        batches = [{q.context for q in comp.requests[per * i : per * (i + n)]} for i, n in _batches()]
        assert [len(b) for b in batches] == Schedule(4).sizes(134)
        assert all(a <= b for a, b in zip(batches, batches[1:]))
    assert seen[0] == seen[1] == [("inconclusive", 4, 134)][0]


def _batches():
    """(start, length) of each look's requests: each look asks a prefix of the next one's examples, once each."""
    out, start = [], 0
    for size in Schedule(4).sizes(134):
        out.append((start, size))
        start += size
    return out


def test_under_the_benchmark_scope_information_carries_the_finite_population_factor():
    """Looks without replacement from N items: information n (N - 1) / (N - n), so the fractions are not n_k / n;
    a last look over all N items is exact (level 1: the observed change decides) and the interim looks spend all of
    alpha between them."""
    from pytest_kick.gates.sequential import information

    assert information([250, 500], 1000) == pytest.approx([250 * 999 / 750, 500 * 999 / 500])
    assert information([1000], 1000) == [math.inf] and information([10, 20], None) == [10.0, 20.0]
    levels = Schedule(4).nominal(1000, 0.05, 1000)
    interim = [s * 999 / (1000 - s) for s in Schedule(4).sizes(1000)[:-1]]
    want = boundaries(tuple(i / interim[-1] for i in interim), 0.05)
    assert levels[-1] == 1.0 and levels[:-1] == pytest.approx([1 - _cdf(c) for c in want])
    wider = Schedule(4).nominal(500, 0.05, 1000)  # half of the benchmark: neither plain nor exact
    assert wider != Schedule(4).nominal(500, 0.05) and wider[-1] < 0.05


def _cdf(c: float) -> float:
    from statistics import NormalDist

    return NormalDist().cdf(c)
