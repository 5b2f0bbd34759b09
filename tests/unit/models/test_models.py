import sys

import pytest

from pytest_kick.models.handles import dense_handle
from pytest_kick.settings import LoadSettings
from pytest_kick.sources import parse_model_source

pytestmark = pytest.mark.slow  # loads a real (tiny) model


def test_local_dir_loads_lazily_once(random_model_dir, tmp_path):
    handle = dense_handle(parse_model_source(str(random_model_dir)), LoadSettings(device="cpu", cache_dir=tmp_path))
    assert handle.loads == 0 and "torch" in sys.modules
    model, tok = handle.load()
    handle.load()
    assert handle.loads == 1 and model.training is False and next(model.parameters()).device.type == "cpu"


def test_a_handle_is_a_runner_factory_that_loads_on_first_use(random_model_dir, tmp_path):
    from pytest_kick.contract import LoglikelihoodRequest

    handle = dense_handle(parse_model_source(str(random_model_dir)), LoadSettings(device="cpu", cache_dir=tmp_path))
    factory = handle.factory(batch_size=2)
    assert factory.fingerprint == handle.fingerprint and factory.chat is handle.chat and handle.loads == 0
    runner = factory.make()
    assert handle.loads == 1 and runner.batch_size == 2
    assert runner.loglikelihood([LoglikelihoodRequest("a small", " corpus")])[0].n_tokens >= 1


def test_a_damaged_gguf_conversion_is_rebuilt_with_a_warning_never_loaded(tmp_path):
    """The converted-GGUF cache has the compressed cache's manifest: a truncated model.safetensors (a killed copy,
    a full disk) is found on the next use, rebuilt with one warning, and the model loads."""
    pytest.importorskip("gguf")
    from pytest_kick.errors import MissingBackend
    from pytest_kick.models.load import convert_gguf, load_hf
    from pytest_kick.settings import LoadSettings
    from pytest_kick.sources import smollm2_gguf_path

    try:
        gguf = smollm2_gguf_path()
    except MissingBackend as exc:
        pytest.skip(str(exc))
    first = convert_gguf(gguf, tmp_path)
    weights = first / "model.safetensors"
    intact = weights.stat().st_size
    with open(weights, "r+b") as fh:
        fh.truncate(intact // 2)
    with pytest.warns(UserWarning, match="does not match its manifest; rebuilding it"):
        again = convert_gguf(gguf, tmp_path)
    assert again == first and weights.stat().st_size == intact
    model, _ = load_hf(again, LoadSettings(device="cpu", cache_dir=tmp_path))
    assert model.config.model_type == "llama"


def test_chat_prompts_come_from_the_tokenizer_alone(random_model_dir, tmp_path):
    """A task asks for the model's chat template before any answer is cached: no weights are loaded for it."""
    import json
    import shutil

    from pytest_kick.models.handles import dense_handle
    from pytest_kick.runners.cache import CachedRunner, ResultCache
    from pytest_kick.settings import LoadSettings
    from pytest_kick.sources import ModelSource

    model = tmp_path / "chat-model"
    shutil.copytree(random_model_dir, model)
    cfg = model / "tokenizer_config.json"
    template = "{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}{% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}"
    cfg.write_text(json.dumps({**json.loads(cfg.read_text()), "chat_template": template}))
    handle = dense_handle(ModelSource("dir", str(model)), LoadSettings(device="cpu", cache_dir=tmp_path / "cache"))
    runner = CachedRunner(handle.factory(), ResultCache(tmp_path / "cache"))
    assert runner.chat_prompt([{"role": "user", "content": "Hi"}]) == "<user>Hi<assistant>"
    assert handle.loads == 0
    plain = dense_handle(ModelSource("dir", str(random_model_dir)), LoadSettings(device="cpu", cache_dir=tmp_path / "cache"))
    assert CachedRunner(plain.factory(), ResultCache(None)).chat_prompt([{"role": "user", "content": "Hi"}]) == "User: Hi\nAssistant:"


FREEZE_PROBE = """
import gc, sys
from pytest_kick.models.load import settle_imports
settle_imports()
frozen = gc.get_freeze_count()
settle_imports()  # once: a second call freezes nothing new
print(frozen, gc.get_freeze_count(), "torch" in sys.modules)
"""


@pytest.mark.parametrize(("env", "frozen"), [({}, True), ({"PYTEST_KICK_GC_FREEZE": "0"}, False)])
def test_the_heavy_imports_are_frozen_out_of_the_collector_once(env, frozen):
    import os
    import subprocess

    out = subprocess.run([sys.executable, "-c", FREEZE_PROBE], env={**os.environ, **env}, capture_output=True, text=True, check=True)
    first, second, torch_loaded = out.stdout.split()
    assert torch_loaded == "True"
    assert (int(first) > 100_000) is frozen and first == second


def test_every_package_that_touches_tokens_or_weights_is_in_the_key(monkeypatch, random_model_dir, tmp_path):
    """tokenizers, safetensors and accelerate join torch and transformers in every result key (issue 25, item 7); a
    GGUF model's key also holds the gguf version that dequantizes it."""
    import pytest_kick.models.handles as handles
    import pytest_kick.models.load as load
    from pytest_kick.fingerprint import package_version

    settings = LoadSettings(device="cpu", cache_dir=tmp_path)
    text = load.numerics(settings)
    for name in ("torch", "transformers", "tokenizers", "safetensors", "accelerate"):
        assert f"{name}-{package_version(name)}" in text
    before = dense_handle(parse_model_source(str(random_model_dir)), settings).fingerprint
    bumped = {"tokenizers": "99.0"}
    monkeypatch.setattr(load, "package_version", lambda name: bumped.get(name) or package_version(name))
    assert dense_handle(parse_model_source(str(random_model_dir)), settings).fingerprint != before
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF" + bytes(64))  # the key is computed from the file's bytes, before any conversion
    keys = []
    for version in ("0.17.1", "0.18.0"):
        monkeypatch.setattr(handles, "package_version", lambda name, v=version: v if name == "gguf" else package_version(name))
        keys.append(dense_handle(parse_model_source(str(gguf)), settings).fingerprint)
    assert keys[0] != keys[1]


def test_known_harmless_library_messages_and_bars_stay_out_of_captured_output(capfd):
    """transformers' per-load messages that are no news are dropped, its bars are off; any other warning shows."""
    import io
    import logging

    from transformers.utils import logging as hf_logging

    from pytest_kick.models.load import HARMLESS, quiet_libraries

    quiet_libraries()
    quiet_libraries()  # once or twice: one filter
    handlers = [h for h in hf_logging.get_logger().handlers if isinstance(h, logging.StreamHandler)]
    shown = io.StringIO()
    streams = [h.setStream(shown) for h in handlers]  # where the library's messages go (a terminal, captured output)
    try:
        log = hf_logging.get_logger("transformers.tokenization_utils_base")
        for text in HARMLESS:
            log.warning(f"{text} (details)")
        log.warning("a real problem: the vocabulary does not match")
    finally:
        for h, stream in zip(handlers, streams):
            h.setStream(stream)
    for _ in hf_logging.tqdm(range(3), desc="Loading weights"):
        pass
    assert handlers and "a real problem" in shown.getvalue() and not any(text in shown.getvalue() for text in HARMLESS)
    assert "Loading weights" not in capfd.readouterr().err
    assert all(sum(type(f).__name__ == "_Harmless" for f in h.filters) == 1 for h in handlers)
