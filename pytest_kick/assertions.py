"""assert_* helpers: evaluate both models on the same examples, run the paired test, raise one readable failure."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from .errors import AccuracyRegression, KickUsageError
from .results import AccuracyResult, Flip
from .settings import effective_limit
from .stats import noninferiority
from .tasks import Task, get_task, select

if TYPE_CHECKING:  # pragma: no cover
    from .pair import ModelPair


def _check_fraction(name: str, value: float, low: float, high: float, *, open_low: bool = False) -> None:
    ok = isinstance(value, (int, float)) and not math.isnan(value) and (low < value if open_low else low <= value) and value <= high
    if not ok:
        bound = f"({low}, {high}]" if open_low else f"[{low}, {high}]"
        raise KickUsageError(f"{name} must be a number in {bound}, got {value!r}")


def assert_kick_accuracy_within(
    pair: ModelPair,
    task: str | Task,
    *,
    max_drop: float,
    relative: bool = False,
    alpha: float = 0.05,
    limit: int | None = None,
    **task_options: Any,
) -> AccuracyResult:
    """Pass when a paired one-sided test rejects H0: acc_compressed <= acc_dense - allowed, at level alpha.

    `max_drop` is absolute accuracy (0.02 = two points), or a fraction of the dense accuracy with
    `relative=True`. `limit` caps the examples; it wins over the test's kick marker, which wins over --kick-limit,
    which wins over the `kick_limit` ini value.
    Extra keyword arguments are task options, e.g. `subjects=("marketing",)` for mmlu.
    """
    __tracebackhide__ = True
    _check_fraction("max_drop", max_drop, 0.0, 1.0)
    _check_fraction("alpha", alpha, 0.0, 0.5, open_low=True)
    wins = effective_limit(limit, pair.limit)
    the_task = get_task(task, **task_options)
    available = the_task.load(pair.data_dir)
    examples = select(available, wins.value if wins else None, pair.seed)
    if not examples:
        raise KickUsageError(f"task '{the_task.name}' has no examples after filtering (check the data files, subjects and limit)")
    dense = the_task.evaluate(pair.dense_runner, examples)
    comp = the_task.evaluate(pair.compressed_runner, examples)
    acc_d = sum(o.correct for o in dense) / len(dense)
    allowed = max_drop * acc_d if relative else max_drop
    test = noninferiority([o.correct for o in dense], [o.correct for o in comp], allowed, alpha)
    flips = tuple(
        Flip(ex.id, _short(ex.prompt), d.reference, d.prediction, c.prediction)
        for ex, d, c in zip(examples, dense, comp)
        if d.correct and not c.correct
    )
    result = AccuracyResult.of(
        test,
        pair.test_id,
        the_task.name,
        pair.method.id,
        relative=relative,
        flips=flips,
        limited_by=wins.knob if wins and len(examples) < len(available) else "",
    )
    pair.record(result)
    if not result.passed:
        raise AccuracyRegression(result.explain(), result)
    return result


def _short(prompt: str, width: int = 100) -> str:
    """The last question of a k-shot prompt, on one line."""
    last = prompt.strip().split("\n\n")[-1]
    text = " ".join(last.split())
    return text if len(text) <= width else text[: width - 1] + "…"
