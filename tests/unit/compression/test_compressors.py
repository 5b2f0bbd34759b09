import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_kick.compression import PruneSpec, RTNSpec, compress
from pytest_kick.compression.prune import nm_mask, unstructured_mask
from pytest_kick.compression.quant import rtn_quantize
from pytest_kick.errors import KickUsageError

shapes = st.tuples(st.integers(1, 8), st.sampled_from([8, 16, 32, 64]))


def weight(shape, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g) * torch.rand(1, generator=g).item() * 3


@settings(max_examples=60, deadline=None)
@given(shape=shapes, seed=st.integers(0, 10_000), bits=st.integers(2, 8), group=st.sampled_from([None, 4, 8]))
def test_rtn_codes_are_integers_on_the_grid_and_error_is_at_most_half_a_step(shape, seed, bits, group):
    w = weight(shape, seed)
    q, scale = rtn_quantize(w, bits, group)
    assert torch.equal(q, q.round())
    assert q.min() >= -(2 ** (bits - 1)) and q.max() <= 2 ** (bits - 1) - 1
    g = group or shape[1]
    deq = (q.reshape(shape[0], -1, g) * scale[..., None]).reshape(shape)
    step = scale.repeat_interleave(g, dim=1)
    assert torch.all((deq - w).abs() <= step / 2 + 1e-6)


@settings(max_examples=60, deadline=None)
@given(shape=shapes, seed=st.integers(0, 10_000), pct=st.integers(1, 99))
def test_unstructured_sparsity_is_exact(shape, seed, pct):
    w = weight(shape, seed)
    mask = unstructured_mask(w.abs(), pct / 100)
    assert (~mask).sum().item() == round(pct / 100 * w.numel())
    if (~mask).any() and mask.any():  # what was dropped is never larger than what was kept
        assert w.abs()[~mask].max() <= w.abs()[mask].min()


@settings(max_examples=80, deadline=None)
@given(shape=shapes, seed=st.integers(0, 10_000), levels=st.integers(1, 5), sparsity=st.floats(0, 1))
def test_unstructured_mask_drops_what_a_stable_sort_drops_ties_included(shape, seed, levels, sparsity):
    """The selection (kthvalue) picks the same weights as taking the first k of a stable sort: among equal scores
    the earliest positions go first."""
    g = torch.Generator().manual_seed(seed)
    score = torch.randint(0, levels, shape, generator=g).float()  # few distinct values: many ties at the cut
    k = round(sparsity * score.numel())
    want = torch.ones(score.numel(), dtype=torch.bool)
    want[torch.argsort(score.flatten(), stable=True)[:k]] = False
    assert torch.equal(unstructured_mask(score, sparsity), want.reshape(shape))


@settings(max_examples=60, deadline=None)
@given(shape=shapes, seed=st.integers(0, 10_000), nm=st.sampled_from([(1, 4), (2, 4), (3, 4), (4, 8), (2, 8)]))
def test_nm_pattern_holds_in_every_group(shape, seed, nm):
    n, m = nm
    w = weight(shape, seed)
    mask = nm_mask(w.abs(), n, m)
    assert torch.all(mask.reshape(shape[0], -1, m).sum(-1) == n)


def test_nm_rejects_widths_not_divisible_by_m():
    with pytest.raises(KickUsageError, match="divisible by 4"):
        nm_mask(torch.ones(2, 6), 2, 4)


def test_rtn_rejects_group_not_dividing_width():
    with pytest.raises(KickUsageError, match="does not divide"):
        rtn_quantize(torch.ones(2, 48), 4, 32)


def tiny():
    from pytest_kick.testing import tiny_llama

    return tiny_llama(256, seed=0)


def test_compression_touches_block_linears_but_not_embeddings_or_head():
    model = tiny()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    compress(model, PruneSpec("magnitude", sparsity=0.5))
    after = model.state_dict()
    assert torch.equal(after["model.embed_tokens.weight"], before["model.embed_tokens.weight"])
    assert torch.equal(after["lm_head.weight"], before["lm_head.weight"])
    q = after["model.layers.0.self_attn.q_proj.weight"]
    assert (q == 0).sum().item() == q.numel() // 2


def test_rtn_on_a_model_puts_every_row_on_its_grid():
    model = tiny()
    compress(model, RTNSpec(bits=4, group_size=32))
    w = model.model.layers[1].mlp.down_proj.weight
    q, scale = rtn_quantize(w, 4, 32)
    assert torch.allclose((q.reshape(w.shape[0], -1, 32) * scale[..., None]).reshape(w.shape), w, atol=1e-6)


@pytest.mark.parametrize("form", ["rtn4", "magnitude50"])
def test_weight_compressors_show_the_layers_done(form, monkeypatch):
    from pytest_kick.compression import parse_spec
    from pytest_kick.runners import progress

    shown = []
    display = type("Lines", (), {"after": 0.0, "every": 0.0, "show": lambda self, task, text, final: shown.append(text)})()
    monkeypatch.setattr(progress, "current", lambda: display)
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 8))
    compress(model, parse_spec(form))
    assert [t.split(",")[0] for t in shown] == [f"kick: compress {form} 1/2 layers", f"kick: compress {form} 2/2 layers"]
