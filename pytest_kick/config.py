"""KickConfig: every --kick-* option (or its ini twin) parsed once, by one small function each, into a frozen
object kept in config.stash; it hands out the settings each part needs (loading, evaluation, compression)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .compression import Calibration, CheckpointSpec, CompressionSettings, CompressionSpec, LayerSelection, parse_specs
from .compression.backends import CHOICES as BACKEND_CHOICES
from .compression.plan import CompressionPlan, plan_method
from .devices import DTYPES
from .errors import KickUsageError
from .settings import EvalSettings, Limit, LoadSettings, default_cache_dir
from .sources import DEFAULT_MODEL, ModelSource, parse_model_source

DEFAULT_METHODS = "rtn8"
DEFAULT_SEED = 1234


@dataclass(frozen=True)
class Value:
    """One option's raw value, where it came from (the flag, or the ini key) and the folder a relative path in it
    is relative to: the ini file's folder for ini values, the invocation folder for command-line values."""

    text: Any
    base: Path = Path(".")
    origin: str = ""

    @property
    def given(self) -> bool:
        return self.text is not None and str(self.text).strip() != ""

    def path(self) -> Path:
        """The one place a relative path is resolved."""
        p = Path(str(self.text).strip()).expanduser()
        return p if p.is_absolute() else self.base / p


# ---- one parser per option: (Value) -> parsed value, raising KickUsageError that names the option -------------
def positive(flag: str, forms: str = "a positive integer") -> Callable[[Value], int | None]:
    def parse(v: Value) -> int | None:
        if not v.given:
            return None
        try:
            value = int(str(v.text).strip())
        except ValueError:
            value = 0
        if value <= 0:
            raise KickUsageError(f"{flag} {v.text!r}: must be {forms}.")
        return value

    return parse


def _count(flag: str) -> Callable[[Value], int]:
    def parse(v: Value) -> int:
        try:
            value = int(str(v.text).strip()) if v.given else 0
        except ValueError:
            value = -1
        if value < 0:
            raise KickUsageError(f"{flag} {v.text!r}: must be a whole number >= 0.")
        return value

    return parse


def _model(v: Value) -> ModelSource:
    text = str(v.text).strip() if v.given else DEFAULT_MODEL
    if text.lower() != DEFAULT_MODEL and v.path().exists():  # a path; otherwise a hub id (or a clear error)
        text = str(v.path())
    return parse_model_source(text)


def _compressed(v: Value) -> CheckpointSpec | None:
    if not v.given:
        return None
    if not v.path().exists():
        raise KickUsageError(f"--kick-compressed {v.text}: no such file or directory.")
    return CheckpointSpec(str(v.path().resolve()))


def _methods(v: Value) -> tuple[CompressionSpec, ...]:
    return parse_specs(str(v.text) if v.given else DEFAULT_METHODS)


def _backend(v: Value) -> str:
    backend = str(v.text or "auto").strip().lower()
    if backend.replace("_", "-") in ("auto-gptq", "autogptq"):
        raise KickUsageError(
            "--kick-backend=auto-gptq: auto-gptq is end-of-life; it refuses to quantize without CUDA and needs "
            "transformers<5, so pytest-kick does not quantize with it. Use --kick-backend=llmcompressor (CPU or "
            "GPU) or gptqmodel, its successor. To test a GPTQ checkpoint auto-gptq made, pass it with "
            "--kick-compressed (loaded through gptqmodel under transformers 5)."
        )
    if backend not in BACKEND_CHOICES:
        raise KickUsageError(f"--kick-backend {backend!r}: valid values are {', '.join(BACKEND_CHOICES)}.")
    return backend


def _calib_data(v: Value) -> str:
    text = str(v.text).strip() if v.given else "builtin"
    return text if text in ("builtin", "wikitext2") else str(v.path())


def _targets(v: Value) -> tuple[str, ...]:
    return tuple(t.strip() for t in str(v.text or "").split(",") if t.strip())


def _device(v: Value) -> str:
    device = str(v.text or "auto").strip()
    if not re.fullmatch(r"auto|cpu|cuda|cuda:\d+", device):
        raise KickUsageError(f"--kick-device {device!r}: valid forms are auto, cpu, cuda, cuda:N (e.g. cuda:1).")
    return device


def _dtype(v: Value) -> str:
    dtype = str(v.text or "auto").strip()
    if dtype not in DTYPES:
        raise KickUsageError(f"--kick-dtype {dtype!r}: valid values are {', '.join(DTYPES)}.")
    return dtype


def parse_gpus(v: Value) -> tuple[str, ...] | None:
    if not v.given:
        return None
    ids = tuple(g.strip() for g in str(v.text).split(","))
    if not all(re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9-]*", g) for g in ids):
        raise KickUsageError(f"--kick-gpus {v.text!r}: give comma-separated GPU indices or UUIDs, e.g. --kick-gpus=0,1,2,3.")
    if len(set(ids)) != len(ids):
        raise KickUsageError(f"--kick-gpus {v.text!r}: a GPU is listed twice.")
    return ids


def _limit(v: Value) -> Limit | None:
    value = positive("--kick-limit", "a positive integer, e.g. --kick-limit=200")(v)
    return Limit(value, v.origin or "--kick-limit") if value is not None else None


def _batch_size(v: Value) -> int | str:
    text = str(v.text or "auto").strip()
    return "auto" if text == "auto" else positive("--kick-batch-size", "a positive integer or 'auto'")(v)  # type: ignore[return-value]


def _seed(v: Value) -> int:
    text = str(v.text if v.given else DEFAULT_SEED).strip()
    try:
        return int(text)
    except ValueError:
        raise KickUsageError(f"--kick-seed {text!r}: must be an integer.") from None


def _data_dir(v: Value) -> Path | None:
    if not v.given:
        return None
    if not v.path().is_dir():
        raise KickUsageError(
            f"--kick-data-dir {v.text}: no such directory. It must hold one folder per "
            "benchmark (mmlu/, freebaseqa/, ...), e.g. --kick-data-dir=../shared/data."
        )
    return v.path().resolve()


def _toxicity_scorer(v: Value) -> str | None:
    scorer = str(v.text).strip() if v.given else None
    if scorer is None or scorer == "profanity-check":
        return scorer
    if not v.path().is_dir():
        raise KickUsageError(
            f"--kick-toxicity-scorer {scorer}: not a directory. Give a local Hugging Face sequence-classification "
            "model dir (e.g. a downloaded toxic-bert or ToxiGen-RoBERTa), or 'profanity-check'."
        )
    return str(v.path().resolve())


def _cache_dir(v: Value) -> Path | None:
    if v.given and str(v.text).strip().lower() == "none":
        return None
    return v.path() if v.given else default_cache_dir()


def _report(v: Value) -> Path | None:
    if v.given and v.path().is_dir():
        raise KickUsageError(f"{v.origin} {v.text}: is a directory; give the path of the JSON file to write, e.g. kick-report.json")
    return v.path() if v.given else None


def _flag(v: Value) -> bool:
    return str(v.text).lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class Option:
    flag: str
    ini: str
    help: str
    default: str | None
    parse: Callable[[Value], Any]
    kind: str = "string"  # ini type


OPTIONS = (
    Option(
        "--kick-model",
        "kick_model",
        f"dense model: hub id, local model dir, .gguf file, or '{DEFAULT_MODEL}' (default)",
        DEFAULT_MODEL,
        _model,
    ),
    Option(
        "--kick-method",
        "kick_method",
        f"comma-separated compression specs, e.g. rtn4,magnitude50 (default {DEFAULT_METHODS})",
        DEFAULT_METHODS,
        _methods,
    ),
    Option(
        "--kick-compressed",
        "kick_compressed",
        "an already-compressed checkpoint (dir or .gguf) to test instead of compressing here",
        None,
        _compressed,
    ),
    Option(
        "--kick-backend",
        "kick_backend",
        "auto|builtin|llmcompressor|gptqmodel|bitsandbytes (default auto: the best installed for each method)",
        "auto",
        _backend,
    ),
    Option(
        "--kick-calib-data",
        "kick_calib_data",
        "calibration text: builtin (default), wikitext2 (from --kick-data-dir) or a text file",
        "builtin",
        _calib_data,
    ),
    Option("--kick-calib-samples", "kick_calib_samples", "calibration windows (default 128)", "128", positive("--kick-calib-samples")),
    Option(
        "--kick-calib-seqlen", "kick_calib_seqlen", "tokens per calibration window (default 512)", "512", positive("--kick-calib-seqlen")
    ),
    Option(
        "--kick-targets",
        "kick_targets",
        "comma-separated module patterns to compress, e.g. mlp or q_proj,v_proj (default: every linear layer but the LM head)",
        None,
        _targets,
    ),
    Option(
        "--kick-skip-first",
        "kick_skip_first",
        "leave the first N transformer blocks uncompressed (default 0)",
        "0",
        _count("--kick-skip-first"),
    ),
    Option(
        "--kick-skip-last",
        "kick_skip_last",
        "leave the last N transformer blocks uncompressed (default 0)",
        "0",
        _count("--kick-skip-last"),
    ),
    Option("--kick-device", "kick_device", "auto|cpu|cuda|cuda:N (default auto: this process's GPU when there is one)", "auto", _device),
    Option("--kick-dtype", "kick_dtype", "auto|float32|bfloat16|float16 (auto: float32 on CPU, bfloat16 on GPU)", "auto", _dtype),
    Option(
        "--kick-gpus",
        "kick_gpus",
        "GPUs to share among xdist workers, e.g. 0,1,2,3 (default: CUDA_VISIBLE_DEVICES); worker gwN sees only its share",
        None,
        parse_gpus,
    ),
    Option(
        "--kick-gpus-per-worker",
        "kick_gpus_per_worker",
        "GPUs in each worker's share, for models that need several (loaded with a device map across them; default 1)",
        "1",
        positive("--kick-gpus-per-worker"),
    ),
    Option(
        "--kick-limit",
        "kick_limit",
        "examples per task for accuracy gates, per group for safety gates (a seeded sample; default: all); "
        "a test's kick marker and an assertion's limit= win over it",
        None,
        _limit,
    ),
    Option("--kick-batch-size", "kick_batch_size", "N or auto (default auto: a token budget per forward)", "auto", _batch_size),
    Option("--kick-seed", "kick_seed", f"seed for example sampling and compression (default {DEFAULT_SEED})", str(DEFAULT_SEED), _seed),
    Option("--kick-data-dir", "kick_data_dir", "root with one folder per benchmark (DIR/mmlu, DIR/freebaseqa, ...)", None, _data_dir),
    Option(
        "--kick-toxicity-scorer",
        "kick_toxicity_scorer",
        "toxicity scorer for realtoxicityprompts/bold: a local Hugging Face sequence-classification dir, "
        "or 'profanity-check' (default, offline)",
        None,
        _toxicity_scorer,
    ),
    Option(
        "--kick-cache-dir",
        "kick_cache_dir",
        "cache for converted and compressed models and per-example results, or 'none' "
        "(default $PYTEST_KICK_CACHE, else ~/.cache/pytest-kick)",
        None,
        _cache_dir,
    ),
    Option("--kick-report", "kick_report", "write the whole run (every gate, group and number) as JSON to this path", None, _report),
    Option("--kick-trust-remote-code", "kick_trust_remote_code", "allow model code from the hub (off by default)", "false", _flag, "bool"),
)


@dataclass(frozen=True)
class KickConfig:
    """Every option, parsed. Parts take their settings from it whole: `load` (how models load), `evaluation`
    (how gates evaluate), `compression` (how models are compressed) and `plans` (one per method, resolved)."""

    model: ModelSource
    plans: tuple[CompressionPlan, ...]
    load: LoadSettings = field(default_factory=LoadSettings)
    evaluation: EvalSettings = field(default_factory=EvalSettings)
    compression: CompressionSettings = field(default_factory=CompressionSettings)
    gpus: tuple[str, ...] | None = None
    report: Path | None = None
    _marker_plans: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def methods(self) -> tuple[CompressionSpec, ...]:
        return tuple(p.spec for p in self.plans)

    def plan(self, spec: CompressionSpec) -> CompressionPlan:
        """The plan of a configured method, or of a test's own (kick marker) method, resolved the same way."""
        for p in self.plans:
            if p.spec == spec:
                return p
        if spec not in self._marker_plans:
            self._marker_plans[spec] = plan_method(spec, self.compression)
        return self._marker_plans[spec]

    @classmethod
    def from_values(cls, get: Callable[[str], Any], base: Path = Path(".")) -> KickConfig:
        """Build from a lookup `ini name -> raw value or Value` (command line or ini, already merged); raises
        KickUsageError for the first bad value."""
        raw = {opt.ini: _as_value(get(opt.ini), base, opt.flag) for opt in OPTIONS}
        v = {opt.ini: opt.parse(raw[opt.ini]) for opt in OPTIONS if opt.ini not in ("kick_method", "kick_compressed")}
        compressed = _compressed(raw["kick_compressed"])
        methods = (compressed,) if compressed else _methods(raw["kick_method"])
        compression = CompressionSettings(
            backend=v["kick_backend"],
            calibration=Calibration(v["kick_calib_samples"] or 128, v["kick_calib_seqlen"] or 512, v["kick_calib_data"]),
            layers=LayerSelection(v["kick_targets"], v["kick_skip_first"], v["kick_skip_last"]),
            seed=v["kick_seed"],
            data_dir=v["kick_data_dir"],
        )
        return cls(
            model=v["kick_model"],
            plans=tuple(plan_method(spec, compression) for spec in methods),
            load=LoadSettings(
                device=v["kick_device"],
                dtype=v["kick_dtype"],
                cache_dir=v["kick_cache_dir"],
                trust_remote_code=v["kick_trust_remote_code"],
                gpus_per_worker=v["kick_gpus_per_worker"] or 1,
            ),
            evaluation=EvalSettings(
                data_dir=v["kick_data_dir"],
                limit=v["kick_limit"],
                seed=v["kick_seed"],
                batch_size=v["kick_batch_size"],
                cache_dir=v["kick_cache_dir"],
                toxicity_scorer=v["kick_toxicity_scorer"],
            ),
            compression=compression,
            gpus=v["kick_gpus"],
            report=v["kick_report"],
        )


def _as_value(raw: Any, base: Path, flag: str) -> Value:
    return raw if isinstance(raw, Value) else Value(raw, base, flag)


def option_values(cli: Mapping[str, Any], ini: Mapping[str, Any], cli_dir: Path, ini_dir: Path, ini_name: str) -> dict[str, Value]:
    """Merge the command line over the ini file, remembering for each value where it came from."""
    out = {}
    for opt in OPTIONS:
        if cli.get(opt.ini) is not None:
            out[opt.ini] = Value(cli[opt.ini], cli_dir, opt.flag)
        else:
            out[opt.ini] = Value(ini.get(opt.ini), ini_dir, f"{opt.ini} in {ini_name}")
    return out
