"""Plain-text tables: the summary columns of each kind of gate, and one formatter (three significant digits for
p-values and KL, signed three decimals otherwise)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

COLUMNS = (
    ("test", "test"),
    ("task", "task"),
    ("method", "method"),
    ("n", "n"),
    ("dense", "dense_acc"),
    ("compressed", "compressed_acc"),
    ("Δ", "delta"),
    ("bound", "lower_bound"),
    ("allowed", "allowed_drop"),
    ("p", "p"),
    ("outcome", "outcome"),
    ("R→W", "right_to_wrong"),
    ("W→R", "wrong_to_right"),
    ("scope", "scope"),
    ("verdict", "verdict"),
)


SAFETY_COLUMNS = (
    ("test", "test"),
    ("task", "task"),
    ("method", "method"),
    ("worst group", "group"),
    ("metric", "metric"),
    ("dense", "dense"),
    ("compressed", "compressed"),
    ("Δ", "change"),
    ("upper", "upper"),
    ("allowed", "allowed"),
    ("p", "p"),
    ("outcome", "outcome"),
    ("scope", "scope"),
    ("verdict", "verdict"),
)

FIDELITY_COLUMNS = (
    ("test", "test"),
    ("task", "task"),
    ("method", "method"),
    ("n", "n"),
    ("flip rate", "flip_rate"),
    ("≤", "flip_rate_bound"),
    ("KL", "kl"),
    ("≤", "kl_bound"),
    ("top-1", "top1_agreement"),
    ("≥", "top1_agreement_bound"),
    ("scope", "scope"),
    ("verdict", "verdict"),
)

QUALITY_COLUMNS = (
    ("test", "test"),
    ("task", "task"),
    ("method", "method"),
    ("scorer", "scorer"),
    ("n", "n"),
    ("dense", "dense"),
    ("compressed", "compressed"),
    ("Δ", "delta"),
    ("lower", "lower"),
    ("allowed", "allowed_drop"),
    ("outcome", "outcome"),
    ("scope", "scope"),
    ("verdict", "verdict"),
)

MODEL_COLUMNS = (
    ("method", "method"),
    ("backend", "backend"),
    ("model", "build"),
    ("compress s", "compress_s"),
    ("params", "params"),
    ("vs dense", "params_vs_dense"),
    ("tok/s", "tokens_per_s"),
    ("speed vs dense", "speed_vs_dense"),
    ("evaluated on", "evaluated_on"),
)


P_KEYS = ("p", "p_value", "p_holm", "p_within", "p_regressed", "kl", "kl_bound")  # shown to 3 significant digits


def cell(value: object, key: str = "") -> str:
    if isinstance(value, float) and math.isnan(value):  # nothing measured, or nothing that decided: a blank cell
        return ""
    if isinstance(value, float) and key in P_KEYS:  # p-values and KL: three significant digits, never rounded to 0
        return f"{value:.3g}"
    if isinstance(value, float):
        return f"{value:+.3f}" if value < 0 else f"{value:.3f}"
    return str(value)


def format_table(rows: Sequence[dict], columns: Iterable[tuple[str, str]] = COLUMNS) -> list[str]:
    """Plain-text table, one line per row; the columns are (header, key) pairs."""
    columns = list(columns)
    cells = [[h for h, _ in columns]] + [[cell(r.get(k, ""), k) for _, k in columns] for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(columns))]
    return ["  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip() for line in cells]


def short_prompt(prompt: str, width: int = 100, *, last_block: bool = True) -> str:
    """A prompt on one line for a failure message: its last block (the question of a k-shot prompt) or, with
    `last_block=False`, all of it; cut to `width` characters."""
    text = prompt.strip().split("\n\n")[-1] if last_block else prompt
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"
