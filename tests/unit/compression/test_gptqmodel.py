"""The gptqmodel backend (opt-in: it brings its own CUDA build of torch). Skipped, with the reason, without it."""

import pytest

pytest.importorskip("gptqmodel", reason="gptqmodel is not installed (opt-in backend): pip install gptqmodel optimum")
pytest.importorskip("optimum", reason="optimum is not installed; transformers needs it to load GPTQ checkpoints")

import torch  # noqa: E402

from pytest_kick.compression import Calibration, CompressionSettings, parse_spec  # noqa: E402
from pytest_kick.compression.plan import plan_method  # noqa: E402
from pytest_kick.models.handles import compressed_handle, dense_handle  # noqa: E402
from pytest_kick.settings import LoadSettings  # noqa: E402
from pytest_kick.sources import parse_model_source  # noqa: E402

pytestmark = pytest.mark.slow  # compresses real (tiny) models


@pytest.mark.parametrize("spec, kernel", [("gptq4-g32", "TorchAtenLinear"), ("awq4-g32", "TorchAtenAwqLinear")])
def test_gptqmodel_writes_a_checkpoint_that_loads_on_its_kernels(random_model_dir, tmp_path, monkeypatch, spec, kernel):
    monkeypatch.setenv("GPTQMODEL_CPU_WORKERS", "2")
    source = parse_model_source(str(random_model_dir))
    settings = LoadSettings(device="cpu", cache_dir=tmp_path)
    dense = dense_handle(source, settings)
    comp = CompressionSettings(backend="gptqmodel", calibration=Calibration(16, 64, "builtin"))
    handle = compressed_handle(source, dense, plan_method(parse_spec(spec), comp), settings, comp)
    model, _ = handle.load()
    assert handle.facts.backend.startswith("gptqmodel") and handle.facts.build == "compressed"
    if not torch.cuda.is_available():
        assert type(model.model.layers[0].mlp.up_proj).__name__ == kernel
    x = torch.randint(0, 200, (1, 16), device=model.device)
    with torch.no_grad():
        ref, out = dense.model.to(model.device)(x).logits, model(x).logits
    assert 0 < (out - ref).abs().max() < ref.abs().max()
