import math
import random

import pytest
from scipy.optimize import minimize_scalar

from pytest_kick.gates.stats import PairedCounts, _restricted_p10, lower_bound, noninferiority, noninferiority_p, tango_z


def test_hand_computed_table():
    # n=100, 5 right->wrong, 3 wrong->right, margin 0.05. Restricted MLE by hand (Tango's quadratic):
    # 200 p^2 - 18.1 p + 0.2625 = 0 -> p10 = 0.07236, p01 = 0.02236; var = 0.09222/100;
    # Z = (-0.02 + 0.05) / 0.030368 = 0.9879; p = 1 - Phi(0.9879) = 0.1616.
    t = PairedCounts(n11=50, n10=5, n01=3, n00=42)
    assert _restricted_p10(t, -0.05) == pytest.approx(0.07236, abs=1e-5)
    assert tango_z(t, -0.05) == pytest.approx(0.9879, abs=1e-4)
    assert noninferiority_p(t, 0.05) == pytest.approx(0.1616, abs=1e-4)


def test_no_discordant_pairs_passes_once_n_is_large_enough():
    # Both models agree everywhere: Z = m / sqrt((m - m^2)/n). n=40, m=0.1 -> Z = 2.108, p = 0.0175.
    t = PairedCounts(n11=30, n10=0, n01=0, n00=10)
    assert noninferiority_p(t, 0.1) == pytest.approx(0.5 * math.erfc(2.1082 / math.sqrt(2)), abs=1e-4)


@pytest.mark.parametrize("b, c, delta0", [(5, 3, -0.05), (0, 4, -0.1), (12, 0, -0.02), (7, 7, 0.03), (0, 0, -0.2)])
def test_restricted_mle_matches_numerical_maximum(b, c, delta0):
    t = PairedCounts(n11=40, n10=b, n01=c, n00=60 - b - c)
    r = t.n - b - c

    def nll(p):
        terms = [(b, p), (c, p + delta0), (r, 1 - 2 * p - delta0)]
        return -sum(k * math.log(max(x, 1e-300)) for k, x in terms if k)

    lo, hi = max(0.0, -delta0), (1 - delta0) / 2
    best = minimize_scalar(nll, bounds=(lo + 1e-12, hi - 1e-12), method="bounded", options={"xatol": 1e-10})
    assert _restricted_p10(t, delta0) == pytest.approx(best.x, abs=1e-5)


def test_lower_bound_agrees_with_the_test():
    t = PairedCounts(n11=150, n10=9, n01=4, n00=37)
    lb = lower_bound(t, 0.05)
    assert noninferiority_p(t, -lb + 1e-6) < 0.05 < noninferiority_p(t, -lb - 1e-6)


def simulate(rng, n, p_dense, p_flip_lost, p_flip_gained):
    dense, comp = [], []
    for _ in range(n):
        d = rng.random() < p_dense
        if d:
            c = rng.random() >= p_flip_lost / p_dense
        else:
            c = rng.random() < p_flip_gained / (1 - p_dense)
        dense.append(d)
        comp.append(c)
    return dense, comp


def test_false_pass_rate_at_the_margin_stays_near_alpha():
    # True drop exactly equal to the allowed drop: H0 holds, so passing is the error the test controls.
    rng = random.Random(7)
    runs, alpha, margin = 2000, 0.05, 0.05
    passes = sum(noninferiority(*simulate(rng, 300, 0.6, 0.08, 0.03), margin=margin, alpha=alpha).passed for _ in range(runs))
    assert passes / runs <= alpha + 0.02


def test_equal_accuracy_pairs_pass_with_enough_examples():
    rng = random.Random(11)
    runs = 500
    passes = sum(noninferiority(*simulate(rng, 1000, 0.6, 0.04, 0.04), margin=0.05, alpha=0.05).passed for _ in range(runs))
    assert passes / runs >= 0.95


def test_a_planted_drop_fails():
    rng = random.Random(3)
    res = noninferiority(*simulate(rng, 500, 0.7, 0.15, 0.01), margin=0.02, alpha=0.05)
    assert not res.passed and res.lower < -0.1


def test_counts_from_outcomes():
    t = PairedCounts.from_outcomes([True, True, False, False, True], [True, False, True, False, True])
    assert (t.n11, t.n10, t.n01, t.n00) == (2, 1, 1, 1)
    assert t.delta == 0 and t.acc_dense == 0.6
    with pytest.raises(ValueError):
        PairedCounts.from_outcomes([True], [True, False])


@pytest.mark.parametrize("n10, n01, n", [(5, 5, 100), (0, 0, 20), (3, 1, 60)])
def test_the_advised_number_of_examples_passes_equal_models_at_least_three_times_in_four(n10, n01, n):
    """The hint's sample size aims at an 80% chance of passing, from the test's own score statistic."""
    from pytest_kick.gates.stats import examples_needed

    margin, alpha = 0.05, 0.05
    observed = PairedCounts(n11=n // 2, n10=n10, n01=n01, n00=n - n // 2 - n10 - n01)
    need = examples_needed(observed, margin, alpha)
    assert need is not None and need > n
    rng = random.Random(n10 * 100 + n01)
    p_lost, p_gained = n10 / n, n01 / n  # the truth is what was observed: the advice's own premise
    runs = 400
    passes = sum(noninferiority(*simulate(rng, need, 0.6, p_lost, p_gained), margin=margin, alpha=alpha).passed for _ in range(runs))
    assert passes / runs >= 0.75, (need, passes / runs)
