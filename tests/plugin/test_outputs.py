"""Nothing lost at the end: a report that can no longer be written when the run ends costs only that file; the
summary is still printed, with what was not written and why. --kick-save's folder is checked at start-up."""

import pytest

USER_TEST = """
import shutil
from pathlib import Path


def test_gate(kick_config):
    out = Path("out")
    shutil.rmtree(out)
    out.write_text("a file where the report's folder was")  # the report's folder cannot be made any more
"""


def test_a_report_that_cannot_be_written_at_the_end_is_named_and_the_summary_still_printed(pytester):
    (pytester.path / "out").mkdir()
    pytester.makepyfile(test_user=USER_TEST)
    result = pytester.runpytest_subprocess("--kick-report=out/report.json", "--kick-html=page.html", "-p", "no:cacheprovider")
    out = result.stdout.str() + result.stderr.str()
    assert result.ret == 0, out
    assert "pytest-kick: NOT WRITTEN: --kick-report " in out and "out/report.json: Not a directory" in out
    assert "Traceback" not in out and "1 passed" in out
    assert (pytester.path / "page.html").is_file()  # the other output is still written


def test_a_save_folder_that_cannot_be_made_is_a_usage_error_at_start_up(pytester):
    (pytester.path / ".kick").write_text("a file named like the saved-runs folder")
    pytester.makepyfile(test_x="def test_x(kick_pair): pass\n")
    result = pytester.runpytest_subprocess("--kick-save=release-1", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --kick-save *release-1.json: cannot write there*not a directory*"])
