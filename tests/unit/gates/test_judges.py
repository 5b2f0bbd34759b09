"""Judges on scripted runners: prompt formats and their parsers, both answer orders, unparseable verdicts, the
verdict cache, FastChat's prompt file, and the key variable's name."""

import math

import pytest

from pytest_kick import FakeRunner, KickUsageError
from pytest_kick.contract import RunnerFactory
from pytest_kick.gates.judges import Judge, JudgePrompt, judge_prompt
from pytest_kick.runners.cache import CachedRunner, ResultCache


@pytest.mark.parametrize(
    "fmt, text, expected",
    [
        ("scores", "7 5\nThe first answer is better.", (7.0, 5.0)),
        ("scores", "Assistant 1: 8.5, Assistant 2: 6\nreview", (math.nan, math.nan)),  # four numbers: not two
        ("scores", "I cannot decide.", (math.nan, math.nan)),
        ("criteria", "coherence: 8 6\nconsistency: 7 7\nfluency: 9 5\nrelevance: 6 6\nwhy", (7.5, 6.0)),
        ("criteria", "coherence: 8 6\nwhy", (math.nan, math.nan)),
        ("rating", "Good answer. Rating: [[7]]", (7.0, math.nan)),
        ("verdict", "Overall [[B]] is better", (0.0, 1.0)),
        ("verdict", "[[C]]", (0.5, 0.5)),
    ],
)
def test_each_output_format_is_parsed_or_left_unscored(fmt, text, expected):
    got = JudgePrompt("p", "{question}", fmt).parse(text)
    assert all((math.isnan(a) and math.isnan(b)) or a == b for a, b in zip(got, expected)), got


def scripted_judge(verdicts, cache=None):
    """A judge whose model answers each judge prompt with verdicts[(first answer, second answer)]."""
    prompt = JudgePrompt("t", "Q: {question}\n1: {answer_1}\n2: {answer_2}", "scores")
    answers = {prompt.render("q", a, b): f" {v}" for (a, b), v in verdicts.items()}
    runner = FakeRunner(answers, default_text=" no verdict")
    factory = RunnerFactory("scripted judge", lambda: runner, "judge-fp" if cache else None)
    return Judge(CachedRunner(factory, ResultCache(cache)), prompt), runner


def test_both_orders_are_judged_and_averaged():
    judge, _ = scripted_judge({("good", "ref"): "8 6", ("ref", "good"): "7 6"})  # position bias: +1 for first
    (score,) = judge.score(["good"], ["ref"], ["q"])
    assert score == pytest.approx((8 + 6) / 2)  # 8 as first, 6 as second
    dense, comp = judge.score_pair(["good"], ["ref"], ["q"])
    assert dense == [pytest.approx(7.0)] and comp == [pytest.approx(6.5)]


def test_an_unreadable_order_leaves_the_example_unscored_and_no_reference_too():
    judge, _ = scripted_judge({("good", "ref"): "8 6"})  # the reversed order gets " no verdict"
    scores = judge.score(["good", "other"], ["ref", ""], ["q", "q"])
    assert all(math.isnan(s) for s in scores)


def test_verdicts_are_cached_by_judge_and_prompt(tmp_path):
    judge, runner = scripted_judge({("good", "ref"): "8 6", ("ref", "good"): "7 6"}, cache=tmp_path)
    first = judge.score(["good"], ["ref"], ["q"])
    again, runner2 = scripted_judge({}, cache=tmp_path)  # a new session: this judge would answer nothing
    assert again.score(["good"], ["ref"], ["q"]) == first and runner2.calls == 0 and runner.calls == 1


def test_fastchat_judge_prompts_load_by_name(shared_data):
    path = shared_data / "mt_bench" / "judge_prompts.jsonl"
    single = judge_prompt(f"{path}:single-v1")
    assert single.output_format == "rating" and not single.pairwise and "{answer}" not in single.render("q", "a")
    pair = judge_prompt(f"{path}:pair-v2")
    assert pair.output_format == "verdict" and pair.pairwise and pair.system
    with pytest.raises(KickUsageError, match="no judge prompt named 'nope'"):
        judge_prompt(f"{path}:nope")


def test_the_built_in_prompts():
    for name in ("pairwise-scores", "summary-scores"):
        p = judge_prompt(name)
        text = p.render("the story", "summary one", "summary two")
        assert "summary one" in text and "summary two" in text and p.pairwise


@pytest.mark.parametrize("text", ["1000000 2", "15 -3", "-4 -9", "0 5", "11 10"])
def test_a_verdict_off_the_rubrics_scale_is_unscored_never_averaged(text):
    assert all(math.isnan(v) for v in JudgePrompt("p", "{question}", "scores").parse(text))


def test_scales_other_than_one_to_ten_and_the_other_formats():
    assert JudgePrompt("p", "{question}", "scores", scale=(0.0, 100.0)).parse("85 40") == (85.0, 40.0)
    assert math.isnan(JudgePrompt("p", "{question}", "rating").parse("Rating: [[12]]")[0])
    assert math.isnan(JudgePrompt("p", "{question}", "criteria").parse("a: 8 6\nb: 7 7\nc: 9 50\nd: 6 6")[0])
    with pytest.raises(KickUsageError, match="scale must be"):
        JudgePrompt("p", "{question}", "scores", scale=(10.0, 1.0))


def test_llm_kicks_review_prompt_file_loads_as_it_is(tmp_path):
    """FastChat's older review prompts (what LLM-KICK sent to GPT-4): no name, a prompt_id and category, the
    instruction in defaults.prompt filled into {prompt}; two scores on the first line."""
    import json

    record = {
        "prompt_id": 1, "system_prompt": "You are a helpful and precise assistant for checking the quality of the answer.",
        "prompt_template": "[Question]\n{question}\n\n[The Start of Assistant 1's Answer]\n{answer_1}\n\n[The End of Assistant 1's "
        "Answer]\n\n[The Start of Assistant 2's Answer]\n{answer_2}\n\n[The End of Assistant 2's Answer]\n\n[System]\n{prompt}\n\n",
        "defaults": {"prompt": "Please rate ... Please first output a single line containing only two values {like 8 6}."},
        "description": "Prompt for general questions", "category": "general",
    }  # fmt: skip
    path = tmp_path / "prompt.jsonl"
    path.write_text(json.dumps(record) + "\n" + json.dumps({**record, "prompt_id": 2, "category": "coding"}) + "\n")
    by_id, by_category = judge_prompt(f"{path}:1"), judge_prompt(f"{path}:coding")
    text = by_id.render("What is 2+2?", "4", "five")
    assert (
        "[System]\nPlease rate ... Please first output a single line containing only two values {like 8 6}." in text
        and "What is 2+2?" in text
        and "five" in text
    )
    assert by_id.system.startswith("You are a helpful") and by_id.pairwise and by_id.parse("8 6\nbecause") == (8.0, 6.0)
    assert by_category.render("q", "a", "b") == judge_prompt(f"{path}:2").render("q", "a", "b")
    with pytest.raises(KickUsageError, match=r"no judge prompt named 'nope'; it has 1, 2"):
        judge_prompt(f"{path}:nope")


def test_a_gate_judges_head_to_head_and_with_its_own_prompt_and_says_when_references_are_missing():
    from pytest_kick import ModelPair, assert_generation_quality_within
    from pytest_kick.errors import QualityRegression

    model = FakeRunner({}, default_text=" fine answer")
    task = "instruction_following"  # the built-in set has no reference answers
    judge, judged = scripted_judge({})  # every verdict unreadable: nothing is scored against a missing reference
    with pytest.raises(QualityRegression) as caught:
        assert_generation_quality_within(ModelPair(model, model, method="rtn8"), task, scorer=judge, max_drop=1.0)
    text = str(caught.value)
    assert caught.value.result.no_reference == caught.value.result.unscored > 0
    assert (
        f"{caught.value.result.no_reference} example(s) have no reference answer to judge against: judge head to head with against='dense'"
        in text
    )
    assert judged.calls == 0  # no reference: never sent to the judge
    steady = FakeRunner({}, default_text=" 7 7")  # a judge that finds the two answers equally good
    judge = Judge(CachedRunner(RunnerFactory("steady judge", lambda: steady, None), ResultCache(None)), judge.prompt)
    result = assert_generation_quality_within(ModelPair(model, model, method="rtn8"), task, scorer=judge, max_drop=1.0, against="dense")
    assert (
        result.passed and result.n == result.unscored + result.n > 0 and result.no_reference == 0 and judge.against == "reference"
    )  # a copy
    with pytest.raises(KickUsageError, match="against must be 'reference' or 'dense'"):
        assert_generation_quality_within(ModelPair(model, model, method="rtn8"), task, scorer=judge, max_drop=1.0, against="x")
    with pytest.raises(KickUsageError, match="apply to a judge"):
        assert_generation_quality_within(ModelPair(model, model, method="rtn8"), task, scorer="rougeL", max_drop=1.0, against="dense")
    with pytest.raises(KickUsageError, match="unknown placeholder"):
        bad = JudgePrompt("mine", "{question} {answr}", "scores")
        assert_generation_quality_within(ModelPair(model, model, method="rtn8"), task, scorer=judge, max_drop=1.0, judge_prompt=bad)
