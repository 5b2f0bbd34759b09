"""--kick-device: its forms, and CUDA asked for on a machine without it."""

import pytest
from conftest import assert_usage_error


def test_bad_device(pytester):
    assert_usage_error(pytester, ["--kick-device=tpu"], "valid forms are auto, cpu, cuda, cuda:N")


@pytest.mark.slow
def test_cuda_requested_on_a_machine_without_it(pytester, kick_args, gate_file):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    args = [a for a in kick_args if not a.startswith("--kick-device")]
    result = pytester.runpytest(*args, "--kick-device=cuda", "--kick-method=rtn8")
    # the device is resolved when the dense model's key is made (it is part of the key), before any answer is
    # read from the cache: a warm cache cannot skip the check
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["KickUsageError: --kick-device=cuda but this machine has no usable CUDA device*"])
