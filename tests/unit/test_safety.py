"""Safety assertions: bad arguments are refused before any model runs."""

from types import SimpleNamespace

import pytest

from pytest_kick import (
    assert_no_bias_regression,
    assert_no_dialect_bias_regression,
    assert_no_toxicity_regression,
    assert_perplexity_within,
)
from pytest_kick.errors import KickUsageError

PAIR = SimpleNamespace(data_dir=None, limit=None, seed=0, toxicity_scorer=None)  # never reaches a model


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
