"""KickConfig: every --kick-* option (or its ini twin) parsed once into a frozen object kept in config.stash."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from .compression import CheckpointSpec, CompressionSpec, parse_specs
from .errors import KickUsageError
from .models import DEFAULT_MODEL, DTYPES, ModelSource, parse_model_source

DEFAULT_METHODS = "rtn8"
DEFAULT_SEED = 1234


def default_cache_dir() -> Path:
    env = os.environ.get("PYTEST_KICK_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "pytest-kick"


@dataclass(frozen=True)
class Option:
    flag: str
    ini: str
    help: str
    default: str | None
    kind: str = "string"  # ini type


OPTIONS = (
    Option("--kick-model", "kick_model", f"dense model: hub id, local model dir, .gguf file, or '{DEFAULT_MODEL}' (default)", DEFAULT_MODEL),
    Option("--kick-method", "kick_method", f"comma-separated compression specs, e.g. rtn4,magnitude50 (default {DEFAULT_METHODS})", DEFAULT_METHODS),
    Option("--kick-compressed", "kick_compressed", "an already-compressed checkpoint (dir or .gguf) to test instead of compressing here", None),
    Option("--kick-device", "kick_device", "auto|cpu|cuda|cuda:N (default auto; under xdist, worker gwN takes GPU N)", "auto"),
    Option("--kick-dtype", "kick_dtype", "auto|float32|bfloat16|float16 (auto: float32 on CPU, bfloat16 on GPU)", "auto"),
    Option("--kick-limit", "kick_limit", "examples per task (a seeded sample; default: all)", None),
    Option("--kick-batch-size", "kick_batch_size", "N or auto (default auto: a token budget per forward)", "auto"),
    Option("--kick-seed", "kick_seed", f"seed for example sampling and compression (default {DEFAULT_SEED})", str(DEFAULT_SEED)),
    Option("--kick-data-dir", "kick_data_dir", "root with one folder per benchmark (DIR/mmlu, DIR/freebaseqa, ...)", None),
    Option("--kick-cache-dir", "kick_cache_dir", "cache for converted models and per-example results, or 'none' (default ~/.cache/pytest-kick, or $PYTEST_KICK_CACHE)", None),
    Option("--kick-trust-remote-code", "kick_trust_remote_code", "allow model code from the hub (off by default)", "false", "bool"),
)


@dataclass(frozen=True)
class KickConfig:
    model: ModelSource
    methods: tuple[CompressionSpec, ...]
    device: str = "auto"
    dtype: str = "auto"
    limit: int | None = None
    batch_size: int | str = "auto"
    seed: int = DEFAULT_SEED
    data_dir: Path | None = None
    cache_dir: Path | None = None
    trust_remote_code: bool = False

    @classmethod
    def from_values(cls, get: Callable[[str], Any], base: Path = Path(".")) -> "KickConfig":
        """Build from a lookup `ini name -> raw value` (CLI or ini, already merged); raise KickUsageError."""

        def path(text: str) -> Path:
            p = Path(text).expanduser()
            return p if p.is_absolute() else (base / p)

        compressed = get("kick_compressed")
        if compressed:
            p = path(compressed)
            if not p.exists():
                raise KickUsageError(f"--kick-compressed {compressed}: no such file or directory.")
            methods: tuple[CompressionSpec, ...] = (CheckpointSpec(str(p.resolve())),)
        else:
            methods = parse_specs(get("kick_method") or DEFAULT_METHODS)

        model_text = get("kick_model") or DEFAULT_MODEL
        if model_text.lower() != DEFAULT_MODEL and not Path(model_text).is_absolute() and Path(base, model_text).exists():
            model_text = str(Path(base, model_text))
        device = (get("kick_device") or "auto").strip()
        if not re.fullmatch(r"auto|cpu|cuda|cuda:\d+", device):
            raise KickUsageError(f"--kick-device {device!r}: valid forms are auto, cpu, cuda, cuda:N (e.g. cuda:1).")
        dtype = (get("kick_dtype") or "auto").strip()
        if dtype not in DTYPES:
            raise KickUsageError(f"--kick-dtype {dtype!r}: valid values are {', '.join(DTYPES)}.")
        limit = _int_or_none("--kick-limit", get("kick_limit"), "a positive integer, e.g. --kick-limit=200")
        bs_text = str(get("kick_batch_size") or "auto").strip()
        batch_size: int | str = "auto" if bs_text == "auto" else _int_or_none("--kick-batch-size", bs_text, "a positive integer or 'auto'")  # type: ignore[assignment]
        seed_text = str(get("kick_seed") or DEFAULT_SEED)
        try:
            seed = int(seed_text)
        except ValueError:
            raise KickUsageError(f"--kick-seed {seed_text!r}: must be an integer.") from None
        data_dir = None
        if get("kick_data_dir"):
            data_dir = path(get("kick_data_dir"))
            if not data_dir.is_dir():
                raise KickUsageError(
                    f"--kick-data-dir {get('kick_data_dir')}: no such directory. It must hold one folder per "
                    "benchmark (mmlu/, freebaseqa/, ...), e.g. --kick-data-dir=../shared/data."
                )
        cache_text = get("kick_cache_dir")
        cache_dir = None if (cache_text or "").lower() == "none" else (path(cache_text) if cache_text else default_cache_dir())
        return cls(
            model=parse_model_source(model_text),
            methods=methods,
            device=device,
            dtype=dtype,
            limit=limit,
            batch_size=batch_size,
            seed=seed,
            data_dir=data_dir.resolve() if data_dir else None,
            cache_dir=cache_dir,
            trust_remote_code=str(get("kick_trust_remote_code")).lower() in ("1", "true", "yes", "on"),
        )


def _int_or_none(flag: str, text: Any, forms: str) -> int | None:
    if text is None or str(text).strip() == "":
        return None
    try:
        value = int(str(text).strip())
    except ValueError:
        value = 0
    if value <= 0:
        raise KickUsageError(f"{flag} {text!r}: must be {forms}.")
    return value
