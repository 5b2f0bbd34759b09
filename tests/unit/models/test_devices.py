import pytest

from pytest_kick.errors import KickUsageError
from pytest_kick.models import devices
from pytest_kick.models.devices import gpu_share, pick_gpu, share_environment, visible_gpus, worker_index


def test_gpu_pinning_by_worker():
    assert [pick_gpu(w, 2) for w in range(4)] == ["cuda:0", "cuda:1", "cuda:0", "cuda:1"]


def test_worker_index():
    assert [worker_index(w) for w in ("gw0", "gw3", None, "master")] == [0, 3, 0, 0]


def test_shares_are_consecutive_blocks_that_wrap_around():
    four = ("0", "1", "2", "3")
    assert [gpu_share(four, i) for i in range(5)] == [("0",), ("1",), ("2",), ("3",), ("0",)]
    assert [gpu_share(four, i, 2) for i in range(3)] == [("0", "1"), ("2", "3"), ("0", "1")]
    assert gpu_share(("0", "1", "2"), 1, 2) == ("0", "1")  # one left over: unused
    with pytest.raises(KickUsageError, match="--kick-gpus-per-worker=4 but only 2 GPU"):
        gpu_share(("0", "1"), 0, 4)


def test_visible_gpus_prefers_the_option_then_the_environment():
    assert visible_gpus(("4", "5"), {"CUDA_VISIBLE_DEVICES": "0,1"}) == ("4", "5")
    assert visible_gpus(None, {"CUDA_VISIBLE_DEVICES": "0, 1"}) == ("0", "1")
    assert visible_gpus(None, {}) is None and visible_gpus(None, {"CUDA_VISIBLE_DEVICES": ""}) is None


def test_share_environment_marks_the_process_as_narrowed():
    assert share_environment(("0", "1", "2", "3"), 1, 2) == {"CUDA_VISIBLE_DEVICES": "2,3", "PYTEST_KICK_GPU_SHARE": "2,3"}


def test_cuda_requested_without_cuda(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(KickUsageError, match="no usable CUDA device"):
        devices.resolve_device("cuda")
    assert devices.resolve_device("auto") == "cpu"


def test_a_narrowed_worker_uses_its_first_gpu(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert devices.resolve_device("auto", "gw3", environ={}) == "cuda:1"  # not narrowed: worker modulo count
    assert devices.resolve_device("auto", "gw3", environ={"PYTEST_KICK_GPU_SHARE": "6,7"}) == "cuda:0"
