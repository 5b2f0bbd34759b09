"""Files written whole or not at all (cache entries, remembered hashes, the run report), with the permissions the
user's umask asks for (a cache shared by a team under `umask 002` stays group-writable; nothing is ever
world-writable), and the sweep that removes what a killed writer left behind."""

from __future__ import annotations

import functools
import os
import shutil
import socket
import tempfile
import time
from pathlib import Path

STALE_S = 600  # a result or hash temp file lives milliseconds; one this old belongs to a killed writer
TMP = ".tmp-"


@functools.lru_cache(maxsize=1)
def _umask() -> int:
    mask = os.umask(0o022)  # reading the umask means setting it; put it straight back
    os.umask(mask)
    return mask


def file_mode() -> int:
    return 0o666 & ~_umask() & ~0o002


def dir_mode() -> int:
    return 0o777 & ~_umask() & ~0o002


def ensure_dir(path: Path) -> Path:
    """mkdir -p, each new level with the umask's permissions (never world-writable)."""
    path = Path(path)
    missing = []
    while not path.exists() and path != path.parent:
        missing.append(path)
        path = path.parent
    for p in reversed(missing):
        try:
            p.mkdir(mode=dir_mode())
            os.chmod(p, dir_mode())  # mkdir's mode is masked by the umask once more; say it exactly
        except FileExistsError:
            pass
    return missing[0] if missing else path


def write_atomic(path: Path, text: str) -> None:
    """A temp file in the target's folder, renamed over the target: readers (other xdist workers) never see half a
    file, and a writer killed midway leaves only a temp file, which `sweep` removes at a later start."""
    ensure_dir(path.parent)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=_owner_prefix(), suffix=path.suffix)
    try:
        os.fchmod(fd, file_mode())  # mkstemp makes 0600 whatever the umask
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _owner_prefix() -> str:
    """`.tmp-<pid>-<host>-`: `sweep` removes a temp file at once when its writer is gone from this host."""
    return f"{TMP}{os.getpid()}-{socket.gethostname()}-"


def _orphaned(name: str, age: float) -> bool:
    """A temp file's writer is dead (it ran on this host and its pid is gone), or the file is older than STALE_S."""
    if age > STALE_S:
        return True
    parts = name[len(TMP) :].split("-")
    if len(parts) < 3 or not parts[0].isdigit() or "-".join(parts[1:-1]) != socket.gethostname():
        return False
    try:
        os.kill(int(parts[0]), 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False  # alive, another user's
    return False


def temp_dir(parent: Path, key: str) -> Path:
    """A build folder next to its final place, named after the entry it becomes (`sweep` uses that name to ask the
    entry's lock whether its builder is still alive); permissions as the umask says (mkdtemp makes 0700)."""
    ensure_dir(parent)
    tmp = Path(tempfile.mkdtemp(dir=parent, prefix=f"{TMP}{key}-"))
    os.chmod(tmp, dir_mode())
    return tmp


def sweep(cache_dir: Path | None, now: float | None = None) -> int:
    """Remove what killed writers left in a cache: model build folders whose entry lock nobody holds (so no builder
    is alive), and result/hash temp files whose writer is gone (or older than STALE_S). Returns how many were
    removed. Never creates the cache; any error just leaves a file for the next sweep."""
    from filelock import FileLock, Timeout

    if cache_dir is None or not Path(cache_dir).is_dir():
        return 0
    root, now, removed = Path(cache_dir), time.time() if now is None else now, 0
    for kind in ("compressed", "models"):
        for tmp in (root / kind).glob(f"{TMP}*"):
            key = tmp.name[len(TMP) :].rsplit("-", 1)[0]
            try:
                with FileLock(str(root / kind / f"{key}.lock"), timeout=0):
                    shutil.rmtree(tmp) if tmp.is_dir() else tmp.unlink()
                removed += 1
            except (Timeout, OSError):
                continue  # a builder holds the lock: its folder is alive
    for pattern in (f"results/*/{TMP}*", f"hashes/{TMP}*"):
        for tmp in root.glob(pattern):
            try:
                if _orphaned(tmp.name, now - tmp.stat().st_mtime):
                    tmp.unlink()
                    removed += 1
            except OSError:
                continue
    return removed
