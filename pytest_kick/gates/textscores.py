"""Scores for generated text that need no judge: ROUGE-1/2/L against the reference (Google's rouge-score, the
ROUGE-1.5.5 reimplementation, with Porter stemming) and *agreement with the dense model* (ROUGE-L of the
compressed output against the dense one: the reference that always exists in a dense-vs-compressed test).

A `TextScorer` maps (prediction, reference) to a number in a known range; the quality gate pairs the dense and
compressed scores example by example. A judge (`pytest_kick.gates.judges`) is the same kind of object."""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from ..errors import KickUsageError, MissingBackend

ROUGE = ("rouge1", "rouge2", "rougeL")
AGREEMENT = "agreement"


@runtime_checkable
class TextScorer(Protocol):
    """`name`; `against` ('reference': the task's reference text, 'dense': the dense model's output); `score`
    gives one number per (prediction, reference) pair, higher is better."""

    name: str
    against: str

    def score(self, predictions: Sequence[str], references: Sequence[str], prompts: Sequence[str]) -> list[float]: ...


@functools.lru_cache(maxsize=4)
def _rouge(kind: str):
    try:
        from rouge_score import rouge_scorer
    except ImportError:
        raise MissingBackend(
            "ROUGE scoring needs rouge-score: pip install 'pytest-kick[generation]' (or pip install rouge-score)"
        ) from None
    return rouge_scorer.RougeScorer([kind], use_stemmer=True)


def rouge(prediction: str, reference: str, kind: str = "rougeL") -> float:
    """ROUGE F-measure of `prediction` against `reference`: 0 for an empty prediction, NaN (cannot be scored) when
    there is no reference."""
    if not reference.strip():
        return math.nan
    if not prediction.strip():
        return 0.0
    return float(_rouge(kind).score(reference, prediction)[kind].fmeasure)


@dataclass(frozen=True)
class Rouge:
    kind: str = "rougeL"
    against: str = "reference"

    @property
    def name(self) -> str:
        return self.kind if self.against == "reference" else AGREEMENT

    def score(self, predictions: Sequence[str], references: Sequence[str], prompts: Sequence[str] = ()) -> list[float]:
        return [rouge(p, r, self.kind) for p, r in zip(predictions, references, strict=True)]


@dataclass(frozen=True)
class TaskScore:
    """The task's own per-example score (`Outcome.values['score']`: TruthfulQA MC2, ICR-QA's closed-open gap)."""

    name: str = "score"
    against: str = "task"

    def score(self, predictions: Sequence[str], references: Sequence[str], prompts: Sequence[str] = ()) -> list[float]:
        raise TypeError("the task scores its own outcomes")  # pragma: no cover - the gate reads Outcome.values


def text_scorer(spec: str | TextScorer | None) -> TextScorer:
    """'rouge1' / 'rouge2' / 'rougeL' (against the reference), 'agreement' (ROUGE-L against the dense output),
    'score' or None (the task's own per-example score), or a scorer object (a judge)."""
    if spec is None or spec == "score":
        return TaskScore()
    if isinstance(spec, str):
        if spec in ROUGE:
            return Rouge(spec)
        if spec == AGREEMENT:
            return Rouge("rougeL", against="dense")
        names = ", ".join((*ROUGE, AGREEMENT, "score"))
        raise KickUsageError(f"scorer {spec!r}: use one of {names}, or a judge (pytest_kick.gates.judges)")
    if not isinstance(spec, TextScorer):
        raise KickUsageError(f"scorer must be a name or an object with name, against and score(...), got {spec!r}")
    return spec
