"""Files written whole or not at all (cache entries, remembered hashes, the run report), with the permissions the
user's umask asks for (a cache shared by a team under `umask 002` stays group-writable; nothing is ever
world-writable), and the sweep that removes what a killed writer left behind."""

from __future__ import annotations

import functools
import os
import re
import shutil
import socket
import stat
import tempfile
import time
from pathlib import Path

STALE_S = 600  # a result or hash temp file lives milliseconds; one this old belongs to a killed writer
OLD_BUILD_S = 86_400  # a build folder not named after its entry (an older version's) is swept only after a day
TMP = ".tmp-"
BUILD = re.compile(r"\.tmp-(?P<key>[0-9a-f]{32}|gguf-[0-9a-f]{20}|[A-Za-z0-9_]+)-[a-z0-9_]{8}")


@functools.lru_cache(maxsize=1)
def _umask() -> int:
    mask = os.umask(0o022)  # reading the umask means setting it; put it straight back
    os.umask(mask)
    return mask


def file_mode() -> int:
    return 0o666 & ~_umask() & ~0o002


def dir_mode() -> int:
    return 0o777 & ~_umask() & ~0o002


def ensure_dir(path: Path) -> None:
    """mkdir -p, each new level with the umask's permissions (never world-writable)."""
    missing = []
    path = Path(path)
    while not path.exists() and path != path.parent:
        missing.append(path)
        path = path.parent
    for p in reversed(missing):
        try:
            p.mkdir(mode=dir_mode())  # the kernel keeps a setgid parent's bit (a team's group-owned cache)
        except FileExistsError:
            pass


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


@functools.lru_cache(maxsize=1)
def _where() -> str:
    """This process's pid namespace and host: containers sharing a hostname (host networking) have their own pids."""
    try:
        ns = os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        ns = 0
    return f"{ns}-{socket.gethostname()}"


def _owner_prefix() -> str:
    """`.tmp-<pid>-<pid namespace>-<host>-`: `sweep` removes a temp file at once when its writer is gone."""
    return f"{TMP}{os.getpid()}-{_where()}-"


def _orphaned(name: str, age: float) -> bool:
    """A temp file's writer is dead (same pid namespace and host, pid gone), or the file is older than STALE_S."""
    if age > STALE_S:
        return True
    parts = name[len(TMP) :].split("-")
    if len(parts) < 4 or not parts[0].isdigit() or "-".join(parts[1:-1]) != _where():
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
    os.chmod(tmp, dir_mode() | (os.stat(parent).st_mode & stat.S_ISGID))  # mkdtemp makes 0700; keep a setgid bit
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
            match = BUILD.fullmatch(tmp.name)
            try:
                if match is None:  # not named by this version (an older one builds here too): by age only
                    if now - tmp.stat().st_mtime > OLD_BUILD_S:
                        shutil.rmtree(tmp) if tmp.is_dir() else tmp.unlink()
                        removed += 1
                    continue
                with FileLock(str(root / kind / f"{match['key']}.lock"), timeout=0):
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
