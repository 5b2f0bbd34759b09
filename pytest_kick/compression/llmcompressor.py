"""llm-compressor (vLLM project) backend: GPTQ, AWQ, SparseGPT and Wanda through `oneshot` on our calibration
windows and layer selection. The model is changed in place; save_pretrained then writes compressed-tensors."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

from ..errors import KickUsageError
from .spec import CompressionSpec, PruneSpec, QuantSpec

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from . import CompressContext

_ACTORDER = {None: None, "act": "group", "static": "static"}


def check_widths(spec: CompressionSpec, layers: list[tuple[str, torch.nn.Linear]]) -> None:
    """Group size and N:M block must divide every selected layer's input width; say which layer does not."""
    if isinstance(spec, QuantSpec):
        if spec.group_size is None:
            return
        block, what = spec.group_size, f"group size {spec.group_size}"
    elif isinstance(spec, PruneSpec) and spec.m is not None:
        block, what = spec.m, f"N:M block of {spec.m}"
    else:
        return
    for name, lin in layers:
        if lin.in_features % block:
            raise KickUsageError(
                f"{spec.id}: the {what} does not divide the width {lin.in_features} of layer {name}; "
                f"pick a divisor of {lin.in_features} (or leave that layer out with --kick-targets/--kick-skip-*)."
            )


def _weights(spec: QuantSpec, symmetric: bool):
    from compressed_tensors.quantization import QuantizationArgs, QuantizationScheme

    strategy = "group" if spec.group_size else "channel"
    args = QuantizationArgs(num_bits=spec.bits, type="int", symmetric=symmetric, strategy=strategy, group_size=spec.group_size)
    return {"group_0": QuantizationScheme(targets=["Linear"], weights=args)}


def recipe(spec: CompressionSpec, ignored: list[str]) -> list:
    """The llm-compressor modifiers for a spec. Our N:M keeps N of every M; llm-compressor's names the pruned count.

    Ignored layers are given as anchored regexes that also match "name." : the 0.14 pruning modifiers look up a
    Linear targeted directly under the name "<name>." and would otherwise prune an ignored LM head."""
    ignore = [f"re:^{re.escape(n)}\\.?$" for n in ignored]
    if isinstance(spec, QuantSpec) and spec.method == "gptq":
        from llmcompressor.modifiers.quantization import GPTQModifier

        return [GPTQModifier(config_groups=_weights(spec, True), ignore=ignore, actorder=_ACTORDER[spec.act_order])]
    if isinstance(spec, QuantSpec) and spec.method == "awq":
        from llmcompressor.modifiers.quantization import QuantizationModifier
        from llmcompressor.modifiers.transform import AWQModifier

        return [AWQModifier(), QuantizationModifier(config_groups=_weights(spec, False), ignore=ignore)]
    if isinstance(spec, PruneSpec) and spec.method in ("wanda", "sparsegpt"):
        if spec.method == "wanda":
            from llmcompressor.modifiers.pruning import WandaPruningModifier as Modifier
        else:
            from llmcompressor.modifiers.pruning import SparseGPTModifier as Modifier
        if spec.n is not None:
            sparsity, structure = 1 - spec.n / spec.m, f"{spec.m - spec.n}:{spec.m}"
        else:
            sparsity, structure = spec.sparsity, "0:0"
        return [Modifier(sparsity=sparsity, mask_structure=structure, targets=["Linear"], ignore=ignore)]
    raise KickUsageError(f"the llmcompressor backend has no recipe for {spec.id}")


@contextlib.contextmanager
def _cpu_safe() -> Iterator[None]:
    """llm-compressor 0.14 pins cached activations to page-locked memory before AWQ's grid search, which raises
    without an accelerator. Pinning only speeds host-to-GPU copies, so on a CPU-only machine it is skipped."""
    import torch
    from llmcompressor.pipelines.cache import IntermediatesCache

    if torch.cuda.is_available():
        yield
        return
    original = IntermediatesCache.pin_memory
    IntermediatesCache.pin_memory = lambda self, *args, **kwargs: None  # type: ignore[method-assign]
    try:
        yield
    finally:
        IntermediatesCache.pin_memory = original  # type: ignore[method-assign]


def compress(model: torch.nn.Module, spec: CompressionSpec, ctx: CompressContext) -> None:
    import torch
    from datasets import Dataset
    from llmcompressor import oneshot

    check_widths(spec, ctx.layers(model))
    windows = ctx.calibration()
    data = Dataset.from_dict({"input_ids": windows, "attention_mask": [[1] * len(w) for w in windows]})
    torch.manual_seed(ctx.settings.seed)
    with _cpu_safe(), torch.enable_grad():
        oneshot(
            model=model,
            tokenizer=ctx.tokenizer,
            dataset=data,
            recipe=recipe(spec, ctx.ignored(model)),
            num_calibration_samples=len(windows),
            max_seq_length=ctx.settings.calibration.seqlen,
            shuffle_calibration_samples=False,
        )
