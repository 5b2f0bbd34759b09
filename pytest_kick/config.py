"""KickConfig: every --kick-* option (or its ini twin) parsed once into a frozen object kept in config.stash."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from .compression import (
    Calibration,
    CheckpointSpec,
    CompressionSettings,
    CompressionSpec,
    LayerSelection,
    parse_specs,
    resolve_backend,
)
from .compression.backends import CHOICES as BACKEND_CHOICES
from .errors import KickUsageError
from .models import DEFAULT_MODEL, DTYPES, ModelSource, checkpoint_format, parse_model_source

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
    Option("--kick-backend", "kick_backend", "auto|builtin|llmcompressor|gptqmodel|bitsandbytes (default auto: the best installed for each method)", "auto"),
    Option("--kick-calib-data", "kick_calib_data", "calibration text: builtin (default), wikitext2 (from --kick-data-dir) or a text file", "builtin"),
    Option("--kick-calib-samples", "kick_calib_samples", "calibration windows (default 128)", "128"),
    Option("--kick-calib-seqlen", "kick_calib_seqlen", "tokens per calibration window (default 512)", "512"),
    Option("--kick-targets", "kick_targets", "comma-separated module patterns to compress, e.g. mlp or q_proj,v_proj (default: every linear layer but the LM head)", None),
    Option("--kick-skip-first", "kick_skip_first", "leave the first N transformer blocks uncompressed (default 0)", "0"),
    Option("--kick-skip-last", "kick_skip_last", "leave the last N transformer blocks uncompressed (default 0)", "0"),
    Option("--kick-device", "kick_device", "auto|cpu|cuda|cuda:N (default auto; under xdist, worker gwN takes GPU N)", "auto"),
    Option("--kick-dtype", "kick_dtype", "auto|float32|bfloat16|float16 (auto: float32 on CPU, bfloat16 on GPU)", "auto"),
    Option("--kick-limit", "kick_limit", "examples per task (a seeded sample; default: all)", None),
    Option("--kick-batch-size", "kick_batch_size", "N or auto (default auto: a token budget per forward)", "auto"),
    Option("--kick-seed", "kick_seed", f"seed for example sampling and compression (default {DEFAULT_SEED})", str(DEFAULT_SEED)),
    Option("--kick-data-dir", "kick_data_dir", "root with one folder per benchmark (DIR/mmlu, DIR/freebaseqa, ...)", None),
    Option("--kick-toxicity-scorer", "kick_toxicity_scorer", "toxicity scorer for realtoxicityprompts/bold: a local Hugging Face sequence-classification dir, or 'profanity-check' (default, offline)", None),
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
    compression: CompressionSettings = CompressionSettings()
    toxicity_scorer: str | None = None

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
            checkpoint_format(p)  # an unknown quantization format is reported now, not at the first test
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
        backend = (get("kick_backend") or "auto").strip().lower()
        if backend.replace("_", "-") in ("auto-gptq", "autogptq"):
            raise KickUsageError(
                "--kick-backend=auto-gptq: auto-gptq is end-of-life; it refuses to quantize without CUDA and needs "
                "transformers<5, so pytest-kick does not quantize with it. Use --kick-backend=llmcompressor (CPU or "
                "GPU) or gptqmodel, its successor. To test a GPTQ checkpoint auto-gptq made, pass it with "
                "--kick-compressed (loaded through gptqmodel under transformers 5)."
            )
        if backend not in BACKEND_CHOICES:
            raise KickUsageError(f"--kick-backend {backend!r}: valid values are {', '.join(BACKEND_CHOICES)}.")
        calib_text = (get("kick_calib_data") or "builtin").strip()
        if calib_text not in ("builtin", "wikitext2"):
            calib_text = str(path(calib_text))
        calibration = Calibration(
            samples=_int_or_none("--kick-calib-samples", get("kick_calib_samples") or "128", "a positive integer"),  # type: ignore[arg-type]
            seqlen=_int_or_none("--kick-calib-seqlen", get("kick_calib_seqlen") or "512", "a positive integer"),  # type: ignore[arg-type]
            source=calib_text,
        )
        layers = LayerSelection(
            targets=tuple(t.strip() for t in (get("kick_targets") or "").split(",") if t.strip()),
            skip_first=_count("--kick-skip-first", get("kick_skip_first")),
            skip_last=_count("--kick-skip-last", get("kick_skip_last")),
        )
        if not isinstance(methods[0], CheckpointSpec):
            for spec in methods:  # not installed / not served by the chosen backend: say so before any test runs
                if resolve_backend(spec, backend).name not in ("builtin", "bitsandbytes", "custom"):
                    calibration.resolve(data_dir)
        scorer = (get("kick_toxicity_scorer") or "").strip() or None
        if scorer is not None and scorer != "profanity-check":
            if not path(scorer).is_dir():
                raise KickUsageError(
                    f"--kick-toxicity-scorer {scorer}: not a directory. Give a local Hugging Face sequence-classification "
                    "model dir (e.g. a downloaded toxic-bert or ToxiGen-RoBERTa), or 'profanity-check'."
                )
            scorer = str(path(scorer).resolve())
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
            compression=CompressionSettings(
                backend=backend, calibration=calibration, layers=layers, seed=seed, data_dir=data_dir.resolve() if data_dir else None
            ),
            toxicity_scorer=scorer,
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


def _count(flag: str, text: Any) -> int:
    try:
        value = int(str(text if text not in (None, "") else 0).strip())
    except ValueError:
        value = -1
    if value < 0:
        raise KickUsageError(f"{flag} {text!r}: must be a whole number >= 0.")
    return value
