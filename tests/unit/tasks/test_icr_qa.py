"""ICR-QA: closed- and open-book settings of the same questions, the evidence budget, the closed-open gap, and
both file layouts (llm-foundry's pair, our records) with file:line errors."""

import json

import pytest

from pytest_kick import FakeRunner, KickUsageError, ModelPair, assert_generation_quality_within, assert_kick_accuracy_within, get_task
from pytest_kick.tasks.icr_qa import cut


def test_the_built_in_set_pairs_each_question_with_its_passage():
    closed, opened = get_task("icr_qa", setting="closed"), get_task("icr_qa", setting="open")
    a, b = closed.load(None), opened.load(None)
    assert len(a) == len(b) == 30 and [e.id for e in a] == [e.id for e in b]
    assert "Context:" not in a[0].prompt.split("\n\n")[-1] and a[0].prompt.endswith("Answer:")
    assert b[0].prompt.split("\n\n")[-2].startswith("Context: ") and b[0].answers == a[0].answers
    assert closed.name == "icr_qa[closed]" and opened.name == "icr_qa[open]"


def test_the_evidence_budget_cuts_at_a_word_boundary():
    assert cut("alpha beta gamma delta", 12) == "alpha beta"
    task = get_task("icr_qa", setting="open", evidence_chars=100, k_shot=0)
    for ex in task.load(None):
        assert len(ex.prompt.split("\n\n")[0].removeprefix("Context: ")) <= 100


def _knows(task, closed_right, open_right):
    """A scripted model answering closed-book right on `closed_right` of the questions, open-book on `open_right`."""
    answers = {}
    for i, ex in enumerate(task.load(None)):
        item = ex.meta["item"]
        answers[task.prompt(item, "closed")] = f" {ex.answers[0]}" if i < closed_right else " no idea"
        answers[task.prompt(item, "open")] = f" {ex.answers[0]}" if i < open_right else " no idea"
    return FakeRunner(answers)


def test_closed_book_loss_fails_the_closed_gate_and_the_gap_gate_but_not_the_open_one():
    """The LLM-KICK pattern: knowledge lost, retrieval kept."""
    task = get_task("icr_qa", setting="gap")
    dense, comp = _knows(task, 20, 30), _knows(task, 5, 30)
    pair = ModelPair(dense, comp, method="magnitude50")
    with pytest.raises(AssertionError):
        assert_kick_accuracy_within(pair, "icr_qa", setting="closed", max_drop=0.05)
    assert assert_kick_accuracy_within(pair, "icr_qa", setting="open", max_drop=0.2).n == 30
    with pytest.raises(AssertionError, match="icr_qa\\[gap\\]"):
        assert_generation_quality_within(pair, "icr_qa", setting="gap", max_drop=0.05)


def test_the_gap_scores_closed_minus_open_per_question():
    task = get_task("icr_qa", setting="gap")
    out = task.evaluate(_knows(task, 2, 1), task.load(None)[:3])
    assert [o.values["score"] for o in out] == [0.0, 1.0, 0.0]


def test_llm_foundrys_pair_layout_is_read_and_checked(tmp_path):
    folder = tmp_path / "nq_open_closed"
    folder.mkdir()
    closed = [{"context": "Question: who wrote Emma\nAnswer:", "answer": "Jane Austen", "aliases": ["Austen"]}]
    opened = [
        {"context": "Context: Emma is a novel by Jane Austen.\n\nQuestion: who wrote Emma\nAnswer:", "answer": "Jane Austen", "aliases": []}
    ]
    (folder / "natural_questions_closed.jsonl").write_text("\n".join(json.dumps(r) for r in closed))
    (folder / "natural_questions_openbook_short.jsonl").write_text("\n".join(json.dumps(r) for r in opened))
    (ex,) = get_task("icr_qa", setting="open", k_shot=0).load(tmp_path)
    assert ex.prompt == opened[0]["context"] and ex.answers == ("Jane Austen", "Austen")
    opened[0]["context"] = opened[0]["context"].replace("who wrote Emma", "who wrote Persuasion")
    (folder / "natural_questions_openbook_short.jsonl").write_text(json.dumps(opened[0]))
    with pytest.raises(KickUsageError, match="natural_questions_openbook_short.jsonl:1: question 'who wrote Persuasion'"):
        get_task("icr_qa").load(tmp_path)


def test_a_bad_record_names_its_file_and_line(tmp_path):
    (tmp_path / "icr_qa").mkdir()
    (tmp_path / "icr_qa" / "mine.jsonl").write_text('{"question": "q", "answers": ["a"], "passage": "p"}\n{"question": "q2"}\n')
    with pytest.raises(KickUsageError, match="mine.jsonl:2: field 'passage' is missing; it must be a non-empty string"):
        get_task("icr_qa").load(tmp_path)


@pytest.mark.parametrize(
    "options, needle",
    [({"setting": "book"}, "setting must be"), ({"evidence_chars": 10}, "evidence_chars"), ({"match": "fuzzy"}, "match must be")],
)
def test_bad_options(options, needle):
    with pytest.raises(KickUsageError, match=needle):
        get_task("icr_qa", **options)


def test_nq_open_closed_from_the_shared_data(shared_data):
    task = get_task("icr_qa", setting="open", evidence_chars=500)
    examples = task.load(shared_data)
    assert len(examples) == 824 and all(ex.answers for ex in examples)
