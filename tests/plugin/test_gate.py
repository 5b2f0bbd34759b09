"""The accuracy gate as users run it: a real (tiny, fact-trained) model, real compression, pass and fail."""

import xml.etree.ElementTree as ET


def test_int8_passes_and_heavy_pruning_fails_with_a_readable_table(pytester, kick_args, gate_file):
    xml = pytester.path / "junit.xml"
    result = pytester.runpytest(*kick_args, "--kick-method=rtn8,magnitude99", f"--junitxml={xml}", "-s")
    result.assert_outcomes(passed=1, failed=1)
    out = result.stdout.str()
    # The failure: one table, flipped examples with what each model said, and the flag that changes the outcome.
    result.stdout.fnmatch_lines(
        [
            "*AccuracyRegression: compressed model 'magnitude99' could not be shown to stay within*",
            "*task*n*dense acc*compressed acc*Δ*allowed drop*p*lower bound of Δ*right→wrong*wrong→right*",
            "*freebaseqa*40*",
            "*examples that flipped right→wrong (5 of *",
            "*expected '*'; dense said '*'; compressed said '*'*",
            "*This gate would pass with max_drop > *",
        ]
    )
    assert "Traceback" not in out
    # The session summary lists both methods.
    result.stdout.fnmatch_lines(["*pytest-kick summary*", "*test_recall?magnitude99?*freebaseqa*FAIL*"])
    assert "test_recall[rtn8]" in out.split("pytest-kick summary")[1]
    # JUnit XML carries the numbers.
    props = {p.get("name"): p.get("value") for p in ET.parse(xml).iter("property")}
    assert {"kick_p_value", "kick_dense_acc", "kick_compressed_acc", "kick_right_to_wrong"} <= set(props)


def test_second_session_is_answered_from_the_cache(pytester, kick_args, gate_file):
    first = pytester.runpytest(*kick_args, "--kick-method=rtn8", "-s")
    first.assert_outcomes(passed=1)
    first.stdout.fnmatch_lines(["*LOADS 1 1 40*"])
    second = pytester.runpytest(*kick_args, "--kick-method=rtn8", "-s")
    second.assert_outcomes(passed=1)
    second.stdout.fnmatch_lines(["*LOADS 0 0 40*"])  # no model was loaded: every answer came from the cache


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


def test_precompressed_checkpoint_is_tested_as_the_pair(pytester, kick_args, gate_file, fact_setup, tmp_path):
    from pytest_kick.compression import compress, parse_spec
    from pytest_kick.models import LoadSettings, load_hf

    model, tok = load_hf(fact_setup[0], LoadSettings(device="cpu"))
    compress(model, parse_spec("rtn8"))
    ckpt = tmp_path / "shipped-int8"
    model.save_pretrained(ckpt)
    tok.save_pretrained(ckpt)
    result = pytester.runpytest(*kick_args, f"--kick-compressed={ckpt}", "-v")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*test_recall?checkpoint:shipped-int8? PASSED*"])
