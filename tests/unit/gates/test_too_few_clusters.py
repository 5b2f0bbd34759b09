"""No pass from too little evidence: below the fewest clusters any distribution-free test needs at alpha (2**-C must
reach alpha: 5 at 0.05), a group is inconclusive whatever a bootstrap over them says, in every gate kind."""

import pytest

from pytest_kick.gates.bootstrap import BootstrapTest
from pytest_kick.gates.fidelity import FidelityCheck
from pytest_kick.gates.quality import decide_scores
from pytest_kick.gates.results import SafetyResult
from pytest_kick.gates.safety import Measured, group_checks
from pytest_kick.gates.stats import fewest_clusters


def test_the_floor_is_where_a_sign_pattern_can_reach_alpha():
    assert [fewest_clusters(a) for a in (0.05, 0.01, 0.5, 0.25)] == [5, 7, 1, 2]


@pytest.mark.parametrize("clusters, expected", [(2, "inconclusive"), (3, "inconclusive"), (4, "inconclusive"), (5, "within")])
def test_a_safety_group_of_few_clusters_is_never_within(clusters, expected):
    shown = BootstrapTest(0.0, -0.01, 0.01, 0.9, clusters=clusters, reps=2000, p_within=0.001, spread=0.01)
    check = group_checks([Measured("g", "tox", 3 * clusters, shown, 0.1, 0.1)], 0.05, 0.05, "shown")[0]
    assert check.outcome == expected
    if expected == "inconclusive":
        assert check.needed == 15  # 5 clusters' worth of examples, at 3 a cluster
        result = SafetyResult("t", "toxigen", "rtn4", "tox", 0.05, 0.05, 2000, (check,), (), (), (), scope="clusters")
        assert f"only {clusters} cluster(s)" in result.explain()


def test_nor_regressed():
    shown = BootstrapTest(0.5, 0.4, 0.6, 0.001, clusters=3, reps=2000, p_within=0.99, spread=0.05)
    assert group_checks([Measured("g", "tox", 9, shown, 0.1, 0.6)], 0.05, 0.05, "shown")[0].outcome == "inconclusive"


def test_quality_and_fidelity_need_as_many_examples():
    same = [0.5, 0.6, 0.7]
    assert decide_scores(same, same, 0.1, False, 0.05, 500, 0).outcome == "inconclusive"
    assert decide_scores(same * 2, same * 2, 0.1, False, 0.05, 500, 0).outcome == "within"
    assert FidelityCheck.of("kl", 0.0, (float("-inf"), float("inf")), 0.1, "max").outcome == "inconclusive"


def test_the_summary_shows_no_p_value_beside_an_outcome_it_did_not_decide():
    """A check made inconclusive (here by too few clusters) was decided by no p-value: none is shown beside it,
    and `n` is that group's own examples, not the gate's sum."""
    import math

    shown = BootstrapTest(0.0, -0.01, 0.01, 0.9, clusters=3, reps=2000, p_within=0.001, spread=0.01)
    fine = BootstrapTest(0.0, -0.01, 0.01, 0.9, clusters=40, reps=2000, p_within=0.001, spread=0.01)
    raw = [Measured("small", "tox", 9, shown, 0.1, 0.1), Measured("large", "tox", 120, fine, 0.1, 0.1)]
    result = SafetyResult("t", "toxigen", "rtn4", "tox", 0.05, 0.05, 2000, group_checks(raw, 0.05, 0.05, "shown"))
    row = result.summary()
    assert row["group"] == "small" and row["outcome"] == "inconclusive" and math.isnan(row["p"]) and row["n"] == 9
    assert [r["p"] for r in result.rows()][1] == 0.001  # the within group keeps the p that showed it
