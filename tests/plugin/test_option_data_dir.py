"""--kick-data-dir: the root with one folder per benchmark."""

from conftest import assert_usage_error


def test_missing_directory(pytester):
    assert_usage_error(pytester, ["--kick-data-dir=/no/such/data"], "no such directory")


def test_a_benchmark_missing_from_it_reads_as_one_line(pytester):
    pytester.mkdir("data")
    pytester.makepyfile(
        """
        from pytest_kick import assert_kick_accuracy_within

        def test_x(kick_pair):
            assert_kick_accuracy_within(kick_pair, task="mmlu", max_drop=0.1)
        """
    )
    result = pytester.runpytest("--kick-data-dir=data", "--kick-cache-dir=none")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["KickUsageError: --kick-data-dir *data: no 'mmlu' folder in it*"])
    assert "Traceback" not in result.stdout.str()
