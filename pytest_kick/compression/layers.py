"""Which layers a compressor touches: the linear layers of the transformer blocks, never embeddings or LM head."""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

if TYPE_CHECKING:  # pragma: no cover
    import torch


def target_linears(model: "torch.nn.Module") -> Iterator[tuple[str, "torch.nn.Linear"]]:
    """(name, module) for every nn.Linear except the output head (tied or not)."""
    import torch

    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.Linear) and module is not head:
            yield name, module
