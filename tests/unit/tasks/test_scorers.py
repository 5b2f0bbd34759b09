"""Toxicity and sentiment scorers."""

import json

import pytest

from pytest_kick.errors import KickUsageError
from pytest_kick.tasks.scorers import HFClassifier, ProfanityCheck, Vader, toxicity_scorer

TOXIC = "Shut up, you stupid worthless idiot, everyone hates you."
NEUTRAL = "The library opens at nine and closes at five on weekdays."


def test_offline_default_ranks_toxic_above_neutral():
    pytest.importorskip("profanity_check", reason="pip install 'pytest-kick[safety]'")
    toxic, neutral = ProfanityCheck().score([TOXIC, NEUTRAL])
    assert toxic >= 0.5 > neutral
    assert toxicity_scorer(None).name == "alt-profanity-check"
    assert ProfanityCheck().score([]) == []


def test_vader_gaps_are_signed_right():
    pytest.importorskip("vaderSentiment", reason="pip install 'pytest-kick[safety]'")
    pos = Vader().score(["She is a kind, brilliant and generous doctor.", "He is admired for his wonderful work."])
    neg = Vader().score(["She is a cruel, lazy and dishonest doctor.", "He is hated for his terrible crimes."])
    gap = sum(pos) / 2 - sum(neg) / 2
    assert all(p > 0.05 for p in pos) and all(n < -0.05 for n in neg) and gap > 1.0


@pytest.fixture(scope="module")
def classifier_dir(tmp_path_factory):
    """A tiny random BERT toxicity classifier with named labels, saved like a downloaded one."""
    from transformers import BertConfig, BertForSequenceClassification

    from pytest_kick.testing import build_tokenizer

    path = tmp_path_factory.mktemp("clf")
    tok = build_tokenizer([TOXIC, NEUTRAL] * 4, vocab_size=300)
    cfg = BertConfig(
        vocab_size=len(tok),
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        num_labels=2,
        id2label={0: "non-toxic", 1: "toxic"},
        label2id={"non-toxic": 0, "toxic": 1},
        pad_token_id=0,
    )
    BertForSequenceClassification(cfg).save_pretrained(path)
    tok.save_pretrained(path)
    return path


@pytest.mark.slow
def test_local_classifier_gives_probabilities_of_the_toxic_label(classifier_dir):
    scorer = HFClassifier(str(classifier_dir))
    assert scorer.name.endswith("[toxic]")
    out = scorer.score([TOXIC, NEUTRAL, ""])
    assert len(out) == 3 and all(0.0 <= p <= 1.0 for p in out)
    assert toxicity_scorer(str(classifier_dir)).name == scorer.name


@pytest.mark.slow
def test_a_model_that_is_not_a_classifier_is_refused(random_model_dir, tmp_path):
    with pytest.raises(KickUsageError, match="is not a sequence-classification model .*LlamaForCausalLM"):
        HFClassifier(str(random_model_dir))
    with pytest.raises(KickUsageError, match="no config.json"):
        HFClassifier(str(tmp_path))
    (tmp_path / "config.json").write_text(
        json.dumps({"architectures": ["XForSequenceClassification"], "id2label": {"0": "a", "1": "b", "2": "c"}})
    )
    with pytest.raises(KickUsageError, match="cannot tell which label is 'toxic'"):
        HFClassifier(str(tmp_path))
    with pytest.raises(KickUsageError, match="not a directory"):
        toxicity_scorer(str(tmp_path / "missing"))


def test_the_default_scorer_refuses_pickles_that_are_not_the_pinned_ones(monkeypatch):
    """alt-profanity-check unpickles its model files on import: they are checked against pinned SHA-256 first."""
    pytest.importorskip("profanity_check")
    from pytest_kick.errors import KickUsageError
    from pytest_kick.tasks import scorers

    pinned = scorers.PROFANITY_CHECK_FILES
    scorers.verify_profanity_check.cache_clear()
    scorers.verify_profanity_check()  # the installed wheel matches
    version = next(iter(pinned))
    monkeypatch.setattr(scorers, "PROFANITY_CHECK_FILES", {version: {**pinned[version], "model.joblib": "0" * 64}})
    scorers.verify_profanity_check.cache_clear()
    with pytest.raises(KickUsageError, match="not the published"):
        scorers.verify_profanity_check()
    monkeypatch.setattr(scorers, "PROFANITY_CHECK_FILES", {"0.0.1": {}})
    scorers.verify_profanity_check.cache_clear()
    with pytest.raises(KickUsageError, match="has not checked the pickled model files"):
        scorers.verify_profanity_check()
    scorers.verify_profanity_check.cache_clear()
