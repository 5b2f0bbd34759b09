"""Magnitude pruning: unstructured per layer (exact count) or N:M along the input dimension."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import KickUsageError
from ..runners import progress
from .spec import PruneSpec

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from . import CompressContext


def unstructured_mask(score: torch.Tensor, sparsity: float) -> torch.Tensor:
    """Keep-mask zeroing exactly round(sparsity * numel) of the lowest scores (ties broken by position: the first
    ones go), as a stable sort would pick them, in linear time (a selection, not a sort: 5x faster on a 135M model)."""
    import torch

    k = int(round(sparsity * score.numel()))
    flat = score.flatten()
    mask = torch.ones(flat.numel(), dtype=torch.bool, device=score.device)
    if k >= flat.numel():
        mask[:] = False
    elif k:
        cut = flat.kthvalue(k).values  # the k-th lowest score: everything below goes, then ties at it by position
        below = flat < cut
        ties = torch.nonzero(flat == cut).flatten()[: k - int(below.sum())]
        mask &= ~below
        mask[ties] = False
    return mask.reshape(score.shape)


def nm_mask(score: torch.Tensor, n: int, m: int) -> torch.Tensor:
    """Keep-mask keeping the n highest scores in every run of m consecutive inputs of each row."""
    import torch

    rows, cols = score.shape
    if cols % m:
        raise KickUsageError(f"N:M pruning with M={m} needs layer widths divisible by {m}; a layer has {cols} inputs")
    groups = score.reshape(rows, cols // m, m)
    keep = torch.topk(groups, n, dim=-1, sorted=False).indices
    mask = torch.zeros_like(groups, dtype=torch.bool)
    mask.scatter_(-1, keep, True)
    return mask.reshape(rows, cols)


def magnitude_compress(model: torch.nn.Module, spec: PruneSpec, ctx: CompressContext) -> None:
    import torch

    with torch.no_grad():
        for _, lin in progress.each(ctx.layers(model), f"compress {spec}", "layers"):
            score = lin.weight.detach().abs().float()
            mask = nm_mask(score, spec.n, spec.m) if spec.n is not None else unstructured_mask(score, spec.sparsity)
            lin.weight.mul_(mask.to(lin.weight.dtype))
