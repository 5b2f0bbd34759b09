"""The fidelity gate: does the compressed model still answer like the dense one, example by example? Flips of
correctness in either direction, KL divergence over the answer choices and top-1 agreement, each with a one-sided
bound at alpha, beyond what the accuracy difference shows (Dutta et al. 2024: equal accuracy can hide many flips)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any, ClassVar

from ..contract import log_softmax
from ..errors import FidelityRegression, KickUsageError
from ..tasks import Outcome, Task
from .gate import Evidence, GateResult, Interval, check_alpha, check_fraction, run_gate
from .scope import Sampling, resolve_scope
from .stats import (
    MeanBounds,
    binomial_lower,
    binomial_upper,
    data_seed,
    fewest_clusters,
    hypergeom_bounds,
    mean_test,
    outcome,
    reaches,
    share_examples_needed,
)
from .table import FIDELITY_COLUMNS, format_table, short_prompt

if TYPE_CHECKING:  # pragma: no cover
    from ..models.pair import ModelPair

SHOW_DIVERGENT = 5  # deciding examples shown per failing metric
ARGUMENT = {"flip_rate": "max_flip_rate", "kl": "max_kl", "top1_agreement": "min_top1_agreement"}  # each metric's bound


@dataclass(frozen=True)
class FidelityCheck:
    """One metric: its value, its one-sided (1 - alpha) bound toward the limit (`bound`) and away from it
    (`far`), the limit, and the outcome: 'within' when `bound` is inside the limit, 'regressed' when `far` is
    beyond it, else 'inconclusive'."""

    metric: str
    value: float
    bound: float
    allowed: float
    direction: str  # "max": the bound must be below `allowed`; "min": above
    passed: bool
    far: float = math.nan
    outcome: str = "inconclusive"
    mc_error: float = 0.0  # Monte Carlo standard error of `bound` (a bootstrap's; 0 for exact bounds)
    # a share (flip rate, top-1 agreement) not shown within: the fewest examples that would show it within at alpha
    # if the observed share held (stats.share_examples_needed); None where none can, or for other metrics
    needed: int | None = None

    @classmethod
    def of(
        cls, metric: str, value: float, bounds: tuple[float, float], allowed: float, direction: str, mc_error: float = 0.0
    ) -> FidelityCheck:
        """From the (lower, upper) one-sided bounds of the metric."""
        lower, upper = bounds
        bound, far = (upper, lower) if direction == "max" else (lower, upper)
        within = reaches(bound, allowed, direction)
        beyond = reaches(far, allowed, "min" if direction == "max" else "max")
        return cls(metric, value, bound, allowed, direction, within, far, outcome(within, beyond), mc_error)


@dataclass(frozen=True)
class Divergent:
    example_id: str
    prompt: str
    dense: str
    compressed: str
    kl: float
    right: str = ""  # where correctness flipped: the model that was right ('dense' or 'compressed'); else ''


@dataclass(frozen=True)
class FidelityResult(GateResult):
    """Everything one fidelity gate measured: one check per metric, and the examples that decide each metric (those
    whose correctness flipped, those with the largest KL, those answered differently), largest KL first."""

    kind: ClassVar[str] = "fidelity"
    plot: ClassVar[tuple[str, str, str]] = (
        "Fidelity: each metric on its own axis, with its bounds; dashed: its limit",
        "fidelity",
        "value",
    )
    examples_field: ClassVar[str] = "divergent"
    failure: ClassVar[type] = FidelityRegression
    columns: ClassVar[tuple[tuple[str, str], ...]] = FIDELITY_COLUMNS

    test: str
    task: str
    method: str
    n: int
    alpha: float
    checks: tuple[FidelityCheck, ...]
    divergent: tuple[Divergent, ...] = field(default=(), repr=False)
    scope: str = "benchmark"  # what the verdict generalizes to, as a summary cell (gates.scope.Sampling.label)
    population: int = 0  # examples the task holds (before any limit)
    limited_by: str = ""  # the knob whose limit cut the task's examples ("" when every example was used)

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    def intervals(self) -> list[Interval]:
        units = {
            "flip_rate": "flip rate (share of examples)",
            "kl": "KL(dense ‖ compressed), nats",
            "top1_agreement": "top-1 agreement (share of examples)",
        }
        return [
            Interval(
                f"{self.task} · {self.method} · {c.metric}",
                c.value,
                min(c.bound, c.far),
                max(c.bound, c.far),
                c.allowed,
                c.outcome,
                units.get(c.metric, c.metric),
            )
            for c in self.checks
        ]

    def outcomes(self) -> dict[str, str]:
        return {c.metric: c.outcome for c in self.checks}

    def rows(self) -> list[dict[str, Any]]:
        return [asdict(c) for c in self.checks]

    def summary(self) -> dict[str, Any]:
        row: dict[str, Any] = {"kind": self.kind, "test": self.test, "task": self.task, "method": self.method, "n": self.n}
        for c in self.checks:
            row[c.metric] = c.value
            row[f"{c.metric}_bound"] = c.bound
        row.update(alpha=self.alpha, scope=self.scope, verdict=self.verdict)
        return row

    def explain(self) -> str:
        failed = [c.metric for c in self.checks if not c.passed]
        regressed = [c.metric for c in self.checks if c.outcome == "regressed"]
        conf = f"{1 - self.alpha:.0%}"
        how = f"(one-sided {conf} bounds, alpha={self.alpha:g}; every metric must be shown inside its limit; scope: {self.scope})"
        if regressed:
            head = f"compressed model '{self.method}' regressed on '{self.task}' (fidelity): {', '.join(regressed)} shown beyond the limit"
        else:
            head = f"compressed model '{self.method}' could not be shown to answer like the dense model on '{self.task}': "
            head += ", ".join(failed)
        lines = [f"{head} {how}", ""]
        rows = [
            {
                "metric": c.metric,
                "value": f"{c.value:.3g}",
                "bound": f"{'≤' if c.direction == 'max' else '≥'} {c.bound:.3g}" + _mc(c.mc_error),
                "limit": f"{'<' if c.direction == 'max' else '>'} {c.allowed:g}",
                "outcome": c.outcome + ("" if c.passed else " (FAIL)"),
            }
            for c in self.checks
        ]
        cols = [("metric", "metric"), ("value", "value"), (f"{conf} bound", "bound"), ("limit", "limit"), ("outcome", "outcome")]
        lines += ["  " + line for line in format_table(rows, cols)]
        for c in self.checks:
            if not c.passed:
                lines += ["", *self.deciding(c)]
        bounds = ", ".join(f"{ARGUMENT[c.metric]}={c.allowed:g}" for c in self.checks if not c.passed)
        lines += [
            "",
            f"Loosen {bounds} (the allowed bound{'s' if ', ' in bounds else ''} given to assert_fidelity_within; not "
            "--kick-limit, which caps the examples) only if that much divergence from the dense model is acceptable "
            "for this release.",
        ]
        return "\n".join(lines)

    def deciding(self, c: FidelityCheck) -> list[str]:
        """A failing metric's own examples (a passing one has none to show), and for a share how many examples
        would show it within."""
        count = round(c.value * self.n)
        if c.metric == "flip_rate":
            shown = [d for d in self.divergent if d.right]
            head = f"flip_rate: {count} of {self.n} examples flipped correctness"
        elif c.metric == "kl":
            shown = [d for d in self.divergent if d.kl > 0]
            head = "kl: the examples with the largest KL(dense ‖ compressed)"
        else:
            shown = [d for d in self.divergent if d.dense != d.compressed]
            head = f"top1_agreement: {self.n - count} of {self.n} examples answered differently"
        shown = shown[:SHOW_DIVERGENT]
        lines = [f"{head} ({len(shown)} shown):" if shown else f"{head}."]
        for d in shown:
            mark = {"dense": (" (right)", " (wrong)"), "compressed": (" (wrong)", " (right)")}.get(d.right, ("", ""))
            kl = "" if math.isnan(d.kl) else f" (KL {d.kl:.3g})"
            lines.append(f"  [{d.example_id}] {d.prompt}")
            lines.append(f"      dense {d.dense!r}{mark[0]} → compressed {d.compressed!r}{mark[1]}{kl}")
        if c.metric != "kl":
            lines.append(self.more_data(c))
        return lines

    def more_data(self, c: FidelityCheck) -> str:
        """How many examples would show a share within its bound at alpha if the observed share held (exact), or
        that no number can."""
        arg, at = f"{ARGUMENT[c.metric]}={c.allowed:g}", f"at alpha={self.alpha:g}"
        if c.needed is None:
            if not reaches(c.value, c.allowed, c.direction) or c.value == c.allowed or self.scope.startswith("benchmark (all"):
                return f"No number of examples can show {c.metric} within {arg}: the observed {c.value:.3g} is not inside it."
            finite = self.scope.startswith("benchmark") and "sampled" not in self.scope  # hypergeometric: up to the task
            where = f"all {self.population} examples of the task" if finite else "a million examples"
            return f"Not even {where} would show {c.metric} within {arg} {at} if the observed {c.value:.3g} held."
        fix = f"raise {self.limited_by}" if self.limited_by else "the task has no more: use a larger data set"
        if self.population and c.needed > self.population:
            fix = f"more than the task's {self.population}: a larger data set"
        return (
            f"If the observed {c.metric} ({c.value:.3g}) held, {c.needed} examples are the fewest whose exact bound "
            f"would show it within {arg} {at} ({self.n} were run; {fix})."
        )


def _mc(error: float) -> str:
    """A bootstrap bound's Monte Carlo error beside it (none for exact bounds)."""
    return f" ± {error:.1g}" if error else ""


def _kl(d: Outcome, c: Outcome) -> float:
    """KL(dense || compressed) over the answer choices (the softmax of each model's choice scores)."""
    p, q = log_softmax(d.scores), log_softmax(c.scores)
    return math.fsum(math.exp(a) * (a - b) for a, b in zip(p, q))


def _share_bounds(k: int, sampling: Sampling, alpha: float) -> tuple[float, float]:
    """(lower, upper) one-sided bounds of a share seen k times in n: itself over every item of the benchmark, exact
    hypergeometric bounds for a limited run of it, exact binomial (Clopper-Pearson) ones for items."""
    n = sampling.n
    if sampling.exact:
        return k / n, k / n
    if sampling.fpc < 1.0:
        return hypergeom_bounds(k, n, sampling.population, alpha)
    return binomial_lower(k, n, alpha), binomial_upper(k, n, alpha)


def _divergent(ev: Evidence, kls: list[float], metrics: list[str]) -> tuple[Divergent, ...]:
    """The examples that decide each requested metric, at most SHOW_DIVERGENT of each, largest KL first: those whose
    correctness flipped (flip_rate), the largest KL (kl), those answered differently (top1_agreement)."""
    dense, comp = ev.dense, ev.compressed
    order = sorted(range(len(dense)), key=lambda i: -(0.0 if math.isnan(kls[i]) else kls[i]))
    picks = {
        "flip_rate": [i for i in order if dense[i].correct != comp[i].correct],
        "kl": [i for i in order if kls[i] > 0],
        "top1_agreement": [i for i in order if dense[i].prediction != comp[i].prediction],
    }
    chosen = {i for m in metrics for i in picks[m][:SHOW_DIVERGENT]}
    return tuple(
        Divergent(
            ev.examples[i].id,
            short_prompt(ev.examples[i].prompt),
            dense[i].prediction,
            comp[i].prediction,
            kls[i],
            "" if dense[i].correct == comp[i].correct else ("dense" if dense[i].correct else "compressed"),
        )
        for i in order
        if i in chosen
    )


def _needed(check: FidelityCheck, count: int, sampling: Sampling, alpha: float) -> FidelityCheck:
    """A share not shown within, with the fewest examples that would show it (by the bound `_share_bounds` takes;
    top-1 agreement through its complement, the share answered differently)."""
    if check.passed or sampling.exact:
        return check
    population = sampling.population if sampling.fpc < 1.0 else 0
    n = sampling.n
    if check.direction == "max":
        return replace(check, needed=share_examples_needed(count, n, check.allowed, alpha, population))
    return replace(check, needed=share_examples_needed(n - count, n, 1.0 - check.allowed, alpha, population))


def _mean_bounds(values: list[float], sampling: Sampling, alpha: float, reps: int, seed: int, limit: float) -> MeanBounds:
    """(lower, upper) one-sided bounds of a mean: itself over every item of the benchmark; none at all from fewer
    examples than any test needs at alpha; else the bootstrap-t (with the finite-population correction of a limited
    run of the benchmark; its draws doubled while the upper bound is within three Monte Carlo errors of the limit)."""
    mean = math.fsum(values) / len(values)
    if sampling.exact:
        return MeanBounds(mean, mean)
    if len(values) < fewest_clusters(alpha):
        return MeanBounds(-math.inf, math.inf)
    return mean_test(values, alpha, reps, seed, sampling.fpc, threshold=limit)


def _check_limits(max_flip_rate: float | None, max_kl: float | None, min_top1_agreement: float | None) -> None:
    if max_flip_rate is None and max_kl is None and min_top1_agreement is None:
        raise KickUsageError("give at least one of max_flip_rate, max_kl, min_top1_agreement")
    for name, value in (("max_flip_rate", max_flip_rate), ("min_top1_agreement", min_top1_agreement)):
        if value is not None:
            check_fraction(name, value, 0.0, 1.0)
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
    scope: str | None = None,
    **task_options: Any,
) -> FidelityResult:
    """Pass only when every requested metric is shown inside its limit at `alpha`:

    - `max_flip_rate`: the share of examples whose correctness flipped, in either direction (exact bound);
    - `max_kl`: mean KL(dense || compressed) over the answer choices, in nats (multiple-choice tasks; bootstrap);
    - `min_top1_agreement`: the share of examples where both models give the same answer (exact bound).

    `scope` (default: --kick-scope, else 'benchmark'; see gates.scope): over every item of the benchmark each
    metric is its observed value; a limited run of the benchmark takes exact hypergeometric bounds (and the
    finite-population correction for KL); 'items' the binomial ones.
    """
    __tracebackhide__ = True
    _check_limits(max_flip_rate, max_kl, min_top1_agreement)
    check_alpha(alpha)
    chosen = resolve_scope(scope, pair)

    def decide(ev: Evidence) -> FidelityResult:
        dense, comp, n = ev.dense, ev.compressed, len(ev.examples)
        multiple_choice = all(d.scores and len(d.scores) == len(c.scores) for d, c in zip(dense, comp))
        if max_kl is not None and not multiple_choice:
            raise KickUsageError(f"max_kl needs a multiple-choice task (scores over answer choices); '{ev.task.name}' has none")
        kls = [_kl(d, c) for d, c in zip(dense, comp)] if multiple_choice else [math.nan] * n
        flips = sum(d.correct != c.correct for d, c in zip(dense, comp))
        agree = sum(d.prediction == c.prediction for d, c in zip(dense, comp))
        sampling = ev.sampling(chosen)
        checks = []
        if max_flip_rate is not None:
            check = FidelityCheck.of("flip_rate", flips / n, _share_bounds(flips, sampling, alpha), max_flip_rate, "max")
            checks.append(_needed(check, flips, sampling, alpha))
        if max_kl is not None:
            seed = data_seed([ex.id for ex in ev.examples], [d.scores for d in dense])  # never from the compressed answers
            b = _mean_bounds(kls, sampling, alpha, reps, seed, max_kl)
            checks.append(FidelityCheck.of("kl", math.fsum(kls) / n, (b.lower, b.upper), max_kl, "max", b.mc_upper))
        if min_top1_agreement is not None:
            check = FidelityCheck.of("top1_agreement", agree / n, _share_bounds(agree, sampling, alpha), min_top1_agreement, "min")
            checks.append(_needed(check, agree, sampling, alpha))
        divergent = _divergent(ev, kls, [c.metric for c in checks])
        return FidelityResult(
            pair.test_id, ev.task.name, pair.method.id, n, alpha, tuple(checks), divergent, sampling.label(),
            sampling.population, ev.limited_by,
        )  # fmt: skip

    return run_gate(pair, task, decide, limit=limit, task_options=task_options)  # type: ignore[return-value]
