"""Tasks: the `Task` contract, the registry, and where a task's data comes from."""

from __future__ import annotations

import difflib
import importlib
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol, Sequence, runtime_checkable

from ..engine import GenerationRequest, LoglikelihoodRequest, LoglikelihoodResult
from ..errors import KickUsageError

BUILTIN_DATA = Path(__file__).resolve().parent.parent / "data"
SOURCES = ("auto", "builtin", "dir", "hub")


@dataclass(frozen=True)
class Example:
    """One scored item. `choices`/`gold` for multiple choice; `answers` (all accepted) for generation."""

    id: str
    prompt: str
    choices: tuple[str, ...] = ()
    gold: int | None = None
    answers: tuple[str, ...] = ()
    group: str = ""  # subject / category, for per-group reporting


@dataclass(frozen=True)
class Outcome:
    """What one model did on one example."""

    example_id: str
    correct: bool
    prediction: str
    reference: str
    scores: tuple[float, ...] = field(default=(), compare=False)


class Runner(Protocol):
    """What a task may ask of a model (an `Engine`, or the cached runner in front of one)."""

    def loglikelihood(self, requests: Sequence[LoglikelihoodRequest]) -> list[LoglikelihoodResult]: ...

    def generate(self, requests: Sequence[GenerationRequest]) -> list[str]: ...


@runtime_checkable
class Task(Protocol):
    """A benchmark: loads examples from a data root, then turns a runner's answers into per-example outcomes."""

    name: str

    def load(self, data_dir: Path | None) -> list[Example]: ...

    def evaluate(self, runner: Runner, examples: Sequence[Example]) -> list[Outcome]: ...


_TASKS: dict[str, str | Callable[..., Task]] = {
    "mmlu": ".mmlu:MMLU",
    "freebaseqa": ".freebaseqa:FreebaseQA",
}


def register_task(name: str, factory: str | Callable[..., Task] | None = None):
    """Register a task factory by name; usable as a decorator on a Task class."""

    def deco(obj):
        _TASKS[name] = obj
        return obj

    return deco(factory) if factory is not None else deco


def task_names() -> list[str]:
    return sorted(_TASKS)


def get_task(task: str | Task, **options: Any) -> Task:
    """A task instance from a registered name (with options) or the instance itself."""
    if not isinstance(task, str):
        if options:
            raise KickUsageError("task options can only be given with a task name, not with a Task instance")
        return task
    factory = _TASKS.get(task)
    if factory is None:
        hint = difflib.get_close_matches(task, list(_TASKS), n=1)
        did = f" Did you mean '{hint[0]}'?" if hint else ""
        raise KickUsageError(f"unknown task '{task}'.{did} Available tasks: {', '.join(task_names())}.")
    if isinstance(factory, str):
        module, _, attr = factory.partition(":")
        factory = getattr(importlib.import_module(module, __name__), attr)
    try:
        return factory(**options)
    except TypeError as exc:
        raise KickUsageError(f"task '{task}': bad option ({exc})") from None


def task_data_dir(name: str, data_dir: Path | None, source: str, expected: str) -> Path:
    """The folder a task reads: DATA_DIR/<name> for 'dir', the package's built-in sample for 'builtin'."""
    if source not in SOURCES:
        raise KickUsageError(f"task '{name}': source must be one of {', '.join(SOURCES)}, got {source!r}")
    if source == "builtin" or (source == "auto" and data_dir is None):
        return BUILTIN_DATA / name
    if data_dir is None:
        raise KickUsageError(f"task '{name}' with source='dir' needs --kick-data-dir (expected layout: DIR/{expected})")
    folder = Path(data_dir) / name
    if not folder.is_dir():
        raise KickUsageError(
            f"--kick-data-dir {data_dir}: no '{name}' folder in it. Expected layout: DIR/{expected}. "
            "Point --kick-data-dir at the root that holds one folder per benchmark."
        )
    return folder


def select(examples: list[Example], limit: int | None, seed: int) -> list[Example]:
    """A seeded sample of `limit` examples, kept in file order so every model sees the same ones."""
    if limit is None or limit >= len(examples):
        return examples
    keep = sorted(random.Random(seed).sample(range(len(examples)), limit))
    return [examples[i] for i in keep]
