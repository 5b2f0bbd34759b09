"""pytest-kick: paired statistical gates that check a compressed LLM against its dense original.

The public door: everything a test file, a conftest, or a team's own task, scorer or compression method needs."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what type checkers and editors see; at run time each name is imported on first use
    from ._version import __version__
    from .compression import CompressContext, CompressionSpec, NamedSpec, SavedCheckpoint, compression_method, parse_spec, register_family
    from .contract import (
        DistributionRequest,
        DistributionResult,
        GenerationRequest,
        LoglikelihoodRequest,
        LoglikelihoodResult,
        RollingRequest,
        RollingResult,
        Runner,
        RunnerFactory,
        TopK,
    )
    from .errors import (
        AccuracyRegression,
        FidelityRegression,
        KickError,
        KickRegression,
        KickUsageError,
        MissingBackend,
        QualityRegression,
        SafetyRegression,
    )
    from .gates.accuracy import AccuracyResult, assert_kick_accuracy_within
    from .gates.fidelity import FidelityResult, assert_fidelity_within
    from .gates.quality import QualityResult, assert_generation_quality_within
    from .gates.safety import (
        SafetyResult,
        assert_no_bias_regression,
        assert_no_dialect_bias_regression,
        assert_no_toxicity_regression,
        assert_perplexity_within,
    )
    from .models.handles import ModelHandle
    from .models.pair import ModelPair
    from .session.config import KickConfig
    from .settings import EvalSettings, Limit, LoadSettings
    from .tasks import Example, MeasuredTask, Outcome, Task, get_task, register_task
    from .tasks.scorers import Scorer
    from .testing import FakeRunner

# Public name -> the module that defines it. Imported on first use (PEP 562), so `import pytest_kick.plugin`, which
# pytest does at every start, loads none of them.
_HOME = {
    "__version__": "_version",  # read from the installed metadata: milliseconds, so only when asked
    "AccuracyResult": "gates.accuracy",
    "assert_kick_accuracy_within": "gates.accuracy",
    "CompressContext": "compression",
    "CompressionSpec": "compression",
    "NamedSpec": "compression",
    "SavedCheckpoint": "compression",
    "compression_method": "compression",
    "parse_spec": "compression",
    "register_family": "compression",
    "KickConfig": "session.config",
    "DistributionRequest": "contract",
    "DistributionResult": "contract",
    "GenerationRequest": "contract",
    "LoglikelihoodRequest": "contract",
    "LoglikelihoodResult": "contract",
    "RollingRequest": "contract",
    "RollingResult": "contract",
    "Runner": "contract",
    "RunnerFactory": "contract",
    "TopK": "contract",
    "AccuracyRegression": "errors",
    "FidelityRegression": "errors",
    "KickError": "errors",
    "KickRegression": "errors",
    "KickUsageError": "errors",
    "MissingBackend": "errors",
    "QualityRegression": "errors",
    "SafetyRegression": "errors",
    "FidelityResult": "gates.fidelity",
    "assert_fidelity_within": "gates.fidelity",
    "ModelHandle": "models.handles",
    "ModelPair": "models.pair",
    "QualityResult": "gates.quality",
    "assert_generation_quality_within": "gates.quality",
    "SafetyResult": "gates.safety",
    "assert_no_bias_regression": "gates.safety",
    "assert_no_dialect_bias_regression": "gates.safety",
    "assert_no_toxicity_regression": "gates.safety",
    "assert_perplexity_within": "gates.safety",
    "Scorer": "tasks.scorers",
    "EvalSettings": "settings",
    "Limit": "settings",
    "LoadSettings": "settings",
    "Example": "tasks",
    "MeasuredTask": "tasks",
    "Outcome": "tasks",
    "Task": "tasks",
    "get_task": "tasks",
    "register_task": "tasks",
    "FakeRunner": "testing",
}


def __getattr__(name: str) -> Any:
    if name in _HOME:  # not cached here: pytester's in-process runs drop modules, and the next import must be fresh
        return getattr(importlib.import_module(f".{_HOME[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_HOME))


__all__ = [
    "AccuracyRegression",
    "AccuracyResult",
    "CompressContext",
    "CompressionSpec",
    "DistributionRequest",
    "DistributionResult",
    "EvalSettings",
    "Example",
    "FidelityRegression",
    "FidelityResult",
    "FakeRunner",
    "GenerationRequest",
    "KickConfig",
    "KickError",
    "KickRegression",
    "KickUsageError",
    "Limit",
    "LoadSettings",
    "LoglikelihoodRequest",
    "LoglikelihoodResult",
    "MeasuredTask",
    "MissingBackend",
    "ModelHandle",
    "ModelPair",
    "QualityRegression",
    "QualityResult",
    "NamedSpec",
    "Outcome",
    "RollingRequest",
    "RollingResult",
    "Runner",
    "RunnerFactory",
    "SafetyRegression",
    "SafetyResult",
    "SavedCheckpoint",
    "Scorer",
    "Task",
    "TopK",
    "__version__",
    "assert_fidelity_within",
    "assert_generation_quality_within",
    "assert_kick_accuracy_within",
    "assert_no_bias_regression",
    "assert_no_dialect_bias_regression",
    "assert_no_toxicity_regression",
    "assert_perplexity_within",
    "compression_method",
    "get_task",
    "parse_spec",
    "register_family",
    "register_task",
]
