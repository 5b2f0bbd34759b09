"""The paired cluster bootstrap and Holm correction behind the safety gates."""

import math

import numpy as np
import pytest

from pytest_kick.gates.bootstrap import paired_cluster_bootstrap
from pytest_kick.gates.stats import holm


def bias_change(d, c):
    """|pct - 0.5| compressed minus dense, from (n, stereotype-preferred) sums."""
    return np.abs(c[..., 1] / c[..., 0] - 0.5) - np.abs(d[..., 1] / d[..., 0] - 0.5)


def simulate(rng, p_dense, p_comp, redraw, templates=40, per=6):
    """Clustered pairs: a template effect shifts every item of a template; the compressed model re-draws a
    share `redraw` of the answers with its own preference."""
    clusters, dense, comp = [], [], []
    for t in range(templates):
        shift = rng.normal(0, 0.1)
        for _ in range(per):
            d = rng.random() < min(max(p_dense + shift, 0), 1)
            c = (rng.random() < min(max(p_comp + shift, 0), 1)) if rng.random() < redraw else d
            clusters.append(f"t{t}")
            dense.append((1.0, float(d)))
            comp.append((1.0, float(c)))
    return clusters, dense, comp


def test_false_fail_rate_stays_near_alpha_without_a_true_change():
    rng = np.random.default_rng(0)
    alpha, sims = 0.05, 300
    fails = 0
    for s in range(sims):
        clusters, dense, comp = simulate(rng, 0.65, 0.65, redraw=0.3)
        test = paired_cluster_bootstrap(clusters, dense, comp, bias_change, 0.0, alpha, reps=400, seed=s)
        fails += test.p_value <= alpha
    assert fails / sims <= alpha + 0.04  # 3 standard errors above alpha at 300 simulations


def test_a_planted_shift_toward_the_stereotype_fails():
    rng = np.random.default_rng(1)
    fails = 0
    for s in range(50):
        clusters, dense, comp = simulate(rng, 0.6, 0.85, redraw=0.8)
        test = paired_cluster_bootstrap(clusters, dense, comp, bias_change, 0.05, 0.05, reps=400, seed=s)
        fails += test.p_value <= 0.05
        assert test.estimate > 0.05
    assert fails >= 45


def test_reproducible_for_a_seed_and_paired():
    rng = np.random.default_rng(2)
    clusters, dense, comp = simulate(rng, 0.6, 0.7, redraw=0.5)
    a = paired_cluster_bootstrap(clusters, dense, comp, bias_change, 0.0, 0.05, reps=500, seed=7)
    b = paired_cluster_bootstrap(clusters, dense, comp, bias_change, 0.0, 0.05, reps=500, seed=7)
    c = paired_cluster_bootstrap(clusters, dense, comp, bias_change, 0.0, 0.05, reps=500, seed=8)
    assert a == b and a != c
    assert a.clusters == 40 and a.lower <= a.estimate <= a.upper
    same = paired_cluster_bootstrap(clusters, dense, dense, bias_change, 0.0, 0.05, reps=500, seed=7)
    assert same.estimate == same.lower == same.upper == 0.0  # identical answers: every draw shows no change
    assert same.p_value == 1.0


def test_undefined_draws_are_dropped_not_counted():
    # one cluster has no item of the measured kind: draws without it leave the metric undefined (NaN)
    clusters = ["a", "b"]
    dense = [(1.0, 1.0), (0.0, 0.0)]

    def stat(d, c):
        return c[..., 1] / d[..., 0]

    t = paired_cluster_bootstrap(clusters, dense, dense, stat, 0.5, 0.05, reps=200, seed=0)
    assert t.reps % 200 != 0 and not math.isnan(t.p_value)  # fewer valid draws than were made


def test_holm_by_hand():
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5]) == [0.5]
    out = holm([math.nan, 0.02, 0.2])
    assert math.isnan(out[0]) and out[1:] == pytest.approx([0.04, 0.2])
    assert holm([0.9, 0.8]) == [1.0, 1.0]  # 2 x 0.8 capped at 1, and monotone


def mean_change(d, c):
    return c[..., 1] / c[..., 0] - d[..., 1] / d[..., 0]


def test_false_pass_rate_at_the_tolerance_stays_near_alpha():
    """burden='shown': when the true rise equals the tolerance, 'within' must come out at most about alpha."""
    rng = np.random.default_rng(3)
    alpha, tol, sims, n = 0.05, 0.1, 300, 200
    passes = 0
    for s in range(sims):
        dense = rng.random(n) < 0.3
        comp = np.where(rng.random(n) < 0.5, rng.random(n) < 0.3 + 2 * tol, dense)  # half re-drawn at +2*tol: +tol
        rows_d = [(1.0, float(x)) for x in dense]
        rows_c = [(1.0, float(x)) for x in comp]
        test = paired_cluster_bootstrap([str(i) for i in range(n)], rows_d, rows_c, mean_change, tol, alpha, reps=400, seed=s)
        passes += test.outcome(alpha) == "within"
    assert passes / sims <= alpha + 0.04  # 3 standard errors above alpha at 300 simulations


def test_outcomes_and_examples_needed():
    same = [(1.0, float(i % 2)) for i in range(40)]
    clusters = [str(i) for i in range(40)]
    t = paired_cluster_bootstrap(clusters, same, same, mean_change, 0.1, 0.05, reps=400, seed=0)
    assert t.outcome(0.05) == "within" and t.p_within == pytest.approx(1 / 401)
    zero = paired_cluster_bootstrap(clusters, same, same, mean_change, 0.0, 0.05, reps=400, seed=0)
    # no change at all, at a tolerance of 0: at the allowance is inside it (the one boundary convention), so an
    # unchanged model meets even a zero tolerance; a model that changed must show its change below zero
    assert zero.outcome(0.05) == "within"
    assert zero.examples_needed(40, 0.0, 0.05) is None
    moved = [(1.0, 1.0 if i < 24 else float(i % 2)) for i in range(40)]
    t = paired_cluster_bootstrap(clusters, same, moved, mean_change, 0.5, 0.05, reps=400, seed=0)
    need = t.examples_needed(40, 0.5, 0.05)
    assert t.estimate == pytest.approx(0.3) and need is not None and need >= 40


def test_an_unchanged_model_is_shown_within_with_enough_examples():
    rng = np.random.default_rng(4)
    shown = 0
    for s in range(50):
        dense = rng.random(200) < 0.3
        comp = np.where(rng.random(200) < 0.5, rng.random(200) < 0.3, dense)  # half re-drawn, same rate
        rows_d = [(1.0, float(x)) for x in dense]
        rows_c = [(1.0, float(x)) for x in comp]
        test = paired_cluster_bootstrap([str(i) for i in range(200)], rows_d, rows_c, mean_change, 0.1, 0.05, reps=400, seed=s)
        shown += test.outcome(0.05) == "within"
    assert shown >= 40  # about 93% expected (0.1 is ~3 standard errors of the change at n = 200)


def test_draws_grow_near_the_threshold_so_the_verdict_does_not_hang_on_the_seed():
    rng = np.random.default_rng(5)
    n = 300
    dense = rng.random(n) < 0.3
    comp = np.where(rng.random(n) < 0.4, rng.random(n) < 0.35, dense)
    rows_d, rows_c = [(1.0, float(x)) for x in dense], [(1.0, float(x)) for x in comp]
    clusters = [str(i) for i in range(n)]
    pilot = paired_cluster_bootstrap(clusters, rows_d, rows_c, mean_change, 0.0, 0.05, reps=2000, seed=0)
    allowed = pilot.upper  # p (within) lands right at alpha: the borderline case
    tests = [paired_cluster_bootstrap(clusters, rows_d, rows_c, mean_change, allowed, 0.05, reps=500, seed=s) for s in range(6)]
    assert all(t.reps > 500 for t in tests)
    assert all(t.mc_error(t.p_within) < 0.01 for t in tests)
    far = paired_cluster_bootstrap(clusters, rows_d, rows_c, mean_change, allowed + 0.2, 0.05, reps=500, seed=0)
    assert far.reps == 500  # far from the threshold: no extra draws
