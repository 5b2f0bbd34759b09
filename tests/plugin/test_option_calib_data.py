"""--kick-calib-data: the calibration text is found and checked at start-up for methods that read it."""

import pytest
from conftest import assert_usage_error


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--kick-method=gptq4", "--kick-calib-data=/no/such.txt"], "no such file"),
        (["--kick-method=gptq4", "--kick-calib-data=wikitext2"], "pass --kick-data-dir"),
    ],
)
def test_missing_calibration_text(pytester, args, needle):
    assert_usage_error(pytester, args, needle)


def test_empty_calibration_file(pytester):
    pytester.makefile(".txt", calib="  \n\n")
    assert_usage_error(
        pytester,
        ["--kick-method=sparsegpt50", "--kick-calib-data=calib.txt"],
        "--kick-calib-data: the calibration file *calib.txt is empty",
    )


def test_a_relative_ini_path_is_read_from_the_ini_files_folder(pytester):
    sub = pytester.mkdir("sub")
    (sub / "calib.txt").write_text("   ")
    pytester.makeini("[pytest]\nkick_calib_data = sub/calib.txt\nkick_method = gptq4\n")
    assert_usage_error(pytester, [], f"the calibration file {sub}/calib.txt is empty")


def test_calibration_data_for_methods_that_read_none_is_a_warning(pytester):
    pytester.makefile(".txt", calib="some text " * 100)
    pytester.makepyfile(test_x="def test_x(): pass")
    result = pytester.runpytest("--kick-method=rtn8,magnitude50", "--kick-calib-data=calib.txt")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*pytest-kick: --kick-calib-data=*calib.txt has no effect: none of the methods (rtn8, magnitude50)*"])
