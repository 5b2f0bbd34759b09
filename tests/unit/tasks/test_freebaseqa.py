import json

import pytest

from pytest_kick.errors import KickUsageError
from pytest_kick.tasks import get_task
from pytest_kick.testing import FakeRunner


def echo(examples, answers):
    """A scripted runner that answers each question (looked up by its text) or says 'no idea'."""

    def question(prompt):
        return prompt.rsplit("Question: ", 1)[1].split("\n")[0]

    return FakeRunner({e.prompt: answers.get(question(e.prompt), "no idea") for e in examples})


def test_txt_layout_with_quotes_and_repeated_questions(tmp_path):
    d = tmp_path / "freebaseqa"
    d.mkdir()
    (d / "FreebaseQA-eval.txt").write_text(
        'What is the capital of France? | paris \n"Who said ""hello""?" | bob\nWho said hi? | ann\nWho said hi? | anne\n'
    )
    ex = get_task("freebaseqa").load(tmp_path)
    assert [e.answers for e in ex] == [("paris",), ("bob",), ("ann", "anne")]
    assert ex[1].prompt.endswith('Question: Who said "hello"?\nAnswer:')
    out = get_task("freebaseqa").evaluate(echo(ex, {"Who said hi?": "Anne.", "What is the capital of France?": "Lyon"}), ex)
    assert [o.correct for o in out] == [False, False, True]


def test_release_json_layout(tmp_path):
    d = tmp_path / "freebaseqa"
    d.mkdir()
    data = {
        "Dataset": "FreebaseQA-eval",
        "Questions": [
            {
                "Question-ID": "q0",
                "RawQuestion": "Which planet is red?",
                "ProcessedQuestion": "which planet is red",
                "Parses": [
                    {"Answers": [{"AnswersMid": "m.1", "AnswersName": ["mars"]}]},
                    {"Answers": [{"AnswersMid": "m.1", "AnswersName": ["mars", "the red planet"]}]},
                ],
            },
        ],
    }
    (d / "FreebaseQA-eval.json").write_text(json.dumps(data, indent=1))
    (ex,) = get_task("freebaseqa", k_shot=0).load(tmp_path)
    assert ex.answers == ("mars", "the red planet") and ex.prompt == "Question: Which planet is red?\nAnswer:"


def test_malformed_lines_name_file_and_line(tmp_path):
    d = tmp_path / "freebaseqa"
    d.mkdir()
    (d / "FreebaseQA-eval.txt").write_text("Good question? | yes\nno separator here\n")
    with pytest.raises(KickUsageError, match=r"FreebaseQA-eval.txt:2: expected 'question \| answer'"):
        get_task("freebaseqa").load(tmp_path)
    (d / "FreebaseQA-eval.txt").unlink()
    (d / "FreebaseQA-eval.json").write_text('{"Questions": [\n  {"RawQuestion": "x",}\n]}')
    with pytest.raises(KickUsageError, match=r"FreebaseQA-eval.json:2: not valid JSON"):
        get_task("freebaseqa").load(tmp_path)
    (d / "FreebaseQA-eval.json").write_text('{"Questions": [{"RawQuestion": "x"}]}')
    with pytest.raises(KickUsageError, match=r"Questions\[0\]: field 'Parses' is missing; it must be a list"):
        get_task("freebaseqa").load(tmp_path)


def test_missing_files_explain_layout(tmp_path):
    (tmp_path / "freebaseqa").mkdir()
    with pytest.raises(KickUsageError, match="no FreebaseQA-eval"):
        get_task("freebaseqa").load(tmp_path)


def test_builtin_sample():
    ex = get_task("freebaseqa").load(None)
    assert len(ex) >= 200 and all(e.answers for e in ex)


def test_real_files_txt_and_tab(shared_data):
    ex = get_task("freebaseqa").load(shared_data)
    assert 3900 <= len(ex) <= 4000
    assert any(e.answers == ("withnail and i",) for e in ex)
