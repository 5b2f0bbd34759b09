"""Devices and dtypes: which GPUs each xdist worker may see (decided before torch is imported there), and the
torch device and dtype a model is loaded with."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..errors import KickUsageError

DTYPES = ("auto", "float32", "bfloat16", "float16")
VISIBLE = "CUDA_VISIBLE_DEVICES"
SHARE = "PYTEST_KICK_GPU_SHARE"  # set where pytest-kick narrowed VISIBLE: the process sees only its own GPUs


def narrows(device: str) -> bool:
    """Whether GPU shares apply: not when every process is pinned to one GPU with --kick-device=cuda:N."""
    return not device.strip().startswith("cuda:")


def worker_index(worker_id: str | None) -> int:
    """gwN -> N; the controller or a run without xdist counts as worker 0."""
    return int(worker_id[2:]) if worker_id and worker_id.startswith("gw") and worker_id[2:].isdigit() else 0


def visible_gpus(explicit: Sequence[str] | None, environ: Mapping[str, str]) -> tuple[str, ...] | None:
    """The GPUs to share out: --kick-gpus, else CUDA_VISIBLE_DEVICES; None when neither says (nothing narrowed)."""
    if explicit:
        return tuple(explicit)
    text = environ.get(VISIBLE, "").strip()
    return tuple(d.strip() for d in text.split(",") if d.strip()) or None


def gpu_share(devices: Sequence[str], index: int, per_worker: int = 1) -> tuple[str, ...]:
    """Worker `index`'s devices: consecutive blocks of `per_worker`; more workers than blocks wrap around (they
    then share GPUs). Devices left over after the last whole block are not used."""
    slots = len(devices) // per_worker
    if slots == 0:
        raise KickUsageError(
            f"--kick-gpus-per-worker={per_worker} but only {len(devices)} GPU(s) are visible ({','.join(devices)}); "
            "list more with --kick-gpus or CUDA_VISIBLE_DEVICES, or lower --kick-gpus-per-worker."
        )
    slot = index % slots
    return tuple(devices[slot * per_worker : (slot + 1) * per_worker])


def share_environment(devices: Sequence[str], index: int, per_worker: int = 1) -> dict[str, str]:
    """The environment variables that give worker `index` its share (set before the worker imports torch)."""
    share = ",".join(gpu_share(devices, index, per_worker))
    return {VISIBLE: share, SHARE: share}


def resolve_device(text: str, worker_id: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    """Turn --kick-device into a torch device string. A process whose GPUs pytest-kick narrowed uses its first;
    otherwise, under xdist, 'auto'/'cuda' pick GPU N modulo the visible ones for worker gwN."""
    import os

    import torch

    environ = os.environ if environ is None else environ
    worker = 0 if environ.get(SHARE) else worker_index(worker_id)
    if text == "cpu":
        return "cpu"
    has_cuda = torch.cuda.is_available()
    if text == "auto":
        return pick_gpu(worker, torch.cuda.device_count()) if has_cuda else "cpu"
    if not has_cuda:
        raise KickUsageError(
            f"--kick-device={text} but this machine has no usable CUDA device (torch.cuda.is_available() is False; "
            f"torch {torch.__version__}). Use --kick-device=cpu, or --kick-device=auto to take a GPU when there is one."
        )
    count = torch.cuda.device_count()
    if text == "cuda":
        return pick_gpu(worker, count)
    index = int(text.split(":")[1])
    if index >= count:
        raise KickUsageError(f"--kick-device={text} but only {count} CUDA device(s) are visible (cuda:0..cuda:{count - 1}).")
    return text


def pick_gpu(worker: int, count: int) -> str:
    """xdist worker gwN gets GPU N modulo the visible devices (those the user allowed with CUDA_VISIBLE_DEVICES)."""
    return f"cuda:{worker % max(count, 1)}"


def resolve_dtype(text: str, device: str):
    import torch

    if text == "auto":
        return torch.bfloat16 if device.startswith("cuda") and torch.cuda.is_bf16_supported() else torch.float32
    return getattr(torch, text)
