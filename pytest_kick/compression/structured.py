"""Structured pruning (`prune-heads25`, `prune-ffn30`, `prune-blocks1` and combinations): whole units leave the
model, the linear layers really shrink and `model.config` is rewritten to the new shapes, so save_pretrained and
from_pretrained give an ordinary, smaller checkpoint. Llama, Mistral, Qwen2 and Qwen3 decoders.

Importance is activation-aware: one pass of the dense model over the calibration windows (no gradients, forward
hooks keep per-unit sums only) scores every unit; in every block the lowest-scoring units go, the same number in
each block so that one config fits them all. No sampling: the result depends on the (seeded) windows alone, ties
go by position.

- FFN channel j: E|h_j| * ||W_down[:, j]||_2, where h = act(gate_proj(x)) * up_proj(x) is the input of down_proj
  and E the mean over calibration tokens: Wanda's |weight| x activation score (Sun et al. 2023, "A Simple and
  Effective Pruning Approach for Large Language Models") taken over a whole channel, as its structured variant
  Wanda-sp does in FLAP (An et al. 2024, "Fluctuation-based Adaptive Structured Pruning for Large Language Models").
- Key/value head group (a KV head with the num_attention_heads / num_key_value_heads query heads that read it,
  so grouped-query attention stays valid): the mean over tokens of ||o_proj restricted to the group's columns
  applied to the group's head outputs||_2, the norm of what the group adds to the residual stream (the norm-based
  analysis of Kobayashi et al. 2020, "Attention is Not Only a Weight: Analyzing Transformers with Vector Norms").
- Decoder block: ShortGPT's Block Influence, 1 - mean over tokens of cos(block input, block output) (Men et al.
  2024, "ShortGPT: Layers in Large Language Models are More Redundant Than You Expect").

Counts: a fraction f of n units removes round(f * n) of them (halves up), at least one and never all: a fraction
that would remove every unit keeps one. Removing whole blocks asks for a count; removing every block is an error.
Where the config class itself restricts the head count (transformers' LlamaConfig wants hidden_size divisible by
num_attention_heads, or it will not save or load), a count it refuses is an error naming the percentages it accepts.
The layer selection (--kick-targets, --kick-skip-first/last) does not apply: units go from every block."""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from ..errors import KickUsageError
from ..runners import progress
from .gblm import decoder_blocks
from .spec import StructSpec

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from . import CompressContext

SUPPORTED_TYPES = ("llama", "mistral", "qwen2", "qwen3")
SUPPORTED = "Llama, Mistral, Qwen2 and Qwen3 decoders (self_attn.q/k/v/o_proj and mlp.gate/up/down_proj in every block)"
ATTN = ("q_proj", "k_proj", "v_proj", "o_proj")
MLP = ("gate_proj", "up_proj", "down_proj")
PER_LAYER_LISTS = ("layer_types", "mlp_layer_types", "no_rope_layers")  # config lists with one entry per block


def _blocks(model: torch.nn.Module, spec: StructSpec) -> Any:
    """The decoder blocks, after checking that every one is a Llama-style block this module knows how to cut."""
    import torch

    config = getattr(model, "config", None)
    kind = getattr(config, "model_type", None)
    if kind not in SUPPORTED_TYPES:
        raise KickUsageError(f"{spec.id}: structured pruning supports {SUPPORTED}; this model is {type(model).__name__} ({kind!r}).")
    try:
        blocks = decoder_blocks(model)
    except KickUsageError:
        raise KickUsageError(f"{spec.id}: found no decoder blocks in {type(model).__name__}; supported: {SUPPORTED}.") from None
    for i, block in enumerate(blocks):
        attn, mlp = getattr(block, "self_attn", None), getattr(block, "mlp", None)
        names = [f"self_attn.{n}" for n in ATTN if not isinstance(getattr(attn, n, None), torch.nn.Linear)]
        names += [f"mlp.{n}" for n in MLP if not isinstance(getattr(mlp, n, None), torch.nn.Linear)]
        if names:
            raise KickUsageError(f"{spec.id}: block {i} of {type(model).__name__} has no {', '.join(names)}; supported: {SUPPORTED}.")
    return blocks


def _count(fraction: float, n: int, what: str, spec: StructSpec) -> int:
    """How many of n units a fraction removes: round(f * n), halves up, at least one, all but one at most."""
    if n < 2:
        raise KickUsageError(f"{spec.id}: every block has a single {what}; none can be removed while one is kept.")
    exact = Fraction(fraction).limit_denominator(10**6) * n  # 0.29 * 50 is 14.4999... in floats: count exactly
    return min(max(math.floor(exact + Fraction(1, 2)), 1), n - 1)


def _config_allows(config: Any, **values: int) -> bool:
    trial = copy.deepcopy(config)
    for key, value in values.items():
        setattr(trial, key, value)
    try:
        getattr(trial, "validate", lambda: None)()
    except Exception:  # transformers and huggingface_hub raise their own validation error types
        return False
    return True


def _groups_removed(config: Any, spec: StructSpec) -> int:
    """Key/value head groups to remove: the rounded fraction. A count the config class refuses is an error naming
    the percentages that work (never a silent change: a milder cut than asked for would pass a gate it should not)."""
    groups = config.num_key_value_heads
    per = config.num_attention_heads // groups
    want = _count(spec.heads, groups, "key/value head group", spec)
    head_dim = _head_dim(config)

    def allowed(r: int) -> bool:
        return _config_allows(config, num_attention_heads=(groups - r) * per, num_key_value_heads=groups - r, head_dim=head_dim)

    if allowed(want):
        return want
    works = [f"heads{100 * r / groups:g} ({r} of {groups})" for r in range(1, groups) if allowed(r)]
    raise KickUsageError(
        f"{spec.id}: removing {want} of {groups} key/value head groups leaves {(groups - want) * per} attention heads, "
        f"which {type(config).__name__} refuses (hidden_size {config.hidden_size} must be a multiple of the head "
        f"count). Counts it accepts: {', '.join(works) or 'none'}."
    )


def _head_dim(config: Any) -> int:
    return getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads


@dataclass
class _Stats:
    """Per-block sums over calibration tokens: |FFN channel input of down_proj|, group contribution norms, and the
    cosine between the block's input and output."""

    ffn: list = field(default_factory=list)
    heads: list = field(default_factory=list)
    cosine: list = field(default_factory=list)
    tokens: int = 0


def _ffn_hook(stats: _Stats, i: int):
    def hook(_module, args):
        h = args[0].detach().float().reshape(-1, args[0].shape[-1])
        stats.ffn[i] += h.abs().sum(dim=0)

    return hook


def _heads_hook(stats: _Stats, i: int, groups: int):
    def hook(module, args):
        x = args[0].detach().float().reshape(-1, args[0].shape[-1])
        width = x.shape[-1] // groups
        w = module.weight.detach().float()
        for g in range(groups):
            cols = slice(g * width, (g + 1) * width)
            stats.heads[i][g] += (x[:, cols] @ w[:, cols].T).norm(dim=-1).sum()

    return hook


def _block_hook(stats: _Stats, i: int):
    import torch

    def hook(_module, args, kwargs, out):
        x = (args[0] if args else kwargs["hidden_states"]).detach().float()
        y = (out[0] if isinstance(out, tuple) else out).detach().float()
        stats.cosine[i] += float(torch.nn.functional.cosine_similarity(x, y, dim=-1).sum())

    return hook


def collect_stats(model: torch.nn.Module, blocks: Any, windows: list[list[int]], spec: StructSpec) -> _Stats:
    """One pass over the calibration windows (one at a time, no cache, no gradients) with hooks for the units the
    spec removes; returns per-block sums (divide by `tokens` for means)."""
    import torch

    device = next(model.parameters()).device
    groups = model.config.num_key_value_heads
    stats = _Stats()
    hooks = []
    for i, block in enumerate(blocks):
        down, o_proj = block.mlp.down_proj, block.self_attn.o_proj
        stats.ffn.append(torch.zeros(down.in_features, device=device) if spec.ffn else None)
        stats.heads.append(torch.zeros(groups, device=device) if spec.heads else None)
        stats.cosine.append(0.0)
        if spec.ffn:
            hooks.append(down.register_forward_pre_hook(_ffn_hook(stats, i)))
        if spec.heads:
            hooks.append(o_proj.register_forward_pre_hook(_heads_hook(stats, i, groups)))
        if spec.blocks:
            hooks.append(block.register_forward_hook(_block_hook(stats, i), with_kwargs=True))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for window in progress.each(windows, f"compress {spec}: calibration", "windows"):
                model(input_ids=torch.tensor([window], device=device), use_cache=False)
                stats.tokens += len(window)
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    return stats


def lowest(scores: torch.Tensor, k: int) -> torch.Tensor:
    """Indices (ascending) of the units kept when the k lowest scores go (ties: the first ones go)."""
    import torch

    order = torch.sort(scores, stable=True).indices
    return torch.sort(order[k:]).values


def sliced_linear(lin: torch.nn.Linear, keep: torch.Tensor, dim: int) -> torch.nn.Linear:
    """A new Linear with only the `keep` outputs (dim=0; the bias follows) or inputs (dim=1) of `lin`."""
    import torch

    keep = keep.to(lin.weight.device)
    weight = lin.weight.detach().index_select(dim, keep).clone()
    out_f, in_f = weight.shape
    new = torch.nn.Linear(in_f, out_f, bias=lin.bias is not None, device="meta", dtype=weight.dtype)
    new.weight = torch.nn.Parameter(weight, requires_grad=lin.weight.requires_grad)
    if lin.bias is not None:
        bias = lin.bias.detach().index_select(0, keep) if dim == 0 else lin.bias.detach()
        new.bias = torch.nn.Parameter(bias.clone(), requires_grad=lin.bias.requires_grad)
    return new


def _units(keep: torch.Tensor, width: int) -> torch.Tensor:
    """Row indices of the kept units, each `width` rows wide."""
    import torch

    return (keep[:, None] * width + torch.arange(width, device=keep.device)[None, :]).flatten()


def prune_heads(block: Any, keep: torch.Tensor, per: int, head_dim: int) -> None:
    """Keep the key/value head groups `keep` (each with its `per` query heads) in one block's attention."""
    attn = block.self_attn
    q_rows, kv_rows = _units(keep, per * head_dim), _units(keep, head_dim)
    attn.q_proj = sliced_linear(attn.q_proj, q_rows, 0)
    attn.k_proj = sliced_linear(attn.k_proj, kv_rows, 0)
    attn.v_proj = sliced_linear(attn.v_proj, kv_rows, 0)
    attn.o_proj = sliced_linear(attn.o_proj, q_rows, 1)
    for name, value in (("num_heads", len(keep) * per), ("num_key_value_heads", len(keep))):
        if hasattr(attn, name):  # attention classes of other versions keep their own counts
            setattr(attn, name, value)


def prune_ffn(block: Any, keep: torch.Tensor) -> None:
    """Keep the intermediate channels `keep` in one block's MLP."""
    mlp = block.mlp
    mlp.gate_proj = sliced_linear(mlp.gate_proj, keep, 0)
    mlp.up_proj = sliced_linear(mlp.up_proj, keep, 0)
    mlp.down_proj = sliced_linear(mlp.down_proj, keep, 1)
    if hasattr(mlp, "intermediate_size"):
        mlp.intermediate_size = len(keep)


def drop_blocks(model: torch.nn.Module, blocks: Any, keep: list[int]) -> None:
    """Keep the blocks `keep` (in order): a new ModuleList in the old one's place, each attention's layer_idx
    renumbered (the KV cache indexes by it) and the config's per-layer lists cut to match."""
    import torch

    owner = next(name for name, m in model.named_modules() if m is blocks)
    parent, _, attr = owner.rpartition(".")
    kept = torch.nn.ModuleList([blocks[i] for i in keep])
    setattr(model.get_submodule(parent) if parent else model, attr, kept)
    for new_idx, block in enumerate(kept):
        for module in block.modules():
            if hasattr(module, "layer_idx"):
                module.layer_idx = new_idx
    config = model.config
    for name in PER_LAYER_LISTS:
        values = getattr(config, name, None)
        if isinstance(values, (list, tuple)) and len(values) == config.num_hidden_layers:
            setattr(config, name, type(values)(values[i] for i in keep))
    config.num_hidden_layers = len(keep)


def _plan(model: torch.nn.Module, blocks: Any, spec: StructSpec) -> tuple[int, int, int]:
    """(head groups, FFN channels, blocks) to remove per the spec; every usage error comes before calibration."""
    config = model.config
    if config.num_attention_heads % config.num_key_value_heads:
        raise KickUsageError(
            f"{spec.id}: {config.num_attention_heads} attention heads do not split into {config.num_key_value_heads} groups."
        )
    groups = _groups_removed(config, spec) if spec.heads else 0
    channels = _count(spec.ffn, blocks[0].mlp.down_proj.in_features, "FFN channel", spec) if spec.ffn else 0
    if spec.blocks >= len(blocks):
        raise KickUsageError(f"{spec.id}: the model has {len(blocks)} decoder blocks; removing {spec.blocks} would leave none.")
    widths = {(b.mlp.down_proj.in_features, b.self_attn.o_proj.in_features) for b in blocks}
    if len(widths) > 1:
        raise KickUsageError(f"{spec.id}: the decoder blocks differ in width ({sorted(widths)}); one config cannot describe them.")
    return groups, channels, spec.blocks


def structured_compress(model: torch.nn.Module, spec: StructSpec, ctx: CompressContext) -> None:
    """Score the units on the calibration windows, remove the lowest in every block, rewrite the config."""
    import torch

    blocks = _blocks(model, spec)
    groups, channels, n_blocks = _plan(model, blocks, spec)
    config = model.config
    stats = collect_stats(model, blocks, ctx.calibration(), spec)
    per, head_dim = config.num_attention_heads // config.num_key_value_heads, _head_dim(config)
    with torch.no_grad():
        for i, block in enumerate(blocks):
            if groups:
                prune_heads(block, lowest(stats.heads[i] / stats.tokens, groups), per, head_dim)
            if channels:
                score = stats.ffn[i] / stats.tokens * block.mlp.down_proj.weight.detach().float().norm(dim=0)
                prune_ffn(block, lowest(score, channels))
    if groups:
        config.head_dim = head_dim  # explicit: hidden_size / num_attention_heads no longer gives it
        config.num_key_value_heads -= groups
        config.num_attention_heads = config.num_key_value_heads * per
    if channels:
        config.intermediate_size -= channels
    if n_blocks:
        influence = torch.tensor([1.0 - c / stats.tokens for c in stats.cosine])
        drop_blocks(model, blocks, lowest(influence, n_blocks).tolist())
    getattr(config, "validate", lambda: None)()  # a config that would not save fails here, naming the field
