"""The accuracy gate: a paired one-sided non-inferiority test on the same examples (a thin use of `gate.run_gate`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import KickUsageError
from ..tasks import Task, get_task
from .gate import Evidence, check_alpha, check_fraction, run_gate
from .results import AccuracyResult, Flip
from .stats import noninferiority
from .table import short_prompt

if TYPE_CHECKING:  # pragma: no cover
    from ..models.pair import ModelPair


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
    check_fraction("max_drop", max_drop, 0.0, 1.0)
    check_alpha(alpha)

    the_task = get_task(task, **task_options)
    if getattr(the_task, "free_text", False):  # refused before any model runs
        raise KickUsageError(f"task '{the_task.name}' has no right answer to count: gate it with assert_generation_quality_within")

    def decide(ev: Evidence) -> AccuracyResult:
        acc_d = sum(o.correct for o in ev.dense) / len(ev.dense)
        allowed = max_drop * acc_d if relative else max_drop
        test = noninferiority([o.correct for o in ev.dense], [o.correct for o in ev.compressed], allowed, alpha)
        flips = tuple(
            Flip(ex.id, short_prompt(ex.prompt), d.reference, d.prediction, c.prediction)
            for ex, d, c in zip(ev.examples, ev.dense, ev.compressed)
            if d.correct and not c.correct
        )
        return AccuracyResult.of(test, pair.test_id, ev.task.name, pair.method.id, relative=relative, flips=flips, limited_by=ev.limited_by)

    return run_gate(pair, the_task, decide, limit=limit)  # type: ignore[return-value]
