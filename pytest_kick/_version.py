"""The package version, read from the installed distribution's metadata (pyproject.toml is the one place)."""

from __future__ import annotations

import importlib.metadata

try:
    __version__ = importlib.metadata.version("pytest-kick")
except importlib.metadata.PackageNotFoundError:  # pragma: no cover - run from a source tree that is not installed
    __version__ = "0+unknown"
