"""Pure metric functions: answer normalization and matching, and the per-example split of a batch's results."""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Iterable, Sequence
from typing import TypeVar

T = TypeVar("T")

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = str.maketrans({c: " " for c in string.punctuation})


def normalize_answer(text: str) -> str:
    """Lower case, strip accents, punctuation and English articles, collapse whitespace."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    text = text.translate(_PUNCT)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def exact_match(prediction: str, answers: tuple[str, ...] | list[str]) -> bool:
    """Normalized exact match of the prediction's first line against any accepted answer."""
    first = prediction.strip().split("\n", 1)[0] if prediction.strip() else ""
    pred = normalize_answer(first)
    return bool(pred) and any(pred == normalize_answer(a) for a in answers)


def contains_match(prediction: str, answers: tuple[str, ...] | list[str]) -> bool:
    """An accepted answer appears, as whole words, in the normalized first line of the prediction."""
    first = prediction.strip().split("\n", 1)[0] if prediction.strip() else ""
    pred = f" {normalize_answer(first)} "
    return any(norm and f" {norm} " in pred for norm in (normalize_answer(a) for a in answers))


def argmax(values: tuple[float, ...] | list[float]) -> int:
    """Index of the largest value; ties go to the first, so decisions are deterministic."""
    best = 0
    for i, v in enumerate(values):
        if v > values[best]:
            best = i
    return best


def per_example(results: Sequence[T], sizes: Iterable[int]) -> list[Sequence[T]]:
    """One flat batch of results (every example's requests, in order) cut back into one slice per example, the
    i-th of `sizes[i]` results; a batch that does not add up is an error, never a shifted reading."""
    out, start = [], 0
    for size in sizes:
        out.append(results[start : start + size])
        start += size
    if start != len(results):
        raise ValueError(f"{len(results)} results for {start} requests")
    return out
