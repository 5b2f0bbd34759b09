"""What one Ray replica loads and does (--kick-ray): `ReplicaSpec` names a model directory by its files' hashes,
and `Replica`, the actor's body, loads it (in place, or from files shipped and checked) and answers shards of
requests. Plain classes: `fanout` makes `Replica` a Ray actor; tests use it without Ray."""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..contract import KINDS
from ..errors import KickError
from ..fingerprint import model_files, sha256_cached
from ..settings import LoadSettings


@dataclass(frozen=True)
class ReplicaSpec:
    """What one replica loads: a directory (its files' relative names, sizes and SHA-256 fix its contents), with
    which loader, settings and extra arguments, and the numerics the result keys assume it computes in."""

    name: str
    path: str
    files: tuple[tuple[str, int, str], ...]
    loader: str  # "hf" or "compressed"
    settings: LoadSettings
    numerics: str
    batch_size: int | str = "auto"
    kwargs: dict = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.name}|{self.path}|{self.batch_size}"


def runtime_engine(method: str, backend: str | None = None) -> Any:
    """The engine maker of a runtime method, from its spec text and the backend the pytest process resolved."""
    from ..compression import family_of, parse_spec

    spec = parse_spec(method)
    fam = family_of(spec)
    return fam.load(backend or next(iter(fam.impls)))(spec)


def listing(path: Path, memo: Path | None = None) -> tuple[tuple[str, int, str], ...]:
    """(relative name, size, SHA-256) of every file a model directory holds (hidden ones excluded, as in keys)."""
    root = Path(path)
    return tuple((f.relative_to(root).as_posix(), f.stat().st_size, sha256_cached(f, memo)) for f in model_files(root))


# ---- the replica (a Ray actor; a plain class, so it is tested without Ray) -----------------------------------
class Replica:
    """One slot of the cluster holding up to MODELS_PER_REPLICA models (a test compares two: dense and compressed).
    `prepare` loads one (in place, or from shipped files), `run` answers one shard with it, `drop` forgets one."""

    def __init__(self) -> None:
        self.engines: dict[str, Any] = {}
        self.scratch: dict[str, Path] = {}

    def prepare(self, spec: ReplicaSpec, blobs: dict | None = None) -> dict:
        where = {"host": socket.gethostname(), "pid": os.getpid()}
        path = Path(spec.path)
        if blobs is not None:
            path = self._unpack(spec, blobs)
        elif not (path.is_dir() and listing(path, memo(spec.settings)) == spec.files):
            return {"status": "missing", **where}
        from ..runners.engine import Engine
        from .load import load_compressed, load_hf, numerics, parameter_count

        load = load_compressed if spec.loader == "compressed" else load_hf
        kwargs = dict(spec.kwargs)
        runtime = kwargs.pop("kick_runtime", None)  # a runtime method (KV cache): dense weights, its own engine
        backend = kwargs.pop("kick_backend", None)
        model, tok = load(path, spec.settings, **kwargs)
        make = Engine if runtime is None else runtime_engine(runtime, backend)
        self.engines[spec.key] = make(model, tok, batch_size=spec.batch_size)
        # the parameters as loaded here: the driver never loads the model, so the report's count comes from here
        facts = {"numerics": numerics(spec.settings), "params": parameter_count(model), "shipped": blobs is not None}
        return {"status": "loaded", **facts, **where}

    def _unpack(self, spec: ReplicaSpec, blobs: dict) -> Path:
        """Write shipped files into a scratch folder of this process's, each checked against its size and hash."""
        import hashlib
        import tempfile

        folder = self.scratch[spec.key] = Path(tempfile.mkdtemp(prefix="kick-replica-"))
        for name, size, sha in spec.files:
            data = blobs[name] if isinstance(blobs[name], bytes) else _fetch(blobs[name])
            if len(data) != size or hashlib.sha256(data).hexdigest() != sha:
                raise KickError(f"{spec.name}: shipped file {name} does not match its hash (damaged in transit)")
            out = folder / name
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(data)
        return folder

    def run(self, key: str, kind: str, requests: Sequence[Any]) -> list[dict]:
        """One shard's answers as the cache's JSON payloads (checked again on arrival)."""
        results = getattr(self.engines[key], KINDS[kind].method)(list(requests))
        return [KINDS[kind].encode(r) for r in results]

    def drop(self, key: str) -> None:
        import gc
        import shutil

        self.engines.pop(key, None)
        shutil.rmtree(self.scratch.pop(key, Path("/nonexistent")), ignore_errors=True)
        gc.collect()

    def close(self) -> None:
        for key in list(self.engines):
            self.drop(key)


def _fetch(ref: Any) -> bytes:
    import ray

    return ray.get(ref)


def memo(settings: LoadSettings) -> Path | None:
    """Remembered file hashes, when this node has the cache folder (a replica never creates one)."""
    memo = Path(settings.cache_dir) / "hashes" if settings.cache_dir is not None else None
    return memo if memo is not None and memo.is_dir() else None
