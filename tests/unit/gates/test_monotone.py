"""Monotone outcomes (issue 24, item 3), as properties over generated data, through each gate's own decision code:
a compressed model closer to the dense one never gets a worse outcome, and an unchanged model is *within*
wherever any model could be (under a sampling scope: from the fewest units a test needs; over every item of the
benchmark: always). "Closer" means, per gate kind: one fewer example lost (accuracy, flips), or every per-example
difference shrunk by the same factor λ ∈ [0, 1] (quality scores, KL, toxicity), with the bootstrap seeded from the
examples and the dense answers only, as the gates seed it."""

import math

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_kick.gates.bootstrap import exact_test, observed_change, paired_cluster_bootstrap
from pytest_kick.gates.fidelity import FidelityCheck, _share_bounds
from pytest_kick.gates.quality import decide_scores
from pytest_kick.gates.safety import Measured, change_stat, group_checks
from pytest_kick.gates.scope import Sampling
from pytest_kick.gates.stats import fewest_clusters, noninferiority
from pytest_kick.tasks.crows_pairs import CrowsPairs

RANK = {"regressed": 0, "inconclusive": 1, "within": 2}
ALPHA = 0.05
PROPERTY = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def scopes(n: int):
    """The ways n examples can stand to a benchmark: items, a limited run of a larger benchmark, every item."""
    return st.sampled_from([Sampling("items", n, n), Sampling("benchmark", n, n + 1 + n * 3), Sampling("benchmark", n, n)])


def moves(most: int, dense: tuple[float, float], move: float):
    """n dense scores in `dense`, n per-example moves in [-move, move], and a scope for n (n in 2..most)."""

    def of(n: int):
        values = st.lists(st.floats(*dense, allow_nan=False), min_size=n, max_size=n)
        return st.tuples(values, st.lists(st.floats(-move, move, allow_nan=False), min_size=n, max_size=n), scopes(n))

    return st.integers(2, most).flatmap(of)


# ---- accuracy: Tango's score test ---------------------------------------------------------------------------------


@st.composite
def tables(draw):
    n = draw(st.integers(5, 300))
    lost = draw(st.integers(0, n // 3))
    gained = draw(st.integers(0, n // 3))
    return n, lost, gained, draw(st.floats(0.0, 0.2)), draw(scopes(n))


def accuracy(n, lost, gained, margin, sampling):
    dense = [True] * lost + [False] * gained + [True] * (n - lost - gained)
    comp = [False] * lost + [True] * gained + [True] * (n - lost - gained)
    return noninferiority(dense, comp, margin, ALPHA, sampling.fpc, sampling.exact).outcome


@PROPERTY
@given(tables())
def test_accuracy_one_fewer_loss_is_never_worse(table):
    n, lost, gained, margin, sampling = table
    if lost == 0:
        return
    assert RANK[accuracy(n, lost - 1, gained, margin, sampling)] >= RANK[accuracy(n, lost, gained, margin, sampling)]
    # (one fewer disagreement in each direction keeps the drop and lowers the noise: a drop beyond the margin is
    # then shown regressed more readily, so that is not "closer" and not monotone, rightly)


@PROPERTY
@given(tables())
def test_accuracy_an_unchanged_model_is_never_worse_than_a_model_with_no_gain(table):
    n, lost, _, margin, sampling = table
    assert RANK[accuracy(n, 0, 0, margin, sampling)] >= RANK[accuracy(n, lost, 0, margin, sampling)]


# ---- fidelity: exact bounds of shares -------------------------------------------------------------------------------


@PROPERTY
@given(st.integers(5, 400).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n), scopes(n))), st.floats(0.0, 0.5))
def test_fidelity_one_fewer_flip_is_never_worse(case, limit):
    n, flips, sampling = case
    if flips == 0:
        return

    def verdict(k):
        return FidelityCheck.of("flip_rate", k / n, _share_bounds(k, sampling, ALPHA), limit, "max").outcome

    assert RANK[verdict(flips - 1)] >= RANK[verdict(flips)]


# ---- quality (and the fidelity KL bound): the bootstrap-t of a mean --------------------------------------------------


@PROPERTY
@given(
    moves(80, (0.0, 10.0), 3.0),
    st.floats(0.0, 1.0),
    st.floats(0.0, 2.0),
)
def test_quality_a_model_closer_to_the_dense_one_is_never_worse(case, shrink, max_drop):
    dense, move, sampling = case
    seed = 7  # as the gate: from the examples and the dense scores, never from the compressed ones

    def verdict(factor):
        comp = [d + factor * m for d, m in zip(dense, move)]
        return decide_scores(dense, comp, max_drop, False, ALPHA, 200, seed, sampling).outcome

    assert RANK[verdict(shrink)] >= RANK[verdict(1.0)]
    unchanged = verdict(0.0)
    assert unchanged == ("within" if sampling.exact or len(dense) >= fewest_clusters(ALPHA) else "inconclusive")


# ---- safety: a linear change (toxicity) and a bias score -----------------------------------------------------------


class Toxicity:
    """Per prompt (prompts, max toxicity); the metric is their mean."""

    fields = ("prompts", "max_toxicity")
    gated = {"expected_max_toxicity": "up"}

    def metrics(self, totals):
        totals = np.asarray(totals, dtype=float)
        return {"expected_max_toxicity": totals[..., 1] / totals[..., 0]}


def safety_outcome(task, metric, units, dense_rows, comp_rows, allowed, sampling):
    stat = change_stat(task, metric, task.gated[metric])
    structure = stat.structure
    if sampling.exact:
        test = exact_test(observed_change(dense_rows, comp_rows, stat, structure), allowed, len(set(units)))
    else:
        test = paired_cluster_bootstrap(
            units, dense_rows, comp_rows, stat, allowed, ALPHA, 200, seed=3, structure=structure, fpc=sampling.fpc
        )
    (check,) = group_checks([Measured("g", metric, len(units), test, 0.0, 0.0, sampling)], allowed, ALPHA, "shown")
    return check.outcome


@PROPERTY
@given(moves(60, (0.0, 0.6), 0.4), st.floats(0.0, 1.0), st.floats(0.0, 0.2))
def test_toxicity_a_model_closer_to_the_dense_one_is_never_worse(case, shrink, allowed):
    dense, move, sampling = case
    units = [f"e{i}" for i in range(len(dense))]

    def verdict(factor):
        comp = [(1.0, d + factor * m) for d, m in zip(dense, move)]
        return safety_outcome(Toxicity(), "expected_max_toxicity", units, [(1.0, d) for d in dense], comp, allowed, sampling)

    assert RANK[verdict(shrink)] >= RANK[verdict(1.0)]
    assert verdict(0.0) == ("within" if sampling.exact or len(set(units)) >= fewest_clusters(ALPHA) else "inconclusive")


@PROPERTY
@given(
    st.integers(2, 60).flatmap(
        lambda n: st.tuples(st.lists(st.booleans(), min_size=n, max_size=n), st.lists(st.booleans(), min_size=n, max_size=n), scopes(n))
    ),
    st.floats(0.0, 0.3),
)
def test_bias_an_unchanged_model_is_within_wherever_any_model_could_be(case, allowed):
    """CrowS-Pairs' bias score (the share preferring the stereotyped sentence − ½): an unchanged model is within
    from the fewest units on (sampling scopes) or always (every item); no model is within below that, and over
    every item a model's outcome is its observed change against the allowance."""
    dense, comp, sampling = case
    task = CrowsPairs()
    rows_d = [(1.0, float(x)) for x in dense]
    rows_c = [(1.0, float(x)) for x in comp]
    units = [f"e{i}" for i in range(len(dense))]
    enough = sampling.exact or len(units) >= fewest_clusters(ALPHA)
    assert safety_outcome(task, "bias", units, rows_d, rows_d, allowed, sampling) == ("within" if enough else "inconclusive")
    if not enough:
        assert safety_outcome(task, "bias", units, rows_d, rows_c, allowed, sampling) != "within"
    if sampling.exact:
        change = abs(sum(comp) / len(comp) - 0.5) - abs(sum(dense) / len(dense) - 0.5)
        expected = "within" if change <= allowed + 1e-12 else "regressed"
        assert safety_outcome(task, "bias", units, rows_d, rows_c, allowed, sampling) == expected
    assert not math.isnan(allowed)


def test_quality_a_change_at_float_noise_scale_is_no_change():
    """Found by Hypothesis: every move shrunk to 2e-42 with max_drop=0 was 'regressed' (the bootstrap-t is
    scale-free, so noise decided like a real drop) while the full move was 'inconclusive'."""
    from pytest_kick.gates.scope import Sampling

    dense = [0.0] * 56
    move = [0.0] * 56
    move[20], move[30], move[40] = 1.0, -1.0, -1.0
    sampling = Sampling("items", 56, 56)

    def verdict(factor):
        return decide_scores(dense, [d + factor * m for d, m in zip(dense, move)], 0.0, False, ALPHA, 200, 7, sampling).outcome

    assert verdict(2.0932495203514742e-42) == "within" and RANK[verdict(2.0932495203514742e-42)] >= RANK[verdict(1.0)]
