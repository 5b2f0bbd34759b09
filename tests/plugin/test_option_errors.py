"""Bad input gets one message that names the cause and the fix, never an internal traceback."""

import pytest


@pytest.mark.parametrize(
    "arg, needle",
    [
        ("--kick-method=gptq17", "gptq supports 2, 3, 4, 8 bits, got 17"),
        ("--kick-method=gptq1", "gptq supports 2, 3, 4, 8 bits, got 1"),
        ("--kick-method=gptq4-g100", "group size must be a power of two"),
        ("--kick-method=awq4-act", "activation ordering (-act) is a GPTQ option"),
        ("--kick-method=int8-g64", "'int8' takes no parameters"),
        ("--kick-method=gtpq4", "Did you mean 'gptq'?"),
        ("--kick-backend=auto-gptq --kick-method=gptq4", "auto-gptq is end-of-life; it refuses to quantize without CUDA"),
        ("--kick-backend=triton", "--kick-backend 'triton': valid values are auto, builtin"),
        ("--kick-method=wanda50 --kick-backend=builtin", "cannot run wanda50: the wanda family is served by llmcompressor"),
        ("--kick-method=gptq4 --kick-calib-data=/no/such.txt", "no such file"),
        ("--kick-method=gptq4 --kick-calib-data=wikitext2", "pass --kick-data-dir"),
        ("--kick-method=rtn8 --kick-skip-first=-1", "--kick-skip-first '-1': must be a whole number >= 0"),
        ("--kick-calib-samples=0", "--kick-calib-samples '0': must be a positive integer"),
        ("--kick-method=magnitude150", "strictly between 0 and 100"),
        ("--kick-method=wanda-3:2", "Valid forms: rtn8, rtn4, rtn4-g128, magnitude50, magnitude-2:4"),
        ("--kick-limit=0", "--kick-limit '0': must be a positive integer"),
        ("--kick-limit=-3", "must be a positive integer"),
        ("--kick-model=./no/such/model", "no such file or directory"),
        ("--kick-device=tpu", "valid forms are auto, cpu, cuda, cuda:N"),
        ("--kick-data-dir=/no/such/data", "no such directory"),
    ],
)
def test_bad_options_are_usage_errors(pytester, arg, needle):
    pytester.makepyfile(test_x="def test_x(kick_pair): pass")
    result = pytester.runpytest(*arg.split())
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: *{needle}*"])


def test_ini_twin_is_read_and_validated(pytester):
    pytester.makeini("[pytest]\nkick_method = rtn4, magnitude-2:4\n")
    pytester.makepyfile(test_x="def test_x(kick_method): print(kick_method.id)")
    result = pytester.runpytest("-v", "--collect-only", "-q")
    result.stdout.fnmatch_lines(["*test_x?rtn4?*", "*test_x?magnitude-2:4?*"])
    pytester.makeini("[pytest]\nkick_method = rtn99\n")
    assert pytester.runpytest().ret == pytest.ExitCode.USAGE_ERROR


@pytest.mark.parametrize(
    "body, needle",
    [
        ('assert_kick_accuracy_within(kick_pair, task="freebase", max_drop=0.1)', "unknown task 'freebase'. Did you mean 'freebaseqa'?"),
        ('assert_kick_accuracy_within(kick_pair, task="freebaseqa", max_drop=1.5)', "max_drop must be a number in [0.0, 1.0], got 1.5"),
        ('assert_kick_accuracy_within(kick_pair, task="mmlu", max_drop=0.1)', "no 'mmlu' folder in it"),
    ],
)
def test_bad_gate_arguments_read_as_one_line(pytester, kick_args, body, needle):
    pytester.makepyfile(
        f"from pytest_kick import assert_kick_accuracy_within\n\ndef test_x(kick_pair):\n    {body}\n"
    )
    result = pytester.runpytest(*kick_args, "--kick-method=rtn8")
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert f"KickUsageError: " in out and needle in out
    assert "Traceback" not in out


def test_cuda_requested_on_a_machine_without_it(pytester, kick_args, gate_file):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    args = [a for a in kick_args if not a.startswith("--kick-device")]
    result = pytester.runpytest(*args, "--kick-device=cuda", "--kick-method=rtn8")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["KickUsageError: --kick-device=cuda but this machine has no usable CUDA device*"])


def test_plugin_is_silent_when_unused(pytester):
    pytester.makepyfile(test_plain="def test_plain(): assert 1")
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    assert "pytest-kick summary" not in result.stdout.str()


def test_empty_calibration_file(pytester):
    pytester.makefile(".txt", calib="  \n\n")
    pytester.makepyfile(test_x="def test_x(kick_pair): pass")
    result = pytester.runpytest("--kick-method=sparsegpt50", "--kick-calib-data=calib.txt")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --kick-calib-data: the calibration file *calib.txt is empty*"])


@pytest.mark.parametrize(
    "config, needle",
    [
        ('{"quantization_config": {"quant_method": "zipnn"}}', "unknown quantization format 'zipnn' in config.json"),
        ("{not json", "config.json is not valid JSON"),
    ],
)
def test_compressed_checkpoint_of_unknown_format(pytester, config, needle):
    ck = pytester.mkdir("ck")
    (ck / "config.json").write_text(config)
    pytester.makepyfile(test_x="def test_x(kick_pair): pass")
    result = pytester.runpytest("--kick-compressed=ck")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: --kick-compressed *{needle}*"])


def test_missing_backend_names_the_pip_command(pytester, monkeypatch):
    from pytest_kick.compression import backends

    monkeypatch.setitem(backends.BACKENDS, "llmcompressor", backends.Backend("llmcompressor", "no_such_module_xyz", "llmcompressor", "pip install 'llmcompressor>=0.14,<0.15'"))
    pytester.makepyfile(test_x="def test_x(kick_pair): pass")
    result = pytester.runpytest("--kick-method=wanda50")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: *needs the llmcompressor backend, which is not installed. Install it with: pip install 'llmcompressor>=0.14,<0.15'"])
