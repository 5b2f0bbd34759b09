"""Data shapes refused, not reinterpreted (issue 25, item 6): bad encodings name file and line; a string where a
list of answers belongs is refused; a missing Vicuna file is not replaced by MT-Bench's questions."""

import json

import pytest

from pytest_kick import KickUsageError, get_task


def test_bytes_that_are_not_utf8_name_the_file_and_line(tmp_path):
    folder = tmp_path / "bbq"
    folder.mkdir()
    good = json.dumps({"example_id": 0, "question_index": "1", "context_condition": "ambig", "category": "Age"})
    (folder / "Age.jsonl").write_bytes(good.encode() + b"\n" + b'{"context": "caf\xe9"}\n')
    with pytest.raises(KickUsageError, match=r"Age.jsonl:2: not UTF-8 text \(byte 0xe9\); save the file as UTF-8"):
        get_task("bbq", source="dir").load(tmp_path)


def test_a_string_of_answers_is_not_read_as_its_letters(tmp_path):
    folder = tmp_path / "icr_qa"
    folder.mkdir()
    rec = {"question": "Capital of France?", "answers": "Paris", "passage": "Paris is the capital of France."}
    (folder / "qa.jsonl").write_text(json.dumps(rec) + "\n")
    with pytest.raises(KickUsageError, match=r"qa.jsonl:1: field 'answers' must be a list of strings, got str 'Paris'"):
        get_task("icr_qa", source="dir").load(tmp_path)


def test_mt_benchs_questions_are_not_read_as_vicunas(tmp_path):
    folder = tmp_path / "mt_bench"
    folder.mkdir()
    rec = {"question_id": 81, "category": "writing", "turns": ["Write a blog post.", "Rewrite it in verse."]}
    (folder / "question.jsonl").write_text(json.dumps(rec) + "\n")
    with pytest.raises(KickUsageError, match=r"two-turn questions \(MT-Bench's\), not Vicuna's.*bench='mt_bench'"):
        get_task("instruction_following", bench="vicuna", source="dir").load(tmp_path)
    assert len(get_task("instruction_following", bench="mt_bench", source="dir").load(tmp_path)) == 1


def test_an_empty_benchmark_file_is_named(tmp_path):
    folder = tmp_path / "bbq"
    folder.mkdir()
    (folder / "Age.jsonl").write_text("\n  \n")
    with pytest.raises(KickUsageError, match=r"Age.jsonl: the file is empty \(no records\)"):
        get_task("bbq", source="dir").load(tmp_path)
