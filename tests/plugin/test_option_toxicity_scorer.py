"""--kick-toxicity-scorer: a bad value stops pytest at start-up with the valid forms."""

from conftest import assert_usage_error


def test_bad_value(pytester):
    assert_usage_error(pytester, ["--kick-toxicity-scorer=no/such/dir"], "--kick-toxicity-scorer no/such/dir: not a directory")
