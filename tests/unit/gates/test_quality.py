"""The generation-quality gate on scripted models: ROUGE against the reference, agreement with the dense output,
a scorer that cannot score some examples, the task's own score, and the typed result."""

import math

import pytest

from pytest_kick import FakeRunner, KickUsageError, ModelPair, QualityResult, assert_generation_quality_within, get_task
from pytest_kick.errors import QualityRegression
from pytest_kick.gates.quality import decide_scores


def summarizer(fn):
    """A scripted model whose summary of each built-in story is fn(reference)."""
    return FakeRunner({ex.prompt: " " + fn(ex.answers[0]) for ex in get_task("summarization").load(None)})


def test_summaries_as_good_as_the_dense_models_pass():
    same = summarizer(lambda ref: ref)
    result = assert_generation_quality_within(ModelPair(same, same, method="rtn8"), "summarization", scorer="rougeL", max_drop=0.05)
    assert result.passed and result.n == 6 and result.dense_mean == pytest.approx(1.0) and result.delta == 0.0


def test_summaries_that_lose_their_content_fail_and_show_the_worst():
    dense = summarizer(lambda ref: ref)
    comp = summarizer(lambda ref: " ".join(ref.split()[:3]))
    with pytest.raises(QualityRegression) as info:
        assert_generation_quality_within(ModelPair(dense, comp, method="magnitude50"), "summarization", scorer="rouge1", max_drop=0.05)
    result = info.value.result
    assert result.outcome in ("regressed", "inconclusive") and result.delta < -0.3 and len(result.worst) == 5
    text = str(info.value)
    assert "examples that lost most" in text and "rouge1" in text and "compressed:" in text


def test_agreement_needs_no_reference():
    dense = summarizer(lambda ref: "The council kept the ferry.")
    assert assert_generation_quality_within(
        ModelPair(dense, dense, method="rtn8"), "summarization", scorer="agreement", max_drop=0.1
    ).passed
    other = summarizer(lambda ref: "Something else entirely happened today.")
    with pytest.raises(QualityRegression, match="agreement"):
        assert_generation_quality_within(ModelPair(dense, other, method="rtn8"), "summarization", scorer="agreement", max_drop=0.1)


def test_unscored_examples_are_counted_never_scored():
    class HalfJudge:
        name, against = "half-judge", "reference"

        def score(self, predictions, references, prompts):
            return [math.nan if i % 2 else 8.0 for i in range(len(predictions))]

    same = summarizer(lambda ref: ref)
    with pytest.raises(QualityRegression) as caught:  # 3 scored examples are too few to show anything at alpha=0.05
        assert_generation_quality_within(ModelPair(same, same, method="rtn8"), "summarization", scorer=HalfJudge(), max_drop=1.0)
    result = caught.value.result
    assert result.n == 3 and result.unscored == 3 and result.outcome == "inconclusive"
    d = decide_scores([math.nan], [math.nan], 0.1, False, 0.05, 200, 0)
    assert d.n == 0 and d.outcome == "inconclusive"


def test_a_task_without_its_own_score_asks_for_a_scorer():
    same = summarizer(lambda ref: ref)
    with pytest.raises(KickUsageError, match="gives no per-example score"):
        assert_generation_quality_within(ModelPair(same, same, method="rtn8"), "summarization", max_drop=0.1)


@pytest.mark.parametrize(
    "kwargs, needle",
    [
        ({"max_drop": -1}, "max_drop"),
        ({"max_drop": 0.1, "scorer": "bleu"}, "scorer 'bleu'"),
        ({"max_drop": 2.0, "relative": True}, "max_drop"),
    ],
)
def test_bad_arguments_are_refused_before_any_model_runs(kwargs, needle):
    runner = FakeRunner()
    with pytest.raises(KickUsageError, match=needle):
        assert_generation_quality_within(ModelPair(runner, runner, method="rtn8"), "summarization", **kwargs)
    assert runner.calls == 0


def test_the_result_round_trips_through_json():
    dense = summarizer(lambda ref: ref)
    comp = summarizer(lambda ref: " ".join(ref.split()[:5]))
    try:
        assert_generation_quality_within(ModelPair(dense, comp, method="rtn4"), "summarization", scorer="rougeL", max_drop=0.01)
    except QualityRegression as exc:
        result = exc.result
    assert QualityResult.from_json(result.to_json()) == result


def test_a_scorers_per_example_scores_reach_a_saved_run():
    """--kick-save keeps what the gate scored (ROUGE here), so --kick-compare can test releases on it."""
    from pytest_kick.report.baseline import compare, saved_gate

    seen = []
    dense, worse = summarizer(lambda ref: ref), summarizer(lambda ref: ref.split()[0])
    for comp in (dense, worse):
        pair = ModelPair(dense, comp, method="rtn8", observer=lambda r, ev: seen.append(saved_gate(r, ev, "m")))
        try:
            assert_generation_quality_within(pair, "summarization", scorer="rougeL", max_drop=0.05)
        except QualityRegression:
            pass
    before, after = seen
    assert all(e.score is not None for e in before.examples) and before.examples[0].score == pytest.approx(1.0)
    assert compare(before, before, "v1").outcome == "within"
    assert compare(after, before, "v1").outcome != "within" and compare(after, before, "v1").matched == len(before.examples)
