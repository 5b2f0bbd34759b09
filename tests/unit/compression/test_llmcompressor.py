"""GPTQ, AWQ, SparseGPT and Wanda through llm-compressor on tiny models: invariants and quality against baselines."""

import pytest

pytest.importorskip("llmcompressor", reason="llmcompressor is not installed: pip install 'llmcompressor>=0.14,<0.15'")

import torch  # noqa: E402

from pytest_kick.compression import (  # noqa: E402
    Calibration,
    CompressContext,
    CompressionSettings,
    PruneSpec,
    RTNSpec,
    compress,
    parse_spec,
)
from pytest_kick.errors import KickUsageError  # noqa: E402

pytestmark = pytest.mark.slow  # compresses real (tiny) models


def load(model_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    return model, AutoTokenizer.from_pretrained(model_dir)


@pytest.fixture(scope="module")
def calib_file(tmp_path_factory):
    from pytest_kick.testing import made_up_facts

    path = tmp_path_factory.mktemp("calib") / "facts.txt"
    path.write_text("".join(f"Question: {q}\nAnswer: {a}\n" for q, a in made_up_facts(300, seed=7)))
    return path


def run(model_dir, spec, calib_file, seed=0, samples=16, seqlen=64, backend="auto"):
    model, tok = load(model_dir)
    ctx = CompressContext(
        CompressionSettings(backend=backend, calibration=Calibration(samples, seqlen, str(calib_file)), seed=seed), tokenizer=tok
    )
    compress(model, parse_spec(spec) if isinstance(spec, str) else spec, ctx)
    return model, ctx


def logits_error(model, dense, windows):
    x = torch.tensor(windows)
    with torch.no_grad():
        return (model(x).logits - dense(x).logits).pow(2).mean().item()


def test_gptq_beats_rtn_at_the_same_bits_and_group(random_model_dir, calib_file):
    dense, _ = load(random_model_dir)
    gptq, ctx = run(random_model_dir, "gptq3-g32", calib_file)
    rtn, _ = load(random_model_dir)
    compress(rtn, RTNSpec(bits=3, group_size=32))
    windows = ctx.calibration()
    assert logits_error(gptq, dense, windows) < logits_error(rtn, dense, windows)


def test_gptq_is_reproducible_for_a_seed_and_puts_weights_on_their_group_grid(random_model_dir, calib_file):
    dense, _ = load(random_model_dir)
    a, _ = run(random_model_dir, "gptq4-g32", calib_file, seed=3)
    b, _ = run(random_model_dir, "gptq4-g32", calib_file, seed=3)
    assert torch.equal(a.lm_head.weight, dense.lm_head.weight)
    for (name, wa), wb in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(wa, wb), name
    lin = a.model.layers[0].mlp.down_proj
    codes = lin.weight.reshape(lin.weight.shape[0], -1, 32) / lin.weight_scale[..., None]
    assert torch.allclose(codes, codes.round(), atol=1e-3)
    assert codes.round().min() >= -8 and codes.round().max() <= 7
    c, _ = run(random_model_dir, "gptq4-g32", calib_file, seed=4)  # other windows, other weights
    assert not torch.equal(c.model.layers[0].mlp.down_proj.weight, lin.weight)


def test_awq_runs_on_cpu_and_its_checkpoint_is_on_an_asymmetric_grid(random_model_dir, calib_file, tmp_path):
    from pytest_kick.models.handles import LoadSettings
    from pytest_kick.models.load import load_compressed

    model, ctx = run(random_model_dir, "awq4-g32", calib_file)
    model.save_pretrained(tmp_path)  # written as packed int4 compressed-tensors
    ctx.tokenizer.save_pretrained(tmp_path)
    reloaded, _ = load_compressed(tmp_path, LoadSettings(device="cpu"))
    lin = reloaded.model.layers[1].self_attn.o_proj
    q = lin.weight.reshape(lin.weight.shape[0], -1, 32) / lin.weight_scale[..., None] + lin.weight_zero_point[..., None]
    assert torch.allclose(q, q.round(), atol=1e-3)
    assert q.round().min() >= -8 and q.round().max() <= 7 and lin.weight_zero_point.abs().sum() > 0


@pytest.mark.parametrize("spec", ["wanda-2:4", "sparsegpt-4:8", "sparsegpt-1:4"])
def test_nm_pattern_is_exact_in_every_group(random_model_dir, calib_file, spec):
    parsed = parse_spec(spec)
    model, ctx = run(random_model_dir, spec, calib_file)
    for name, lin in ctx.layers(model):
        nonzero = (lin.weight.reshape(lin.weight.shape[0], -1, parsed.m) != 0).sum(-1)
        assert torch.all(nonzero <= parsed.n), name
        assert (nonzero == parsed.n).float().mean() > 0.99, name


@pytest.mark.parametrize("spec", ["wanda50", "sparsegpt50"])
def test_unstructured_sparsity_is_reached_in_every_layer(random_model_dir, calib_file, spec):
    model, ctx = run(random_model_dir, spec, calib_file)
    for name, lin in ctx.layers(model):
        zeros = (lin.weight == 0).sum().item()
        # exact per block of 128 input columns (SparseGPT) or per row (Wanda): within one element per block
        assert abs(zeros - lin.weight.numel() // 2) <= max(1, lin.in_features // 128), name
    assert torch.count_nonzero(model.lm_head.weight) == model.lm_head.weight.numel()


def test_layer_selection_reaches_the_library(random_model_dir, calib_file):
    from pytest_kick.compression import LayerSelection

    model, tok = load(random_model_dir)
    settings = CompressionSettings(calibration=Calibration(8, 64, str(calib_file)), layers=LayerSelection(targets=("mlp",), skip_first=1))
    compress(model, parse_spec("sparsegpt50"), CompressContext(settings, tokenizer=tok))
    assert torch.count_nonzero(model.model.layers[0].mlp.up_proj.weight) == model.model.layers[0].mlp.up_proj.weight.numel()
    assert torch.count_nonzero(model.model.layers[1].self_attn.q_proj.weight) == model.model.layers[1].self_attn.q_proj.weight.numel()
    up = model.model.layers[1].mlp.up_proj.weight
    assert abs((up == 0).sum().item() - up.numel() // 2) <= 1


def test_group_size_that_does_not_divide_a_layer_is_refused(random_model_dir, calib_file):
    with pytest.raises(KickUsageError, match="group size 512 does not divide the width 128 of layer model.layers.0"):
        run(random_model_dir, "gptq4-g512", calib_file)


def answer_perplexity(model, tok, facts):
    """Perplexity of the answers given their questions: what the fact model was trained to predict."""
    from pytest_kick.testing import fact_text

    nll, count = 0.0, 0
    with torch.no_grad():
        for q, a in facts:
            prompt, target = fact_text(q, a)
            p, t = tok(prompt)["input_ids"], tok(target, add_special_tokens=False)["input_ids"]
            logp = model(torch.tensor([p + t])).logits[0, len(p) - 1 : -1].log_softmax(-1)
            nll -= logp.gather(-1, torch.tensor(t)[:, None]).sum().item()
            count += len(t)
    return float(torch.exp(torch.tensor(nll / count)))


def test_wanda_and_sparsegpt_beat_magnitude_pruning_at_the_same_sparsity(fact_setup, tmp_path):
    """On a model that has learned something, calibrated pruning keeps it better than magnitude pruning.
    (The fact model shrugs off 50% of any kind, so the comparison is made where it starts to hurt: 80%.)"""
    from pytest_kick.testing import fact_text, made_up_facts

    model_dir, _ = fact_setup
    text = tmp_path / "facts.txt"
    text.write_text("".join("".join(fact_text(q, a)) + "\n" for q, a in made_up_facts(40, seed=1)) * 3)
    magnitude, tok = load(model_dir)
    compress(magnitude, PruneSpec("magnitude", sparsity=0.8))
    dense, _ = load(model_dir)
    wanda, _ = run(model_dir, "wanda80", text, samples=16, seqlen=48)
    sparsegpt, _ = run(model_dir, "sparsegpt80", text, samples=16, seqlen=48)
    facts = made_up_facts(40, seed=1)
    ppl = {
        n: answer_perplexity(m, tok, facts)
        for n, m in [("dense", dense), ("magnitude", magnitude), ("wanda", wanda), ("sparsegpt", sparsegpt)]
    }
    assert ppl["dense"] < ppl["magnitude"]
    assert ppl["wanda"] < ppl["magnitude"] and ppl["sparsegpt"] < ppl["magnitude"], ppl
