"""Scopes: what a verdict generalizes to, and what each one asks of the data."""

import sys
from pathlib import Path

import numpy as np
import pytest

from pytest_kick.errors import KickUsageError
from pytest_kick.gates.scope import SCOPES, Sampling, check_scope, exact_within

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benchmarks"))


def test_the_three_scopes_and_their_labels():
    assert list(SCOPES) == ["benchmark", "items", "clusters"]
    every = Sampling("benchmark", 3680, 3680, 25, 25)
    assert every.exact and every.fpc == 0.0 and every.label() == "benchmark (all 3680)" and every.exhausted
    some = Sampling("benchmark", 500, 3680, 25, 25)
    assert not some.exact and some.fpc == pytest.approx(3180 / 3679) and some.label() == "benchmark (500 of 3680)"
    assert "finite-population correction" in some.claim("bbq", "Age")
    sampled = Sampling("benchmark", 16, 16, sampled=True)  # sampled continuations keep their Monte Carlo error
    assert not sampled.exact and sampled.fpc == 1.0 and "sampled" in sampled.label()
    assert Sampling("items", 500, 3680).fpc == 1.0 and Sampling("items", 500, 3680).label() == "items"
    templates = Sampling("clusters", 3680, 3680, 25, 25)
    assert templates.units == 25 and templates.exhausted and templates.label() == "clusters (25)"
    assert not Sampling("clusters", 100, 3680, 20, 25).exhausted  # a larger limit can still add templates


def test_a_scope_is_named_exactly():
    with pytest.raises(KickUsageError, match="--kick-scope must be one of benchmark, items, clusters, got 'all'"):
        check_scope("all", "--kick-scope")


def test_the_exact_rule_is_at_or_inside_the_allowance():
    assert exact_within(0.02, 0.02) and exact_within(0.1 + 0.2 - 0.3, 0.0)  # rounding at the boundary is at it
    assert not exact_within(0.0201, 0.02) and exact_within(-0.05, -0.05, "min") and not exact_within(-0.06, -0.05, "min")


def test_the_correction_keeps_the_accuracy_gates_size():
    """A benchmark of 1,000 items whose drop over all of them is exactly the margin: samples of 400 kept without
    replacement pass at most alpha of the time with the correction (the same samples as items pass far less often:
    the power the correction gives back). benchmarks/fpc_size.py has the full table."""
    from fpc_size import accuracy_size

    shown, plain = accuracy_size(1000, 400, 600, np.random.default_rng(3))
    assert shown <= 0.05 + 3 * (0.05 * 0.95 / 600) ** 0.5 and plain < shown
