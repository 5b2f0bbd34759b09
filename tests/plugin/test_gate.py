"""The accuracy gate as users run it: a real (tiny, fact-trained) model, real compression, pass and fail."""

import xml.etree.ElementTree as ET

import pytest


@pytest.mark.slow
def test_int8_passes_and_heavy_pruning_fails_with_a_readable_table(pytester, kick_args, gate_file):
    xml = pytester.path / "junit.xml"
    result = pytester.runpytest(*kick_args, "--kick-method=rtn8,magnitude99", f"--junitxml={xml}", "-s")
    result.assert_outcomes(passed=1, failed=1)
    out = result.stdout.str()
    # The failure: one table, flipped examples with what each model said, and the flag that changes the outcome.
    result.stdout.fnmatch_lines(
        [
            "*AccuracyRegression: compressed model 'magnitude99' regressed on 'freebaseqa' (accuracy): the drop is shown beyond*",
            "*task*n*dense acc*compressed acc*Δ*allowed drop*p (within)*lower bound of Δ*outcome*right→wrong*wrong→right*",
            "*freebaseqa*40*regressed*",
            "*examples that flipped right→wrong (5 of *",
            "*expected '*'; dense said '*'; compressed said '*'*",
            "*This gate would pass with max_drop > *",
        ]
    )
    assert "Traceback" not in out
    # The session summary lists both methods.
    result.stdout.fnmatch_lines(["*pytest-kick summary*", "*test_recall?magnitude99?*freebaseqa*FAIL*"])
    assert "test_recall[rtn8]" in out.split("pytest-kick summary")[1]
    # JUnit XML carries the numbers.
    props = {p.get("name"): p.get("value") for p in ET.parse(xml).iter("property")}
    assert {"kick_p_value", "kick_dense_acc", "kick_compressed_acc", "kick_right_to_wrong"} <= set(props)


@pytest.mark.parametrize(
    "body, needle",
    [
        ('assert_kick_accuracy_within(kick_pair, task="freebase", max_drop=0.1)', "unknown task 'freebase'. Did you mean 'freebaseqa'?"),
        ('assert_kick_accuracy_within(kick_pair, task="freebaseqa", max_drop=1.5)', "max_drop must be a number in [0.0, 1.0], got 1.5"),
    ],
)
def test_bad_gate_arguments_read_as_one_line(pytester, body, needle):
    pytester.makepyfile(f"from pytest_kick import assert_kick_accuracy_within\n\ndef test_x(kick_pair):\n    {body}\n")
    result = pytester.runpytest("--kick-cache-dir=none")
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "KickUsageError: " in out and needle in out
    assert "Traceback" not in out


def test_plugin_is_silent_when_unused(pytester):
    pytester.makepyfile(test_plain="def test_plain(): assert 1")
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    assert "pytest-kick summary" not in result.stdout.str()
