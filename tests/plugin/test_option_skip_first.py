"""--kick-skip-first / --kick-skip-last: whole numbers of transformer blocks left uncompressed."""

import pytest
from conftest import assert_usage_error


@pytest.mark.parametrize("flag", ["--kick-skip-first", "--kick-skip-last"])
def test_must_be_a_whole_number(pytester, flag):
    assert_usage_error(pytester, ["--kick-method=rtn8", f"{flag}=-1"], f"{flag} '-1': must be a whole number >= 0")
