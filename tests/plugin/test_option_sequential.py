"""--kick-sequential and --kick-fail-fast as a user runs them, on the fact-trained tiny model: a broken method is
shown regressed at an early look and its other gates are skipped with the reason; an unchanged one passes at a
look the summary names; a bad value stops the run at start-up."""

import pytest

pytestmark = pytest.mark.slow  # trains and runs a real (tiny) model

TWO_GATES = """
from pytest_kick import assert_kick_accuracy_within


def test_recall(kick_pair):
    r = assert_kick_accuracy_within(kick_pair, task="freebaseqa", max_drop=0.1, k_shot=0)
    print("LOOK", r.look, r.looks, r.n, r.outcome)


def test_recall_again(kick_pair):
    assert_kick_accuracy_within(kick_pair, task="freebaseqa", max_drop=0.2, k_shot=0, sequential=False)
"""


def test_a_broken_method_stops_at_an_early_look_and_skips_its_other_gates(pytester, kick_args):
    pytester.makepyfile(test_two=TWO_GATES)
    result = pytester.runpytest(*kick_args, "--kick-method=magnitude99", "--kick-sequential=4", "--kick-fail-fast", "-rs")
    result.assert_outcomes(failed=1, skipped=1)
    result.stdout.fnmatch_lines(
        [
            "*scope: benchmark (20 of 40)); sequential: look 2 of 4 (obrien-fleming)*",  # 20 of 40 examples asked
            "*benchmark (20 of 40); look 2/4  FAIL",  # the summary
            "SKIPPED *--kick-fail-fast: method 'magnitude99' was already shown regressed by test_two.py::test_recall[[]magnitude99[]]*",
        ]
    )


def test_an_unchanged_method_passes_at_a_look_the_summary_names(pytester, kick_args):
    pytester.makepyfile(test_two=TWO_GATES)
    result = pytester.runpytest(*kick_args, "--kick-method=rtn8", "-s", "-o", "kick_sequential=on", "--kick-fail-fast")
    result.assert_outcomes(passed=2)
    line = next(x for x in result.outlines if "LOOK " in x)
    look, looks, n, outcome = line.split("LOOK ")[1].split()
    assert outcome == "within" and looks == "4" and 1 <= int(look) <= 4
    result.stdout.fnmatch_lines([f"*look {look}/4*"])
