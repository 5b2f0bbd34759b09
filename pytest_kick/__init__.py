"""pytest-kick: paired statistical gates that check a compressed LLM against its dense original.

The public door: everything a test file, a conftest, or a team's own task, scorer or compression method needs."""

from ._version import __version__
from .assertions import AccuracyResult, assert_kick_accuracy_within
from .compression import (
    CompressContext,
    CompressionSpec,
    NamedSpec,
    SavedCheckpoint,
    compression_method,
    parse_spec,
    register_family,
)
from .config import KickConfig
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
from .fidelity import FidelityResult, assert_fidelity_within
from .models import ModelHandle
from .pair import ModelPair
from .quality import QualityResult, assert_generation_quality_within
from .safety import (
    SafetyResult,
    assert_no_bias_regression,
    assert_no_dialect_bias_regression,
    assert_no_toxicity_regression,
    assert_perplexity_within,
)
from .scorers import Scorer
from .settings import EvalSettings, Limit, LoadSettings
from .tasks import Example, MeasuredTask, Outcome, Task, get_task, register_task
from .testing import FakeRunner

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
