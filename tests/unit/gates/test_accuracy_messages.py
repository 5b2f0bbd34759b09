"""The accuracy gate's failure message when the dense model itself sits at chance on a task scored by answer letters:
it says so and names scoring="cloze" (an exact one-sided binomial test at the gate's alpha decides "at chance")."""

import math

import pytest

from pytest_kick import AccuracyRegression, FakeRunner, ModelPair, assert_kick_accuracy_within, get_task
from pytest_kick.gates.accuracy import AccuracyResult


def model(answers, scoring="letter"):
    task = get_task("mmlu", scoring=scoring)
    return FakeRunner({e.prompt: answers(e) for e in task.load(None)}, miss=-3.0)


def failure(pair, **kwargs) -> tuple[AccuracyResult, str]:
    with pytest.raises(AccuracyRegression) as err:
        assert_kick_accuracy_within(pair, "mmlu", **kwargs)
    return err.value.result, str(err.value)


def guesser(rate):
    """Right on the questions whose index falls in the first `rate` of every 20 (an exact, reproducible accuracy)."""
    return lambda e: "ABCD"[e.gold] if int(e.id.rsplit("/", 1)[1]) % 20 < rate * 20 else "ABCD"[(e.gold + 1) % 4]


def test_a_dense_model_at_chance_on_letters_is_told_to_score_cloze():
    pair = ModelPair(model(guesser(0.25)), model(guesser(0.2)), method="rtn4")
    r, msg = failure(pair, max_drop=0.02, scope="items")
    assert r.letter_chance == 0.25 and abs(r.dense_acc - 0.25) < 0.02
    assert f"The dense model itself is at chance on 'mmlu': {round(r.dense_acc * r.n)} of {r.n} right" in msg
    assert "The letter format sits at chance for this model" in msg and 'scoring="cloze"' in msg


def test_a_dense_model_above_chance_gets_no_such_note():
    pair = ModelPair(model(guesser(0.45)), model(guesser(0.2)), method="rtn4")
    r, msg = failure(pair, max_drop=0.02, scope="items")
    assert r.letter_chance == 0.25 and "at chance" not in msg and "cloze" not in msg


def test_cloze_scoring_has_no_letter_chance():
    task = get_task("mmlu", scoring="cloze")
    text = {e.prompt: e.choices[e.gold] if int(e.id.rsplit("/", 1)[1]) % 4 == 0 else e.choices[(e.gold + 1) % 4] for e in task.load(None)}
    worse = {p: "nothing" for p in text}
    pair = ModelPair(FakeRunner(text, miss=-3.0), FakeRunner(worse, miss=-3.0), method="rtn4")
    with pytest.raises(AccuracyRegression) as err:
        assert_kick_accuracy_within(pair, "mmlu", max_drop=0.02, scope="items", scoring="cloze")
    assert math.isnan(err.value.result.letter_chance) and "at chance" not in str(err.value)


def test_the_chance_rule_is_an_exact_one_sided_binomial_test_at_alpha():
    from scipy.stats import binom

    base = dict(test="t", task="mmlu", method="m", compressed_acc=0.0, delta=0.0, allowed_drop=0.02, relative=False)
    base |= dict(alpha=0.05, p_value=1.0, lower_bound=-1.0, right_to_wrong=0, wrong_to_right=0, passed=False)
    n = 100
    edge = next(k for k in range(n + 1) if binom.sf(k - 1, n, 0.25) <= 0.05)  # the fewest right that beat guessing
    at = AccuracyResult(n=n, dense_acc=(edge - 1) / n, letter_chance=0.25, **base)
    above = AccuracyResult(n=n, dense_acc=edge / n, letter_chance=0.25, **base)
    assert at.chance_note() and not above.chance_note()
    assert not AccuracyResult(n=n, dense_acc=0.0, **base).chance_note()  # no letter chance: not a letter-scored task
