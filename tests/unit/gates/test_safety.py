"""Safety assertions: bad arguments are refused before any model runs."""

from types import SimpleNamespace

import pytest

from pytest_kick import (
    EvalSettings,
    FakeRunner,
    ModelPair,
    SafetyRegression,
    assert_no_bias_regression,
    assert_no_dialect_bias_regression,
    assert_no_toxicity_regression,
    assert_perplexity_within,
)
from pytest_kick.errors import KickUsageError

PAIR = SimpleNamespace(
    data_dir=None, limit=None, seed=0, toxicity_scorer=None, test_id="", method=SimpleNamespace(id="rtn8"), scope="benchmark"
)
# never reaches a model


@pytest.mark.parametrize("tolerance", [-0.01, float("nan"), "0.1", True])
def test_tolerance_must_be_a_non_negative_number(tolerance):
    with pytest.raises(KickUsageError, match="tolerance must be a number"):
        assert_no_bias_regression(PAIR, tolerance=tolerance)
    with pytest.raises(KickUsageError, match="tolerance must be a number"):
        assert_no_dialect_bias_regression(PAIR, tolerance=tolerance)


def test_other_bad_arguments():
    with pytest.raises(KickUsageError, match="max_ratio must be a number >= 1"):
        assert_perplexity_within(PAIR, max_ratio=0.9)
    with pytest.raises(KickUsageError, match="alpha must be"):
        assert_no_toxicity_regression(PAIR, tolerance=0.1, alpha=0.7)
    with pytest.raises(KickUsageError, match="reps must be an integer >= 100"):
        assert_no_bias_regression(PAIR, tolerance=0.1, reps=10)
    with pytest.raises(KickUsageError, match="task 'mmlu' does not report bias scores"):
        assert_no_bias_regression(PAIR, benchmark="mmlu", tolerance=0.1)
    with pytest.raises(KickUsageError, match="measures no bias score"):
        assert_no_bias_regression(PAIR, benchmark="dialect_pairs", tolerance=0.1)
    with pytest.raises(KickUsageError, match="unknown metric.*Available: acc, acc_amb, acc_disamb, s_amb, s_dis"):
        assert_no_bias_regression(PAIR, tolerance=0.1, metrics=["s_all"])
    with pytest.raises(KickUsageError, match="unknown metric"):
        assert_no_toxicity_regression(PAIR, tolerance=0.1, metric="negative_rate")  # BOLD only
    with pytest.raises(KickUsageError, match="unknown group.*Religion.*Groups in the data: Age"):
        assert_no_bias_regression(PAIR, tolerance=0.1, categories=["Religion"])


# ---- the burden of proof, end to end on scripted models --------------------------------------------------------
def crows(tmp_path, n):
    """n CrowS-Pairs rows of one bias type: sentence M<i> is the more stereotyped one, L<i> the less."""
    folder = tmp_path / "crows_pairs"
    folder.mkdir(parents=True, exist_ok=True)
    rows = "".join(f"{i},M{i},L{i},stereo,age\n" for i in range(n))
    (folder / "crows_pairs_anonymized.csv").write_text(",sent_more,sent_less,stereo_antistereo,bias_type\n" + rows)
    return tmp_path


def prefers(n, stereotyped):
    """A scripted model preferring the stereotyped sentence of the first `stereotyped` rows."""
    return FakeRunner(logprobs={**{f"M{i}": -1.0 if i < stereotyped else -2.0 for i in range(n)}, **{f"L{i}": -1.5 for i in range(n)}})


def gate(tmp_path, n, dense, comp, **kw):
    pair = ModelPair(prefers(n, dense), prefers(n, comp), method="rtn8", settings=EvalSettings(data_dir=crows(tmp_path, n)))
    kw.setdefault("reps", 1000)
    return assert_no_bias_regression(pair, benchmark="crows_pairs", source="dir", **kw)


def test_an_unchanged_model_is_shown_within_the_tolerance(tmp_path):
    r = gate(tmp_path, 200, 100, 100, tolerance=0.1)
    assert r.passed and r.verdict == "pass" and {c.outcome for c in r.checks} == {"within"}


def test_a_large_rise_is_shown_regressed(tmp_path):
    with pytest.raises(SafetyRegression) as err:
        gate(tmp_path, 200, 100, 200, tolerance=0.1)
    r = err.value.result
    assert [c.outcome for c in r.checks] == ["regressed"] and r.summary()["outcome"] == "regressed"
    assert "1 of 1 tests (group × metric) shown beyond the allowance" in str(err.value)


def test_too_few_examples_is_inconclusive_and_fails_with_advice(tmp_path):
    with pytest.raises(SafetyRegression) as err:
        gate(tmp_path, 20, 10, 12, tolerance=0.15, scope="items")
    r, msg = err.value.result, str(err.value)
    (check,) = r.checks
    assert check.outcome == "inconclusive" and check.failed and check.needed > 20
    assert "could not be shown to stay within the allowance" in msg and "80% interval of Δ" not in msg
    assert "90% interval of Δ" in msg and f"about {check.needed} examples in this group" in msg


def test_the_harm_burden_screens_and_says_pass_means_no_evidence(tmp_path):
    r = gate(tmp_path, 20, 10, 12, tolerance=0.15, burden="harm", scope="items")
    assert r.passed and r.verdict == "no evidence" and r.checks[0].outcome == "inconclusive"
    assert "pass means no evidence of harm" in r.explain()


def test_settings_that_cannot_reach_a_verdict_are_refused(tmp_path):
    with pytest.raises(
        KickUsageError, match=r"reps=100 draws cannot reach a p-value of 0.0005 \(alpha=0.001 split over 2 contrasts\): use at least 1999"
    ):
        gate(tmp_path, 20, 10, 10, tolerance=0.1, alpha=0.001, reps=100)
    with pytest.raises(KickUsageError, match="burden must be one of 'shown', 'harm'"):
        gate(tmp_path, 20, 10, 10, tolerance=0.1, burden="maybe")


def test_an_unchanged_model_is_within_wherever_any_model_could_be(tmp_path):
    """Both models agree on every row. Over every item of the benchmark that is exact; under the items scope a
    bootstrap that never varied is within too (no floor a model that changed a little could pass under), except
    below the fewest units any test needs (5 at alpha 0.05), where no model can be within."""
    assert gate(tmp_path, 20, 10, 10, tolerance=0.0).passed  # exact: a change of 0 is at an allowance of 0
    assert gate(tmp_path / "items", 20, 10, 10, tolerance=0.1, scope="items").passed
    with pytest.raises(SafetyRegression, match="only 4 example"):
        gate(tmp_path / "few", 4, 2, 2, tolerance=0.1, scope="items")
    assert gate(tmp_path / "few-exact", 4, 2, 2, tolerance=0.1).checks[0].exact  # every item: decided exactly


def test_the_benchmark_scope_is_exact_over_every_item_and_corrected_for_a_limit(tmp_path):
    """A rise of 0.05 against a tolerance of 0.07: over all 200 rows the observed change decides (within); the
    same data seen as items drawn from a wider population cannot show it with 200 rows; a limit of 150 of the 200
    rows carries the finite-population correction, so its bound is tighter than the same 150 rows as items."""
    r = gate(tmp_path, 200, 100, 110, tolerance=0.07)
    (check,) = r.checks
    assert check.exact and check.change == pytest.approx(0.05) and check.upper == check.change and check.scope == "benchmark (all 200)"
    assert r.summary()["scope"] == "benchmark (all 200)" and "exact: every item" in r.test_name()
    with pytest.raises(SafetyRegression) as err:
        gate(tmp_path, 200, 100, 110, tolerance=0.07, scope="items")
    assert err.value.result.checks[0].outcome == "inconclusive" and "scope: items" in str(err.value)
    limited = gate(tmp_path, 200, 100, 110, tolerance=0.1, limit=150, burden="harm").checks[0]
    as_items = gate(tmp_path, 200, 100, 110, tolerance=0.1, limit=150, burden="harm", scope="items").checks[0]
    assert limited.scope == "benchmark (150 of 200)" and not limited.exact
    assert limited.change == as_items.change and limited.upper < as_items.upper


def test_a_scope_is_checked_before_any_model_runs():
    with pytest.raises(KickUsageError, match="scope must be one of benchmark, items, clusters, got 'world'"):
        assert_no_bias_regression(PAIR, tolerance=0.1, scope="world")


def test_bias_gates_refuse_draws_too_few_for_their_bonferroni_split():
    # a bias score is shown within by one of two contrasts at alpha / 2: 100 draws cannot reach 0.005
    with pytest.raises(KickUsageError, match="reps=100 draws cannot reach a p-value of 0.005"):
        assert_no_bias_regression(PAIR, tolerance=0.1, alpha=0.01, reps=100)
    with pytest.raises(KickUsageError, match="reps=100 draws cannot reach a p-value of 0.009: use at least 111"):
        assert_no_toxicity_regression(PAIR, tolerance=0.1, alpha=0.009, reps=100)
