"""Under pytest-xdist the workers hand their gate results to the controller, which prints one summary."""

import pytest

pytestmark = pytest.mark.slow  # runs real (tiny) models

pytest.importorskip("xdist")


def test_workers_report_to_one_summary(pytester, kick_args, gate_file):
    result = pytester.runpytest_subprocess(*kick_args, "--kick-method=rtn8,rtn4-g32", "-n", "2", "--dist", "loadgroup")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*pytest-kick summary*"])
    summary = result.stdout.str().split("pytest-kick summary")[1]
    assert "test_recall[rtn8]" in summary and "test_recall[rtn4-g32]" in summary
