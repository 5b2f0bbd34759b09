"""The model store: verified model directories (compressed models, converted GGUF files) kept under the cache
folder, one per content key, built once under a file lock and checked against their manifest on every read."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

from ..files import ensure_dir, temp_dir
from ..fingerprint import remember, sha256_cached, sha256_file

MANIFEST = "kick_manifest.json"


class ModelCache:
    """Model directories kept under `<cache>/<kind>/<key>/`: compressed models (`compressed`) and GGUF files
    converted to safetensors (`models`), one per content key.

    One process builds an entry while others wait on its file lock and then load it. The build goes to a temp
    directory that is renamed into place with a manifest of every file's size and SHA-256 written last. An entry
    whose manifest is missing or whose files do not match it is deleted and rebuilt (with a warning), never loaded.
    Each file is read in full once per version: its hash is remembered by path, size, mtime and inode."""

    def __init__(self, root: Path, kind: str = "compressed") -> None:
        self.root = Path(root) / kind
        self.memo = Path(root) / "hashes"

    def verify(self, entry: Path, meta: dict | None = None) -> bool:
        """The entry's manifest lists exactly its files with their sizes and hashes, and (given `meta`) names the
        key it was built for: a copied or misfiled entry is not this one."""
        try:
            manifest = json.loads((entry / MANIFEST).read_text())
            listed = {name: (int(m["size"]), str(m["sha256"])) for name, m in manifest["files"].items()}
            if meta is not None and manifest.get("key") != json.loads(json.dumps(meta)):
                return False
            present = {f.relative_to(entry).as_posix() for f in entry.rglob("*") if f.is_file()} - {MANIFEST}
            if present != set(listed):
                return False
            for name, (size, sha) in listed.items():
                f = entry / name
                if f.stat().st_size != size or sha256_cached(f, self.memo) != sha:
                    return False
        except (OSError, ValueError, KeyError, TypeError, AttributeError):  # unreadable, or removed by a rebuild meanwhile
            return False
        return True

    def get_or_build(self, key: str, meta: dict, build: Callable[[Path], None]) -> tuple[Path, bool]:
        """(entry, built): the verified entry for `key`, building it with `build(tmp_dir)` when absent or corrupt."""
        import shutil
        import warnings

        from filelock import FileLock

        entry = self.root / key
        if self.verify(entry, meta):
            return entry, False
        ensure_dir(self.root)
        with FileLock(str(entry) + ".lock"):
            if self.verify(entry, meta):  # another worker built it while we waited
                return entry, False
            if entry.exists():
                warnings.warn(f"pytest-kick: model cache entry {entry} does not match its manifest; rebuilding it", stacklevel=2)
                shutil.rmtree(entry)
            tmp = temp_dir(self.root, key)
            try:
                started = time.perf_counter()
                build(tmp)
                seconds = round(time.perf_counter() - started, 2)
                hashes = {f.relative_to(tmp).as_posix(): (f.stat().st_size, sha256_file(f)) for f in sorted(tmp.rglob("*")) if f.is_file()}
                files = {name: {"size": size, "sha256": sha} for name, (size, sha) in hashes.items()}
                manifest = {"key": meta, "files": files, "build_s": seconds}
                (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True))
                os.replace(tmp, entry)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
            for name, (_, sha) in hashes.items():  # renamed, not rewritten: the first load trusts these hashes
                remember(entry / name, sha, self.memo)
        return entry, True

    @staticmethod
    def build_seconds(entry: Path) -> float | None:
        """How long the entry took to build (compress and save), as recorded in its manifest."""
        try:
            return json.loads((Path(entry) / MANIFEST).read_text()).get("build_s")
        except (OSError, ValueError):
            return None
