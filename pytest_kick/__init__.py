"""pytest-kick: paired statistical gates that check a compressed LLM against its dense original."""

__version__ = "0.1.0"  # first: submodules read it

from .assertions import AccuracyResult, assert_kick_accuracy_within
from .compression import CompressionSpec, compression_method, parse_spec, register_family
from .errors import AccuracyRegression, KickError, KickRegression, KickUsageError, MissingBackend, SafetyRegression
from .models import ModelHandle, ModelPair
from .safety import (
    SafetyResult,
    assert_no_bias_regression,
    assert_no_dialect_bias_regression,
    assert_no_toxicity_regression,
    assert_perplexity_within,
)
from .scorers import Scorer
from .tasks import Example, MeasuredTask, Outcome, Task, get_task, register_task

__all__ = [
    "AccuracyRegression",
    "AccuracyResult",
    "CompressionSpec",
    "Example",
    "KickError",
    "KickRegression",
    "KickUsageError",
    "MeasuredTask",
    "MissingBackend",
    "ModelHandle",
    "ModelPair",
    "Outcome",
    "SafetyRegression",
    "SafetyResult",
    "Scorer",
    "Task",
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
