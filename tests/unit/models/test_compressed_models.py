"""Compressed models as the fixtures build them: the compressed-model cache, bitsandbytes, and checkpoints."""

import json

import pytest
import torch

from pytest_kick.compression import Calibration, CheckpointSpec, CompressionSettings, parse_spec
from pytest_kick.compression.plan import plan_method
from pytest_kick.errors import KickUsageError, MissingBackend
from pytest_kick.models.handles import compressed_handle, dense_handle
from pytest_kick.settings import LoadSettings
from pytest_kick.sources import checkpoint_format, parse_model_source, require_loader

pytestmark = pytest.mark.slow  # compresses and loads real (tiny) models


@pytest.fixture
def setup(random_model_dir, tmp_path):
    source = parse_model_source(str(random_model_dir))
    settings = LoadSettings(device="cpu", cache_dir=tmp_path)
    return source, settings, dense_handle(source, settings)


def handle(setup, spec, **comp):
    source, settings, dense = setup
    settings_ = CompressionSettings(**comp)
    return compressed_handle(source, dense, plan_method(parse_spec(spec), settings_), settings, settings_)


def test_second_handle_loads_the_cached_model_instead_of_compressing(setup):
    first = handle(setup, "rtn4-g32")
    model, _ = first.load()
    assert first.facts.build == "compressed" and first.facts.backend.startswith("builtin")
    second = handle(setup, "rtn4-g32")
    assert second.fingerprint == first.fingerprint
    again, _ = second.load()
    assert second.facts.build == "loaded from cache" and second.facts.cache_entry == first.facts.cache_entry
    for (name, a), b in zip(model.state_dict().items(), again.state_dict().values()):
        assert torch.equal(a, b), name


def test_cache_key_follows_everything_the_weights_depend_on(setup):
    from pytest_kick.compression import LayerSelection

    base = handle(setup, "magnitude50").fingerprint
    assert handle(setup, "magnitude60").fingerprint != base
    assert handle(setup, "magnitude50", seed=7).fingerprint != base
    assert handle(setup, "magnitude50", layers=LayerSelection(skip_first=1)).fingerprint != base
    # built-in methods take no calibration, so its settings do not split their cache
    assert handle(setup, "magnitude50", calibration=Calibration(samples=3)).fingerprint == base


@pytest.mark.skipif(not __import__("importlib").util.find_spec("llmcompressor"), reason="llmcompressor is not installed")
def test_llmcompressor_model_round_trips_through_compressed_tensors(setup, tmp_path):
    from pytest_kick.models.load import load_hf

    comp = dict(calibration=Calibration(8, 32, "builtin"))
    h = handle(setup, "gptq4-g32", **comp)
    model, _ = h.load()
    assert h.facts.build == "compressed" and h.facts.backend.startswith("llmcompressor")
    entry = h.facts.cache_entry
    cfg = json.loads(open(f"{entry}/config.json").read())
    assert cfg["quantization_config"]["quant_method"] == "compressed-tensors"
    assert cfg["quantization_config"]["format"] == "pack-quantized"
    # unpacked on load: same logits as running the packed weights through compressed-tensors' own modules
    packed, _ = load_hf(entry, setup[1])
    x = torch.randint(0, 200, (2, 16))
    with torch.no_grad():
        assert torch.allclose(model(x).logits, packed(x).logits, atol=1e-5)
    assert checkpoint_format(entry) == "compressed-tensors"


def test_bitsandbytes_methods_quantize_while_loading(setup):
    pytest.importorskip("bitsandbytes", reason="bitsandbytes is not installed: pip install 'bitsandbytes>=0.50'")
    import bitsandbytes as bnb

    _, _, dense = setup
    x = torch.randint(0, 200, (2, 16))
    with torch.no_grad():
        ref = dense.model(x).logits
        for spec, cls in (("int8", bnb.nn.Linear8bitLt), ("nf4", bnb.nn.Linear4bit)):
            h = handle(setup, spec)
            model, _ = h.load()
            assert isinstance(model.model.layers[0].mlp.up_proj, cls) and h.facts.build == "quantized while loading"
            out = model(x).logits
            assert 0 < (out - ref).abs().max() < 0.5 * ref.abs().max()


def test_checkpoint_formats(tmp_path, random_model_dir):
    assert checkpoint_format(random_model_dir) == "dense"
    ck = tmp_path / "gptq"
    ck.mkdir()
    (ck / "config.json").write_text(json.dumps({"quantization_config": {"quant_method": "gptq", "bits": 4}}))
    assert checkpoint_format(ck) == "gptq"
    (ck / "config.json").write_text(json.dumps({"quantization_config": {"quant_method": "bitsandbytes_4bit"}}))
    assert checkpoint_format(ck) == "bitsandbytes"
    (ck / "config.json").write_text(json.dumps({"quantization_config": {"quant_method": "mystery"}}))
    with pytest.raises(KickUsageError, match="unknown quantization format 'mystery'"):
        checkpoint_format(ck)
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF" + bytes(8))
    assert checkpoint_format(gguf) == "gguf"


def test_a_gptq_checkpoint_without_its_loader_names_the_pip_command(tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "gptqmodel" else real(name, *a))
    with pytest.raises(MissingBackend, match="gptq checkpoint; loading it needs gptqmodel.*pip install gptqmodel"):
        require_loader("gptq", tmp_path)


def test_checkpoint_handle_is_named_in_the_report(random_model_dir, tmp_path):
    source = parse_model_source(str(random_model_dir))
    settings = LoadSettings(device="cpu", cache_dir=tmp_path)
    plan = plan_method(CheckpointSpec(str(random_model_dir)), CompressionSettings())
    h = compressed_handle(source, dense_handle(source, settings), plan, settings, CompressionSettings())
    assert h.facts.format == "dense" and h.facts.backend == "checkpoint (dense)"
    assert h.name == f"{random_model_dir.name} [checkpoint]"


def test_a_custom_method_is_keyed_by_its_code(setup, request):
    from pytest_kick import compression

    request.addfinalizer(compression.FAMILIES.reset)

    def shrink(model, spec, ctx):
        for _, lin in ctx.layers(model):
            lin.weight.mul_(0.5)

    compression.register_family("shrink", compression.parse_named("shrink"), shrink, ("shrink",))
    first = handle(setup, "shrink").fingerprint

    def shrink(model, spec, ctx):  # noqa: F811 - the team edits its method
        for _, lin in ctx.layers(model):
            lin.weight.mul_(0.25)

    compression.register_family("shrink", compression.parse_named("shrink"), shrink, ("shrink",), replace=True)
    h = handle(setup, "shrink")
    assert h.fingerprint != first and h.facts.backend == "custom"
