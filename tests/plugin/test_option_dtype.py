"""--kick-dtype: a bad value stops pytest at start-up with the valid forms."""

from conftest import assert_usage_error


def test_bad_value(pytester):
    assert_usage_error(pytester, ["--kick-dtype=fp8"], "--kick-dtype 'fp8': valid values are auto, float32, bfloat16, float16")
