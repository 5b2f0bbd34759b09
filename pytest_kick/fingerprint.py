"""Content fingerprints: of files (SHA-256, remembered per file version), of model directories, of a team's code."""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Callable
from pathlib import Path


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def sha256_cached(path: Path) -> str:
    """Content hash, computed once per file version (path, size, mtime) within a process."""
    st = Path(path).stat()
    return _sha256_cached(str(Path(path).resolve()), st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=32)
def _sha256_cached(path: str, size: int, mtime_ns: int) -> str:
    return sha256_file(Path(path))


def fingerprint_dir(path: Path) -> str:
    """Content fingerprint of a model directory: configs in full, weight files by name, size, head and tail."""
    h = hashlib.sha256()
    for f in sorted(p for p in Path(path).iterdir() if p.is_file()):
        h.update(f.name.encode())
        size = f.stat().st_size
        h.update(str(size).encode())
        with open(f, "rb") as fh:
            if f.suffix in (".json", ".txt", ".model", ".jinja") or size <= 2 << 20:
                h.update(fh.read())
            else:  # large weight shards: head and tail are enough to tell versions apart cheaply
                h.update(fh.read(1 << 20))
                fh.seek(-(1 << 20), os.SEEK_END)
                h.update(fh.read(1 << 20))
    return h.hexdigest()


def code_digest(fn: Callable) -> str:
    """A team's compressor is keyed by its source too: editing it must not serve weights the old code made."""
    import inspect

    target = getattr(fn, "__wrapped__", fn)
    try:
        text = inspect.getsource(target)
    except (OSError, TypeError):
        text = f"{getattr(target, '__module__', '')}.{getattr(target, '__qualname__', repr(target))}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]
