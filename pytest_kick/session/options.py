"""One parser per --kick-* option: (Value) -> parsed value, raising KickUsageError that names the option and the
fix. `Value` carries a raw value with where it came from (the flag, or the ini key) and the folder a relative
path in it is relative to."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..compression import CheckpointSpec, CompressionSpec, parse_specs
from ..compression.backends import CHOICES as BACKEND_CHOICES
from ..errors import KickUsageError
from ..models.devices import DTYPES, narrows, share_environment
from ..settings import Limit, default_cache_dir
from ..sources import DEFAULT_MODEL, ModelSource, parse_model_source
from .optiontable import DEFAULT_METHODS, DEFAULT_SEED


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


MAX_SECONDS = 1_000_000  # eleven days


def seconds(flag: str) -> Callable[[Value], float | None]:
    def parse(v: Value) -> float | None:
        if not v.given:
            return None
        try:
            value = float(str(v.text).strip())
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and 0 < value <= MAX_SECONDS):  # threads' waits overflow far above it
            raise KickUsageError(f"{flag} {v.text!r}: must be a positive number of seconds up to {MAX_SECONDS:,}, e.g. {flag}=300.")
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


def _sweep(v: Value):
    if not v.given:
        return None
    from .sweep import parse_sweeps

    return parse_sweeps(str(v.text))


def _compressed(v: Value) -> CheckpointSpec | None:
    if not v.given:
        return None
    if not v.path().exists():
        raise KickUsageError(f"--kick-compressed {v.text}: no such file or directory.")
    return CheckpointSpec(str(v.path().resolve()))


def _methods(v: Value) -> tuple[CompressionSpec, ...]:
    if v.text is not None and not v.given:  # --kick-method= (empty) is a mistake, not a request for the default
        raise KickUsageError(f"{v.origin or '--kick-method'} is empty: name at least one method, e.g. --kick-method={DEFAULT_METHODS}.")
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


def _ray(v: Value) -> str | None:
    """--kick-ray: local | auto | a cluster address (HOST:PORT or ray://HOST:PORT); ray must be installed."""
    if not v.given:
        return None
    text = str(v.text).strip()
    if not re.fullmatch(r"local|auto|(ray://)?[A-Za-z0-9_.\-\[\]:]+:\d+", text):
        raise KickUsageError(
            f"--kick-ray {text!r}: valid forms are local (start a cluster on this machine), auto (join the running one) "
            "and a cluster address HOST:PORT or ray://HOST:PORT."
        )
    import importlib.util

    if importlib.util.find_spec("ray") is None:
        from ..errors import MissingBackend

        raise MissingBackend("--kick-ray needs Ray: pip install 'pytest-kick[ray]' (ray==2.60.0) on this machine and every node.")
    return text


def number(flag: str, default: float, minimum: float, strict: bool) -> Callable[[Value], float]:
    """A real number >= minimum (> minimum when `strict`)."""

    def parse(v: Value) -> float:
        try:
            value = float(str(v.text).strip()) if v.given else default
        except ValueError:
            value = float("nan")
        if not math.isfinite(value) or value < minimum or (strict and value == minimum):
            raise KickUsageError(f"{flag} {v.text!r}: must be a number {'>' if strict else '>='} {minimum:g}.")
        return value

    return parse


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


def first_share(get: Callable[[str], str | None]) -> dict[str, str] | None:
    """The environment giving a run without xdist workers the first share of an explicit --kick-gpus (`get`: ini
    key -> the raw command-line or ini value); None when nothing narrows or a value is bad (pytest_configure
    reports that with the other option errors)."""
    if not get("kick_gpus") or not narrows(str(get("kick_device") or "auto")):
        return None
    try:  # the same parsers as pytest_configure
        gpus = parse_gpus(Value(get("kick_gpus")))
        per = positive("--kick-gpus-per-worker")(Value(get("kick_gpus_per_worker")))
        return share_environment(gpus, 0, per or 1)  # type: ignore[arg-type]
    except KickUsageError:
        return None


def _limit(v: Value) -> Limit | None:
    value = positive("--kick-limit", "a positive integer, e.g. --kick-limit=200")(v)
    return Limit(value, v.origin or "--kick-limit") if value is not None else None


def _batch_size(v: Value) -> int | str:
    text = str(v.text or "auto").strip()
    return "auto" if text == "auto" else positive("--kick-batch-size", "a positive integer or 'auto'")(v)  # type: ignore[return-value]


def _seed(v: Value) -> int:
    text = str(v.text if v.given else DEFAULT_SEED).strip()
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value < 2**32:  # numpy's seeds end there, torch's at 2**64
        raise KickUsageError(f"--kick-seed {text!r}: must be a whole number from 0 to {2**32 - 1}.")
    return value


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
        example = next((f"kick-report.{x}" for k, x in (("html", "html"), ("markdown", "md")) if k in v.origin), "kick-report.json")
        raise KickUsageError(f"{v.origin} {v.text}: is a directory; give the path of the file to write, e.g. {example}")
    return v.path() if v.given else None


def _flag(v: Value) -> bool:
    text = str(v.text).strip().lower() if v.text is not None else "false"
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("", "0", "false", "no", "off"):
        return False
    raise KickUsageError(f"{text!r} is not a truth value: use true or false (also 1/0, yes/no, on/off).")


def _judge_key_env(v: Value) -> str:
    text = str(v.text).strip() if v.given else "OPENAI_API_KEY"
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", text):  # never echo it: it may be a key pasted by mistake
        raise KickUsageError(
            f"{v.origin or '--kick-judge-key-env'}: give the NAME of the environment variable that holds the judge's key "
            "(e.g. OPENAI_API_KEY), never the key itself."
        )
    return text


def _scope(v: Value) -> str:
    from ..gates.scope import DEFAULT_SCOPE, check_scope

    return check_scope(str(v.text).strip().lower() if v.given else DEFAULT_SCOPE, "--kick-scope")


def _sequential(v: Value) -> int:
    from ..gates.sequential import DEFAULT_LOOKS

    text = str(v.text).strip().lower() if v.given else "off"
    if text in ("off", "0", "no", "false"):
        return 0
    if text in ("on", "yes", "true"):
        return DEFAULT_LOOKS
    if not text.isdigit() or not 2 <= int(text) <= 20:
        raise KickUsageError(f"{v.origin or '--kick-sequential'} {v.text!r}: give off, on, or a number of looks from 2 to 20")
    return int(text)


def _text(v: Value) -> str | None:
    return str(v.text).strip() if v.given else None


def _save_name(v: Value) -> str | None:
    if not v.given:
        return None
    from ..report.baseline import check_name

    return check_name(str(v.text).strip())


PARSERS: dict[str, Callable[[Value], Any]] = {  # ini key -> its parser, for every entry of optiontable.OPTIONS
    "kick_model": _model,
    "kick_method": _methods,
    "kick_sweep": _sweep,
    "kick_compressed": _compressed,
    "kick_pair_any": _flag,
    "kick_backend": _backend,
    "kick_calib_data": _calib_data,
    "kick_calib_samples": positive("--kick-calib-samples"),
    "kick_calib_seqlen": positive("--kick-calib-seqlen"),
    "kick_targets": _targets,
    "kick_skip_first": _count("--kick-skip-first"),
    "kick_skip_last": _count("--kick-skip-last"),
    "kick_device": _device,
    "kick_dtype": _dtype,
    "kick_gpus": parse_gpus,
    "kick_gpus_per_worker": positive("--kick-gpus-per-worker"),
    "kick_limit": _limit,
    "kick_scope": _scope,
    "kick_sequential": _sequential,
    "kick_fail_fast": _flag,
    "kick_batch_size": _batch_size,
    "kick_seed": _seed,
    "kick_data_dir": _data_dir,
    "kick_toxicity_scorer": _toxicity_scorer,
    "kick_cache_dir": _cache_dir,
    "kick_judge": _text,
    "kick_judge_model": _text,
    "kick_judge_key_env": _judge_key_env,
    "kick_judge_prompt": _text,
    "kick_judge_timeout": seconds("--kick-judge-timeout"),
    "kick_judge_retries": _count("--kick-judge-retries"),
    "kick_judge_concurrency": positive("--kick-judge-concurrency"),
    "kick_judge_budget": seconds("--kick-judge-budget"),
    "kick_judge_max_tokens": positive("--kick-judge-max-tokens"),
    "kick_save": _save_name,
    "kick_compare": _text,
    "kick_compare_fail": _flag,
    "kick_html": _report,
    "kick_markdown": _report,
    "kick_ray": _ray,
    "kick_ray_replicas": positive("--kick-ray-replicas"),
    "kick_ray_gpus_per_replica": number("--kick-ray-gpus-per-replica", 0.0, 0.0, strict=False),
    "kick_ray_cpus_per_replica": number("--kick-ray-cpus-per-replica", 1.0, 0.0, strict=True),
    "kick_report": _report,
    "kick_trust_remote_code": _flag,
}
