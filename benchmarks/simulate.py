"""Operating characteristics of every gate, simulated on synthetic paired data through the gates' own decision
code (no models): how often a gate passes, is shown regressed or stays inconclusive at a given true change."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from statistics import NormalDist

from pytest_kick.gates.bootstrap import LINEAR, paired_cluster_bootstrap
from pytest_kick.gates.fidelity import FidelityCheck
from pytest_kick.gates.safety import Measured, change_stat, group_checks
from pytest_kick.gates.stats import binomial_lower, binomial_upper, examples_needed, mean_bounds, noninferiority
from pytest_kick.tasks import get_task
from pytest_kick.tasks.toxicity import THRESHOLD

ALPHA = 0.05
REPS = 500  # bootstrap draws per simulated data set; the bootstrap doubles them itself near alpha
GATES = ("accuracy", "bias", "toxicity", "perplexity", "fidelity", "quality")
NULL = {
    "accuracy": 0.0,
    "bias": 0.0,
    "toxicity": 0.0,
    "perplexity": 1.0,
    "fidelity": 0.0,
    "quality": 0.0,
}  # the change of an unchanged model


@dataclass(frozen=True)
class Rates:
    """What a gate decided on `sims` simulated data sets: the shares of each outcome; `advised`, the median
    sample-size advice over the inconclusive ones that got a number (None when none did); `bounds`, per data set
    the bound the gate compares with its limit (in the limit's own units: a drop for accuracy, a ratio for
    perplexity), so a limit just above their 80th percentile (`bound80`) passes about 80% of such data sets."""

    sims: int
    passed: float
    regressed: float
    inconclusive: float
    advised: int | None
    bounds: tuple[float, ...] = field(default=(), repr=False)

    @property
    def bound80(self) -> float:
        return _quantile(self.bounds, 0.8)

    def stderr(self, rate: float) -> float:
        """Binomial standard error of a rate near `rate` estimated from these simulations."""
        return math.sqrt(rate * (1.0 - rate) / self.sims)


@dataclass(frozen=True)
class Advice:
    """The sample-size advice check: pilots of `n_pilot` unchanged pairs, the median advice of the inconclusive
    ones (`advised`), and the share of unchanged pairs of that size that pass (`passed`; NaN without advice)."""

    gate: str
    n_pilot: int
    pilot_inconclusive: float
    advised: int | None
    passed: float
    sims: int


def _run(trial: Callable, sims: int, seed: int) -> Rates:
    """`trial(rng, bootstrap_seed) -> (outcome, bound, advice)` on `sims` seeded data sets, summarised."""
    import numpy as np

    if not isinstance(sims, int) or sims < 1:
        raise ValueError(f"sims must be a positive integer, got {sims!r}")
    outcomes, bounds, advice = [], [], []
    for i in range(sims):
        rng = np.random.default_rng([seed, i])
        outcome, bound, needed = trial(rng, int(rng.integers(2**31)))
        outcomes.append(outcome)
        bounds.append(bound)
        if outcome == "inconclusive" and needed is not None:
            advice.append(needed)
    share = {o: sum(x == o for x in outcomes) / sims for o in ("within", "regressed", "inconclusive")}
    advised = math.ceil(float(np.median(advice))) if advice else None
    return Rates(sims, share["within"], share["regressed"], share["inconclusive"], advised, tuple(float(b) for b in bounds))


def _quantile(values, level: float) -> float:
    import numpy as np

    finite = [v for v in values if not math.isnan(v)]
    return float(np.quantile(finite, level)) if finite else math.nan


def _safety(task, metric: str, stat, data, allowed: float, margin: float, alpha: float, reps: int, seed: int):
    """One group of a safety gate under the clusters scope, as `safety.SafetyGate` decides it: the paired cluster bootstrap of the watched
    change, then `safety.group_checks` (outcome and sample-size advice). `data`: cluster ids and the two (n x fields)
    count arrays in `task.fields` order."""
    clusters, dense, comp = data
    boot = paired_cluster_bootstrap(
        clusters, list(dense), list(comp), stat, allowed, alpha, reps, seed=seed, structure=getattr(stat, "structure", LINEAR)
    )
    md, mc = task.metrics(dense.sum(axis=0))[metric], task.metrics(comp.sum(axis=0))[metric]
    check = group_checks([Measured("simulated", metric, len(dense), boot, float(md), float(mc))], allowed, alpha, "shown")[0]
    return check.outcome, boot.upper, check.needed


def accuracy_rates(
    n: int, delta: float, tol: float, sims: int, alpha: float = ALPHA, seed: int = 0, *, dense_acc: float = 0.7, redraw: float = 0.2
) -> Rates:
    """The accuracy gate (`stats.noninferiority`, margin `tol`) on n paired answers: the dense model is right
    with probability `dense_acc`; the compressed one keeps the dense answer except on a random share `redraw`,
    where it is right with the probability that makes its accuracy dense_acc - delta (delta > 0: a drop)."""
    import numpy as np

    q = dense_acc - delta / redraw
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"a drop of {delta} cannot come from re-drawing {redraw:.0%} of answers at accuracy {dense_acc}")

    def trial(rng, _seed):
        d = rng.random(n) < dense_acc
        c = np.where(rng.random(n) < redraw, rng.random(n) < q, d)
        test = noninferiority(d.tolist(), c.tolist(), tol, alpha)
        needed = examples_needed(test.counts, tol, alpha) if test.outcome == "inconclusive" else None
        return test.outcome, -test.lower, needed

    return _run(trial, sims, seed)


def bias_rates(
    n: int,
    dense_bias: float,
    change: float,
    tol: float,
    sims: int,
    *,
    per_cluster: int = 1,
    redraw: float = 0.5,
    opposite: bool = False,
    icc: float = 0.1,
    alpha: float = ALPHA,
    reps: int = REPS,
    seed: int = 0,
) -> Rates:
    """The bias gate on CrowS-Pairs count rows (1, prefers the stereotype), watching |c| - |d| of the bias score
    (share preferring the stereotype - 0.5). Items come `per_cluster` to a cluster; an item prefers the
    stereotype when a standard normal latent (a share `icc` of its variance shared by its cluster) is below the
    model's cut, so the dense bias is exactly `dense_bias`. The compressed model re-draws the latent of a random
    share `redraw` of items (the cluster part stays) and moves its cut so that its bias is exactly
    ±(|dense_bias| + change): on the dense side, or on the other side with `opposite`."""
    import numpy as np

    if per_cluster < 1 or n % per_cluster:
        raise ValueError(f"n={n} is not a whole number of clusters of {per_cluster}")
    side = (-1.0 if opposite else 1.0) * (1.0 if dense_bias >= 0 else -1.0)
    comp_bias = side * (abs(dense_bias) + change)
    if not (abs(dense_bias) < 0.5 and abs(comp_bias) < 0.5):
        raise ValueError(f"bias scores must lie in (-0.5, 0.5), got {dense_bias} and {comp_bias}")
    cut_d, cut_c = NormalDist().inv_cdf(0.5 + dense_bias), NormalDist().inv_cdf(0.5 + comp_bias)
    rho = icc if per_cluster > 1 else 0.0
    task = get_task("crows_pairs")
    stat = change_stat(task, "bias", task.gated["bias"])
    clusters = np.repeat(np.arange(n // per_cluster), per_cluster)

    def trial(rng, boot_seed):
        shared = math.sqrt(rho) * rng.standard_normal(n // per_cluster)[clusters]
        own = shared + math.sqrt(1.0 - rho) * rng.standard_normal(n)
        fresh = shared + math.sqrt(1.0 - rho) * rng.standard_normal(n)
        latent = np.where(rng.random(n) < redraw, fresh, own)
        dense = np.column_stack([np.ones(n), own < cut_d])
        comp = np.column_stack([np.ones(n), latent < cut_c])
        return _safety(task, "bias", stat, (clusters.tolist(), dense, comp), tol, tol, alpha, reps, boot_seed)

    return _run(trial, sims, seed)


@cache
def _clipped_shift(change: float, noise: float, a: float, b: float) -> float:
    """The shift s with E[clip(x + s + e, 0, 1)] - E[x] = change for x ~ Beta(a, b), e ~ N(0, noise^2): exact,
    from E[clip(Y, 0, 1)] = sd * (G(mu / sd) - G((mu - 1) / sd)) for Y ~ N(mu, sd^2), G(z) = z Phi(z) + phi(z)."""
    from scipy import integrate, optimize

    unit = NormalDist()
    log_beta = math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)

    def g(z: float) -> float:
        return z * unit.cdf(z) + unit.pdf(z)

    def clipped_mean(s: float) -> float:
        def f(x: float) -> float:
            pdf = math.exp((a - 1) * math.log(x) + (b - 1) * math.log1p(-x) - log_beta) if 0 < x < 1 else 0.0
            return noise * (g((x + s) / noise) - g((x + s - 1.0) / noise)) * pdf

        return integrate.quad(f, 0.0, 1.0, limit=200)[0]

    target = a / (a + b) + change
    if not 0.0 < target < 1.0:
        raise ValueError(f"the expected max toxicity {target} is not in (0, 1)")
    return float(optimize.brentq(lambda s: clipped_mean(s) - target, -1.0 - 6 * noise, 1.0 + 6 * noise, xtol=1e-12))


def toxicity_rates(
    n: int,
    shift: float,
    tol: float,
    sims: int,
    *,
    noise: float = 0.15,
    beta: tuple[float, float] = (1.0, 5.0),
    alpha: float = ALPHA,
    reps: int = REPS,
    seed: int = 0,
) -> Rates:
    """The toxicity gate (expected_max_toxicity, realtoxicityprompts count rows (1, max toxicity, toxic)) on n
    prompts: the dense per-prompt max toxicity ~ Beta(*beta); the compressed one is that plus s plus N(0, noise^2)
    noise, clipped to [0, 1], with s chosen so the expected max toxicity rises by exactly `shift`."""
    import numpy as np

    s = _clipped_shift(float(shift), float(noise), *map(float, beta))
    task = get_task("realtoxicityprompts")
    metric = "expected_max_toxicity"
    stat = change_stat(task, metric, task.gated[metric])
    ids = list(range(n))

    def trial(rng, boot_seed):
        d = rng.beta(*beta, size=n)
        c = np.clip(d + s + noise * rng.standard_normal(n), 0.0, 1.0)
        dense, comp = (np.column_stack([np.ones(n), x, x >= THRESHOLD]) for x in (d, c))
        return _safety(task, metric, stat, (ids, dense, comp), tol, tol, alpha, reps, boot_seed)

    return _run(trial, sims, seed)


def perplexity_rates(
    n: int,
    ratio: float,
    max_ratio: float,
    sims: int,
    *,
    spread: float = 0.05,
    alpha: float = ALPHA,
    reps: int = REPS,
    seed: int = 0,
) -> Rates:
    """The perplexity-ratio gate (wikitext2 count rows (NLL sum, tokens), statistic compressed / dense
    perplexity, margin max_ratio - 1) on n articles of 200-800 tokens at 3.4 ± 0.3 nats per token (dense); the
    compressed model adds log(ratio) + N(0, spread^2) nats per token per article, so its true perplexity ratio
    is exactly `ratio`."""
    import numpy as np

    task = get_task("wikitext2")

    def stat(d, c):  # what assert_perplexity_within bootstraps
        return task.metrics(c)["perplexity"] / task.metrics(d)["perplexity"]

    ids = list(range(n))

    def trial(rng, boot_seed):
        tokens = rng.integers(200, 801, size=n).astype(float)
        per_token = rng.normal(3.4, 0.3, size=n)
        comp_per_token = per_token + math.log(ratio) + spread * rng.standard_normal(n)
        dense, comp = (np.column_stack([tokens * x, tokens]) for x in (per_token, comp_per_token))
        return _safety(task, "perplexity", stat, (ids, dense, comp), max_ratio, max_ratio - 1.0, alpha, reps, boot_seed)

    return _run(trial, sims, seed)


def fidelity_rates(
    n: int,
    value: float,
    tol: float,
    sims: int,
    *,
    metric: str = "flip_rate",
    kl_shape: float = 0.5,
    alpha: float = ALPHA,
    reps: int = REPS,
    seed: int = 0,
) -> Rates:
    """The fidelity gate on n examples: `metric` 'flip_rate' (flips ~ Bernoulli(value), exact Clopper-Pearson
    bound, limit max_flip_rate = tol) or 'kl' (per-example KL ~ Gamma(kl_shape) with mean `value`, bootstrap
    bound of the mean, limit max_kl = tol). This gate gives no sample-size advice."""
    import numpy as np

    if metric not in ("flip_rate", "kl"):
        raise ValueError(f"metric must be 'flip_rate' or 'kl', got {metric!r}")

    def trial(rng, boot_seed):
        if metric == "flip_rate":
            k = int(rng.binomial(n, value))
            observed, bounds = k / n, (binomial_lower(k, n, alpha), binomial_upper(k, n, alpha))
        else:
            kl = rng.gamma(kl_shape, value / kl_shape, size=n) if value > 0 else np.zeros(n)
            observed, bounds = float(kl.mean()), mean_bounds(kl.tolist(), alpha, reps, boot_seed)
        check = FidelityCheck.of(metric, observed, bounds, tol, "max")
        return check.outcome, check.bound, None

    return _run(trial, sims, seed)


def quality_rates(
    n: int, drop: float, tol: float, sims: int, *, shape: str = "rouge", alpha: float = ALPHA, reps: int = REPS, seed: int = 0
) -> Rates:
    """The generation-quality gate on n paired examples whose true mean score falls by `drop`, limit max_drop=tol.
    `shape`: 'rouge' (dense scores ~ Beta(2, 5), the compressed score moves by a noisy, skewed amount: most
    examples barely move, a few fall a lot), 'gap' (ICR-QA's closed-open score in {-1, 0, 1}, mostly 0: changes
    are rare and discrete) or 'judge' (1-10 integer scores)."""
    import numpy as np

    from pytest_kick.gates.quality import decide_scores

    def trial(rng, boot_seed):
        if shape == "rouge":
            dense = rng.beta(2, 5, size=n)
            moved = rng.random(n) < 0.3  # a minority moves, by an exponential amount: skewed differences
            loss = np.where(moved, rng.exponential(drop / 0.3 if drop > 0 else 0.0, size=n), 0.0)  # E[loss] = drop
            comp = dense - loss + rng.normal(0, 0.02, size=n)
        elif shape == "gap":
            dense = rng.choice([-1.0, 0.0, 1.0], p=[0.3, 0.6, 0.1], size=n)
            flip = rng.random(n) < drop  # a drop of `drop`: that share of examples lose one point
            comp = dense - flip.astype(float)
        elif shape == "judge":
            dense = rng.integers(3, 10, size=n).astype(float)
            comp = dense - rng.poisson(drop, size=n) + rng.integers(-1, 2, size=n)  # E[comp - dense] = -drop
        else:
            raise ValueError(f"shape must be rouge, gap or judge, got {shape!r}")
        d = decide_scores(dense.tolist(), comp.tolist(), tol, False, alpha, reps, boot_seed)
        return d.outcome, d.lower, None

    return _run(trial, sims, seed)


def gate_rates(gate: str, n: int, change: float, tol: float, sims: int, **options) -> Rates:
    """Any gate by name (see GATES); `change` is the true change in the gate's units (a drop for accuracy, the
    perplexity ratio for perplexity); the bias gate takes `dense_bias` among the options (default 0)."""
    if gate == "bias":
        options = dict(options)
        dense_bias = options.pop("dense_bias", 0.0)
        return bias_rates(n, dense_bias, change, tol, sims, **options)
    runs = {
        "accuracy": accuracy_rates,
        "toxicity": toxicity_rates,
        "perplexity": perplexity_rates,
        "fidelity": fidelity_rates,
        "quality": quality_rates,
    }
    if gate not in runs:
        raise ValueError(f"unknown gate {gate!r}; one of {', '.join(GATES)}")
    return runs[gate](n, change, tol, sims, **options)


def smallest_tolerance(gate: str, n: int, sims: int, *, tol: float, seed: int = 0, null: Rates | None = None, **options):
    """(tolerance, Rates there, runs): the smallest limit an unchanged model passes with about 80% chance at n,
    read off the 80th percentile of the gate's own bound on `sims` unchanged data sets (`null`, run at limit
    `tol` when not given), then confirmed on fresh unchanged data sets at that limit. Should the confirmation
    fall below 0.75 (the percentile of `sims` draws is itself noisy), the bounds of both runs are pooled and a
    fresh run confirms the new limit; `runs` counts the confirmation runs (1 or 2), the last one is returned."""
    if null is None:
        null = gate_rates(gate, n, NULL[gate], tol, sims, seed=seed, **options)
    floor = 1.0 if gate == "perplexity" else 0.0
    pooled = list(null.bounds)
    for run in (1, 2):
        q = max(_quantile(pooled, 0.8), floor)
        limit = q + 1e-9 * max(1.0, abs(q))  # the gate needs its bound strictly inside the limit
        there = gate_rates(gate, n, NULL[gate], limit, sims, seed=seed + 7919 * run, **options)
        if there.passed >= 0.75:
            break
        pooled += there.bounds
    return limit, there, run


def advice_check(gate: str, n_pilot: int, tol: float, sims: int, *, seed: int = 0, **options) -> Advice:
    """Does the gate's own sample-size advice deliver? Pilots of n_pilot unchanged pairs; the median advice of the
    inconclusive ones (`examples_needed` for accuracy, GroupCheck.needed for the safety gates); then the share
    of unchanged pairs of the advised size that pass (the advice aims at 80%)."""
    if gate == "fidelity":
        raise ValueError("the fidelity gate gives no sample-size advice")
    pilot = gate_rates(gate, n_pilot, NULL[gate], tol, sims, seed=seed, **options)
    if pilot.advised is None:
        return Advice(gate, n_pilot, pilot.inconclusive, None, math.nan, sims)
    step = options.get("per_cluster", 1)
    n = step * math.ceil(pilot.advised / step)
    at = gate_rates(gate, n, NULL[gate], tol, sims, seed=seed + 1, **options)
    return Advice(gate, n_pilot, pilot.inconclusive, n, at.passed, sims)
