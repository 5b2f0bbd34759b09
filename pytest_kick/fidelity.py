"""The fidelity gate: does the compressed model still answer like the dense one, example by example? Flips of
correctness in either direction, KL divergence over the answer choices and top-1 agreement, each with a one-sided
bound at alpha, beyond what the accuracy difference shows (Dutta et al. 2024: equal accuracy can hide many flips)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from .assertions import _check_fraction, _short
from .contract import log_softmax
from .errors import FidelityRegression, KickUsageError
from .report import format_table
from .settings import effective_limit
from .stats import binomial_lower, binomial_upper, mean_upper
from .tasks import Outcome, Task, get_task, select

if TYPE_CHECKING:  # pragma: no cover
    from .pair import ModelPair

SHOW_DIVERGENT = 5


@dataclass(frozen=True)
class FidelityCheck:
    """One metric: its value, its one-sided (1 - alpha) bound, the limit, and whether the bound is inside it."""

    metric: str
    value: float
    bound: float
    allowed: float
    direction: str  # "max": the bound must be below `allowed`; "min": above
    passed: bool


@dataclass(frozen=True)
class Divergent:
    example_id: str
    prompt: str
    dense: str
    compressed: str
    kl: float


@dataclass(frozen=True)
class FidelityResult:
    """Everything one fidelity gate measured; `to_dict()` is the summary row."""

    test: str
    task: str
    method: str
    n: int
    alpha: float
    checks: tuple[FidelityCheck, ...]
    divergent: tuple[Divergent, ...] = field(default=(), repr=False)

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def verdict(self) -> str:
        return "pass" if self.passed else "FAIL"

    def to_dict(self, with_checks: bool = True) -> dict[str, Any]:
        row: dict[str, Any] = {"kind": "fidelity", "test": self.test, "task": self.task, "method": self.method, "n": self.n}
        for c in self.checks:
            row[c.metric] = c.value
            row[f"{c.metric}_bound"] = c.bound
        row.update(alpha=self.alpha, verdict=self.verdict)
        if with_checks:
            row["checks"] = [asdict(c) for c in self.checks]
        return row

    def explain(self) -> str:
        failed = [c.metric for c in self.checks if not c.passed]
        conf = f"{1 - self.alpha:.0%}"
        lines = [
            f"compressed model '{self.method}' could not be shown to answer like the dense model on '{self.task}': "
            f"{', '.join(failed)} (one-sided {conf} bounds, alpha={self.alpha:g}; every metric must be shown inside its limit)",
            "",
        ]
        rows = [
            {
                "metric": c.metric,
                "value": f"{c.value:.3g}",
                "bound": f"{'≤' if c.direction == 'max' else '≥'} {c.bound:.3g}",
                "limit": f"{'<' if c.direction == 'max' else '>'} {c.allowed:g}",
                "flag": "" if c.passed else "FAIL",
            }
            for c in self.checks
        ]
        cols = [("metric", "metric"), ("value", "value"), (f"{conf} bound", "bound"), ("limit", "limit"), ("", "flag")]
        lines += ["  " + line for line in format_table(rows, cols)]
        if self.divergent:
            lines += ["", f"examples where the models differ most ({len(self.divergent)} shown):"]
            for d in self.divergent:
                kl = "" if math.isnan(d.kl) else f" (KL {d.kl:.3g})"
                lines.append(f"  [{d.example_id}] {d.prompt}")
                lines.append(f"      dense: {d.dense!r}; compressed: {d.compressed!r}{kl}")
        lines += ["", "Raise a limit only if that much divergence from the dense model is acceptable for this release."]
        return "\n".join(lines)


def _kl(d: Outcome, c: Outcome) -> float:
    """KL(dense || compressed) over the answer choices (the softmax of each model's choice scores)."""
    p, q = log_softmax(d.scores), log_softmax(c.scores)
    return math.fsum(math.exp(a) * (a - b) for a, b in zip(p, q))


def _check_limits(max_flip_rate: float | None, max_kl: float | None, min_top1_agreement: float | None) -> None:
    if max_flip_rate is None and max_kl is None and min_top1_agreement is None:
        raise KickUsageError("give at least one of max_flip_rate, max_kl, min_top1_agreement")
    for name, value in (("max_flip_rate", max_flip_rate), ("min_top1_agreement", min_top1_agreement)):
        if value is not None:
            _check_fraction(name, value, 0.0, 1.0)
    if max_kl is not None and (not isinstance(max_kl, (int, float)) or isinstance(max_kl, bool) or not max_kl > 0):
        raise KickUsageError(f"max_kl must be a positive number (nats), got {max_kl!r}")


def assert_fidelity_within(
    pair: ModelPair,
    task: str | Task,
    *,
    max_flip_rate: float | None = None,
    max_kl: float | None = None,
    min_top1_agreement: float | None = None,
    alpha: float = 0.05,
    limit: int | None = None,
    reps: int = 2000,
    **task_options: Any,
) -> FidelityResult:
    """Pass only when every requested metric is shown inside its limit at `alpha`:

    - `max_flip_rate`: the share of examples whose correctness flipped, in either direction (exact bound);
    - `max_kl`: mean KL(dense || compressed) over the answer choices, in nats (multiple-choice tasks; bootstrap);
    - `min_top1_agreement`: the share of examples where both models give the same answer (exact bound).
    """
    __tracebackhide__ = True
    _check_limits(max_flip_rate, max_kl, min_top1_agreement)
    _check_fraction("alpha", alpha, 0.0, 0.5, open_low=True)
    the_task = get_task(task, **task_options)
    wins = effective_limit(limit, pair.limit)
    examples = select(the_task.load(pair.data_dir), wins.value if wins else None, pair.seed)
    if not examples:
        raise KickUsageError(f"task '{the_task.name}' has no examples after filtering (check the data files and limit)")
    dense = the_task.evaluate(pair.dense_runner, examples)
    comp = the_task.evaluate(pair.compressed_runner, examples)
    n = len(examples)
    multiple_choice = all(d.scores and len(d.scores) == len(c.scores) for d, c in zip(dense, comp))
    if max_kl is not None and not multiple_choice:
        raise KickUsageError(f"max_kl needs a multiple-choice task (scores over answer choices); '{the_task.name}' has none")
    kls = [_kl(d, c) for d, c in zip(dense, comp)] if multiple_choice else [math.nan] * n
    flips = sum(d.correct != c.correct for d, c in zip(dense, comp))
    agree = sum(d.prediction == c.prediction for d, c in zip(dense, comp))
    checks = []
    if max_flip_rate is not None:
        bound = binomial_upper(flips, n, alpha)
        checks.append(FidelityCheck("flip_rate", flips / n, bound, max_flip_rate, "max", bound < max_flip_rate))
    if max_kl is not None:
        bound = mean_upper(kls, alpha, reps, pair.seed)
        checks.append(FidelityCheck("kl", math.fsum(kls) / n, bound, max_kl, "max", bound < max_kl))
    if min_top1_agreement is not None:
        bound = binomial_lower(agree, n, alpha)
        checks.append(FidelityCheck("top1_agreement", agree / n, bound, min_top1_agreement, "min", bound > min_top1_agreement))
    order = sorted(range(n), key=lambda i: (-(kls[i] if multiple_choice else 0.0), dense[i].prediction == comp[i].prediction))
    divergent = tuple(
        Divergent(examples[i].id, _short(examples[i].prompt), dense[i].prediction, comp[i].prediction, kls[i])
        for i in order[:SHOW_DIVERGENT]
        if dense[i].prediction != comp[i].prediction or (multiple_choice and kls[i] > 0)
    )
    result = FidelityResult(pair.test_id, the_task.name, pair.method.id, n, alpha, tuple(checks), divergent)
    pair.record(result)
    if not result.passed:
        raise FidelityRegression(result.explain(), result)
    return result
