import csv

import pytest

from pytest_kick.errors import KickUsageError
from pytest_kick.tasks import get_task, select
from pytest_kick.testing import FakeRunner


def write_mmlu(root, subject="astronomy", n_test=6):
    for split, n in (("dev", 5), ("test", n_test)):
        (root / "mmlu" / split).mkdir(parents=True, exist_ok=True)
        with open(root / "mmlu" / split / f"{subject}_{split}.csv", "w", newline="") as fh:
            csv.writer(fh).writerows([[f"{split} question {i}?", "w", "x", "y", "z", "ABCD"[i % 4]] for i in range(n)])


def prefers(choice):
    """A scripted runner that prefers one fixed letter (or choice text) whatever the question."""
    return FakeRunner(logprobs={choice: 0.0}, miss=-5.0)


def test_prompt_has_k_shots_and_choices(tmp_path):
    write_mmlu(tmp_path)
    ex = get_task("mmlu", k_shot=2).load(tmp_path)
    assert len(ex) == 6 and ex[0].group == "astronomy"
    assert ex[0].prompt.startswith("The following are multiple choice questions (with answers) about astronomy.\n\n")
    assert ex[0].prompt.count("Answer:") == 3 and "dev question 1?" in ex[0].prompt and "dev question 2?" not in ex[0].prompt
    assert ex[0].prompt.endswith("test question 0?\nA. w\nB. x\nC. y\nD. z\nAnswer:")


def test_letter_scoring_is_argmax_over_letters(tmp_path):
    write_mmlu(tmp_path)
    task = get_task("mmlu")
    examples = task.load(tmp_path)
    out = task.evaluate(prefers("B"), examples)
    assert [o.correct for o in out] == [ex.gold == 1 for ex in examples]
    assert out[1].prediction == "B. x"


def test_cloze_scores_choice_texts(tmp_path):
    write_mmlu(tmp_path)
    task = get_task("mmlu", scoring="cloze", k_shot=1)
    examples = task.load(tmp_path)
    runner = prefers("z")
    out = task.evaluate(runner, examples)
    assert {r.continuation for r in runner.requests} == {" w", " x", " y", " z"}
    assert [o.correct for o in out] == [ex.gold == 3 for ex in examples]


def test_malformed_row_names_file_and_line(tmp_path):
    write_mmlu(tmp_path)
    path = tmp_path / "mmlu" / "test" / "astronomy_test.csv"
    path.write_text(path.read_text() + "broken row,a,b\n")
    with pytest.raises(KickUsageError, match=r"astronomy_test.csv:7: expected 6 fields"):
        get_task("mmlu").load(tmp_path)


def test_unknown_subject_suggests(tmp_path):
    write_mmlu(tmp_path)
    with pytest.raises(KickUsageError, match="Did you mean 'astronomy'"):
        get_task("mmlu", subjects=["astronomi"]).load(tmp_path)


def test_data_dir_without_mmlu_folder(tmp_path):
    with pytest.raises(KickUsageError, match="no 'mmlu' folder"):
        get_task("mmlu").load(tmp_path)


def test_builtin_sample_is_balanced_and_large_enough():
    ex = get_task("mmlu").load(None)
    assert len(ex) >= 100
    golds = [e.gold for e in ex]
    assert min(golds.count(i) for i in range(4)) >= len(ex) // 4 - 1


def test_a_limit_keeps_a_fixed_sample_in_file_order_that_no_seed_redraws():
    ex = get_task("mmlu").load(None)
    a = select(ex, 10)
    assert a == select(list(ex), 10) and len(a) == 10
    assert [ex.index(e) for e in a] == sorted(ex.index(e) for e in a)
    assert set(e.id for e in a) <= set(e.id for e in select(ex, 20))  # a larger limit keeps what a smaller one kept
    assert a != ex[:10]  # a sample across the file, not its head


def test_real_mmlu_files(shared_data):
    ex = get_task("mmlu", subjects=["marketing", "world_religions"]).load(shared_data)
    assert len(ex) == 234 + 171
    assert all(e.prompt.count("Answer:") == 6 for e in ex)


def test_unknown_task():
    with pytest.raises(KickUsageError, match="Did you mean 'mmlu'"):
        get_task("mmluu")
