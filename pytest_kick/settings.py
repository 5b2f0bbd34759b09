"""The settings objects the frozen `KickConfig` hands out: how to load models, how to evaluate, and the one
default cache directory. Plain data; parsing lives in `config`."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import KickUsageError


def default_cache_dir() -> Path:
    """$PYTEST_KICK_CACHE, else $XDG_CACHE_HOME/pytest-kick, else ~/.cache/pytest-kick."""
    env = os.environ.get("PYTEST_KICK_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "pytest-kick"


@dataclass(frozen=True)
class LoadSettings:
    """How models are loaded: device and dtype, where converted and compressed models are kept (None, with
    --kick-cache-dir=none: in a scratch folder of the session's), and this process's xdist worker id and GPU
    share size."""

    device: str = "auto"
    dtype: str = "auto"
    cache_dir: Path | None = field(default_factory=default_cache_dir)
    trust_remote_code: bool = False
    worker_id: str | None = None
    gpus_per_worker: int = 1
    remote: bool = False  # `device` is where Ray replicas compute (--kick-ray), not necessarily this process


@dataclass(frozen=True)
class RaySettings:
    """--kick-ray: where the cluster is ('local' starts one on this machine, 'auto' joins the running one, else
    an address), how many model replicas (None: as many as the cluster fits, shared among xdist workers) and what
    each asks for."""

    address: str
    replicas: int | None = None
    gpus_per_replica: float = 0.0
    cpus_per_replica: float = 1.0

    @property
    def device(self) -> str:
        """The device kind replicas compute on (and so the one in every result key)."""
        return "cuda" if self.gpus_per_replica > 0 else "cpu"


def check_limit(value: Any, knob: str) -> int:
    """A limit is a positive integer wherever it is given; the error names the knob it came from."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise KickUsageError(f"{knob} must be a positive integer, got {value!r}")
    return value


@dataclass(frozen=True)
class Limit:
    """How many examples a gate uses, and the knob that set it. Precedence, highest first: the assertion's
    `limit=` argument, the test's `@pytest.mark.kick(limit=...)`, --kick-limit, the `kick_limit` ini value.
    Accuracy gates take `value` examples of the task; safety gates take `value` examples per group."""

    value: int
    knob: str

    def __post_init__(self) -> None:
        check_limit(self.value, self.knob)


def effective_limit(argument: int | None, configured: Limit | None) -> Limit | None:
    """The limit that wins for one assertion call: its own argument, else what the test and session configured."""
    if argument is not None:
        return Limit(check_limit(argument, "limit"), "the assertion's limit= argument")
    return configured


@dataclass(frozen=True)
class JudgeSpec:
    """--kick-judge: an OpenAI-compatible endpoint (`url` and `model`) or a local model (`model`, a --kick-model
    style reference); `key_env` names the environment variable holding the endpoint's key (never the key)."""

    model: str
    url: str | None = None
    key_env: str = "OPENAI_API_KEY"
    prompt: str = "pairwise-scores"  # a prompt name, or PATH:NAME of a JSONL file of judge prompts
    timeout: float = 120.0  # seconds per request to an endpoint
    retries: int = 3  # the client's retries of a failed request
    concurrency: int = 4  # requests at once
    budget: float | None = None  # seconds for all of the judge's requests in the run (None: no limit)
    max_new_tokens: int = 256  # tokens per verdict


@dataclass(frozen=True)
class EvalSettings:
    """How gates evaluate: where benchmark data lives, how many examples (see `Limit`), the seed, the claim's scope, the engine's
    batch size, where per-request results are cached (None: not cached), and the toxicity scorer."""

    data_dir: Path | None = None
    limit: Limit | None = None
    seed: int = 1234
    scope: str = "benchmark"  # what a verdict generalizes to (gates.scope.SCOPES); a gate's scope= argument wins
    sequential: int = 0  # accuracy gates in this many looks (gates.sequential; 0: one look); a gate's sequential= wins
    batch_size: int | str = "auto"
    cache_dir: Path | None = None
    toxicity_scorer: str | None = None
    judge: JudgeSpec | None = None
