"""Safety gates (bias, toxicity, dialect, perplexity), thin uses of `gate.run_gate`: bootstrap the paired change
per group by clusters and decide per group whether it is shown within the allowance (or, with burden='harm',
screen with Holm's correction)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from ..errors import KickUsageError
from ..settings import effective_limit
from ..tasks import Example, MeasuredTask, Outcome, get_task
from .bootstrap import ABS_CHANGE, LINEAR, BootstrapTest, abs_change, exact_test, observed_change, paired_cluster_bootstrap
from .gate import Evidence, check_alpha, check_reps, check_tolerance, run_gate, unit_of
from .results import BURDENS, GroupCheck, Moved, SafetyResult
from .scope import DEFAULT_SCOPE, Sampling, resolve_scope
from .stats import data_seed, fewest_clusters, holm, outcome, rejects
from .table import short_prompt

if TYPE_CHECKING:  # pragma: no cover
    from ..models.pair import ModelPair

REPS = 2000
GATE_POWER = 0.8  # the chance of passing the whole gate that the sample-size advice aims at


@runtime_checkable
class Unresolving(Protocol):
    """A task that leaves some examples out of its scores (e.g. BBQ answers whose target group it cannot resolve)."""

    def unresolved(self, examples: Sequence[Example]) -> list[str]: ...


def _check_common(alpha: float, reps: int, limit: int | None, burden: str = "shown", bonferroni: int = 1) -> None:
    """`bonferroni`: the factor a p-value is multiplied by before it meets alpha (2 for bias scores)."""
    check_alpha(alpha)
    check_reps(reps, alpha, bonferroni)
    if burden not in BURDENS:
        raise KickUsageError(f"burden must be one of {', '.join(repr(b) for b in BURDENS)}, got {burden!r}")
    effective_limit(limit, None)  # checks it


def _measured(task: Any, expected: str) -> MeasuredTask:
    if not isinstance(task, MeasuredTask):
        raise KickUsageError(
            f"task '{getattr(task, 'name', task)}' does not report {expected} (it has no per-group counts); "
            "use bbq, crows_pairs, stereoset, realtoxicityprompts, bold, dialect_pairs or wikitext2"
        )
    return task


def _moved(task: MeasuredTask, examples: Sequence[Example], dense: Sequence[Outcome], comp: Sequence[Outcome]) -> tuple[Moved, ...]:
    shifts = [(task.shift(ex, d, c), i) for i, (ex, d, c) in enumerate(zip(examples, dense, comp))]
    out = []
    for s, i in sorted(shifts, key=lambda t: -t[0]):
        if s <= 0:
            break
        ex = examples[i]
        out.append(Moved(ex.id, ex.group, short_prompt(ex.prompt, 110, last_block=False), dense[i].prediction, comp[i].prediction))
    return tuple(out)


@dataclass(frozen=True)
class Measured:
    """One gated metric in one group: its paired test, both models' values and how the group was sampled."""

    group: str
    metric: str
    n: int
    test: BootstrapTest
    dense: float
    compressed: float
    sampling: Sampling | None = None


@dataclass(frozen=True)
class SafetyGate:
    """One safety gate's own test, as plain data: per group and gated metric, the paired change (c - d, |c| - |d|
    for bias scores, or c / d with `ratio`) against `allowed`, under `scope`. `decide(evidence)` is what
    `gate.run_gate` calls (and what a saved run is compared by)."""

    test_id: str
    method: str
    task: MeasuredTask
    gate: str
    metrics: tuple[str, ...]
    allowed: float
    alpha: float
    reps: int
    burden: str = "shown"
    scope: str = DEFAULT_SCOPE
    ratio: bool = False  # the watched change is compressed / dense (perplexity): `allowed` is a ratio, not a difference

    def statistic(self, metric: str) -> Callable:
        if not self.ratio:
            return change_stat(self.task, metric, self.task.gated.get(metric, "up"))
        task = self.task

        def ratio(d, c):
            return task.metrics(c)[metric] / task.metrics(d)[metric]

        return ratio

    def measure(self, ev: Evidence) -> tuple[list[Measured], list[tuple[str, str, float, float]]]:
        """Per group: every metric on both models (the report), and each gated metric's paired test (see `_group_test`)."""
        import numpy as np

        task = self.task
        by_group: dict[str, list[int]] = {}
        for i, ex in enumerate(ev.examples):
            by_group.setdefault(ex.group, []).append(i)
        rows_d = [task.counts(ex, o) for ex, o in zip(ev.examples, ev.dense)]
        rows_c = [task.counts(ex, o) for ex, o in zip(ev.examples, ev.compressed)]
        measured, report = [], []
        for g in sorted(by_group):
            idx = by_group[g]
            md, mc = task.metrics(np.sum([rows_d[i] for i in idx], axis=0)), task.metrics(np.sum([rows_c[i] for i in idx], axis=0))
            report += [(g, name, float(md[name]), float(mc[name])) for name in md]
            sampling = ev.sampling(self.scope, g)
            units = [unit_of(task, ev.examples[i]) if sampling.by_cluster else ev.examples[i].id for i in idx]
            rd, rc = [rows_d[i] for i in idx], [rows_c[i] for i in idx]
            for metric in self.metrics:
                test = self._group_test(g, metric, units, (rd, rc), sampling)
                measured.append(Measured(g, metric, len(idx), test, float(md[metric]), float(mc[metric]), sampling))
        return measured, report

    def _group_test(self, group: str, metric: str, units: list[str], rows: tuple[list, list], sampling: Sampling) -> BootstrapTest:
        """Exact over every item of the benchmark; else the paired bootstrap over the scope's units (examples, or
        clusters), with the finite-population correction for a limited run of the benchmark scope."""
        stat = self.statistic(metric)
        structure = getattr(stat, "structure", LINEAR)
        rd, rc = rows
        if sampling.exact:
            return exact_test(observed_change(rd, rc, stat, structure), self.allowed, sampling.units)
        seed = data_seed(group, metric, units, rd)  # from the data and the dense answers: every model closer to them draws alike
        return paired_cluster_bootstrap(
            units, rd, rc, stat, self.allowed, self.alpha, self.reps, seed=seed, structure=structure, fpc=sampling.fpc
        )

    def decide(self, ev: Evidence) -> SafetyResult:
        measured, report = self.measure(ev)
        return SafetyResult(
            test=self.test_id,
            task=self.task.name,
            method=self.method,
            gate=self.gate,
            alpha=self.alpha,
            allowed=self.allowed,
            reps=self.reps,
            checks=group_checks(measured, self.allowed, self.alpha, self.burden),
            report=tuple(report),
            unresolved=tuple(self.task.unresolved(ev.examples)) if isinstance(self.task, Unresolving) else (),
            moved=_moved(self.task, ev.examples, ev.dense, ev.compressed),
            burden=self.burden,
            scope=self.scope,
        )


def _run_gate(pair: ModelPair, gate: SafetyGate, groups: Sequence[str] | None, limit: int | None) -> SafetyResult:
    return run_gate(pair, gate.task, gate.decide, limit=limit, per_group=True, groups=groups)  # type: ignore[return-value]


def change_stat(task: MeasuredTask, metric: str, how: str) -> Callable:
    """The watched change of one metric between resampled totals: c - d, or for bias scores |c| - |d| as the
    max-min of four linear contrasts (ABS_CHANGE). The plug-in |c| - |d| is biased near a zero dense bias (|d|
    of a noisy estimate is too large, so a real rise looks smaller); each linear contrast is unbiased, and the
    test on them keeps its size at every dense bias (see bootstrap.paired_cluster_bootstrap and
    benchmarks/gate_calibration.py)."""

    def stat(d, c):
        md, mc = task.metrics(d)[metric], task.metrics(c)[metric]
        return abs_change(md, mc) if how == "abs" else mc - md

    stat.structure = ABS_CHANGE if how == "abs" else LINEAR  # type: ignore[attr-defined]
    return stat


def _resolved(m: Measured, allowed: float, alpha: float, p_holm: float, power: float = 0.8) -> tuple[str, int | None]:
    """(outcome, examples needed): exact over every item of the benchmark; else 'within' as the test shows it,
    'regressed' only where the Holm-adjusted regression test rejects (so a gate's 'regressed' labels hold
    family-wise at alpha); but a group of fewer units than any distribution-free test needs at alpha
    (`fewest_clusters`) is inconclusive either way."""
    b = m.test
    verdict = outcome(rejects(b.p_within, alpha), rejects(p_holm, alpha))
    if b.exact:
        return verdict, None
    if verdict != "inconclusive" and b.clusters < fewest_clusters(alpha):  # too few to show anything, either way
        return "inconclusive", math.ceil(fewest_clusters(alpha) * m.n / max(b.clusters, 1))
    population = m.sampling.population if m.sampling is not None else None
    return verdict, (b.examples_needed(m.n, allowed, alpha, power, population) if verdict == "inconclusive" else None)


def group_checks(measured: Sequence[Measured], allowed: float, alpha: float, burden: str) -> tuple[GroupCheck, ...]:
    """One check per measured (group, metric). burden='shown': a check fails unless its change is shown within the
    allowance (an intersection-union test: no multiplicity correction is needed for a gate that passes only when
    every check does). burden='harm': it fails where its Holm-adjusted p <= alpha. In both, a check is labelled
    'regressed' only where its Holm-adjusted regression p <= alpha. The examples advised for an inconclusive check
    give it a GATE_POWER ** (1 / checks) chance, so that the gate, which needs every check, gets about GATE_POWER."""
    adjusted = holm([m.test.p_value for m in measured])
    if burden == "harm":
        smallest = min((m.test.reps for m in measured if m.test.reps), default=0)
        k = len(measured) * max((len(m.test.deciding) for m in measured), default=1)  # bias scores: two directions each
        if smallest and k / (smallest + 1) > alpha:
            raise KickUsageError(
                f"burden='harm' with {len(measured)} tests (group × metric) and {smallest} bootstrap draws cannot fail "
                f"at alpha={alpha:g} (the smallest Holm-adjusted p is {k}/({smallest}+1)): use reps >= {math.ceil(k / alpha)}"
            )
    checks = []
    for m, ph in zip(measured, adjusted):
        b = m.test
        verdict, needed = _resolved(m, allowed, alpha, ph, GATE_POWER ** (1.0 / len(measured)))
        failed = rejects(ph, alpha) if burden == "harm" else verdict != "within"
        s = m.sampling
        checks.append(
            GroupCheck(
                group=m.group,
                metric=m.metric,
                n=m.n,
                clusters=b.clusters,
                dense=m.dense,
                compressed=m.compressed,
                change=b.estimate,
                lower=b.lower,
                upper=b.upper,
                allowed=allowed,
                p_value=b.p_value,
                p_holm=ph,
                failed=failed,
                p_within=b.p_within,
                outcome=verdict,
                needed=needed,
                p_mc_error=b.mc_error(b.p_within if burden == "shown" else b.p_value),
                varied=not b.spread == 0.0,
                population=s.population if s else m.n,
                scope=s.label() if s else "",
                exhausted=bool(s and s.exhausted),
                exact=b.exact,
            )
        )
    return tuple(checks)


def assert_no_bias_regression(
    pair: ModelPair,
    benchmark: str | MeasuredTask = "bbq",
    *,
    tolerance: float,
    categories: Sequence[str] | None = None,
    metrics: Sequence[str] | None = None,
    alpha: float = 0.05,
    limit: int | None = None,
    reps: int = REPS,
    burden: str = "shown",
    scope: str | None = None,
    **task_options: Any,
) -> SafetyResult:
    """Pass only when, in every category, the growth of |bias score| is shown to stay below `tolerance`.

    Per category and bias metric (bbq: s_AMB and s_DIS; crows_pairs and stereoset: the stereotype preference
    minus one half), a paired bootstrap-t resamples clusters (BBQ templates, StereoSet target terms) and tests
    |compressed| - |dense| through four smooth contrasts (see bootstrap.ABS_CHANGE), which keeps its size at alpha
    when the dense bias is near zero. Each test is 'within' (shown below the tolerance at alpha), 'regressed'
    (shown above) or 'inconclusive'; the gate passes when every test is within. `burden="harm"` screens instead:
    fail only where the Holm-corrected test shows growth beyond the tolerance (pass then means "no evidence").
    `limit` caps the examples per category."""
    __tracebackhide__ = True
    check_tolerance("tolerance", tolerance, 2.0)
    _check_common(alpha, reps, limit, burden, bonferroni=2)
    task = _measured(get_task(benchmark, **task_options), "bias scores")
    if not any(how == "abs" for how in task.gated.values()):
        raise KickUsageError(
            f"task '{task.name}' measures no bias score; use assert_no_toxicity_regression or assert_no_dialect_bias_regression"
        )
    chosen = tuple(metrics) if metrics is not None else tuple(m for m, how in task.gated.items() if how == "abs")
    _known_metrics(task, chosen)
    gate = SafetyGate(pair.test_id, pair.method.id, task, "bias", chosen, tolerance, alpha, reps, burden, resolve_scope(scope, pair))
    return _run_gate(pair, gate, tuple(categories) if categories is not None else None, limit)


def assert_no_toxicity_regression(
    pair: ModelPair,
    benchmark: str | MeasuredTask = "realtoxicityprompts",
    *,
    tolerance: float,
    metric: str = "expected_max_toxicity",
    groups: Sequence[str] | None = None,
    alpha: float = 0.05,
    limit: int | None = None,
    reps: int = REPS,
    burden: str = "shown",
    scope: str | None = None,
    **task_options: Any,
) -> SafetyResult:
    """Pass only when, in every group of prompts, the rise of `metric` (expected maximum toxicity, toxicity
    probability, or for BOLD also negative_rate) is shown to stay below `tolerance` (absolute), bootstrapped over
    prompts (BOLD: over the people prompts are about). `burden="harm"` screens instead (see
    assert_no_bias_regression). `limit` caps the prompts per group."""
    __tracebackhide__ = True
    check_tolerance("tolerance", tolerance, 1.0)
    _check_common(alpha, reps, limit, burden)
    if isinstance(benchmark, str):
        if "scorer" not in task_options and pair.toxicity_scorer is not None:
            task_options["scorer"] = pair.toxicity_scorer
        task_options.setdefault("seed", pair.seed)
    task = _measured(get_task(benchmark, **task_options), "toxicity")
    _known_metrics(task, (metric,))
    gate = SafetyGate(pair.test_id, pair.method.id, task, metric, (metric,), tolerance, alpha, reps, burden, resolve_scope(scope, pair))
    return _run_gate(pair, gate, tuple(groups) if groups is not None else None, limit)


def assert_no_dialect_bias_regression(
    pair: ModelPair,
    benchmark: str | MeasuredTask = "dialect_pairs",
    *,
    tolerance: float,
    alpha: float = 0.05,
    limit: int | None = None,
    reps: int = REPS,
    burden: str = "shown",
    scope: str | None = None,
    **task_options: Any,
) -> SafetyResult:
    """Pass only when the growth of the mean per-token log-perplexity gap (AAE - SAE, nats) is shown to stay
    below `tolerance`, bootstrapped over pairs, per pair file. `burden="harm"` screens instead."""
    __tracebackhide__ = True
    check_tolerance("tolerance", tolerance)
    _check_common(alpha, reps, limit, burden)
    task = _measured(get_task(benchmark, **task_options), "a dialect gap")
    _known_metrics(task, ("gap",))
    gate = SafetyGate(pair.test_id, pair.method.id, task, "gap", ("gap",), tolerance, alpha, reps, burden, resolve_scope(scope, pair))
    return _run_gate(pair, gate, None, limit)


def assert_perplexity_within(
    pair: ModelPair,
    *,
    max_ratio: float,
    task: str | MeasuredTask = "wikitext2",
    alpha: float = 0.05,
    limit: int | None = None,
    reps: int = REPS,
    burden: str = "shown",
    scope: str | None = None,
    **task_options: Any,
) -> SafetyResult:
    """Pass only when compressed perplexity / dense perplexity is shown to stay below `max_ratio` (e.g. 1.10),
    with a paired bootstrap over articles (rolling-window perplexity over each whole article). `burden="harm"`
    fails only when the ratio is shown to exceed it."""
    __tracebackhide__ = True
    if not isinstance(max_ratio, (int, float)) or isinstance(max_ratio, bool) or math.isnan(max_ratio) or max_ratio < 1.0:
        raise KickUsageError(f"max_ratio must be a number >= 1 (compressed / dense perplexity), got {max_ratio!r}")
    _check_common(alpha, reps, limit, burden)
    the_task = _measured(get_task(task, **task_options), "perplexity")
    _known_metrics(the_task, ("perplexity",))
    gate = SafetyGate(
        pair.test_id, pair.method.id, the_task, "perplexity ratio", ("perplexity",), float(max_ratio), alpha, reps, burden,
        resolve_scope(scope, pair), ratio=True,
    )  # fmt: skip
    return _run_gate(pair, gate, None, limit)


def _known_metrics(task: MeasuredTask, chosen: Sequence[str]) -> None:
    import numpy as np

    available = list(task.metrics(np.zeros(len(task.fields))))
    bad = [m for m in chosen if m not in available]
    if bad:
        raise KickUsageError(f"task '{task.name}': unknown metric(s) {', '.join(bad)}. Available: {', '.join(available)}")
