"""GBLM pruning (gradient-based language model pruner, Das et al. 2023): each weight's importance is
|W| * ||X|| (Wanda's term: the l2 norm of its input channel over the calibration tokens) plus |W| * G, where G is
the l2 norm over calibration windows of the loss gradient with respect to that weight, each window's gradient
scaled by 100 (GBLM-Pruner's default). Gradients come from one backward pass per window on the dense model;
activations block by block, so a block's inputs come from the blocks already pruned before it. Weights are pruned
per output row (unstructured) or in N:M groups along the inputs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import KickUsageError
from ..runners import progress
from .llmcompressor import check_widths
from .prune import nm_mask
from .spec import PruneSpec

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from . import CompressContext

GRADIENT_SCALE = 100.0  # GBLM-Pruner's --scale: keeps fp16 gradients in range; it also weighs the gradient term


def gradient_norms(model: torch.nn.Module, layers: list[tuple[str, torch.nn.Linear]], windows: list[list[int]], label: str = "") -> dict:
    """Per target weight: sqrt(sum over windows of (GRADIENT_SCALE * dLoss/dW)^2), the language-model loss of each
    window taken on its own (as GBLM-Pruner does, batch of one)."""
    import torch

    device = next(model.parameters()).device
    was_training = model.training
    flags = {p: p.requires_grad for p in model.parameters()}
    norms = {name: torch.zeros_like(lin.weight, dtype=torch.float32) for name, lin in layers}
    try:
        for p in model.parameters():
            p.requires_grad_(False)
        for _, lin in layers:
            lin.weight.requires_grad_(True)
        model.eval()  # no dropout: the gradient of the model as it is used
        with torch.enable_grad():
            for window in progress.each(windows, f"{label or 'gblm'}: gradients", "windows"):
                ids = torch.tensor([window], device=device)
                loss = model(input_ids=ids, labels=ids, use_cache=False).loss
                loss.backward()
                for name, lin in layers:
                    norms[name] += (lin.weight.grad.float() * GRADIENT_SCALE) ** 2
                    lin.weight.grad = None
    finally:
        for p, flag in flags.items():
            p.requires_grad_(flag)
        model.train(was_training)
    return {name: n.sqrt_() for name, n in norms.items()}


def decoder_blocks(model: torch.nn.Module) -> Any:
    """The model's list of transformer blocks (the first ModuleList of numbered blocks holding linear layers)."""
    import torch

    for _, module in model.named_modules():
        if (
            isinstance(module, torch.nn.ModuleList)
            and len(module)
            and all(any(isinstance(m, torch.nn.Linear) for m in block.modules()) for block in module)
        ):
            return module
    raise KickUsageError(f"gblm: found no list of transformer blocks in {type(model).__name__}")


def _block_inputs(model: torch.nn.Module, blocks: Any, windows: list[list[int]]) -> list[tuple[Any, dict]]:
    """(hidden states, keyword arguments) that the first block receives for each window: the model runs up to it."""
    import torch

    device = next(model.parameters()).device
    caught: list[tuple[Any, dict]] = []

    class _Stop(Exception):
        pass

    def catch(_module, args, kwargs):
        hidden = args[0] if args else kwargs.pop("hidden_states")
        caught.append((hidden, {k: v for k, v in kwargs.items() if k not in ("past_key_values", "past_key_value")}))
        raise _Stop

    handle = blocks[0].register_forward_pre_hook(catch, with_kwargs=True)
    try:
        for window in windows:
            try:
                model(input_ids=torch.tensor([window], device=device), use_cache=False)
            except _Stop:
                pass
    finally:
        handle.remove()
    return caught


def _row_mask(score: torch.Tensor, spec: PruneSpec) -> torch.Tensor:
    """Keep-mask: per output row the lowest round(sparsity * inputs) scores go (ties by position), or N:M."""
    import torch

    if spec.n is not None:
        return nm_mask(score, spec.n, spec.m)
    k = int(round(spec.sparsity * score.shape[1]))
    mask = torch.ones_like(score, dtype=torch.bool)
    if k:
        mask.scatter_(1, torch.sort(score, dim=1, stable=True).indices[:, :k], False)
    return mask


def gblm_compress(model: torch.nn.Module, spec: PruneSpec, ctx: CompressContext) -> None:
    import torch

    layers = ctx.layers(model)
    check_widths(spec, layers)  # before the gradient pass: an N:M block that does not fit fails at once
    windows = ctx.calibration()
    grads = gradient_norms(model, layers, windows, f"compress {spec}")
    blocks = decoder_blocks(model)
    owner = {id(lin): name for name, lin in layers}
    with torch.no_grad():
        states = _block_inputs(model, blocks, windows)
        for block in progress.each(blocks, f"compress {spec}: prune", "blocks"):
            mine = [(owner[id(m)], m) for m in block.modules() if id(m) in owner]
            sums = {name: torch.zeros(lin.in_features, dtype=torch.float32, device=lin.weight.device) for name, lin in mine}
            hooks = [lin.register_forward_hook(_accumulate(sums[name])) for name, lin in mine]
            try:
                for hidden, kwargs in states:
                    block(hidden, **kwargs)
            finally:
                for h in hooks:
                    h.remove()
            for name, lin in mine:
                act = (sums[name] / len(windows)).sqrt()  # GBLM-Pruner / Wanda: per-window sum of squares, averaged
                w = lin.weight.abs().float()
                score = w * act[None, :] + w * grads[name].to(w.device)
                lin.weight.mul_(_row_mask(score, spec).to(lin.weight.dtype))
            states = [(_hidden(block(hidden, **kwargs)), kwargs) for hidden, kwargs in states]  # through the pruned block


def _accumulate(total: torch.Tensor):
    def hook(_module, args, _out):
        x = args[0].detach().float().reshape(-1, args[0].shape[-1])
        total.add_((x * x).sum(dim=0))

    return hook


def _hidden(out: Any) -> Any:
    return out[0] if isinstance(out, tuple) else out
