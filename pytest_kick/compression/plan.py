"""A compression plan: everything about one --kick-method entry that can be decided before any model is loaded
(family, backend, calibration and its digest, a team's code digest), resolved once at start-up."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import KickUsageError
from ..fingerprint import code_digest
from ..sources import checkpoint_format
from . import CompressionSettings, Family, family_of, resolve_backend
from .backends import Backend
from .spec import CheckpointSpec, CompressionSpec


@dataclass(frozen=True)
class CompressionPlan:
    """How the compressed model of one method is made. For a checkpoint (--kick-compressed) only `spec` and
    `checkpoint_format` are set. `calibration` is what the calibration windows depend on (None: the backend reads
    none); `code` is the digest of a team's own compressor."""

    spec: CompressionSpec
    family: Family | None = None
    backend: Backend | None = None
    at_load: bool = False
    calibration: dict | None = None
    code: str | None = None
    checkpoint_format: str | None = None
    runtime: bool = False  # the weights stay dense; the family's engine runs them (KV-cache compression)

    @property
    def needs_calibration(self) -> bool:
        return self.calibration is not None

    @property
    def whole(self) -> bool:
        """Compressed as a whole, not layer by layer: layer selection and layer shapes do not apply."""
        return self.at_load or self.runtime or self.is_checkpoint or (self.family is not None and not self.family.layerwise)

    @property
    def is_checkpoint(self) -> bool:
        return isinstance(self.spec, CheckpointSpec)

    def compressor(self) -> Callable:
        """The chosen backend's implementation of this family (a `Compressor`, or for at-load families the
        function that returns from_pretrained kwargs)."""
        if self.family is None or self.backend is None:
            raise KickUsageError(f"{self.spec.id} is an already-compressed checkpoint: there is nothing to compress")
        return self.family.load(self.backend.name)


def plan_method(spec: CompressionSpec, settings: CompressionSettings) -> CompressionPlan:
    """Resolve `spec` against the installed backends and the calibration settings; every problem that can be
    known now (backend not installed, calibration file missing, unknown checkpoint format) raises here."""
    if isinstance(spec, CheckpointSpec):
        return CompressionPlan(spec, checkpoint_format=checkpoint_format(Path(spec.path)))
    family = family_of(spec)
    backend = resolve_backend(spec, settings.backend)
    calibration = settings.calibration.key(settings.data_dir) if backend.calibrates or family.calibrates else None
    code = code_digest(family.load(backend.name)) if backend.name == "custom" else None
    if family.runtime:
        family.load(backend.name)(spec)  # what it needs (e.g. quanto for kv-int4) is checked now, at start-up
    return CompressionPlan(spec, family, backend, family.at_load, calibration, code, runtime=family.runtime)
