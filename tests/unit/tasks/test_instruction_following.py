"""Instruction following: FastChat's question layout, chat templates through the runner, two MT-Bench turns."""

import json

import pytest

from pytest_kick import FakeRunner, KickUsageError, get_task
from pytest_kick.contract import plain_chat
from pytest_kick.tasks.instruction_following import TURN_BREAK


def test_the_built_in_instructions_are_single_turn():
    examples = get_task("instruction_following").load(None)
    assert len(examples) == 8 and all(len(e.meta["turns"]) == 1 for e in examples) and "coding" in {e.group for e in examples}


def test_each_turn_goes_through_the_runners_chat_template_and_the_second_follows_the_first(tmp_path):
    folder = tmp_path / "mt_bench"
    (folder / "reference_answer").mkdir(parents=True)
    (folder / "question.jsonl").write_text(
        json.dumps({"question_id": 81, "category": "writing", "turns": ["Write a haiku.", "Now in French."]})
    )
    (folder / "reference_answer" / "gpt-4.jsonl").write_text(json.dumps({"question_id": 81, "choices": [{"turns": ["ref 1", "ref 2"]}]}))
    (ex,) = get_task("instruction_following", bench="mt_bench").load(tmp_path)
    assert ex.answers == (f"ref 1{TURN_BREAK}ref 2",) and ex.id == "mt_bench/81"
    first = plain_chat([{"role": "user", "content": "Write a haiku."}])
    second = plain_chat(
        [
            {"role": "user", "content": "Write a haiku."},
            {"role": "assistant", "content": "Leaves fall"},
            {"role": "user", "content": "Now in French."},
        ]
    )
    runner = FakeRunner({first: " Leaves fall", second: " Les feuilles"})
    (out,) = get_task("instruction_following", bench="mt_bench").evaluate(runner, [ex])
    assert out.prediction == f"Leaves fall{TURN_BREAK}Les feuilles"
    assert [r.context for r in runner.requests] == [first, second]


def test_vicuna_questions_and_bad_records(tmp_path):
    folder = tmp_path / "mt_bench" / "vicuna_bench"
    folder.mkdir(parents=True)
    (folder / "question.jsonl").write_text('{"question_id": 1, "category": "generic", "turns": ["Hi?"]}\n{"question_id": 2, "turns": []}\n')
    with pytest.raises(
        KickUsageError, match=r"question.jsonl:2: field 'turns' must be a non-empty list of non-empty strings, got list \[\]"
    ):
        get_task("instruction_following").load(tmp_path)
    with pytest.raises(KickUsageError, match="bench must be one of"):
        get_task("instruction_following", bench="arena")


def test_the_shared_vicuna_and_mt_bench_questions(shared_data):
    vicuna = get_task("instruction_following").load(shared_data)
    mt = get_task("instruction_following", bench="mt_bench").load(shared_data)
    assert len(vicuna) == 80 and len(mt) == 80 and all(len(e.meta["turns"]) == 2 for e in mt)
