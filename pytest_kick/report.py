"""The run's gate results as data (JSON-able dicts) and the terminal summary table."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

COLUMNS = (
    ("test", "test"),
    ("task", "task"),
    ("method", "method"),
    ("n", "n"),
    ("dense", "dense_acc"),
    ("compressed", "compressed_acc"),
    ("Δ", "delta"),
    ("allowed", "allowed_drop"),
    ("p", "p_value"),
    ("R→W", "right_to_wrong"),
    ("W→R", "wrong_to_right"),
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
    ("verdict", "verdict"),
)

MODEL_COLUMNS = (("method", "method"), ("backend", "backend"), ("model", "build"), ("compress s", "compress_s"))


P_KEYS = ("p", "p_value", "p_holm", "p_within", "kl", "kl_bound")  # shown to 3 significant digits


def _cell(value: object, key: str = "") -> str:
    if isinstance(value, float) and key in P_KEYS:  # p-values and KL: three significant digits, never rounded to 0
        return f"{value:.3g}"
    if isinstance(value, float):
        return f"{value:+.3f}" if value < 0 else f"{value:.3f}"
    return str(value)


def format_table(rows: Sequence[dict], columns: Iterable[tuple[str, str]] = COLUMNS) -> list[str]:
    """Plain-text table, one line per row; the columns are (header, key) pairs."""
    columns = list(columns)
    cells = [[h for h, _ in columns]] + [[_cell(r.get(k, ""), k) for _, k in columns] for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(columns))]
    return ["  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip() for line in cells]


def summary_lines(results: Sequence[dict]) -> list[str]:
    if not results:
        return []
    rows = sorted(results, key=lambda r: (r.get("test", ""), r.get("method", "")))
    accuracy = [r for r in rows if r.get("kind", "accuracy") == "accuracy"]
    safety = [r for r in rows if r.get("kind") == "safety"]
    fidelity = [r for r in rows if r.get("kind") == "fidelity"]
    lines = format_table(accuracy) if accuracy else []
    if fidelity:  # flips, KL over answer choices, top-1 agreement: the value and its one-sided bound
        lines += ([""] if lines else []) + format_table(fidelity, FIDELITY_COLUMNS)
    if safety:  # bias, toxicity, dialect and perplexity gates: the group closest to failing, per gate
        lines += ([""] if lines else []) + format_table(safety, SAFETY_COLUMNS)
    models: dict[str, dict] = {}
    for r in rows:  # one line per compressed model: which library made it, and whether it was built or reused
        if r.get("backend"):
            seen = models.setdefault(r["method"], dict(r))
            if r.get("build") == "compressed":
                seen.update(r)
    if models:
        lines += [""] + format_table(list(models.values()), MODEL_COLUMNS)
    return lines
