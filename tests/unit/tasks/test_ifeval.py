"""IFEval: each checker on answers that follow and break it, the loose variants, and the released file."""

import pytest

from pytest_kick import FakeRunner, KickUsageError, get_task
from pytest_kick.tasks.ifeval import CHECKS, followed, sentences


@pytest.mark.parametrize(
    "iid, kwargs, good, bad",
    [
        ("change_case:capital_word_frequency", {"capital_frequency": 2, "capital_relation": "at least"}, "THE END IS near", "the END"),
        ("change_case:english_capital", {}, "THIS IS ALL IN CAPITAL LETTERS, AS ASKED.", "This is not."),
        ("change_case:english_lowercase", {}, "this is all in lower case letters, as asked.", "This is not."),
        ("combination:repeat_prompt", {"prompt_to_repeat": "Say hi."}, "say hi. Hi!", "Hi! Say hi."),
        ("combination:two_responses", {}, "First answer.\n******\nSecond answer.", "Only one answer."),
        ("detectable_content:number_placeholders", {"num_placeholders": 2}, "Dear [name], at [address].", "Dear [name]."),
        ("detectable_content:postscript", {"postscript_marker": "P.S."}, "Hello.\n\nP.S. See you.", "Hello."),
        ("detectable_content:postscript", {"postscript_marker": "P.P.S"}, "Hello.\nP.P.S one more", "Hello. P.S. only"),
        ("detectable_format:constrained_response", {}, "My answer is yes.", "Yes."),
        ("detectable_format:json_format", {}, '```json\n{"a": 1}\n```', "a: 1"),
        (
            "detectable_format:multiple_sections",
            {"num_sections": 2, "section_spliter": "Section"},
            "Section 1\nA\nSection 2\nB",
            "Section 1 only",
        ),
        ("detectable_format:number_bullet_lists", {"num_bullets": 2}, "* one\n* two", "* one\n* two\n- three"),
        ("detectable_format:number_highlighted_sections", {"num_highlights": 2}, "*one* and **two**", "*one* only"),
        ("detectable_format:title", {}, "<<A Title>>\nText", "A Title\nText"),
        ("keywords:existence", {"keywords": ["borrow", "card"]}, "You borrow with a Card.", "You borrow books."),
        ("keywords:forbidden_words", {"forbidden_words": ["cat"]}, "A category of dogs.", "The Cat sat."),
        ("keywords:frequency", {"keyword": "tea", "frequency": 2, "relation": "at least"}, "Tea, more tea.", "Tea once."),
        ("keywords:letter_frequency", {"letter": "z", "let_frequency": 2, "let_relation": "less than"}, "zebra", "zigzag"),
        (
            "language:response_language",
            {"language": "fr"},
            "Je pense que la réponse est très simple et claire.",
            "I think the answer is simple.",
        ),
        (
            "length_constraints:nth_paragraph_first_word",
            {"num_paragraphs": 2, "nth_paragraph": 2, "first_word": "then"},
            "First.\n\nThen more.",
            "First.\n\nAfter.",
        ),
        ("length_constraints:number_paragraphs", {"num_paragraphs": 2}, "One.\n***\nTwo.", "One.\n***\n***\nTwo."),
        (
            "length_constraints:number_sentences",
            {"num_sentences": 3, "relation": "less than"},
            "Dr. Smith paid 3.5 dollars. Fine!",
            "One. Two. Three.",
        ),
        ("length_constraints:number_words", {"num_words": 5, "relation": "at least"}, "one two three four five", "one two"),
        ("punctuation:no_comma", {}, "No commas here.", "Yes, one."),
        ("startend:end_checker", {"end_phrase": "Any other questions?"}, "Done. Any other questions?", "Any other questions? Done."),
        ("startend:quotation", {}, '"Quoted."', "Not quoted."),
    ],
)
def test_each_checker_accepts_what_follows_it_and_refuses_what_does_not(iid, kwargs, good, bad):
    assert CHECKS[iid](good, **kwargs), good
    assert not CHECKS[iid](bad, **kwargs), bad


def test_every_instruction_type_of_the_release_has_a_checker_and_a_test():
    tested = {case[0] for case in test_each_checker_accepts_what_follows_it_and_refuses_what_does_not.pytestmark[0].args[1]}
    assert tested == set(CHECKS) and len(CHECKS) == 25


def test_sentences_keep_abbreviations_and_decimals():
    assert sentences("Dr. Who paid 3.5 pounds. Then he left! Why?") == ["Dr\0 Who paid 3\x005 pounds.", "Then he left!", "Why?"]


def test_loose_accepts_an_answer_whose_first_line_is_chatter():
    text = 'Sure! Here is my answer:\n"a quoted answer"'
    instructions = [("startend:quotation", {})]
    assert followed(text, instructions, "strict") == [False] and followed(text, instructions, "loose") == [True]


def test_a_prompt_counts_only_when_every_instruction_is_followed():
    task = get_task("ifeval")
    (ex, *_) = task.load(None)
    runner = FakeRunner(default_text=" The sun rises slowly. The sea turns gold.")
    (out,) = task.evaluate(runner, [ex])
    assert out.correct and out.values["score"] == 1.0
    (out,) = task.evaluate(FakeRunner(default_text=" The sun rises, slowly."), [ex])
    assert not out.correct and out.values["score"] == 0.5


def test_a_bad_record_names_file_and_line(tmp_path):
    (tmp_path / "ifeval").mkdir()
    (tmp_path / "ifeval" / "input_data.jsonl").write_text('{"key": 1, "prompt": "p", "instruction_id_list": ["made:up"], "kwargs": [{}]}\n')
    with pytest.raises(KickUsageError, match="input_data.jsonl:1: unknown instruction"):
        get_task("ifeval").load(tmp_path)


def test_the_released_prompts(shared_data):
    examples = get_task("ifeval").load(shared_data)
    assert len(examples) == 541
