"""Compression specs: the string grammar (`rtn4-g128`, `magnitude-2:4`) parsed once into frozen dataclasses."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class CompressionSpec:
    """Base of every parsed spec. `id` is the canonical text (used in test ids and cache keys)."""

    @property
    def family(self) -> str:  # pragma: no cover - overridden
        raise NotImplementedError

    @property
    def id(self) -> str:  # pragma: no cover - overridden
        raise NotImplementedError

    def to_dict(self) -> dict:
        return {"family": self.family, **dataclasses.asdict(self)}

    def __str__(self) -> str:
        return self.id


@dataclass(frozen=True)
class RTNSpec(CompressionSpec):
    """Symmetric round-to-nearest weight quantization; per output channel when `group_size` is None."""

    bits: int
    group_size: int | None = None

    family = "rtn"  # type: ignore[assignment]

    @property
    def id(self) -> str:
        return f"rtn{self.bits}" + (f"-g{self.group_size}" if self.group_size else "")


@dataclass(frozen=True)
class PruneSpec(CompressionSpec):
    """Pruning: unstructured at `sparsity` (0..1, per layer) or N:M (keep n of every m consecutive inputs)."""

    method: str
    sparsity: float | None = None
    n: int | None = None
    m: int | None = None

    @property
    def family(self) -> str:  # type: ignore[override]
        return self.method

    @property
    def id(self) -> str:
        if self.n is not None:
            return f"{self.method}-{self.n}:{self.m}"
        pct = self.sparsity * 100
        return f"{self.method}{int(pct) if float(pct).is_integer() else pct:g}"


@dataclass(frozen=True)
class QuantSpec(CompressionSpec):
    """Calibrated weight-only integer quantization (GPTQ, AWQ): `bits`, one scale per output channel, or per
    `group_size` inputs when given (as RTN; per-channel is the GPTQ paper's setting and fits every layer width).

    `act_order`: None (columns in order), "act" (descending activation order, groups follow it; GPTQ's desc_act)
    or "static" (activation order with fixed groups, free at inference)."""

    method: str
    bits: int
    group_size: int | None = None
    act_order: str | None = None

    @property
    def family(self) -> str:  # type: ignore[override]
        return self.method

    @property
    def id(self) -> str:
        text = f"{self.method}{self.bits}"
        if self.group_size:
            text += f"-g{self.group_size}"
        return text + (f"-{self.act_order}" if self.act_order else "")


@dataclass(frozen=True)
class BnbSpec(CompressionSpec):
    """bitsandbytes quantization applied while loading: LLM.int8 ('int8') or 4-bit NormalFloat ('nf4')."""

    mode: str

    @property
    def family(self) -> str:  # type: ignore[override]
        return self.mode

    @property
    def id(self) -> str:
        return self.mode


@dataclass(frozen=True)
class NamedSpec(CompressionSpec):
    """A team's own method registered with @compression_method: its name and the text after it (`noise0.01`)."""

    name: str
    arg: str = ""

    @property
    def family(self) -> str:  # type: ignore[override]
        return self.name

    @property
    def id(self) -> str:
        return self.name + self.arg


@dataclass(frozen=True)
class CheckpointSpec(CompressionSpec):
    """Stands for an already-compressed checkpoint given with --kick-compressed."""

    path: str

    family = "checkpoint"  # type: ignore[assignment]

    @property
    def id(self) -> str:
        from pathlib import Path

        return f"checkpoint:{Path(self.path).name}"


@dataclass(frozen=True)
class StructSpec(CompressionSpec):
    """Structured pruning: remove whole units so the model really shrinks. `heads` and `ffn` are the fractions
    (0..1) of key/value head groups (each with its query heads) and of FFN channels removed in every decoder
    block (the same number per block, so the result is an ordinary config); `blocks` whole decoder blocks."""

    heads: float = 0.0
    ffn: float = 0.0
    blocks: int = 0

    family = "prune"  # type: ignore[assignment]

    @property
    def id(self) -> str:
        parts = [f"-{unit}{_pct(getattr(self, unit))}" for unit in ("heads", "ffn") if getattr(self, unit)]
        return "prune" + "".join(parts) + (f"-blocks{self.blocks}" if self.blocks else "")


def _pct(fraction: float) -> str:
    pct = fraction * 100
    return f"{int(pct) if float(pct).is_integer() else pct:g}"


STRUCT_FORMS = "prune-heads<percent>, prune-ffn<percent>, prune-blocks<count>, or a combination such as prune-heads25-ffn30"


def parse_structured(text: str) -> StructSpec:
    """`prune-heads25`, `prune-ffn30`, `prune-blocks2` and their combinations (each unit at most once)."""
    parts = re.findall(r"-(heads|ffn|blocks)(\d+(?:\.\d+)?)", text)
    if not parts or "prune" + "".join(f"-{u}{v}" for u, v in parts) != text:
        raise ValueError(f"expected {STRUCT_FORMS}")
    units = [u for u, _ in parts]
    if len(set(units)) != len(units):
        raise ValueError(f"each of heads, ffn, blocks at most once, got {text!r}")
    found: dict = {}
    for unit, value in parts:
        if unit == "blocks":
            if not value.isdigit() or int(value) < 1:
                raise ValueError(f"blocks takes a whole number of decoder blocks >= 1, got {value}")
            found[unit] = int(value)
        else:
            if not 0 < float(value) < 100:
                raise ValueError(f"{unit} takes a percentage strictly between 0 and 100, got {value}")
            found[unit] = float(value) / 100
    return StructSpec(**found)


@dataclass(frozen=True)
class KVSpec(CompressionSpec):
    """KV-cache compression: the weights stay as they are; while the model reads a context its cached keys and
    values are quantized to `bits` (quanto's int4/int2, the newest `residual` tokens kept in full precision), or
    evicted down to the first `sink` tokens plus the last `window` (a sliding window with attention sinks)."""

    bits: int | None = None
    sink: int = 0
    window: int | None = None

    family = "kv"  # type: ignore[assignment]

    @property
    def id(self) -> str:
        if self.bits is not None:
            return f"kv-int{self.bits}"
        return f"kv-sink{self.sink}-window{self.window}"


KV_FORMS = "kv-int4, kv-int2 (quantized cache) or kv-sink<S>-window<W> (keep the first S and the last W tokens)"


def parse_kv(text: str) -> KVSpec:
    m = re.fullmatch(r"kv-int(\d+)", text)
    if m:
        if int(m.group(1)) not in (2, 4):
            raise ValueError(f"the quantized KV cache has 4 or 2 bits, got {m.group(1)}")
        return KVSpec(bits=int(m.group(1)))
    m = re.fullmatch(r"kv-sink(\d+)-window(\d+)", text)
    if m:
        if int(m.group(2)) < 1:
            raise ValueError("the window keeps at least 1 token")
        return KVSpec(sink=int(m.group(1)), window=int(m.group(2)))
    raise ValueError(f"expected {KV_FORMS}")


QUANT_BITS = {"gptq": (2, 3, 4, 8), "awq": (3, 4, 8)}


def parse_quant(family: str):
    """A parser for `<family><bits>[-g<group>][-act|-static]`, e.g. gptq4, gptq3-g64, gptq4-g128-act."""
    allowed = QUANT_BITS[family]

    def parse(text: str) -> QuantSpec:
        m = re.fullmatch(rf"{family}(\d+)(?:-g(\d+))?(?:-(act|static))?", text)
        if not m:
            raise ValueError(f"expected {family}<bits>[-g<group size>][-act|-static], e.g. {family}4, {family}4-g64, {family}4-g128-act")
        bits = int(m.group(1))
        if bits not in allowed:
            raise ValueError(f"{family} supports {', '.join(map(str, allowed))} bits, got {bits}")
        group = int(m.group(2)) if m.group(2) else None
        if group is not None and (group < 2 or group & (group - 1)):
            raise ValueError(f"group size must be a power of two >= 2, got {group}")
        if m.group(3) and family != "gptq":
            raise ValueError(f"activation ordering (-{m.group(3)}) is a GPTQ option; {family} has none")
        return QuantSpec(method=family, bits=bits, group_size=group, act_order=m.group(3))

    return parse


def parse_bnb(family: str):
    def parse(text: str) -> BnbSpec:
        if text != family:
            raise ValueError(f"'{family}' takes no parameters")
        return BnbSpec(mode=family)

    return parse


def parse_rtn(text: str) -> RTNSpec:
    m = re.fullmatch(r"rtn(\d+)(?:-g(\d+))?", text)
    if not m:
        raise ValueError("expected rtn<bits> or rtn<bits>-g<group size>, e.g. rtn4, rtn8, rtn4-g128")
    bits = int(m.group(1))
    if not 2 <= bits <= 8:
        raise ValueError(f"bits must be between 2 and 8, got {bits}")
    group = int(m.group(2)) if m.group(2) else None
    if group is not None and (group < 2 or group & (group - 1)):
        raise ValueError(f"group size must be a power of two >= 2, got {group}")
    return RTNSpec(bits=bits, group_size=group)


def parse_pruning(family: str):
    """A parser for `<family><percent>` and `<family>-<n>:<m>`; shared by every pruning family."""

    def parse(text: str) -> PruneSpec:
        m = re.fullmatch(rf"{family}(\d+(?:\.\d+)?)", text)
        if m:
            pct = float(m.group(1))
            if not 0 < pct < 100:
                raise ValueError(f"sparsity must be a percentage strictly between 0 and 100, got {m.group(1)}")
            return PruneSpec(method=family, sparsity=pct / 100)
        m = re.fullmatch(rf"{family}-(\d+):(\d+)", text)
        if m:
            n, mm = int(m.group(1)), int(m.group(2))
            if not 0 < n < mm:
                raise ValueError(f"N:M needs 0 < N < M (N weights kept in every M), got {n}:{mm}")
            return PruneSpec(method=family, n=n, m=mm)
        raise ValueError(f"expected {family}<percent> or {family}-<N>:<M>, e.g. {family}50, {family}-2:4")

    return parse


def parse_named(family: str):
    """`<family>` or `<family><argument>` (letters, digits, '.', ':', '-'); the compressor interprets the argument."""

    def parse(text: str) -> NamedSpec:
        m = re.fullmatch(rf"{family}([\w.:\-]*)", text)
        if not m:
            raise ValueError(f"expected {family} or {family}<argument>")
        return NamedSpec(name=family, arg=m.group(1))

    return parse
