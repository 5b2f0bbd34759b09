"""GBLM pruning on a real (tiny) model: the metric's gradient term against autograd, exact per-row sparsity and
N:M patterns, the LM head untouched, and calibration in the compressed model's key."""

import pytest
import torch

from pytest_kick.compression import CompressContext, CompressionSettings, LayerSelection, PruneSpec, compress, parse_spec
from pytest_kick.compression.calibration import Calibration
from pytest_kick.compression.gblm import GRADIENT_SCALE, decoder_blocks, gradient_norms
from pytest_kick.compression.plan import plan_method
from pytest_kick.models.load import load_hf
from pytest_kick.settings import LoadSettings

pytestmark = pytest.mark.slow  # loads and prunes a real (tiny) model


@pytest.fixture
def model_tok(random_model_dir):
    return load_hf(random_model_dir, LoadSettings(device="cpu"))


def context(tok, samples=4, seqlen=32):
    return CompressContext(CompressionSettings(calibration=Calibration(samples=samples, seqlen=seqlen)), tokenizer=tok)


def test_the_gradient_term_is_the_scaled_l2_norm_of_per_window_gradients(model_tok):
    model, tok = model_tok
    ctx = context(tok, samples=2)
    layers = ctx.layers(model)[:3]
    flags = [p.requires_grad for p in model.parameters()]
    got = gradient_norms(model, layers, ctx.calibration())
    assert all(p.grad is None for p in model.parameters())  # nothing left behind
    assert [p.requires_grad for p in model.parameters()] == flags
    want = {name: torch.zeros_like(lin.weight) for name, lin in layers}
    for window in ctx.calibration():
        model.zero_grad()
        ids = torch.tensor([window])
        with torch.enable_grad():
            model(input_ids=ids, labels=ids).loss.backward()
        for name, lin in layers:
            want[name] += (GRADIENT_SCALE * lin.weight.grad) ** 2
    for name, _ in layers:
        assert torch.allclose(got[name], want[name].sqrt(), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("form", ["gblm50", "gblm-2:4"])
def test_gblm_prunes_every_target_row_exactly_and_leaves_the_head(model_tok, form):
    model, tok = model_tok
    head = model.get_output_embeddings().weight.clone()
    spec = parse_spec(form)
    compress(model, spec, context(tok))
    layers = CompressContext(CompressionSettings()).layers(model)
    for name, lin in layers:
        zero = lin.weight == 0
        if spec.n is not None:
            assert torch.all((~zero).reshape(lin.out_features, -1, spec.m).sum(-1) <= spec.n), name
        else:
            assert torch.all(zero.sum(dim=1) == round(0.5 * lin.in_features)), name  # per output row
    assert torch.equal(model.get_output_embeddings().weight, head)


def test_gblm_keeps_what_magnitude_would_not_when_inputs_or_gradients_say_so(model_tok):
    """The metric is not |W| alone: on the same model GBLM and magnitude pruning choose different weights."""
    model, tok = model_tok
    before = {n: lin.weight.clone() for n, lin in CompressContext(CompressionSettings()).layers(model)}
    compress(model, PruneSpec("gblm", sparsity=0.5), context(tok))
    differs = 0
    for name, lin in CompressContext(CompressionSettings()).layers(model):
        kept_by_gblm = lin.weight != 0
        order = torch.sort(before[name].abs(), dim=1, stable=True).indices[:, : round(0.5 * lin.in_features)]
        kept_by_magnitude = torch.ones_like(kept_by_gblm).scatter_(1, order, False)
        differs += int((kept_by_gblm != kept_by_magnitude).sum())
    assert differs > 0


def test_gblm_is_keyed_by_its_calibration_and_reaches_every_block(model_tok, tmp_path):
    model, _ = model_tok
    plan = plan_method(PruneSpec("gblm", sparsity=0.5), CompressionSettings())
    assert plan.needs_calibration and plan.backend.name == "builtin"
    assert not plan_method(PruneSpec("magnitude", sparsity=0.5), CompressionSettings()).needs_calibration
    assert len(decoder_blocks(model)) == model.config.num_hidden_layers


def test_gblm_respects_the_layer_selection(model_tok):
    model, tok = model_tok
    settings = CompressionSettings(calibration=Calibration(samples=2, seqlen=32), layers=LayerSelection(targets=("*mlp*",)))
    attn = {n: lin.weight.clone() for n, lin in CompressContext(CompressionSettings()).layers(model) if "attn" in n}
    compress(model, PruneSpec("gblm", sparsity=0.5), CompressContext(settings, tokenizer=tok))
    for name, lin in CompressContext(CompressionSettings()).layers(model):
        if "attn" in name:
            assert torch.equal(lin.weight, attn[name])
        else:
            assert (lin.weight == 0).float().mean() == pytest.approx(0.5, abs=0.01)


class Lines:
    """Where progress lines would go (a display that shows everything at once)."""

    after, every = 0.0, 0.0

    def __init__(self):
        self.lines = []

    def show(self, task, text, final):
        self.lines.append(text)


def test_gblm_shows_its_calibration_windows_and_blocks_as_it_goes(model_tok, monkeypatch):
    from pytest_kick.runners import progress

    model, tok = model_tok
    shown = Lines()
    monkeypatch.setattr(progress, "current", lambda: shown)
    compress(model, parse_spec("gblm50"), context(tok, samples=3))
    blocks = len(decoder_blocks(model))
    assert [t.split(",")[0] for t in shown.lines if "gradients" in t] == [
        f"kick: compress gblm50: gradients {i}/3 windows" for i in (1, 2, 3)
    ]
    assert [t.split(",")[0] for t in shown.lines if "prune" in t][-1] == f"kick: compress gblm50: prune {blocks}/{blocks} blocks"
