"""GPT-QModel backend (what transformers 5 delegates GPTQ/AWQ checkpoints to): quantizes from the dense model's
directory and writes a GPTQ/AWQ checkpoint that transformers loads with gptqmodel's kernels. Optional: it brings
its own CUDA build of torch, so it is never a CI requirement."""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING

from .llmcompressor import check_widths
from .spec import QuantSpec

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from . import CompressContext, SavedCheckpoint


def compress(model: torch.nn.Module, spec: QuantSpec, ctx: CompressContext) -> SavedCheckpoint:
    """Quantize ctx.source_dir into ctx.out_dir; returns SavedCheckpoint (the caller must not save `model`)."""
    if ctx.source_dir is None or ctx.out_dir is None:
        raise RuntimeError("the gptqmodel backend quantizes from a model directory; call it through compressed_handle")
    os.environ.setdefault("GPTQMODEL_CPU_WORKERS", str(max(1, min(os.cpu_count() or 1, 4))))
    from gptqmodel import AWQConfig, GPTQModel, QuantizeConfig

    check_widths(spec, ctx.layers(model))
    head = model.get_output_embeddings()
    # Layers the selection leaves out are skipped through gptqmodel's `dynamic` overrides ("-:" = do not quantize);
    # the LM head is never quantized by gptqmodel unless asked, so it needs no entry.
    skipped = {f"-:^{re.escape(n)}$": {} for n in ctx.ignored(model) if model.get_submodule(n) is not head}
    common = dict(bits=spec.bits, group_size=spec.group_size or -1, dynamic=skipped or None)
    if spec.method == "awq":
        qcfg = AWQConfig(sym=False, **common)
    else:
        qcfg = QuantizeConfig(desc_act=spec.act_order is not None, static_groups=spec.act_order == "static", **common)
    windows = ctx.calibration()
    gq = GPTQModel.load(str(ctx.source_dir), qcfg, device="cuda" if _cuda() else "cpu")
    gq.quantize([{"input_ids": w, "attention_mask": [1] * len(w)} for w in windows], tokenizer=ctx.tokenizer)
    gq.save(str(ctx.out_dir))
    ctx.tokenizer.save_pretrained(str(ctx.out_dir))
    from . import SavedCheckpoint

    return SavedCheckpoint(ctx.out_dir)


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()
