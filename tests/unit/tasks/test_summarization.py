"""Summarization: stories and their reference highlights from both layouts, buckets, and free text refused by the
accuracy gate."""

import json

import pytest

from pytest_kick import FakeRunner, KickUsageError, ModelPair, assert_kick_accuracy_within, get_task
from pytest_kick.tasks.summarization import INSTRUCTION, split_highlights


def test_highlights_are_cut_off_the_story_and_become_the_reference():
    story, highlights = split_highlights("Body text.@highlightFirst point@highlight\n\nSecond  point\n")
    assert story == "Body text." and highlights == ["First point", "Second point"]


def test_the_built_in_stories_load_with_their_references():
    examples = get_task("summarization").load(None)
    assert len(examples) == 6 and {e.group for e in examples} == {"small"}
    assert all(e.prompt.startswith(INSTRUCTION) and e.prompt.endswith("Summary:") and "@highlight" not in e.prompt for e in examples)
    assert all(e.answers[0] for e in examples)


def test_llm_kicks_question_file_is_read_and_bucketed(tmp_path):
    folder = tmp_path / "cnn_dailymail"
    folder.mkdir()
    rows = [
        {"question_id": 1, "text": f"{INSTRUCTION}\n\nA story.@highlightIts point", "category": "small"},
        {"question_id": 2, "text": f"{INSTRUCTION}\n\nA longer story.@highlightAnother point", "category": "large"},
    ]
    (folder / "new_question.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    (ex,) = get_task("summarization", buckets=("large",)).load(tmp_path)
    assert ex.group == "large" and ex.answers == ("Another point",) and "A longer story." in ex.prompt and "@highlight" not in ex.prompt
    with pytest.raises(KickUsageError, match="bucket"):
        get_task("summarization", buckets=("huge",)).load(tmp_path)
    (folder / "new_question.jsonl").write_text(json.dumps({"question_id": 3, "text": "no highlights", "category": "small"}))
    with pytest.raises(KickUsageError, match="new_question.jsonl:1: no story or no '@highlight'"):
        get_task("summarization").load(tmp_path)


def test_the_accuracy_gate_refuses_free_text_before_any_model_runs():
    dense = FakeRunner()
    with pytest.raises(KickUsageError, match="assert_generation_quality_within"):
        assert_kick_accuracy_within(ModelPair(dense, dense, method="rtn8"), "summarization", max_drop=0.1)
    assert dense.calls == 0


def test_the_shared_cnn_dailymail_questions(shared_data):
    examples = get_task("summarization").load(shared_data)
    assert len(examples) == 90 and {e.group for e in examples} == {"small", "mid", "large"}
    assert not any("@highlight" in e.prompt for e in examples)
