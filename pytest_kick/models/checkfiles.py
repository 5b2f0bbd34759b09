"""A model directory checked at start-up from its headers and JSON, in milliseconds and without reading the weights:
every safetensors file's header and the byte ranges of its tensors against the file's size (and a sharded
checkpoint's index against its shards), the config (a model type, a well-formed `quantization_config`), the
embedding's shape against the config's vocabulary and width, the decoder layers the weights hold and the shapes
of their attention and MLP projections against the config (a config with more layers than the weights would have
transformers fill the missing ones with random numbers, with only a log line), and a tokenizer to load. A damaged download is then a
usage error naming the file, not a traceback in every test."""

from __future__ import annotations

import json
import math
import re
import struct
from pathlib import Path
from typing import Any

from ..errors import KickUsageError

DTYPE_BYTES = {
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1, "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
    "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8,
}  # fmt: skip
EMBEDDINGS = ("embed_tokens.weight", "wte.weight", "word_embeddings.weight", "tok_embeddings.weight")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json", "vocab.txt", "spiece.model")


def text_config(config: dict) -> dict:
    """The language model's part of a config.json (a multimodal model's `text_config`; else the config itself)."""
    return config["text_config"] if isinstance(config.get("text_config"), dict) else config


def dims(shape) -> str:
    """A tensor shape in words: '128 x 256'."""
    return " x ".join(map(str, shape))


def safetensors_header(path: Path, where: str = "") -> dict[str, Any]:
    """The tensors a safetensors file declares ({name: {dtype, shape, data_offsets}}), each checked to lie inside the
    file with the size its dtype and shape imply; raises KickUsageError naming the file and the first bad tensor."""
    try:
        return _header(path)
    except KickUsageError as exc:
        if not where:
            raise
        raise KickUsageError(f"{where}: {str(exc).replace(str(path), path.name, 1)}") from None


def _header(path: Path) -> dict[str, Any]:
    size = path.stat().st_size
    with open(path, "rb") as fh:
        raw = fh.read(8)
        if len(raw) < 8:
            raise KickUsageError(f"{path}: {size} bytes, too short for a safetensors header: truncated")
        (length,) = struct.unpack("<Q", raw)
        if length > min(size - 8, 100 << 20):
            raise KickUsageError(f"{path}: its header claims {length} bytes but the file has {size}: truncated or not safetensors")
        try:
            header = json.loads(fh.read(length))
        except ValueError as exc:
            raise KickUsageError(f"{path}: its safetensors header is not JSON ({exc}): damaged") from None
    if not isinstance(header, dict):
        raise KickUsageError(f"{path}: its safetensors header is not an object: damaged")
    body = size - 8 - length
    tensors = {k: v for k, v in header.items() if k != "__metadata__"}
    for name, info in tensors.items():
        ok = isinstance(info, dict) and info.get("dtype") in DTYPE_BYTES and isinstance(info.get("shape"), list)
        offsets = info.get("data_offsets") if ok else None
        if not ok or not (isinstance(offsets, list) and len(offsets) == 2 and all(isinstance(o, int) for o in offsets)):
            raise KickUsageError(f"{path}: tensor {name!r} has no valid dtype, shape and data offsets: damaged")
        begin, end = offsets
        expected = math.prod(info["shape"]) * DTYPE_BYTES[info["dtype"]]
        if end > body:
            raise KickUsageError(
                f"{path}: tensor {name!r} ends at byte {end} of a {body}-byte body: the file is truncated; download or save it again"
            )
        if end - begin != expected:
            raise KickUsageError(f"{path}: tensor {name!r} takes {end - begin} bytes, its shape {info['shape']} needs {expected}: damaged")
    return tensors


def check_checkpoint(folder: Path, flag: str, config: dict) -> None:
    """Everything about a model directory that can be known without loading it (see the module docstring)."""
    where = f"{flag} {folder}"
    if not isinstance(config.get("model_type"), str) or not config["model_type"]:
        raise KickUsageError(f"{where}: config.json names no model_type; save the model again with save_pretrained()")
    quant = config.get("quantization_config")
    if quant is not None and not (isinstance(quant, dict) and isinstance(quant.get("quant_method", ""), str)):
        raise KickUsageError(f"{where}: quantization_config in config.json must be an object with a quant_method, got {quant!r}"[:300])
    tensors: dict[str, Any] = {}
    for path in sorted(folder.glob("*.safetensors")):
        tensors.update(safetensors_header(path, where))
    _check_index(folder, where, tensors)
    _check_embedding(where, config, tensors)
    check_layers(where, config, tensors)
    if not any((folder / name).is_file() for name in TOKENIZER_FILES):
        raise KickUsageError(f"{where}: no tokenizer files ({', '.join(TOKENIZER_FILES)}); save the tokenizer beside the model")
    if (folder / "tokenizer.json").is_file():
        try:
            json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise KickUsageError(f"{where}: tokenizer.json is not valid JSON ({exc}); save the tokenizer again") from None


def _check_index(folder: Path, where: str, tensors: dict) -> None:
    index = folder / "model.safetensors.index.json"
    if not index.is_file():
        return
    try:
        weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise KickUsageError(f"{where}: {index.name} has no weight_map: damaged") from None
    for name, shard in weight_map.items():
        if not (folder / shard).is_file():
            raise KickUsageError(f"{where}: {index.name} puts {name!r} in {shard}, which is missing: download the checkpoint again")
        if name not in tensors:
            raise KickUsageError(f"{where}: {index.name} puts {name!r} in {shard}, whose header does not have it: damaged")


def _check_embedding(where: str, config: dict, tensors: dict) -> None:
    """The token embedding's shape against the config's vocabulary and width (a config over other weights)."""
    text = text_config(config)
    vocab, width = text.get("vocab_size"), text.get("hidden_size")
    embedding = next((v for k, v in tensors.items() if k.endswith(EMBEDDINGS)), None)
    if embedding is None or not isinstance(vocab, int) or not isinstance(width, int) or len(embedding["shape"]) != 2:
        return
    if embedding["dtype"] in ("I32", "U8", "I8") or "quantization_config" in config:
        return  # packed: its shape is not the logical one
    rows, cols = embedding["shape"]
    if (rows, cols) != (vocab, width):
        raise KickUsageError(
            f"{where}: the token embedding is {rows} x {cols} but config.json says vocab_size {vocab}, hidden_size {width}: "
            "the config does not belong to these weights"
        )


LAYER = re.compile(r"\.(?:layers|h|blocks|layer)\.(\d+)\.")


def projection_shapes(config: dict) -> dict[str, tuple[int, int]]:
    """The logical [out, in] shape of each Llama-style projection (q/k/v/o, gate/up/down) the config implies
    ({} when the config does not say enough)."""
    text = text_config(config)
    width, heads, inner = text.get("hidden_size"), text.get("num_attention_heads"), text.get("intermediate_size")
    if not all(isinstance(v, int) and v > 0 for v in (width, heads)):
        return {}
    kv = text.get("num_key_value_heads") if isinstance(text.get("num_key_value_heads"), int) else heads
    head_dim = text.get("head_dim") if isinstance(text.get("head_dim"), int) else width // heads
    shapes = {"q_proj": (heads * head_dim, width), "k_proj": (kv * head_dim, width), "v_proj": (kv * head_dim, width)}
    shapes["o_proj"] = (width, heads * head_dim)
    if isinstance(inner, int) and inner > 0:
        shapes.update(gate_proj=(inner, width), up_proj=(inner, width), down_proj=(width, inner))
    return shapes


def check_layers(where: str, config: dict, tensors: dict) -> None:
    """The number of decoder layers in the weights, and (unpacked weights) every Llama-style projection's shape,
    against config.json. A model with other towers (a `text_config`: vision, audio) is not checked here."""
    if "text_config" in config:
        return
    depth = config.get("num_hidden_layers", config.get("n_layer"))
    found = {int(m.group(1)) for name in tensors if (m := LAYER.search(name))}
    if found and isinstance(depth, int) and not isinstance(depth, bool) and depth != max(found) + 1:
        raise KickUsageError(
            f"{where}: the weights hold {max(found) + 1} decoder layers but config.json says {depth}: "
            "the config does not belong to these weights"
        )
    if "quantization_config" in config:
        return  # packed shapes are the quantizer's, not the logical ones
    expected = projection_shapes(config)
    for name, info in sorted(tensors.items()):
        parts = name.split(".")
        if len(parts) < 2 or parts[-1] != "weight" or parts[-2] not in expected or info["dtype"] in ("I32", "U8", "I8"):
            continue
        if tuple(info["shape"]) != expected[parts[-2]]:
            raise KickUsageError(
                f"{where}: {name} is {dims(info['shape'])} but config.json implies {dims(expected[parts[-2]])}: "
                "the config does not belong to these weights"
            )
