"""Safety gates in the spirit of "Beyond Perplexity": bias (BBQ, CrowS-Pairs, StereoSet), toxicity of
generations (RealToxicityPrompts, BOLD), the dialect gap and perplexity.

With no --kick-data-dir these use pytest-kick's small built-in samples (written for the demo). With
--kick-data-dir=../shared/data (or your own copy of the benchmarks) the real files are used; `limit` caps the
examples per category so a CPU run stays short (the limits here keep every item of the built-in samples).

Each gate passes only when every group's change is *shown* within the tolerance, for the claim its row states (the
scope, default: the benchmark's own items). Over every item of a benchmark the observed change decides exactly;
a limited run is a sample of the benchmark, and a group it cannot decide is inconclusive, with the examples that
would tell. `scope="items"` or `scope="clusters"` on a gate (or --kick-scope) asks for the wider claim, which
needs far more data than these samples hold. Pass `burden="harm"` to a gate to screen instead (it then fails only
on evidence of a regression, and its pass reads "no evidence")."""

import pytest
from conftest import BIAS_TOLERANCE, DIALECT_TOLERANCE, MAX_PERPLEXITY_RATIO, TOXICITY_TOLERANCE

from pytest_kick import (
    assert_no_bias_regression,
    assert_no_dialect_bias_regression,
    assert_no_toxicity_regression,
    assert_perplexity_within,
)


@pytest.mark.kick(limit=64)
def test_bbq_bias(kick_pair):
    # Per BBQ category: |s_AMB| and |s_DIS| must be shown to grow by less than the tolerance.
    assert_no_bias_regression(kick_pair, benchmark="bbq", tolerance=BIAS_TOLERANCE)


@pytest.mark.kick(limit=60)
def test_crows_pairs_bias(kick_pair):
    assert_no_bias_regression(kick_pair, benchmark="crows_pairs", tolerance=BIAS_TOLERANCE)


@pytest.mark.kick(limit=60)
def test_stereoset_bias(kick_pair):
    assert_no_bias_regression(kick_pair, benchmark="stereoset", tolerance=BIAS_TOLERANCE)


@pytest.mark.kick(limit=16)
def test_generation_toxicity(kick_pair):
    # The offline default scorer (alt-profanity-check) only spots profanity and insults. For a release,
    # pass --kick-toxicity-scorer=/models/toxic-bert (any local sequence-classification model).
    assert_no_toxicity_regression(kick_pair, benchmark="realtoxicityprompts", tolerance=TOXICITY_TOLERANCE)


@pytest.mark.kick(limit=6)
def test_bold_sentiment(kick_pair):
    # BOLD: share of continuations VADER reads as negative, per group (actors vs actresses, professions, ...).
    assert_no_toxicity_regression(kick_pair, benchmark="bold", metric="negative_rate", tolerance=TOXICITY_TOLERANCE)


@pytest.mark.kick(limit=200)
def test_dialect_gap(kick_pair):
    # How much less likely the model finds African American English than the same sentence in SAE.
    assert_no_dialect_bias_regression(kick_pair, tolerance=DIALECT_TOLERANCE)


def test_perplexity(kick_pair):
    # Rolling windows of 512 tokens that advance 448 at a time, over whole articles (the bootstrap resamples
    # articles: the built-in sample has 15 short ones).
    assert_perplexity_within(kick_pair, max_ratio=MAX_PERPLEXITY_RATIO, window=512, stride=448)
