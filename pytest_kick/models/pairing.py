"""Is the compressed model a compressed form of the dense one? `--kick-compressed` names a checkpoint the run did
not make: before any test, its tokenizer (vocabulary, special tokens, the ids of a probe text) and its architecture
(family, width, depth) and its tensors (the dense model's layers, none grown, no more parameters: the relation
every method keeps) are compared with `--kick-model`'s, from the files' headers and JSON only (milliseconds; no
weights read, no model built). A mismatch is a usage error naming both, unless `--kick-pair-any` says the pairing
is deliberate (the summary then says it was not checked)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from pathlib import Path

from ..errors import KickUsageError
from ..sources import gguf_metadata
from .checkfiles import dims, safetensors_header, text_config

PROBE = "Compressed models must read text exactly as the dense one: café, naïve, 1234, <tags>, emoji 🙂."


@dataclass(frozen=True)
class PairFacts:
    """What must agree between the two models (None: not known from the files)."""

    family: str | None = None
    width: int | None = None
    depth: int | None = None
    vocab: tuple[str, ...] | None = None  # token strings by id
    specials: tuple[str | None, str | None] = (None, None)  # (bos, eos) as text
    probe: tuple[int, ...] | None = None  # the ids of PROBE (a tokenizer.json on both sides)
    kind: str = "dir"  # "gguf" or "dir": where the facts were read
    shapes: dict[str, tuple[int, ...]] | None = None  # safetensors tensors' shapes by name (a model directory)
    packed: bool = False  # a quantization_config: shapes are the quantizer's packing, not the logical ones


def facts(path: Path) -> PairFacts:
    return _gguf_facts(path) if path.is_file() else _dir_facts(path)


def _gguf_facts(path: Path) -> PairFacts:
    meta = gguf_metadata(path)
    arch = meta.get("general.architecture")
    tokens = meta.get("tokenizer.ggml.tokens")
    vocab = tuple(tokens) if isinstance(tokens, list) else None

    def token(key: str) -> str | None:
        i = meta.get(key)
        return vocab[i] if vocab is not None and isinstance(i, int) and 0 <= i < len(vocab) else None

    specials = (token("tokenizer.ggml.bos_token_id"), token("tokenizer.ggml.eos_token_id"))
    return PairFacts(arch, meta.get(f"{arch}.embedding_length"), meta.get(f"{arch}.block_count"), vocab, specials, kind="gguf")


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _dir_facts(folder: Path) -> PairFacts:
    config = _read_json(folder / "config.json")
    text = text_config(config)
    vocab = probe = None
    tokenizer = folder / "tokenizer.json"
    if tokenizer.is_file():
        vocab = _vocab(_read_json(tokenizer))
        try:
            from tokenizers import Tokenizer

            probe = tuple(Tokenizer.from_file(str(tokenizer)).encode(PROBE).ids)
        except Exception:  # an unreadable tokenizer.json is the loader's to report, with its own message
            probe = None
    settings = _read_json(folder / "tokenizer_config.json")
    specials = (_special(settings.get("bos_token")), _special(settings.get("eos_token")))
    facts = PairFacts(config.get("model_type"), text.get("hidden_size"), text.get("num_hidden_layers"), vocab, specials, probe)
    return replace(facts, shapes=_shapes(folder), packed="quantization_config" in config)


def _shapes(folder: Path) -> dict[str, tuple[int, ...]] | None:
    shapes: dict[str, tuple[int, ...]] = {}
    try:
        for path in sorted(folder.glob("*.safetensors")):
            shapes.update({k: tuple(v["shape"]) for k, v in safetensors_header(path).items()})
    except KickUsageError:
        return None  # a damaged file is reported by the model directory's own check
    return shapes or None


def parameter_relation(dense: PairFacts, comp: PairFacts) -> str | None:
    """The relation every compression method keeps, in words where it is broken: the compressed model's layers are
    the dense model's (every quantized module has a dense weight of that name); an unpacked compressed tensor has
    the dense name and no dimension larger (pruning keeps or shrinks, never grows); it has no more parameters."""
    if dense.shapes is None or comp.shapes is None or dense.packed:
        return None
    if comp.packed:
        known = {k.rsplit(".", 1)[0] for k in dense.shapes} | set(dense.shapes)
        stray = sorted(k for k in comp.shapes if not _ancestors(k) & known and not k.endswith(_TIED))
        return f"the compressed checkpoint has {stray[0]!r}, from no layer of the dense model" if stray else None
    for name, shape in sorted(comp.shapes.items()):
        have = dense.shapes.get(name)
        if have is None:
            if not name.endswith(_TIED):
                return f"the compressed checkpoint has tensor {name!r}, which the dense model does not"
        elif len(have) != len(shape) or any(c > d for c, d in zip(shape, have)):
            return f"{name} is {dims(shape)} in the compressed model but {dims(have)} in the dense one (compression never grows a tensor)"
    total_d, total_c = (sum(math.prod(s) for s in f.shapes.values()) for f in (dense, comp))  # type: ignore[union-attr]
    if total_c > total_d:
        return f"the compressed model has more parameters ({total_c:,}) than the dense one ({total_d:,})"
    return None


_TIED = ("lm_head.weight",)  # saved by one side only when the output layer is tied to the embedding


def _ancestors(name: str) -> set[str]:
    """'a.b.c' -> {'a.b.c', 'a.b', 'a'}: a packed tensor (q_proj.qweight, q_proj.weight.absmax) under a dense layer."""
    parts = name.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts) + 1)}


def _special(value) -> str | None:
    if isinstance(value, dict):
        value = value.get("content")
    return value if isinstance(value, str) else None


def _vocab(data: dict) -> tuple[str, ...] | None:
    """Token strings by id from a tokenizer.json (BPE / WordPiece: a token -> id map; Unigram: [token, score] pairs),
    with its added tokens."""
    model = data.get("model") if isinstance(data.get("model"), dict) else {}
    raw = model.get("vocab")
    by_id: dict[int, str] = {}
    if isinstance(raw, dict):
        by_id = {i: t for t, i in raw.items() if isinstance(i, int)}
    elif isinstance(raw, list):
        by_id = {i: pair[0] for i, pair in enumerate(raw) if isinstance(pair, list) and pair}
    for added in data.get("added_tokens") or []:
        if isinstance(added, dict) and isinstance(added.get("id"), int):
            by_id[added["id"]] = added.get("content", "")
    if not by_id:
        return None
    return tuple(by_id.get(i, "") for i in range(max(by_id) + 1))


def mismatches(dense: PairFacts, comp: PairFacts) -> list[str]:
    """What differs, in words (only what both sides' files say)."""
    out = []
    for what, d, c in (("architecture", dense.family, comp.family), ("hidden size", dense.width, comp.width)):
        if d is not None and c is not None and d != c:
            out.append(f"{what} {d} vs {c}")
    if dense.depth is not None and comp.depth is not None and dense.depth != comp.depth:
        out.append(f"{dense.depth} vs {comp.depth} layers")
    if dense.vocab is not None and comp.vocab is not None and dense.vocab != comp.vocab:
        first = next((i for i, (a, b) in enumerate(zip(dense.vocab, comp.vocab)) if a != b), min(len(dense.vocab), len(comp.vocab)))
        shown = (dense.vocab[first] if first < len(dense.vocab) else "-", comp.vocab[first] if first < len(comp.vocab) else "-")
        out.append(
            f"vocabulary of {len(dense.vocab)} vs {len(comp.vocab)} tokens (first difference at id {first}: {shown[0]!r} vs {shown[1]!r})"
        )
    # special tokens as text only between two tokenizer configs: a GGUF's ids and the tokenizer_config.json that
    # transformers writes when it converts one do not always name the same token (its eos as <|im_start|>)
    for name, d, c in zip(("BOS", "EOS"), dense.specials, comp.specials):
        if dense.kind == comp.kind == "dir" and d is not None and c is not None and d != c:
            out.append(f"{name} token {d!r} vs {c!r}")
    if dense.probe is not None and comp.probe is not None and dense.probe != comp.probe:
        out.append("a probe text encodes to other token ids")
    relation = parameter_relation(dense, comp)
    if relation:
        out.append(relation)
    return out


def check_pair(dense: Path, compressed: Path) -> None:
    """A usage error naming both models when the compressed one cannot be a compressed form of the dense one."""
    problems = mismatches(facts(dense), facts(compressed))
    if problems:
        raise KickUsageError(
            f"--kick-compressed {compressed} does not match --kick-model {dense}: {'; '.join(problems)}. Pass the checkpoint "
            "made from this dense model, or --kick-pair-any if the pairing is deliberate (the summary then says so)."
        )
