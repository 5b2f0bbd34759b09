"""Content fingerprints: of files (SHA-256 of every byte, remembered per file version), of model directories, of a
team's code."""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from pathlib import Path

from .files import write_atomic


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def sha256_cached(path: Path, memo: Path | None = None) -> str:
    """Content hash of every byte, computed once per file version: remembered within the process and, with
    `memo` (a folder in the cache), across sessions, by the file's stamp (path, device, inode, size, mtime and
    ctime: ctime cannot be set by programs, so a file rewritten with the same size and a forged mtime, e.g. from a
    reproducible archive, still reads as a new version). A remembered hash whose stamp does not match is ignored."""
    p = Path(path).resolve()
    return _sha256_cached(str(p), _stamp(p), str(memo) if memo else "")


def _stamp(p: Path) -> tuple[int, ...]:
    st = p.stat()
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


STAMP = ("dev", "inode", "size", "mtime_ns", "ctime_ns")
SETTLED_NS = 2_000_000_000  # a file changed this recently may still be written to: its hash is not remembered


@functools.lru_cache(maxsize=256)
def _sha256_cached(path: str, stamp: tuple[int, ...], memo: str) -> str:
    import time

    key = {"path": path, **dict(zip(STAMP, stamp))}
    entry = _memo_entry(memo, path)
    if entry is not None:
        try:
            saved = json.loads(entry.read_text(encoding="utf-8"))
            if isinstance(saved, dict) and {k: saved.get(k) for k in key} == key and _is_sha256(saved.get("sha256")):
                return saved["sha256"]
        except (OSError, ValueError):
            pass  # missing or unreadable: recompute
    value = sha256_file(Path(path))
    settled = time.time_ns() - max(stamp[3], stamp[4]) > SETTLED_NS
    if settled and _stamp(Path(path)) == stamp:  # unchanged while it was read, and not being written now
        _write_memo(entry, key, value)
    return value


def remember(path: Path, value: str, memo: Path | None) -> None:
    """Record a hash just computed for a file's current version: a cache entry we wrote ourselves and renamed into
    place (nobody else writes to it), so the first load trusts it without reading the file again."""
    p = Path(path).resolve()
    _write_memo(_memo_entry(str(memo) if memo else "", str(p)), {"path": str(p), **dict(zip(STAMP, _stamp(p)))}, value)


def _memo_entry(memo: str, path: str) -> Path | None:
    return Path(memo) / f"{hashlib.sha256(path.encode()).hexdigest()[:32]}.json" if memo else None


def _write_memo(entry: Path | None, key: dict, value: str) -> None:
    if entry is None:
        return
    try:
        write_atomic(entry, json.dumps({**key, "sha256": value}))
    except OSError:
        pass  # a read-only cache only costs time


def _is_sha256(value: object) -> bool:
    return isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value)


def model_files(path: Path) -> list[Path]:
    """Every file of a model directory, subfolders included, sorted; hidden files and folders (.git,
    .cache/huggingface download metadata) are not part of the model."""
    root = Path(path)
    return sorted(p for p in root.rglob("*") if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts))


def fingerprint_dir(path: Path, memo: Path | None = None) -> str:
    """Content fingerprint of a model directory: every byte of every file in `model_files`, by relative path.
    Whole-file hashes are remembered by file version (`sha256_cached`), so a model is read in full once."""
    root = Path(path)
    h = hashlib.sha256()
    for f in model_files(root):
        h.update(f.relative_to(root).as_posix().encode() + b"\0")
        h.update(sha256_cached(f, memo).encode())
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


@functools.lru_cache(maxsize=8)
def source_digest(*relative: str) -> str:
    """Digest of some of pytest-kick's own source files (globs relative to the package): code that makes numbers is
    part of the keys of what it made, so an edited checkout (or one whose version reads 0+unknown) never reuses
    numbers the old code made."""
    root = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for pattern in relative:
        files = sorted(root.glob(pattern))
        if not files:  # a renamed module would silently drop out of every key it guards
            raise FileNotFoundError(f"source_digest: no pytest-kick source matches {pattern!r}")
        for f in files:
            h.update(f.relative_to(root).as_posix().encode() + b"\0" + f.read_bytes())
    return h.hexdigest()[:16]


@functools.cache
def package_version(name: str) -> str:
    """An installed distribution's version, read from its metadata (nothing is imported; once per process: every
    result key asks for five of them)."""
    import importlib.metadata

    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "none"


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]
