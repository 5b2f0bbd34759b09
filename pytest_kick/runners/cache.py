"""Content-addressed per-request results (JSON files, atomic writes) and the runner that consults them."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from ..contract import (
    KINDS,
    DistributionRequest,
    DistributionResult,
    GenerationRequest,
    LoglikelihoodRequest,
    LoglikelihoodResult,
    RollingRequest,
    RollingResult,
    Runner,
    RunnerFactory,
    decode,
    plain_chat,
)
from ..files import write_atomic
from ..fingerprint import source_digest
from . import progress

# The code whose digest is in every result key: an edit to it never reuses numbers the old code made.
ENGINE_CODE = ("runners/engine.py", "runners/packing.py", "runners/generation.py", "contract.py", "models/handles.py", "models/load.py")
# Bump when the engine's numbers could change for the same model and request.
ENGINE_VERSION = 4  # 3: entries carry their key and a checksum of their payload; 4: packed tree scoring, own greedy loop


class ResultCache:
    """One small JSON file per (model fingerprint, request): `{"key", "sha256", "payload"}`. Written by temp file +
    rename, so concurrent xdist workers never see a half-written entry. An entry that is unreadable, filed under
    another key or whose payload does not match its checksum (edited by hand, damaged) is a miss: recomputed and
    rewritten, with one warning per cache (the rest are counted in `rejected`)."""

    def __init__(self, root: Path | None) -> None:
        self.root = Path(root) / "results" if root is not None else None
        self.rejected = 0
        self.unwritable = 0

    @staticmethod
    def checksum(payload: dict) -> str:
        return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()).hexdigest()

    @staticmethod
    def key(model_fp: str, kind: str, payload: dict) -> str:
        """Over the engine (its version, its code and the loading code), the model's fingerprint (weights and
        numerics), the request."""
        engine = [ENGINE_VERSION, source_digest(*ENGINE_CODE)]
        blob = json.dumps([engine, model_fp, kind, payload], sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(blob.encode()).hexdigest()

    def _path(self, key: str) -> Path:
        assert self.root is not None
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict | None:
        if self.root is None:
            return None
        path = self._path(key)
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return self.reject(path, "not JSON (a crashed write?)")
        if not isinstance(entry, dict) or entry.get("key") != key or not isinstance(entry.get("payload"), dict):
            return self.reject(path, "not an entry for this request")
        if entry.get("sha256") != self.checksum(entry["payload"]):
            return self.reject(path, "its payload does not match its checksum (edited or damaged)")
        return entry["payload"]

    def reject(self, path: Path, why: str) -> None:
        """Count a bad entry as a miss; the first one of this cache is also a warning."""
        import warnings

        self.rejected += 1
        if self.rejected == 1:
            warnings.warn(f"pytest-kick: cache entry {path} is {why}; it is recomputed and rewritten", stacklevel=3)
        return None

    def put(self, key: str, value: dict) -> None:
        if self.root is None:
            return
        entry = {"key": key, "sha256": self.checksum(value), "payload": value}
        try:
            write_atomic(self._path(key), json.dumps(entry, ensure_ascii=False))
        except OSError as exc:  # a full disk, a cache folder another user owns: the answer stands, uncached
            self.unwritable += 1
            if self.unwritable == 1:
                import warnings

                warnings.warn(f"pytest-kick: could not write to the result cache ({exc}); this run's answers are not cached", stacklevel=2)


@dataclass
class RunnerStats:
    hits: int = 0
    misses: int = 0


class CachedRunner:
    """Answers one model's requests from the cache, making its runner (and so loading the model) only for misses.
    A factory without a fingerprint is never cached: every request goes to its runner."""

    def __init__(self, factory: RunnerFactory, cache: ResultCache) -> None:
        self.factory = factory
        self.cache = cache if factory.fingerprint is not None else ResultCache(None)
        self.stats = RunnerStats()
        self._runner: Runner | None = None

    def chat_prompt(self, messages) -> str:
        """The model's chat template applied to `messages` (its tokenizer only: no weights are loaded)."""
        return self.factory.chat(messages) if self.factory.chat is not None else plain_chat(messages)

    @property
    def runner(self) -> Runner:
        if self._runner is None:
            self._runner = self.factory.make()
        return self._runner

    def _run(self, kind: str, requests: Sequence, compute: Callable[[list], list]) -> list:
        fp = self.factory.fingerprint
        keys = [self.cache.key(fp, kind, asdict(r)) for r in requests] if fp is not None else [""] * len(requests)
        out: list = [None] * len(requests)
        missing = []
        for i, k in enumerate(keys):
            hit = self.cache.get(k) if k else None
            try:
                out[i] = decode(kind, hit) if hit is not None else None
            except ValueError:  # a payload of the wrong shape is a miss: recomputed and rewritten
                out[i] = self.cache.reject(self.cache._path(k), f"not a {kind} result")
            if out[i] is None:
                missing.append(i)
        self.stats.hits += len(requests) - len(missing)
        self.stats.misses += len(missing)
        if missing and kind == "generate" and getattr(self.runner, "reports_each", False):
            self._each(kind, requests, compute, missing, keys, out)
        elif missing:
            todo, batch = [requests[i] for i in missing], getattr(self.runner, "batch_size", None)
            live = bool(getattr(self.runner, "reports_progress", False))  # else: progress between chunks
            results = progress.chunked(compute, todo, f"{self.factory.name} {kind}", batch, live)
            for i, res in zip(missing, results, strict=True):  # a runner owes one result per request
                out[i] = res
                if keys[i]:
                    self.cache.put(keys[i], KINDS[kind].encode(res))
        return out

    def _each(self, kind: str, requests: Sequence, compute: Callable, missing: list[int], keys: list[str], out: list) -> None:
        """A runner that hands back each result as it arrives (a judge endpoint, one request per verdict): each is
        cached at once, so a run that stops half way (a failure, a spent budget, Ctrl-C) keeps what came back."""
        with progress.track(f"{self.factory.name} {kind}", len(missing)) as task:

            def put(j: int, res) -> None:
                i = missing[j]
                out[i] = res
                if keys[i]:
                    self.cache.put(keys[i], KINDS[kind].encode(res))
                task.advance(1)

            results = compute([requests[i] for i in missing], put)
        if len(results) != len(missing):  # a runner owes one result per request
            raise ValueError(f"{self.factory.name} {kind}: the runner returned {len(results)} results for {len(missing)} requests")

    def loglikelihood(self, requests: Sequence[LoglikelihoodRequest]) -> list[LoglikelihoodResult]:
        return self._run("loglikelihood", requests, lambda reqs: self.runner.loglikelihood(reqs))

    def loglikelihood_rolling(self, requests: Sequence[RollingRequest]) -> list[RollingResult]:
        return self._run("rolling", requests, lambda reqs: self.runner.loglikelihood_rolling(reqs))

    def generate(self, requests: Sequence[GenerationRequest]) -> list[str]:
        if any(r.sampled for r in requests):  # sampled text is never cached: it is a draw, not a fact of the model
            return self.runner.generate(requests)
        return self._run("generate", requests, lambda reqs, *put: self.runner.generate(reqs, *put))

    def distribution(self, requests: Sequence[DistributionRequest]) -> list[DistributionResult]:
        return self._run("distribution", requests, lambda reqs: self.runner.distribution(reqs))
