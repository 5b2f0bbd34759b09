"""--kick-limit: one precedence everywhere (assertion argument > kick marker > command line > ini), one check,
and the knob that won is what the failure hint names. Accuracy gates count examples per task, safety gates per
group."""

import pytest
from conftest import assert_usage_error

SHOW = """
import pytest

def test_configured(kick_pair):
    print("LIMIT", kick_pair.limit and (kick_pair.limit.value, kick_pair.limit.knob))

@pytest.mark.kick(limit=4)
def test_marked(kick_pair):
    print("LIMIT", (kick_pair.limit.value, kick_pair.limit.knob))
"""


@pytest.mark.parametrize("value", ["0", "-3", "many"])
def test_bad_limit_is_a_usage_error(pytester, value):
    assert_usage_error(pytester, [f"--kick-limit={value}"], f"--kick-limit '{value}': must be a positive integer")


def test_bad_ini_limit_is_a_usage_error(pytester):
    pytester.makeini("[pytest]\nkick_limit = 0\n")
    assert_usage_error(pytester, [], "--kick-limit '0': must be a positive integer")


def test_precedence_marker_over_command_line_over_ini(pytester):
    pytester.makeini("[pytest]\nkick_limit = 8\n")
    pytester.makepyfile(test_limits=SHOW)
    from_ini = pytester.runpytest("-s", "-k", "configured", "--kick-cache-dir=none")
    from_ini.stdout.fnmatch_lines(["*LIMIT (8, 'kick_limit in tox.ini')*"])
    result = pytester.runpytest("-s", "--kick-limit=6", "--kick-cache-dir=none")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*LIMIT (6, '--kick-limit')*", "*LIMIT (4, '@pytest.mark.kick(limit=...)')*"])


def test_no_limit_anywhere(pytester):
    pytester.makepyfile(test_limits=SHOW)
    pytester.runpytest("-s", "-k", "configured", "--kick-cache-dir=none").stdout.fnmatch_lines(["*LIMIT None*"])


def test_a_bad_marker_limit_names_the_marker(pytester):
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.kick(limit=0)
        def test_x(kick_pair):
            pass
        """
    )
    result = pytester.runpytest("--kick-cache-dir=none")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*KickUsageError: @pytest.mark.kick(limit=...) must be a positive integer, got 0*"])
