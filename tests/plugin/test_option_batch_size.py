"""--kick-batch-size: a bad value stops pytest at start-up with the valid forms."""

from conftest import assert_usage_error


def test_bad_value(pytester):
    assert_usage_error(pytester, ["--kick-batch-size=0"], "--kick-batch-size '0': must be a positive integer or 'auto'")
