"""pytest-kick: paired statistical gates that check a compressed LLM against its dense original."""

__version__ = "0.1.0"  # first: submodules read it

from .assertions import AccuracyResult, assert_kick_accuracy_within
from .compression import CompressionSpec, compression_method, parse_spec, register_family
from .errors import AccuracyRegression, KickError, KickRegression, KickUsageError, MissingBackend
from .models import ModelHandle, ModelPair
from .tasks import Example, Outcome, Task, get_task, register_task

__all__ = [
    "AccuracyRegression",
    "AccuracyResult",
    "CompressionSpec",
    "Example",
    "KickError",
    "KickRegression",
    "KickUsageError",
    "MissingBackend",
    "ModelHandle",
    "ModelPair",
    "Outcome",
    "Task",
    "assert_kick_accuracy_within",
    "compression_method",
    "get_task",
    "parse_spec",
    "register_family",
    "register_task",
]
