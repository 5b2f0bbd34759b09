"""Safety gates (bias, toxicity, dialect, perplexity), thin uses of `gate.run_gate`: bootstrap the paired change
per group by clusters and decide per group whether it is shown within the allowance (or, with burden='harm',
screen with Holm's correction)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import KickUsageError
from ..settings import effective_limit
from ..tasks import Example, MeasuredTask, Outcome, get_task
from .bootstrap import ABS_CHANGE, LINEAR, abs_change, paired_cluster_bootstrap
from .gate import Evidence, check_alpha, check_reps, check_tolerance, run_gate
from .results import BURDENS, GroupCheck, Moved, SafetyResult
from .stats import data_seed, fewest_clusters, holm, outcome, rejects
from .table import short_prompt

if TYPE_CHECKING:  # pragma: no cover
    from ..models.pair import ModelPair

REPS = 2000


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


def _run_gate(
    pair: ModelPair,
    task: MeasuredTask,
    *,
    gate: str,
    metrics: Sequence[str],
    allowed: float,
    alpha: float,
    reps: int,
    groups: Sequence[str] | None,
    limit: int | None,
    statistic: Callable[[str, str], Callable] | None = None,
    burden: str = "shown",
) -> SafetyResult:
    def decide(ev: Evidence) -> SafetyResult:
        stat_for = statistic or (lambda metric, how: change_stat(task, metric, how))
        outcomes = (ev.dense, ev.compressed)
        raw, report = _bootstrap_groups(pair, task, ev.examples, outcomes, metrics, stat_for, (allowed, alpha, reps))
        # A ratio gate allows an excess over 1; a difference gate allows the difference itself.
        checks = group_checks(raw, allowed, alpha, burden, allowed - 1.0 if statistic is not None else allowed)
        return SafetyResult(
            test=pair.test_id,
            task=task.name,
            method=pair.method.id,
            gate=gate,
            alpha=alpha,
            allowed=allowed,
            reps=reps,
            checks=checks,
            report=tuple(report),
            unresolved=tuple(task.unresolved(ev.examples)) if hasattr(task, "unresolved") else (),
            moved=_moved(task, ev.examples, ev.dense, ev.compressed),
            burden=burden,
        )

    return run_gate(pair, task, decide, limit=limit, per_group=True, groups=groups)  # type: ignore[return-value]


def _bootstrap_groups(pair, task, examples, outcomes, metrics, stat_for, test) -> tuple[list, list]:
    """Per group: every metric measured on both models (`report`), and a paired cluster bootstrap of each gated
    metric's change (`raw`: group, metric, n, bootstrap, dense value, compressed value)."""
    import numpy as np

    allowed, alpha, reps = test
    dense, comp = outcomes
    by_group: dict[str, list[int]] = {}
    for i, ex in enumerate(examples):
        by_group.setdefault(ex.group, []).append(i)
    rows_d = [task.counts(ex, o) for ex, o in zip(examples, dense)]
    rows_c = [task.counts(ex, o) for ex, o in zip(examples, comp)]
    clusters = [task.cluster(ex) for ex in examples]
    raw = []
    report = []
    for g in sorted(by_group):
        idx = by_group[g]
        td = np.sum([rows_d[i] for i in idx], axis=0)
        tc = np.sum([rows_c[i] for i in idx], axis=0)
        md, mc = task.metrics(td), task.metrics(tc)
        for name in md:
            report.append((g, name, float(md[name]), float(mc[name])))
        for metric in metrics:
            how = task.gated.get(metric, "up")
            stat = stat_for(metric, how)
            cl, rd, rc = [clusters[i] for i in idx], [rows_d[i] for i in idx], [rows_c[i] for i in idx]
            boot = paired_cluster_bootstrap(
                cl,
                rd,
                rc,
                stat,
                allowed,
                alpha,
                reps,
                seed=data_seed(g, metric, cl, rd, rc),
                structure=getattr(stat, "structure", LINEAR),
            )
            raw.append((g, metric, len(idx), boot, float(md[metric]), float(mc[metric])))
    return raw, report


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


def min_clusters(margin: float, alpha: float) -> int:
    """Clusters needed before a bootstrap that saw no variation at all may call a change 'within': with C
    clusters and none differing, the share of differing clusters is below 1 - alpha**(1/C) at 1 - alpha (the
    rule of three), which must be below the margin."""
    if margin <= 0:
        return math.inf  # type: ignore[return-value]
    return math.ceil(math.log(alpha) / math.log1p(-min(margin, 0.999)))


def _resolved(b, n: int, allowed: float, margin: float, alpha: float, p_holm: float) -> tuple[str, int | None]:
    """(outcome, examples needed): 'within' as the bootstrap shows it, 'regressed' only where the Holm-adjusted
    regression test rejects (so a gate's 'regressed' labels hold family-wise at alpha); but a group of fewer
    clusters than any distribution-free test needs at alpha (`fewest_clusters`) is inconclusive either way, and a
    group whose draws never varied (both models agreed on every sampled example) is 'within' only with enough
    clusters."""
    verdict = outcome(rejects(b.p_within, alpha), rejects(p_holm, alpha))
    if verdict != "inconclusive" and b.clusters < fewest_clusters(alpha):  # too few to show anything, either way
        return "inconclusive", math.ceil(fewest_clusters(alpha) * n / max(b.clusters, 1))
    if verdict == "within" and b.spread == 0.0 and b.clusters < min_clusters(margin, alpha):
        per_cluster = n / max(b.clusters, 1)
        return "inconclusive", math.ceil(min_clusters(margin, alpha) * per_cluster) if margin > 0 else None
    return verdict, (b.examples_needed(n, allowed, alpha) if verdict == "inconclusive" else None)


def group_checks(raw: list, allowed: float, alpha: float, burden: str, margin: float) -> tuple[GroupCheck, ...]:
    """One check per (group, metric, n, bootstrap, dense, compressed). burden='shown': a check fails unless its
    change is shown within the allowance (an intersection-union test: no multiplicity correction is needed for a
    gate that passes only when every check does). burden='harm': it fails where its Holm-adjusted p <= alpha. In
    both, a check is labelled 'regressed' only where its Holm-adjusted regression p <= alpha."""
    adjusted = holm([b.p_value for *_, b, _, _ in raw])
    if burden == "harm":
        smallest = min((b.reps for *_, b, _, _ in raw if b.reps), default=0)
        m = len(raw) * max((len(b.deciding) for *_, b, _, _ in raw), default=1)  # bias scores: two directions each
        if smallest and m / (smallest + 1) > alpha:
            raise KickUsageError(
                f"burden='harm' with {len(raw)} tests (group × metric) and {smallest} bootstrap draws cannot fail "
                f"at alpha={alpha:g} (the smallest Holm-adjusted p is {m}/({smallest}+1)): use reps >= {math.ceil(m / alpha)}"
            )
    checks = []
    for (g, m, n, b, vd, vc), ph in zip(raw, adjusted):
        verdict, needed = _resolved(b, n, allowed, margin, alpha, ph)
        failed = rejects(ph, alpha) if burden == "harm" else verdict != "within"
        checks.append(
            GroupCheck(
                group=g,
                metric=m,
                n=n,
                clusters=b.clusters,
                dense=vd,
                compressed=vc,
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
    return _run_gate(
        pair,
        task,
        gate="bias",
        metrics=chosen,
        allowed=tolerance,
        alpha=alpha,
        reps=reps,
        groups=tuple(categories) if categories is not None else None,
        limit=limit,
        burden=burden,
    )


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
    return _run_gate(
        pair,
        task,
        gate=metric,
        metrics=(metric,),
        allowed=tolerance,
        alpha=alpha,
        reps=reps,
        groups=tuple(groups) if groups is not None else None,
        limit=limit,
        burden=burden,
    )


def assert_no_dialect_bias_regression(
    pair: ModelPair,
    benchmark: str | MeasuredTask = "dialect_pairs",
    *,
    tolerance: float,
    alpha: float = 0.05,
    limit: int | None = None,
    reps: int = REPS,
    burden: str = "shown",
    **task_options: Any,
) -> SafetyResult:
    """Pass only when the growth of the mean per-token log-perplexity gap (AAE - SAE, nats) is shown to stay
    below `tolerance`, bootstrapped over pairs, per pair file. `burden="harm"` screens instead."""
    __tracebackhide__ = True
    check_tolerance("tolerance", tolerance)
    _check_common(alpha, reps, limit, burden)
    task = _measured(get_task(benchmark, **task_options), "a dialect gap")
    _known_metrics(task, ("gap",))
    return _run_gate(
        pair, task, gate="gap", metrics=("gap",), allowed=tolerance, alpha=alpha, reps=reps, groups=None, limit=limit, burden=burden
    )


def assert_perplexity_within(
    pair: ModelPair,
    *,
    max_ratio: float,
    task: str | MeasuredTask = "wikitext2",
    alpha: float = 0.05,
    limit: int | None = None,
    reps: int = REPS,
    burden: str = "shown",
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

    def ratio(metric: str, how: str):
        def stat(d, c):
            return the_task.metrics(c)["perplexity"] / the_task.metrics(d)["perplexity"]

        return stat

    return _run_gate(
        pair,
        the_task,
        gate="perplexity ratio",
        metrics=("perplexity",),
        allowed=float(max_ratio),
        alpha=alpha,
        reps=reps,
        groups=None,
        limit=limit,
        statistic=ratio,
        burden=burden,
    )


def _known_metrics(task: MeasuredTask, chosen: Sequence[str]) -> None:
    import numpy as np

    available = list(task.metrics(np.zeros(len(task.fields))))
    bad = [m for m in chosen if m not in available]
    if bad:
        raise KickUsageError(f"task '{task.name}': unknown metric(s) {', '.join(bad)}. Available: {', '.join(available)}")
