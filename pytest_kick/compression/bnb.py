"""bitsandbytes: LLM.int8 and NF4 are applied by transformers while loading (BitsAndBytesConfig)."""

from __future__ import annotations

from typing import Any

from .spec import BnbSpec


def load_kwargs(spec: BnbSpec, dtype: Any) -> dict:
    """from_pretrained keyword arguments that load the model quantized; NF4 computes in the run's dtype."""
    from transformers import BitsAndBytesConfig

    if spec.mode == "int8":
        config = BitsAndBytesConfig(load_in_8bit=True)
    else:
        config = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=dtype)
    return {"quantization_config": config}
