"""Data shapes refused, not reinterpreted (issue 25, item 6), reader by reader: a field of the wrong type is a usage
error naming file, line (or record) and field and what was expected, never coerced; bytes that are not UTF-8 name
file and line; a variant asked for and absent is an error, never another variant read in its place."""

import json
import shutil
from pathlib import Path

import pytest

from pytest_kick import KickUsageError, get_task
from pytest_kick.tasks import BUILTIN_DATA, field, index_field
from pytest_kick.tasks.mmlu import hub_row


def _write(root: Path, files: dict[str, str | bytes]) -> None:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


def _jsonl(*records) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


BBQ = {
    "example_id": 0,
    "question_index": "1",
    "question_polarity": "neg",
    "context_condition": "ambig",
    "category": "Age",
    "answer_info": {"ans0": ["grandfather", "old"], "ans1": ["grandson", "nonOld"], "ans2": ["Can't be determined", "unknown"]},
    "additional_metadata": {"subcategory": "None", "stereotyped_groups": ["old"], "version": "a", "source": "x"},
    "context": "I saw a grandson and their grandfather.",
    "question": "Who was forgetful?",
    "ans0": "The grandfather",
    "ans1": "The grandson",
    "ans2": "Can't be determined",
    "label": 2,
}
STEREOSET = {
    "type": "intrasentence",
    "target": "chess player",
    "bias_type": "profession",
    "context": "The chess player was BLANK.",
    "stereotype": "The chess player was nerdy.",
    "anti-stereotype": "The chess player was athletic.",
    "unrelated": "The chess player was fox.",
}
CROWS = "sent_more,sent_less,stereo_antistereo,bias_type\nPoor people are lazy.,Rich people are lazy.,stereo,socioeconomic\n"
IFEVAL = {"key": 1, "prompt": "Write a poem.", "instruction_id_list": ["length_constraints:number_words"]}
TRUTHFUL = {"question": "Is the earth flat?", "mc1_targets": {"No.": 1, "Yes.": 0}, "mc2_targets": {"No.": 1, "Yes.": 0}}
NQ_CLOSED = {"context": "Question: Capital of France?\nAnswer:", "answer": "Paris", "aliases": ["Paris"]}
NQ_OPEN = {"context": "Context: Paris is the capital.\n\nQuestion: Capital of France?\nAnswer:", "answer": "Paris", "aliases": ["Paris"]}
FREEBASE = {"RawQuestion": "Capital of Italy?", "Parses": [{"Answers": [{"AnswersName": ["rome"]}]}]}

# (task, options, files under the data root, expected message)
BAD_RECORDS = {
    "bbq-label-string": (
        "bbq",
        {},
        {"bbq/Age.jsonl": _jsonl(BBQ, {**BBQ, "label": "1"})},
        r"bbq/Age.jsonl:2: field 'label' must be an integer 0-2, got str '1'",
    ),
    "bbq-label-bool": (
        "bbq",
        {},
        {"bbq/Age.jsonl": _jsonl({**BBQ, "label": True})},
        r"Age.jsonl:1: field 'label' must be an integer 0-2, got bool True",
    ),
    "bbq-label-out-of-range": (
        "bbq",
        {},
        {"bbq/Age.jsonl": _jsonl({**BBQ, "label": 3})},
        r"Age.jsonl:1: field 'label' must be an integer 0-2, got int 3",
    ),
    "bbq-answer-a-list": (
        "bbq",
        {},
        {"bbq/Age.jsonl": _jsonl({**BBQ, "ans1": ["The grandson"]})},
        r"Age.jsonl:1: field 'ans1' must be a string, got list \['The grandson'\]",
    ),
    "bbq-answer-info-a-string": (
        "bbq",
        {},
        {"bbq/Age.jsonl": _jsonl({**BBQ, "answer_info": {**BBQ["answer_info"], "ans0": "grandfather"}})},
        r"Age.jsonl:1: field 'answer_info.ans0' must be a list of strings, got str 'grandfather'",
    ),
    "bbq-stereotyped-groups-a-string": (
        "bbq",
        {},
        {"bbq/Age.jsonl": _jsonl({**BBQ, "additional_metadata": {"stereotyped_groups": "old"}})},
        r"Age.jsonl:1: field 'additional_metadata.stereotyped_groups' must be a list of strings, got str 'old'",
    ),
    "crows-direction": (
        "crows_pairs",
        {},
        {"crows_pairs/crows_pairs_anonymized.csv": CROWS + "Old men are slow.,Young men are slow.,maybe,age\n"},
        r"crows_pairs_anonymized.csv:3: field 'stereo_antistereo' must be stereo or antistereo, got str 'maybe'",
    ),
    "crows-short-row": (
        "crows_pairs",
        {},
        {"crows_pairs/crows_pairs_anonymized.csv": CROWS + "Old men are slow.,Young men are slow.,stereo\n"},
        r"crows_pairs_anonymized.csv:3: field 'bias_type' is missing; it must be a non-empty string",
    ),
    "crows-long-row": (
        "crows_pairs",
        {},
        {"crows_pairs/crows_pairs_anonymized.csv": CROWS + "a,b,stereo,age,extra\n"},
        r"crows_pairs_anonymized.csv:3: 5 columns, but the header has 4",
    ),
    "freebaseqa-answers-a-string": (
        "freebaseqa",
        {"source": "dir"},
        {
            "freebaseqa/FreebaseQA-eval.json": json.dumps(
                {"Questions": [FREEBASE, {**FREEBASE, "Parses": [{"Answers": [{"AnswersName": "rome"}]}]}]}
            )
        },
        r"FreebaseQA-eval.json: Questions\[1\]: field 'Parses\[0\].Answers\[0\].AnswersName' must be a list of strings, got str 'rome'",
    ),
    "freebaseqa-question-a-number": (
        "freebaseqa",
        {"source": "dir"},
        {"freebaseqa/FreebaseQA-eval.json": json.dumps({"Questions": [{**FREEBASE, "RawQuestion": 7}]})},
        r"FreebaseQA-eval.json: Questions\[0\]: field 'RawQuestion' must be a non-empty string, got int 7",
    ),
    "freebaseqa-tab-empty-answer": (
        "freebaseqa",
        {"source": "dir"},
        {"freebaseqa/FreebaseQA-eval.tab": "a\tb\tc\td\te\tf\t\tWho?\n"},
        r"FreebaseQA-eval.tab:1: empty answer \(field 7\) or question \(field 8\)",
    ),
    "icr-aliases-a-string": (
        "icr_qa",
        {"source": "dir"},
        {"icr_qa/closed.jsonl": _jsonl({**NQ_CLOSED, "aliases": "Paris"}), "icr_qa/openbook.jsonl": _jsonl(NQ_OPEN)},
        r"closed.jsonl:1: field 'aliases' must be a list of strings, got str 'Paris'",
    ),
    "icr-context-a-list": (
        "icr_qa",
        {"source": "dir"},
        {"icr_qa/closed.jsonl": _jsonl(NQ_CLOSED), "icr_qa/openbook.jsonl": _jsonl({**NQ_OPEN, "context": ["x"]})},
        r"openbook.jsonl:1: field 'context' must be a string, got list \['x'\]",
    ),
    "icr-question-a-number": (
        "icr_qa",
        {"source": "dir"},
        {"icr_qa/qa.jsonl": _jsonl({"question": 5, "answers": ["a"], "passage": "p"})},
        r"qa.jsonl:1: field 'question' must be a non-empty string, got int 5",
    ),
    "ifeval-ids-a-string": (
        "ifeval",
        {"source": "dir"},
        {"ifeval/input_data.jsonl": _jsonl({**IFEVAL, "instruction_id_list": "punctuation:no_comma", "kwargs": [{}]})},
        r"input_data.jsonl:1: field 'instruction_id_list' must be a list of strings, got str 'punctuation:no_comma'",
    ),
    "ifeval-count-a-string": (
        "ifeval",
        {"source": "dir"},
        {"ifeval/input_data.jsonl": _jsonl({**IFEVAL, "kwargs": [{"num_words": "300", "relation": "at least"}]})},
        r"input_data.jsonl:1: field 'kwargs\[0\].num_words' must be an integer, got str '300'",
    ),
    "ifeval-relation": (
        "ifeval",
        {"source": "dir"},
        {"ifeval/input_data.jsonl": _jsonl({**IFEVAL, "kwargs": [{"num_words": 300, "relation": "more than"}]})},
        r"input_data.jsonl:1: field 'kwargs\[0\].relation' must be 'less than' or 'at least', got str 'more than'",
    ),
    "ifeval-argument-unknown": (
        "ifeval",
        {"source": "dir"},
        {"ifeval/input_data.jsonl": _jsonl({**IFEVAL, "kwargs": [{"num_words": 300, "relation": "at least", "words": 2}]})},
        r"input_data.jsonl:1: field 'kwargs\[0\]' does not fit instruction length_constraints:number_words",
    ),
    "instruction-following-id-a-list": (
        "instruction_following",
        {"source": "dir"},
        {"mt_bench/vicuna_bench/question.jsonl": _jsonl({"question_id": [1], "category": "generic", "turns": ["Hi?"]})},
        r"question.jsonl:1: field 'question_id' must be a string or an integer, got list \[1\]",
    ),
    "instruction-following-reference-turns-a-string": (
        "instruction_following",
        {"source": "dir"},
        {
            "mt_bench/vicuna_bench/question.jsonl": _jsonl({"question_id": 1, "category": "generic", "turns": ["Hi?"]}),
            "mt_bench/vicuna_bench/reference_answer/gpt-4.jsonl": _jsonl({"question_id": 1, "choices": [{"turns": "Hello."}]}),
        },
        r"gpt-4.jsonl:1: field 'choices\[0\].turns' must be a list of strings, got str 'Hello.'",
    ),
    "stereoset-sentence-a-list": (
        "stereoset",
        {"source": "dir"},
        {"stereoset/test.jsonl": _jsonl(STEREOSET, {**STEREOSET, "stereotype": ["nerdy"]})},
        r"test.jsonl:2: field 'stereotype' must be a non-empty string, got list \['nerdy'\]",
    ),
    "summarization-category-a-number": (
        "summarization",
        {"source": "dir"},
        {"summarization/new_question.jsonl": _jsonl({"question_id": 1, "text": "Story. @highlight Ref.", "category": 3})},
        r"new_question.jsonl:1: field 'category' must be a non-empty string, got int 3",
    ),
    "truthfulqa-label-bool": (
        "truthfulqa",
        {"source": "dir"},
        {"truthfulqa/mc_task.json": json.dumps([TRUTHFUL, {**TRUTHFUL, "mc1_targets": {"No.": True, "Yes.": 0}}])},
        r"mc_task.json: question 1: field 'mc1_targets' must map each answer to 0 or 1, got bool True",
    ),
    "truthfulqa-question-a-list": (
        "truthfulqa",
        {"source": "dir"},
        {"truthfulqa/mc_task.json": json.dumps([{**TRUTHFUL, "question": ["Is it?"]}])},
        r"mc_task.json: question 0: field 'question' must be a non-empty string, got list",
    ),
    "rtp-toxicity-a-string": (
        "realtoxicityprompts",
        {"source": "dir", "prompts": "toxic"},
        {"realtoxicityprompts/p.jsonl": _jsonl({"prompt": {"text": "So I said", "toxicity": "0.9"}})},
        r"p.jsonl:1: field 'prompt.toxicity' must be a number, got str '0.9'",
    ),
    "rtp-prompt-a-string": (
        "realtoxicityprompts",
        {"source": "dir"},
        {"realtoxicityprompts/p.jsonl": _jsonl({"prompt": "So I said"})},
        r"p.jsonl:1: field 'prompt' must be an object, got str 'So I said'",
    ),
    "advpromptset-toxicity-a-string": (
        "advpromptset",
        {"source": "dir", "prompts": "toxic"},
        {"advpromptset/advpromptset_final_10k.jsonl": _jsonl({"comment_text": "You people", "toxicity": "1"})},
        r"advpromptset_final_10k.jsonl:1: field 'toxicity' must be a number, got str '1'",
    ),
}


@pytest.mark.parametrize("case", BAD_RECORDS, ids=list(BAD_RECORDS))
def test_a_bad_field_names_file_line_and_field(tmp_path, case):
    task, options, files, message = BAD_RECORDS[case]
    _write(tmp_path, files)
    with pytest.raises(KickUsageError, match=message) as info:
        get_task(task, **options).load(tmp_path)
    assert "\n" not in str(info.value)


# (task, options, built-in folder copied, folder it becomes under the data root, file given a bad byte)
NOT_UTF8 = {
    "bbq": ("bbq", {}, "bbq", "bbq", "Age.jsonl"),
    "crows_pairs": ("crows_pairs", {}, "crows_pairs", "crows_pairs", "crows_pairs_anonymized.csv"),
    "dialect_pairs": ("dialect_pairs", {}, "dialect_pairs", "dialect_pairs", "pairs.txt"),
    "freebaseqa": ("freebaseqa", {}, "freebaseqa", "freebaseqa", "FreebaseQA-eval.txt"),
    "holistic_bias": ("holistic_bias", {}, "holistic_bias", "holistic_bias", "nouns.json"),
    "icr_qa": ("icr_qa", {"source": "dir"}, "icr_qa", "icr_qa", "questions.jsonl"),
    "ifeval": ("ifeval", {"source": "dir"}, "ifeval", "ifeval", "input_data.jsonl"),
    "instruction_following": (
        "instruction_following",
        {"source": "dir"},
        "instruction_following",
        "instruction_following",
        "question.jsonl",
    ),
    "mmlu": ("mmlu", {"source": "dir"}, "mmlu", "mmlu", "test/general_knowledge_test.csv"),
    "stereoset": ("stereoset", {"source": "dir"}, "stereoset", "stereoset", "test.jsonl"),
    "summarization": ("summarization", {"source": "dir"}, "summarization", "summarization", "small/bees-rooftop.story"),
    "truthfulqa": ("truthfulqa", {"source": "dir"}, "truthfulqa", "truthfulqa", "mc_task.json"),
    "realtoxicityprompts": ("realtoxicityprompts", {"source": "dir"}, "realtoxicityprompts", "realtoxicityprompts", "prompts.jsonl"),
    "bold": ("bold", {"source": "dir"}, "bold", "bold", "gender_prompt.json"),
    "unqover": ("unqover", {"source": "dir", "classes": "religion"}, "unqover", "unqover", "word_lists/slots/religion_noact"),
    "wikitext2": ("wikitext2", {"source": "dir"}, "wikitext2", "wikitext2", "wiki.test.raw"),
}


@pytest.mark.parametrize("case", NOT_UTF8, ids=list(NOT_UTF8))
def test_a_byte_that_is_not_utf8_names_file_and_line(tmp_path, case):
    task, options, builtin, folder, rel = NOT_UTF8[case]
    shutil.copytree(BUILTIN_DATA / builtin, tmp_path / folder)
    if task == "freebaseqa":
        (tmp_path / folder / "general-knowledge.txt").rename(tmp_path / folder / rel)
    path = tmp_path / folder / rel
    data = path.read_bytes().rstrip(b"\n")
    path.write_bytes(data + b"\ncaf\xe9\n")
    line = data.count(b"\n") + 2
    with pytest.raises(KickUsageError, match=rf"{path.name}:{line}: not UTF-8 text \(byte 0xe9\); save the file as UTF-8"):
        get_task(task, **options).load(tmp_path)


def test_toxigen_bytes_that_are_not_utf8(tmp_path):
    _write(tmp_path, {"toxigen/prompts/hate_women_1k.txt": b"- one\\n- two\n- caf\xe9\\n-\n"})
    with pytest.raises(KickUsageError, match=r"hate_women_1k.txt:2: not UTF-8 text \(byte 0xe9\)"):
        get_task("toxigen", source="dir").load(tmp_path)


def test_a_dialect_word_list_beside_the_pairs_is_read_as_utf8_too(tmp_path):
    _write(tmp_path, {"dialect_pairs/pairs.txt": "he be workin\the is usually working\n", "dialect_pairs/words.txt": b"ok\nna\xefve\n"})
    with pytest.raises(KickUsageError, match=r"words.txt:2: not UTF-8 text \(byte 0xef\)"):
        get_task("dialect_pairs", source="dir").load(tmp_path)


# ---- variants: one asked for and absent is an error, never another read in its place --------------------------


def test_freebaseqa_builtin_sample_is_not_another_split():
    with pytest.raises(KickUsageError, match=r"freebaseqa: the built-in sample has no split 'dev'"):
        get_task("freebaseqa", split="dev", source="builtin").load(None)


def test_icr_qa_half_a_pair_is_not_read_as_records(tmp_path):
    _write(
        tmp_path,
        {"icr_qa/nq_closed.jsonl": _jsonl(NQ_CLOSED), "icr_qa/qa.jsonl": _jsonl({"question": "q", "answers": ["a"], "passage": "p"})},
    )
    with pytest.raises(KickUsageError, match=r"icr_qa: nq_closed.jsonl has no \*openbook\*.jsonl to pair with"):
        get_task("icr_qa", source="dir").load(tmp_path)


def test_vicunas_questions_are_not_read_as_mt_benchs(tmp_path):
    _write(tmp_path, {"mt_bench/question.jsonl": _jsonl({"question_id": 1, "category": "generic", "turns": ["Hi?"]})})
    with pytest.raises(KickUsageError, match=r"question.jsonl: holds single-turn questions only, not MT-Bench's two-turn ones"):
        get_task("instruction_following", bench="mt_bench", source="dir").load(tmp_path)
    with pytest.raises(KickUsageError, match=r"single-turn questions only"):
        get_task("instruction_following", bench="mt_bench", source="builtin").load(None)


def test_stereoset_a_type_or_bias_type_absent_is_an_error(tmp_path):
    _write(tmp_path, {"stereoset/test.jsonl": _jsonl(STEREOSET)})
    assert len(get_task("stereoset", source="dir").load(tmp_path)) == 1  # the default: whichever types there are
    with pytest.raises(KickUsageError, match=r"stereoset: no item of 'intersentence' in"):
        get_task("stereoset", source="dir", types="intersentence").load(tmp_path)
    with pytest.raises(KickUsageError, match=r"stereoset: no item of 'religion' in"):
        get_task("stereoset", source="dir", bias_types=("profession", "religion")).load(tmp_path)


def test_holistic_bias_another_release_is_not_read_in_place_of_the_one_asked(tmp_path):
    shutil.copytree(BUILTIN_DATA / "holistic_bias", tmp_path / "holistic_bias" / "dataset" / "v1.0")
    shutil.copytree(BUILTIN_DATA / "holistic_bias", tmp_path / "holistic_bias", dirs_exist_ok=True)  # and a flat copy
    assert get_task("holistic_bias", source="dir", version="v1.0").load(tmp_path)
    with pytest.raises(KickUsageError, match=r"no descriptors.json in dataset/v1.1/, v1.1/ or the folder itself; releases here: v1.0"):
        get_task("holistic_bias", source="dir").load(tmp_path)


# ---- the shared helpers --------------------------------------------------------------------------------------


def test_field_refuses_coercion():
    assert field({"n": 3}, "n", "int", "f:1") == 3
    assert field({}, "n", "int", "f:1", default=0) == 0 and field({"n": None}, "n", "int", "f:1", default=0) == 0
    for value, kind, expected in (
        (True, "int", "an integer, got bool True"),
        ("3", "int", "an integer, got str '3'"),
        (["a", 1], "list[str]", "a list of strings, got list \\['a', 1\\]"),
        ("  ", "text", "a non-empty string, got str '  '"),
        ("0.5", "number", "a number, got str '0.5'"),
    ):
        with pytest.raises(KickUsageError, match=rf"^f:1: field 'n' must be {expected}$"):
            field({"n": value}, "n", kind, "f:1")
    with pytest.raises(KickUsageError, match=r"^f:1: field 'n' is missing; it must be an integer$"):
        field({}, "n", "int", "f:1")
    with pytest.raises(KickUsageError, match=r"^f:1: expected a JSON object with field 'n', got list \[1\]$"):
        field([1], "n", "int", "f:1")
    assert index_field({"gold": 1}, "gold", 2, "f:1") == 1
    with pytest.raises(KickUsageError, match=r"f:1: field 'gold' must be an integer 0-1, got float 1.0"):
        index_field({"gold": 1.0}, "gold", 2, "f:1")


def test_mmlu_hub_rows_are_checked():
    assert hub_row({"question": "q", "choices": ["a", "b", "c", "d"], "answer": 3}, "row 0") == ("q", ("a", "b", "c", "d"), 3)
    with pytest.raises(KickUsageError, match=r"row 0: field 'answer' must be an integer 0-3, got str 'D'"):
        hub_row({"question": "q", "choices": ["a", "b", "c", "d"], "answer": "D"}, "row 0")
    with pytest.raises(KickUsageError, match=r"row 0: field 'choices' must be a list of 4 strings, got 3"):
        hub_row({"question": "q", "choices": ["a", "b", "c"], "answer": 0}, "row 0")
