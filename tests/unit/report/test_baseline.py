"""Saved runs: the JSON form, matching gates across methods and releases, and the paired comparison."""

import json
import math

import pytest

from pytest_kick.errors import KickUsageError
from pytest_kick.report.baseline import Compared, SavedExample, SavedGate, SavedRun, baseline_path, check_name, compare, unparametrized


def gate(correct, kind="accuracy", method="rtn4", ids=None, scores=None):
    ids = ids or [f"q{i}" for i in range(len(correct))]
    scores = scores or [None] * len(correct)
    examples = tuple(SavedExample(i, c, s, "x") for i, c, s in zip(ids, correct, scores))
    return SavedGate("test_a.py::test_k", kind, "freebaseqa", method, "m", 0.05, 0.05, examples)


def test_a_saved_run_round_trips_and_refuses_other_files(tmp_path):
    run = SavedRun("v1", "2026-01-01T00:00:00Z", "0.1.0", [gate([True, False])])
    assert SavedRun.from_json(json.loads(json.dumps(run.to_json())), "x") == run
    with pytest.raises(KickUsageError, match="not a pytest-kick saved run"):
        SavedRun.from_json({"schema": "other"}, "f.json")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(KickUsageError, match="not JSON"):
        SavedRun.load(tmp_path / "bad.json")


def test_gates_match_by_test_and_task_across_methods():
    assert unparametrized("t.py::test_k[rtn4]") == "t.py::test_k"
    run = SavedRun("v1", gates=[gate([True], method="rtn8")])
    assert run.find(gate([True], method="gptq4")) is not None


def test_an_identical_release_is_within_and_a_worse_one_names_what_it_lost():
    saved = gate([True] * 200)
    same = compare(gate([True] * 200), saved, "v1")
    assert same.passed and same.lost == () and same.matched == 200 and same.unmatched == 0
    worse = compare(gate([True] * 150 + [False] * 50), saved, "v1")
    assert not worse.passed and worse.outcome == "regressed" and len(worse.lost) == 50 and "lost: q150" in worse.line()


def test_a_release_compared_with_itself_passes_under_the_benchmark_scope_and_says_what_items_would_need():
    """The LLM-KICK-sized case: 40 questions at 0.700 on both sides. As items (a sample of a wider population) no
    bound at 40 examples can show a 0.02 drop within, and the line says how many would; over every item of the
    benchmark (the gate's default scope) the observed change is the change: within."""
    from pytest_kick.gates.scope import Sampling

    answers = [i % 10 < 7 for i in range(40)]
    as_items = compare(gate(answers), gate(answers), "v1")
    assert as_items.outcome == "inconclusive" and as_items.needed and as_items.needed > 40
    assert f"inconclusive FAIL; about {as_items.needed} matched examples would show it within; scope: items" in as_items.line()
    whole = compare(gate(answers), gate(answers), "v1", Sampling("benchmark", 40, 40))
    assert whole.passed and whole.line().endswith("(0 unmatched): within pass; scope: benchmark (all 40)")
    part = compare(gate(answers), gate(answers), "v1", Sampling("benchmark", 40, 4000))
    assert part.scope == "benchmark (40 of 4000)"


def test_unmatched_examples_are_counted():
    c = compare(gate([True, True], ids=["a", "b"]), gate([True, True], ids=["b", "c"]), "v1")
    assert c.matched == 1 and c.unmatched == 2


def test_quality_gates_compare_scores():
    saved = gate([False] * 100, kind="quality", scores=[0.5] * 100)
    now = gate([False] * 100, kind="quality", scores=[0.5] * 100)
    assert compare(now, saved, "v1").passed
    assert math.isnan(compare(gate([False], kind="quality"), gate([False], kind="quality"), "v1").lower)


def test_names_and_paths():
    assert check_name("release-1.3") == "release-1.3"
    with pytest.raises(KickUsageError):
        check_name("../escape")
    assert baseline_path("v1", __import__("pathlib").Path(".kick")).as_posix() == ".kick/v1.json"
    assert baseline_path("runs/v1.json", __import__("pathlib").Path(".kick")).as_posix() == "runs/v1.json"


def test_what_the_session_end_hands_over_reads_as_its_comparison_lines():
    compared = Compared(("b line", "a line"), None, (gate([True]),))
    assert list(compared) == ["b line", "a line"] and len(compared) == 2 and compared[1] == "a line"
    assert "\n".join(compared) == "b line\na line" and not Compared()


def _saved_file(tmp_path, edit=None, resign=False):
    """A saved run on disk, optionally edited (and, with resign, its checksum recomputed as a careful forger would)."""
    from pytest_kick.report.baseline import checksum

    data = SavedRun("v1", "2026-01-01T00:00:00Z", "0.1.0", [gate([True, False, True])]).to_json()
    if edit:
        edit(data["gates"][0])
        if resign:
            data["gates"][0]["checksum"] = checksum(data["gates"][0])
    path = tmp_path / "v1.json"
    path.write_text(json.dumps(data))
    return path


def test_an_edited_saved_run_is_refused_naming_what_is_wrong(tmp_path):
    assert SavedRun.load(_saved_file(tmp_path)).gates[0].examples[1].correct is False

    def all_right(g):
        for ex in g["examples"]:
            ex["correct"] = True

    with pytest.raises(KickUsageError, match=r"gates\[0\] \(test_a.py::test_k, freebaseqa\) was changed after it was saved"):
        SavedRun.load(_saved_file(tmp_path, all_right))
    with pytest.raises(KickUsageError, match=r"examples\[0\]\.correct: expected bool, got 'no'"):
        SavedRun.load(_saved_file(tmp_path, lambda g: g["examples"][0].update(correct="no"), resign=True))
    with pytest.raises(KickUsageError, match="example 'q0' is saved twice"):
        SavedRun.load(_saved_file(tmp_path, lambda g: g["examples"].append(dict(g["examples"][0])), resign=True))
    with pytest.raises(KickUsageError, match=r"score: expected int or float or NoneType, got True"):
        SavedRun.load(_saved_file(tmp_path, lambda g: g["examples"][0].update(score=True), resign=True))
    old = json.loads(_saved_file(tmp_path).read_text())
    old["version"] = 2
    with pytest.raises(KickUsageError, match="version 2; this pytest-kick reads version 3"):
        SavedRun.from_json(old, "old.json")


def test_a_comparison_says_when_the_saved_run_came_from_another_model():
    saved = gate([True] * 20)
    other = SavedGate(saved.test, saved.kind, saved.task, "rtn4", "another-model", 0.05, 0.05, saved.examples)
    line = compare(other, saved, "v1").line()
    assert "[NOTE: the saved run was made from model 'm', this run from 'another-model']" in line
    assert "NOTE" not in compare(gate([True] * 20), saved, "v1").line()
