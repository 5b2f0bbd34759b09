"""Content-addressed per-request results (JSON files, atomic writes) and the runner that consults them."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from .engine import GenerationRequest, LoglikelihoodRequest, LoglikelihoodResult

if TYPE_CHECKING:  # pragma: no cover
    from .models import ModelHandle

# Bump when the engine's numbers could change for the same model and request.
ENGINE_VERSION = 1


class ResultCache:
    """One small JSON file per (model fingerprint, request). Written by temp file + rename, so concurrent xdist
    workers never see a half-written entry; an unreadable entry counts as a miss and is rewritten."""

    def __init__(self, root: Path | None) -> None:
        self.root = Path(root) / "results" if root is not None else None

    @staticmethod
    def key(model_fp: str, kind: str, payload: dict) -> str:
        blob = json.dumps([ENGINE_VERSION, model_fp, kind, payload], sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(blob.encode()).hexdigest()

    def _path(self, key: str) -> Path:
        assert self.root is not None
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict | None:
        if self.root is None:
            return None
        try:
            return json.loads(self._path(key).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def put(self, key: str, value: dict) -> None:
        if self.root is None:
            return
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(value, fh, ensure_ascii=False)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


@dataclass
class RunnerStats:
    hits: int = 0
    misses: int = 0


class CachedRunner:
    """Answers requests for one model from the cache, running (and loading) the model only for misses."""

    def __init__(self, handle: "ModelHandle", cache: ResultCache, batch_size: int | str = "auto") -> None:
        self.handle = handle
        self.cache = cache
        self.batch_size = batch_size
        self.stats = RunnerStats()

    def _run(self, kind: str, requests: Sequence, compute, encode, decode) -> list:
        keys = [self.cache.key(self.handle.fingerprint, kind, asdict(r)) for r in requests]
        out = [None] * len(requests)
        missing = []
        for i, k in enumerate(keys):
            hit = self.cache.get(k)
            if hit is not None:
                out[i] = decode(hit)
            else:
                missing.append(i)
        self.stats.hits += len(requests) - len(missing)
        self.stats.misses += len(missing)
        if missing:
            results = compute([requests[i] for i in missing])
            for i, res in zip(missing, results):
                out[i] = res
                self.cache.put(keys[i], encode(res))
        return out

    def loglikelihood(self, requests: Sequence[LoglikelihoodRequest]) -> list[LoglikelihoodResult]:
        return self._run(
            "loglikelihood",
            requests,
            lambda reqs: self.handle.engine(self.batch_size).loglikelihood(reqs),
            asdict,
            lambda d: LoglikelihoodResult(**d),
        )

    def generate(self, requests: Sequence[GenerationRequest]) -> list[str]:
        return self._run(
            "generate",
            requests,
            lambda reqs: self.handle.engine(self.batch_size).generate(reqs),
            lambda text: {"text": text},
            lambda d: d["text"],
        )
