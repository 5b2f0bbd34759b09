"""The fidelity gate's sample-size advice (stats.share_examples_needed) against a scan of every sample size with the
gate's own bounds: the first size at which the observed rate, held, is shown within."""

import itertools
import math

import pytest

from pytest_kick.gates.stats import binomial_upper, hypergeom_bounds, share_examples_needed


def scan(k, n, limit, alpha, population=0, cap=2000):
    """Brute force: every m > n in turn, with ceil(k m / n) flips and the bound the gate takes at that size."""
    if k / n >= limit:
        return None
    for m in range(n + 1, (min(population, cap) if population else cap) + 1):
        flips = math.ceil(k * m / n)
        if population and m >= population:
            upper = flips / population  # every item of the benchmark: the observed share itself
        elif population:
            upper = hypergeom_bounds(flips, m, population, alpha)[1]
        else:
            upper = binomial_upper(flips, m, alpha)
        if upper <= limit:
            return m
    return None


@pytest.mark.parametrize(
    "k, n, limit, alpha, population",
    [
        (k, n, limit, alpha, population)
        for (k, n), limit, alpha, population in itertools.product(
            [(0, 10), (1, 23), (3, 40), (5, 40), (2, 17)], [0.1, 0.25], [0.05, 0.01], [0, 150]
        )
    ],
)
def test_the_advice_is_the_first_size_a_scan_finds(k, n, limit, alpha, population):
    assert share_examples_needed(k, n, limit, alpha, population, cap=2000) == scan(k, n, limit, alpha, population)


def test_no_flip_needs_the_rule_of_three_size_and_a_rate_at_the_limit_needs_no_number():
    assert share_examples_needed(0, 40, 0.05, 0.05) == math.ceil(math.log(0.05) / math.log(0.95))  # (1 - L)^m <= alpha
    assert share_examples_needed(4, 40, 0.1, 0.05) is None and share_examples_needed(5, 40, 0.1, 0.05) is None
    assert share_examples_needed(3, 40, 0.1, 0.05, population=40) is None  # every item already run


def test_large_answers_come_fast_and_stay_inside_a_finite_benchmark():
    need = share_examples_needed(99, 1000, 0.1, 0.05)
    assert (
        binomial_upper(math.ceil(99 * need / 1000), need, 0.05) <= 0.1 < binomial_upper(math.ceil(99 * (need - 1) / 1000), need - 1, 0.05)
    )
    need = share_examples_needed(95, 1000, 0.1, 0.05, population=14042)
    assert 1000 < need <= 14042
    assert share_examples_needed(3, 40, 0.1, 0.05, cap=50) is None  # beyond the cap: no answer, not a wrong one
