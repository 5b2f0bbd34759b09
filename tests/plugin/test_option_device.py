"""--kick-device: its forms, and CUDA asked for on a machine without it."""

import pytest
from conftest import assert_usage_error


def test_bad_device(pytester):
    assert_usage_error(pytester, ["--kick-device=tpu"], "valid forms are auto, cpu, cuda, cuda:N")


@pytest.mark.slow
def test_cuda_requested_on_a_machine_without_it_stops_at_start_up_even_with_a_warm_cache(pytester, kick_args, gate_file):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    pytester.runpytest(*kick_args, "--kick-method=rtn8").assert_outcomes(passed=1)  # every answer is now cached
    args = [a for a in kick_args if not a.startswith("--kick-device")]
    result = pytester.runpytest(*args, "--kick-device=cuda", "--kick-method=rtn8")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --kick-device=cuda but this machine has no usable CUDA device*"])
