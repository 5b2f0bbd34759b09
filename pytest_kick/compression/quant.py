"""Round-to-nearest symmetric weight quantization (per output channel or per group of inputs), simulated in place."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import KickUsageError
from ..runners import progress
from .spec import RTNSpec

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from . import CompressContext


def rtn_quantize(weight: torch.Tensor, bits: int, group_size: int | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Integer codes in [-2^(b-1), 2^(b-1)-1] and one scale per row (or per row and group), so w ≈ q * scale."""
    import torch

    out_f, in_f = weight.shape
    g = group_size or in_f
    if in_f % g:
        raise KickUsageError(f"group size {g} does not divide the layer width {in_f}; pick a divisor of {in_f}")
    w = weight.detach().to(torch.float32).reshape(out_f, in_f // g, g)
    qmax = 2 ** (bits - 1) - 1
    scale = w.abs().amax(dim=-1, keepdim=True) / qmax
    scale = torch.where(scale == 0, torch.ones_like(scale), scale)
    q = torch.clamp(torch.round(w / scale), -qmax - 1, qmax)
    return q.reshape(out_f, in_f), scale.squeeze(-1)


def rtn_compress(model: torch.nn.Module, spec: RTNSpec, ctx: CompressContext) -> None:
    import torch

    with torch.no_grad():
        for _, lin in progress.each(ctx.layers(model), f"compress {spec}", "layers"):
            q, scale = rtn_quantize(lin.weight, spec.bits, spec.group_size)
            g = spec.group_size or lin.weight.shape[1]
            deq = (q.reshape(q.shape[0], -1, g) * scale[..., None]).reshape(q.shape)
            lin.weight.copy_(deq.to(lin.weight.dtype))
