"""--kick-calib-samples and --kick-calib-seqlen: positive integers."""

import pytest
from conftest import assert_usage_error


@pytest.mark.parametrize("flag", ["--kick-calib-samples", "--kick-calib-seqlen"])
def test_must_be_positive(pytester, flag):
    assert_usage_error(pytester, [f"{flag}=0"], f"{flag} '0': must be a positive integer")
