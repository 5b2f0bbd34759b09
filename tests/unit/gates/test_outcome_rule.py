"""The one outcome rule every gate decides with: one boundary convention (a p-value at alpha, or a bound on the
limit, shows that side), 'within' asked first, and 'regressed' labels of a safety gate held family-wise (Holm)."""

import math

import pytest

from pytest_kick.gates.bootstrap import BootstrapTest
from pytest_kick.gates.fidelity import FidelityCheck
from pytest_kick.gates.quality import decide_scores
from pytest_kick.gates.safety import Measured, group_checks
from pytest_kick.gates.stats import noninferiority, outcome, reaches, rejects


def test_the_boundary_is_the_same_everywhere():
    assert rejects(0.05, 0.05) and not rejects(0.0500001, 0.05) and not rejects(math.nan, 0.05)
    assert reaches(0.1, 0.1, "max") and reaches(0.1, 0.1, "min") and not reaches(0.11, 0.1, "max")
    assert outcome(True, True) == "within" and outcome(False, True) == "regressed" and outcome(False, False) == "inconclusive"
    assert FidelityCheck.of("kl", 0.0, (0.0, 0.05), 0.05, "max").outcome == "within"  # the bound on the limit shows it


@pytest.mark.parametrize("allowed", [0.0, 0.05])
def test_an_unchanged_model_is_within_even_at_a_zero_allowance(allowed):
    scores = [0.2, 0.5, 0.9, 0.4] * 25
    assert decide_scores(scores, scores, allowed, False, 0.05, 500, 0).outcome == "within"
    assert FidelityCheck.of("flip_rate", 0.0, (0.0, 0.0), allowed, "max").outcome == "within"


def test_the_accuracy_gate_keeps_its_outcomes():
    same = [True, False] * 100
    assert noninferiority(same, same, 0.05, 0.05).outcome == "within"
    assert noninferiority([True] * 200, [False] * 200, 0.05, 0.05).outcome == "regressed"


def boot(p_regressed: float, p_within: float = 0.5) -> BootstrapTest:
    return BootstrapTest(0.1, 0.0, 0.2, p_regressed, clusters=50, reps=2000, p_within=p_within, spread=0.05)


def test_regressed_labels_hold_family_wise_across_a_gates_groups():
    """Ten groups each 'regressed' at p = 0.02 on their own: after Holm none is (0.2), so they read inconclusive;
    a group at p = 0.001 stays regressed (Holm: 0.01)."""
    raw = [Measured(f"g{i}", "tox", 100, boot(0.02), 0.1, 0.2) for i in range(9)] + [Measured("g9", "tox", 100, boot(0.001), 0.1, 0.3)]
    checks = group_checks(raw, 0.05, 0.05, "shown")
    assert [c.outcome for c in checks] == ["inconclusive"] * 9 + ["regressed"]
    assert checks[-1].p_holm == pytest.approx(0.01) and checks[0].p_holm == pytest.approx(0.18)
    assert all(c.failed for c in checks)  # none is shown within: the gate fails either way
