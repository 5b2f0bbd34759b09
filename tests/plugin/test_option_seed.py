"""--kick-seed: a bad value stops pytest at start-up with the valid forms."""

from conftest import assert_usage_error


def test_bad_value(pytester):
    assert_usage_error(pytester, ["--kick-seed=x"], "--kick-seed 'x': must be a whole number from 0 to 4294967295")
