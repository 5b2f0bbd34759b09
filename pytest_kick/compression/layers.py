"""Which layers a compressor touches: linear layers of the transformer blocks (never the LM head), narrowed by
module patterns and by skipping the first/last blocks. Every method, built-in or library, uses this one selection."""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import KickUsageError

if TYPE_CHECKING:  # pragma: no cover
    import torch

_BLOCK = re.compile(r"\.(\d+)\.")


@dataclass(frozen=True)
class LayerSelection:
    """`targets`: module-name patterns (`mlp`, `q_proj`, `self_attn.*_proj`, or full glob); empty = all."""

    targets: tuple[str, ...] = ()
    skip_first: int = 0
    skip_last: int = 0

    def to_dict(self) -> dict:
        return {"targets": list(self.targets), "skip_first": self.skip_first, "skip_last": self.skip_last}


def all_linears(model: torch.nn.Module) -> list[tuple[str, torch.nn.Linear]]:
    """(name, module) for every nn.Linear except the output head (tied or not)."""
    import torch

    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    return [(n, m) for n, m in model.named_modules() if isinstance(m, torch.nn.Linear) and m is not head]


def _matches(name: str, pattern: str) -> bool:
    return any(fnmatch.fnmatchcase(name, p) for p in (pattern, f"*.{pattern}", f"*.{pattern}.*"))


def block_of(name: str) -> int | None:
    m = _BLOCK.search(name)
    return int(m.group(1)) if m else None


def target_linears(model: torch.nn.Module, sel: LayerSelection = LayerSelection()) -> list[tuple[str, torch.nn.Linear]]:
    """The selected linear layers; a pattern that matches nothing or a skip that leaves nothing is an error."""
    layers = all_linears(model)
    for pattern in sel.targets:
        if not any(_matches(n, pattern) for n, _ in layers):
            sample = ", ".join(n for n, _ in layers[:4])
            raise KickUsageError(f"--kick-targets pattern {pattern!r} matches no linear layer (layers look like: {sample}, ...)")
    if sel.targets:
        layers = [(n, m) for n, m in layers if any(_matches(n, p) for p in sel.targets)]
    if sel.skip_first or sel.skip_last:
        blocks = sorted({b for n, _ in layers if (b := block_of(n)) is not None})
        if sel.skip_first + sel.skip_last >= len(blocks):
            raise KickUsageError(
                f"--kick-skip-first={sel.skip_first} and --kick-skip-last={sel.skip_last} leave none of the model's "
                f"{len(blocks)} blocks to compress."
            )
        keep = set(blocks[sel.skip_first : len(blocks) - sel.skip_last])
        layers = [(n, m) for n, m in layers if block_of(n) is None or block_of(n) in keep]
    return layers
