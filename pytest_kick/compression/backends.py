"""Backends: the libraries that run a compression method, whether each is installed, and its version."""

from __future__ import annotations

import importlib.metadata
import importlib.util
from dataclasses import dataclass

from .._version import __version__
from ..errors import MissingBackend


@dataclass(frozen=True)
class Backend:
    """A library that compresses (or `builtin`, pytest-kick's own code, or `custom`, a team's registered code)."""

    name: str
    module: str | None = None  # import name; None: always there
    distribution: str | None = None  # PyPI name, for the version and the pip command
    pip: str = ""
    also: tuple[str, ...] = ()  # further import names the backend needs (e.g. optimum to load GPTQ checkpoints)
    calibrates: bool = False  # its methods read calibration windows: they are keyed by, and checked at start-up

    def installed(self) -> bool:
        return all(importlib.util.find_spec(m) is not None for m in (self.module, *self.also) if m)

    def version(self) -> str:
        if self.distribution is None:
            return __version__
        try:
            return importlib.metadata.version(self.distribution)
        except importlib.metadata.PackageNotFoundError:
            return "unknown"

    def label(self) -> str:
        return "custom" if self.name == "custom" else f"{self.name} {self.version()}"

    def require(self, why: str) -> None:
        if not self.installed():
            raise MissingBackend(f"{why} needs the {self.name} backend, which is not installed. Install it with: {self.pip}")


BACKENDS: dict[str, Backend] = {
    b.name: b
    for b in (
        Backend("builtin"),
        # A team's compressor may call ctx.calibration(): its models are keyed by the calibration data too.
        Backend("custom", calibrates=True),
        Backend("llmcompressor", "llmcompressor", "llmcompressor", "pip install 'llmcompressor>=0.14,<0.15'", calibrates=True),
        Backend(
            "gptqmodel",
            "gptqmodel",
            "gptqmodel",
            "pip install gptqmodel optimum  (gptqmodel brings its own CUDA build of torch)",
            ("optimum",),
            calibrates=True,
        ),
        Backend("bitsandbytes", "bitsandbytes", "bitsandbytes", "pip install 'bitsandbytes>=0.50'"),
    )
}
CHOICES = ("auto", *(name for name in BACKENDS if name != "custom"))  # what --kick-backend accepts
