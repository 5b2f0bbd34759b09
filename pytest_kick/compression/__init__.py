"""Compression: the `Compressor` contract, the registry of method families and backends, and the spec parser."""

from __future__ import annotations

import functools
import importlib
import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import KickUsageError
from ..registry import Registry
from .backends import BACKENDS, Backend
from .calibration import Calibration, calibration_windows
from .layers import LayerSelection, target_linears
from .spec import (
    BnbSpec,
    CheckpointSpec,
    CompressionSpec,
    KVSpec,
    NamedSpec,
    PruneSpec,
    QuantSpec,
    RTNSpec,
    StructSpec,
    parse_bnb,
    parse_kv,
    parse_named,
    parse_pruning,
    parse_quant,
    parse_rtn,
    parse_structured,
)

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = [
    "BnbSpec",
    "Calibration",
    "CheckpointSpec",
    "CompressContext",
    "CompressionSettings",
    "CompressionSpec",
    "Compressor",
    "FAMILIES",
    "KVSpec",
    "Family",
    "LayerSelection",
    "NamedSpec",
    "PruneSpec",
    "QuantSpec",
    "RTNSpec",
    "SavedCheckpoint",
    "StructSpec",
    "available_forms",
    "compression_method",
    "family_of",
    "parse_spec",
    "parse_specs",
    "register_family",
    "resolve_backend",
]


@dataclass(frozen=True)
class CompressionSettings:
    """How to compress, beyond the spec: which backend, which calibration data, which layers, which seed."""

    backend: str = "auto"
    calibration: Calibration = Calibration()
    layers: LayerSelection = LayerSelection()
    seed: int = 1234
    data_dir: Path | None = None


@dataclass(frozen=True)
class SavedCheckpoint:
    """What a compressor returns when it wrote the compressed checkpoint into `ctx.out_dir` itself (a backend that
    quantizes from files); returning None means "the model was edited in place: save it for me"."""

    path: Path


@dataclass
class CompressContext:
    """What a compressor may use besides the model and the spec. Calibration windows are tokenized on first use."""

    settings: CompressionSettings
    tokenizer: Any = None
    source_dir: Path | None = None  # the dense model's directory (for backends that quantize from files)
    out_dir: Path | None = None  # where a backend that writes its own checkpoint puts it (then returns SavedCheckpoint)
    _windows: list[list[int]] | None = field(default=None, repr=False)

    def calibration(self) -> list[list[int]]:
        if self._windows is None:
            s = self.settings
            self._windows = calibration_windows(self.tokenizer, s.calibration, s.data_dir, s.seed)
        return self._windows

    def layers(self, model: torch.nn.Module) -> list[tuple[str, torch.nn.Linear]]:
        return target_linears(model, self.settings.layers)

    def ignored(self, model: torch.nn.Module) -> list[str]:
        """Names of the linear layers (the LM head included) that the selection leaves alone."""
        import torch

        chosen = {n for n, _ in self.layers(model)}
        return [n for n, m in model.named_modules() if isinstance(m, torch.nn.Linear) and n not in chosen]


class Compressor(Protocol):
    """Compresses a loaded model in place according to a parsed spec and returns None (the caller saves it). A
    backend that writes its own checkpoint into `ctx.out_dir` instead returns `SavedCheckpoint(ctx.out_dir)`."""

    def __call__(self, model: torch.nn.Module, spec: CompressionSpec, ctx: CompressContext) -> SavedCheckpoint | None: ...


@dataclass(frozen=True)
class Family:
    """A method family. `impls` maps backend name -> compressor ("module:attr" or callable), best first.
    `at_load` families (bitsandbytes) quantize while loading: their impl returns from_pretrained kwargs.
    `runtime` families (KV-cache compression) leave the weights alone: their impl, given the spec, returns
    `make(model, tokenizer, batch_size)` -> the engine that runs the dense weights their way."""

    name: str
    parse: Callable[[str], CompressionSpec]
    impls: dict[str, str | Callable]
    examples: tuple[str, ...]
    at_load: bool = False
    calibrates: bool = False  # reads calibration windows whatever the backend (builtin GBLM): keyed by them
    runtime: bool = False
    layerwise: bool = True  # compresses the layers --kick-targets/--kick-skip-* select (structured pruning: all blocks)

    def load(self, backend: str) -> Callable:
        impl = self.impls[backend]
        if isinstance(impl, str):
            module, _, attr = impl.partition(":")
            return getattr(importlib.import_module(module, __name__), attr)
        return impl


FAMILIES: Registry[Family] = Registry("compression method family")


def _three_args(fn: Callable) -> Callable:
    """Compressors written for (model, spec) keep working: the context is passed only to those that take it."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):  # pragma: no cover - builtins without signatures
        return fn
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(positional) >= 3 or any(p.kind == p.VAR_POSITIONAL for p in params):
        return fn
    return functools.wraps(fn)(lambda model, spec, ctx: fn(model, spec))


def register_family(
    name: str,
    parse: Callable[[str], CompressionSpec],
    compressor: str | Compressor | dict[str, str | Callable],
    examples: tuple[str, ...],
    *,
    at_load: bool = False,
    calibrates: bool = False,
    runtime: bool = False,
    layerwise: bool = True,
    replace: bool = False,
    builtin: bool = False,
) -> None:
    """Register a method family: `parse` turns text into a spec (raise ValueError with the valid forms);
    `compressor` is one callable (a team's own code: the `custom` backend) or {backend: impl} for several.
    An existing name is replaced only with `replace=True`; what a session registers is forgotten when it ends."""
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        raise KickUsageError(f"family names are lower-case letters, digits and underscores, got {name!r}")
    impls = compressor if isinstance(compressor, dict) else {"custom": compressor}
    unknown = set(impls) - set(BACKENDS)
    if unknown:
        raise KickUsageError(f"unknown backend(s) {sorted(unknown)} for {name!r}; known: {', '.join(BACKENDS)}")
    impls = {k: (v if isinstance(v, str) or runtime else _three_args(v)) for k, v in impls.items()}
    FAMILIES.add(
        name, Family(name, parse, impls, tuple(examples), at_load, calibrates, runtime, layerwise), replace=replace, builtin=builtin
    )


def compression_method(
    name: str,
    *,
    parse: Callable[[str], CompressionSpec] | None = None,
    examples: tuple[str, ...] = (),
    replace: bool = False,
):
    """Decorator for a team's own method, e.g. in conftest.py:

    @compression_method("noise", examples=("noise0.01",))
    def add_noise(model, spec, ctx):   # spec.arg == "0.01" for --kick-method=noise0.01
        ...
    """

    def deco(fn: Callable) -> Callable:
        register_family(name, parse or parse_named(name), fn, examples or (name,), replace=replace)
        return fn

    return deco


_GPTQ_IMPLS = {"llmcompressor": ".llmcompressor:compress", "gptqmodel": ".gptqmodel:compress"}
for _args in (
    ("rtn", parse_rtn, {"builtin": ".quant:rtn_compress"}, ("rtn8", "rtn4", "rtn4-g128")),
    ("magnitude", parse_pruning("magnitude"), {"builtin": ".prune:magnitude_compress"}, ("magnitude50", "magnitude-2:4")),
    ("gptq", parse_quant("gptq"), _GPTQ_IMPLS, ("gptq4", "gptq3-g64", "gptq4-g128-act", "gptq8")),
    ("awq", parse_quant("awq"), _GPTQ_IMPLS, ("awq4",)),
    ("wanda", parse_pruning("wanda"), {"llmcompressor": ".llmcompressor:compress"}, ("wanda50", "wanda-2:4")),
    ("sparsegpt", parse_pruning("sparsegpt"), {"llmcompressor": ".llmcompressor:compress"}, ("sparsegpt60", "sparsegpt-4:8")),
):
    register_family(*_args, builtin=True)
register_family("gblm", parse_pruning("gblm"), {"builtin": ".gblm:gblm_compress"}, ("gblm50", "gblm-2:4"), calibrates=True, builtin=True)
register_family(
    "prune",
    parse_structured,
    {"builtin": ".structured:structured_compress"},
    ("prune-heads25", "prune-ffn30", "prune-blocks1"),
    calibrates=True,
    layerwise=False,
    builtin=True,
)
register_family(
    "kv", parse_kv, {"builtin": ".kvcache:kv_compress"}, ("kv-int4", "kv-int2", "kv-sink4-window64"), runtime=True, builtin=True
)
for _mode in ("int8", "nf4"):
    register_family(_mode, parse_bnb(_mode), {"bitsandbytes": ".bnb:load_kwargs"}, (_mode,), at_load=True, builtin=True)


def available_forms() -> list[str]:
    return [ex for fam in FAMILIES.values() for ex in fam.examples]


def family_of(spec: CompressionSpec) -> Family:
    fam = FAMILIES.get(spec.family)
    if fam is None:
        raise KickUsageError(f"no compression method family {spec.family!r} is registered")
    return fam


def resolve_backend(spec: CompressionSpec, requested: str = "auto") -> Backend:
    """The backend that will compress `spec`: the requested one, or under 'auto' the first installed of the
    family's backends. Not installed or not able to run this method: a clear error naming the fix."""
    fam = family_of(spec)
    if requested == "auto":
        for name in fam.impls:
            if BACKENDS[name].installed():
                return BACKENDS[name]
        first = BACKENDS[next(iter(fam.impls))]
        first.require(f"--kick-method={spec.id}")
    if requested not in fam.impls:
        served = ", ".join(fam.impls)
        raise KickUsageError(
            f"--kick-backend={requested} cannot run {spec.id}: the {fam.name} family is served by {served}. "
            "Use --kick-backend=auto to pick the installed one."
        )
    BACKENDS[requested].require(f"--kick-method={spec.id} with --kick-backend={requested}")
    return BACKENDS[requested]


def parse_spec(text: str) -> CompressionSpec:
    """Parse one spec; raise KickUsageError naming the valid forms when it is unknown or malformed."""
    raw = text
    text = text.strip().lower()
    forms = ", ".join(available_forms())
    # The family is the longest registered name that the text starts with, not followed by another letter.
    names = [n for n in FAMILIES if text.startswith(n) and not re.match(r"[a-z_]", text[len(n) :])]
    fam = FAMILIES.get(max(names, key=len)) if names else None
    m = re.match(r"[a-z_]+", text)
    name = m.group(0) if m else ""
    if fam is None:
        did = FAMILIES.did_you_mean(name)
        raise KickUsageError(
            f"--kick-method '{raw}': unknown compression method '{raw.strip()}' (no registered family matches '{name or raw}')."
            f"{did} Valid forms: {forms}. A team's own method must be registered before the options are read: in the "
            "conftest.py at the rootdir (or in a folder named on the command line), or in a plugin loaded with -p; "
            "conftests in test subfolders load too late."
        )
    try:
        return fam.parse(text)
    except ValueError as exc:
        raise KickUsageError(f"--kick-method '{raw}': {exc}. Valid forms: {forms}.") from None


def parse_specs(text: str) -> tuple[CompressionSpec, ...]:
    """Parse a comma-separated list of specs (--kick-method, the kick marker's methods=), keeping order and
    dropping duplicates."""
    specs: list[CompressionSpec] = []
    for part in text.split(","):
        if part.strip():
            spec = parse_spec(part)
            if spec not in specs:
                specs.append(spec)
    if not specs:
        raise KickUsageError(f"--kick-method is empty. Valid forms: {', '.join(available_forms())}.")
    return tuple(specs)


def compress(model: torch.nn.Module, spec: CompressionSpec, ctx: CompressContext | None = None, backend: str = "auto") -> Backend:
    """Apply `spec` to `model` in place; returns the backend that did it."""
    ctx = ctx or CompressContext(CompressionSettings(backend=backend))
    chosen = resolve_backend(spec, ctx.settings.backend if backend == "auto" else backend)
    family_of(spec).load(chosen.name)(model, spec, ctx)
    return chosen
