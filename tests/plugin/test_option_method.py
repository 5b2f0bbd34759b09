"""--kick-method (and its ini twin, and the kick marker's methods=): one grammar, one error path."""

import pytest
from conftest import assert_usage_error


@pytest.mark.parametrize(
    "arg, needle",
    [
        ("--kick-method=gptq17", "gptq supports 2, 3, 4, 8 bits, got 17"),
        ("--kick-method=gptq1", "gptq supports 2, 3, 4, 8 bits, got 1"),
        ("--kick-method=gptq4-g100", "group size must be a power of two"),
        ("--kick-method=awq4-act", "activation ordering (-act) is a GPTQ option"),
        ("--kick-method=int8-g64", "'int8' takes no parameters"),
        ("--kick-method=gtpq4", "Did you mean 'gptq'?"),
        ("--kick-method=magnitude150", "strictly between 0 and 100"),
        ("--kick-method=wanda-3:2", "Valid forms: rtn8, rtn4, rtn4-g128, magnitude50, magnitude-2:4"),
    ],
)
def test_bad_methods_are_usage_errors(pytester, arg, needle):
    assert_usage_error(pytester, [arg], needle)


def test_ini_twin_is_read_and_validated(pytester):
    pytester.makeini("[pytest]\nkick_method = rtn4, magnitude-2:4\n")
    pytester.makepyfile(test_x="def test_x(kick_method): print(kick_method.id)")
    result = pytester.runpytest("-v", "--collect-only", "-q")
    result.stdout.fnmatch_lines(["*test_x?rtn4?*", "*test_x?magnitude-2:4?*"])
    pytester.makeini("[pytest]\nkick_method = rtn99\n")
    assert pytester.runpytest().ret == pytest.ExitCode.USAGE_ERROR


def test_a_bad_marker_method_names_the_test_and_the_valid_forms(pytester):
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.kick(methods=["rtn8", "gptq17"])
        def test_x(kick_pair):
            pass

        def test_y():
            pass
        """
    )
    result = pytester.runpytest()
    result.stdout.fnmatch_lines(["*@pytest.mark.kick(methods=...) in test_*.py::test_x: --kick-method 'gptq17'*"])
    assert result.ret == pytest.ExitCode.INTERRUPTED  # a collection error, reported before anything runs


def test_a_marker_method_gets_the_same_start_up_checks(pytester):
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.kick(methods="wanda50")
        def test_x(kick_pair):
            pass
        """
    )
    result = pytester.runpytest("--kick-backend=builtin")
    result.stdout.fnmatch_lines(["*methods=...*cannot run wanda50: the wanda family is served by llmcompressor*"])


@pytest.mark.slow
def test_marker_overrides_methods_and_limit(pytester, kick_args):
    pytester.makepyfile(
        """
        import pytest
        from pytest_kick import assert_kick_accuracy_within

        @pytest.mark.kick(methods=["rtn8"], limit=12)
        def test_small(kick_pair):
            r = assert_kick_accuracy_within(kick_pair, task="freebaseqa", max_drop=0.5, k_shot=0)
            assert r.n == 12 and r.method == "rtn8"
        """
    )
    result = pytester.runpytest(*kick_args, "--kick-method=magnitude99,rtn4", "-v")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*test_small?rtn8? PASSED*"])
