"""The gates' operating characteristics, simulated through their own decision code (benchmarks/simulate.py,
a tool of the tests and benchmarks, not shipped): size at
the tolerance boundary, the sample-size advice, and the power against a clear regression.

Slack: a simulated size is a binomial share of `sims` data sets, so it may exceed alpha by chance; a test allows
alpha + 3 standard errors of a binomial at alpha with that many simulations (one false alarm in ~700 per test
if the true size were exactly alpha). With 200 simulations a gate whose true size were 0.10 fails such a test
about half of the time and one at 0.15 almost always (with 400 simulations: 0.10 fails 9 times in 10). The
bootstrap gates are slow, so their tests use few simulations and small n; benchmarks/gate_calibration.py
has the precise numbers."""

import math
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benchmarks"))
from simulate import (  # noqa: E402
    _clipped_shift,
    accuracy_rates,
    advice_check,
    bias_rates,
    fidelity_rates,
    perplexity_rates,
    toxicity_rates,
)

ALPHA = 0.05


def slack(sims: int) -> float:
    """alpha + 3 binomial standard errors at alpha."""
    return ALPHA + 3.0 * math.sqrt(ALPHA * (1.0 - ALPHA) / sims)


@pytest.mark.parametrize("n, tol", [(200, 0.05), (400, 0.02)])
def test_accuracy_size_at_the_boundary(n, tol):
    sims = 400
    rates = accuracy_rates(n, tol, tol, sims, seed=1)  # the true drop equals the allowance: passing is a false pass
    assert rates.passed <= slack(sims)


@pytest.mark.parametrize(
    "dense_bias, redraw",
    [(0.0, 0.5), (0.2, 0.5), (0.0, 1.0)],
    ids=["dense bias near zero", "dense bias far from zero", "merely noisier"],
)
def test_bias_size_at_the_boundary(dense_bias, redraw):
    sims = 200
    rates = bias_rates(60, dense_bias, 0.1, 0.1, sims, redraw=redraw, reps=200, seed=2)  # |c| - |d| = tol exactly
    assert rates.passed <= slack(sims)


def test_toxicity_size_at_the_boundary():
    sims = 200
    rates = toxicity_rates(80, 0.05, 0.05, sims, reps=200, seed=4)
    assert rates.passed <= slack(sims)


def test_perplexity_size_at_the_boundary():
    sims = 200
    rates = perplexity_rates(50, 1.10, 1.10, sims, reps=200, seed=5)  # true perplexity ratio = max_ratio
    assert rates.passed <= slack(sims)


def test_fidelity_flip_rate_size_at_the_boundary():
    sims = 400
    rates = fidelity_rates(200, 0.10, 0.10, sims, seed=6)  # exact (Clopper-Pearson) bound: size <= alpha
    assert rates.passed <= slack(sims)


def test_accuracy_advice_delivers():
    # Pilots of 100 unchanged pairs are mostly inconclusive at tol 0.05; at the advised n (aimed at 80%)
    # unchanged models should pass at least 75% of the time (0.75 is 3 standard errors below 0.8 at 200 sims).
    check = advice_check("accuracy", 100, 0.05, 200, seed=7)
    assert check.pilot_inconclusive > 0.3 and check.advised is not None and check.advised > 100
    assert check.passed >= 0.75


def test_bias_advice_delivers():
    # tolerance 0.2 and pilots of 30 items keep this fast; unchanged models must pass >= 0.75 at the advice
    check = advice_check("bias", 30, 0.2, 100, seed=8, dense_bias=0.2, reps=200)
    assert check.pilot_inconclusive > 0.2 and check.advised is not None and check.advised > 30
    assert check.passed >= 0.75


def test_a_clear_regression_is_seldom_passed_and_often_shown():
    acc = accuracy_rates(400, 0.10, 0.05, 300, seed=9)  # the drop is twice the allowance
    assert acc.passed <= 0.01 and acc.regressed >= 0.8
    bias = bias_rates(100, 0.2, 0.2, 0.1, 60, reps=200, seed=10)  # |bias| grows by twice the tolerance
    assert bias.passed <= 0.03 and bias.regressed >= 0.4


def test_unchanged_models_pass_with_enough_examples():
    # the other side of the size tests: a gate that never passed would meet them all
    assert accuracy_rates(1600, 0.0, 0.05, 200, seed=11).passed >= 0.9
    assert bias_rates(300, 0.2, 0.0, 0.1, 40, reps=200, seed=12).passed >= 0.8


def test_the_simulated_changes_are_the_stated_ones():
    rng = np.random.default_rng(0)
    x = rng.beta(1.0, 5.0, 400_000)
    shifted = np.clip(x + _clipped_shift(0.05, 0.15, 1.0, 5.0) + 0.15 * rng.standard_normal(x.size), 0.0, 1.0)
    assert abs((shifted - x).mean() - 0.05) < 0.001  # clipping is compensated: the expected rise is exactly 0.05


def test_seeded_and_refuses_impossible_settings():
    assert accuracy_rates(100, 0.02, 0.05, 50, seed=3) == accuracy_rates(100, 0.02, 0.05, 50, seed=3)
    assert accuracy_rates(100, 0.02, 0.05, 50, seed=3).bounds != accuracy_rates(100, 0.02, 0.05, 50, seed=4).bounds
    with pytest.raises(ValueError, match="re-drawing"):
        accuracy_rates(100, 0.3, 0.05, 10, redraw=0.2)  # a 0.3 drop cannot come from re-drawing 20% of answers
    with pytest.raises(ValueError, match="clusters"):
        bias_rates(10, 0.0, 0.0, 0.1, 1, per_cluster=4)
    with pytest.raises(ValueError, match="no sample-size advice"):
        advice_check("fidelity", 100, 0.1, 10)


@pytest.mark.parametrize("shape, n, tol", [("rouge", 100, 0.03), ("gap", 150, 0.05), ("judge", 80, 0.5)])
def test_quality_size_at_the_boundary(shape, n, tol):
    """The paired bootstrap-t on per-example score differences: skewed ROUGE losses, rare discrete gap changes,
    integer judge scores. A true drop equal to the allowance passes at most about alpha of the time."""
    from simulate import quality_rates

    sims = 200
    rates = quality_rates(n, tol, tol, sims, shape=shape, reps=400, seed=7)
    assert rates.passed <= slack(sims)


def test_quality_power_against_no_change():
    from simulate import quality_rates

    rates = quality_rates(200, 0.0, 0.05, 100, shape="rouge", reps=400, seed=8)
    assert rates.passed >= 0.8  # unchanged generations are shown within a 0.05 ROUGE drop at n = 200
