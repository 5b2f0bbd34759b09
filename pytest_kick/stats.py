"""Paired statistics: the one-sided non-inferiority test for two accuracies measured on the same examples."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist


def norm_sf(z: float) -> float:
    """P(Z > z) for a standard normal."""
    return 0.5 * math.erfc(z / math.sqrt(2.0))


@dataclass(frozen=True)
class PairedCounts:
    """2x2 table of paired outcomes: n11 both right, n10 dense right / compressed wrong, n01 the reverse."""

    n11: int
    n10: int
    n01: int
    n00: int

    @property
    def n(self) -> int:
        return self.n11 + self.n10 + self.n01 + self.n00

    @property
    def acc_dense(self) -> float:
        return (self.n11 + self.n10) / self.n

    @property
    def acc_compressed(self) -> float:
        return (self.n11 + self.n01) / self.n

    @property
    def delta(self) -> float:
        """compressed accuracy minus dense accuracy."""
        return (self.n01 - self.n10) / self.n

    @classmethod
    def from_outcomes(cls, dense: Sequence[bool], compressed: Sequence[bool]) -> PairedCounts:
        if len(dense) != len(compressed):
            raise ValueError(f"paired outcomes differ in length: {len(dense)} vs {len(compressed)}")
        if not dense:
            raise ValueError("no paired outcomes")
        c = [0, 0, 0, 0]
        for d, k in zip(dense, compressed):
            c[(0 if d else 2) + (0 if k else 1)] += 1
        return cls(n11=c[0], n10=c[1], n01=c[2], n00=c[3])


def _restricted_p10(t: PairedCounts, delta0: float) -> float:
    """MLE of P(dense right, compressed wrong) under the constraint p01 - p10 = delta0 (Tango 1998)."""
    n, b, c = t.n, t.n10, t.n01
    r = n - b - c
    a2 = 2.0 * n
    a1 = -((b + c) * (1.0 - delta0) - 2.0 * delta0 * (b + r))
    a0 = -b * delta0 * (1.0 - delta0)
    disc = max(a1 * a1 - 4.0 * a2 * a0, 0.0)
    lo, hi = max(0.0, -delta0), (1.0 - delta0) / 2.0
    roots = [(-a1 + s * math.sqrt(disc)) / (2.0 * a2) for s in (1.0, -1.0)]
    feasible = [x for x in roots if lo - 1e-12 <= x <= hi + 1e-12]
    return min(max(feasible[0] if feasible else roots[0], lo), hi)


def tango_z(t: PairedCounts, delta0: float) -> float:
    """Score statistic for H0: acc_c - acc_d = delta0 against acc_c - acc_d > delta0 (large = evidence for H1)."""
    p10 = _restricted_p10(t, delta0)
    p01 = p10 + delta0
    var = (p10 + p01 - delta0 * delta0) / t.n
    diff = t.delta - delta0
    if var <= 0.0:
        return math.inf if diff > 0 else (-math.inf if diff < 0 else 0.0)
    return diff / math.sqrt(var)


def noninferiority_p(t: PairedCounts, margin: float) -> float:
    """One-sided p-value of H0: acc_c <= acc_d - margin (Tango's paired score test)."""
    return norm_sf(tango_z(t, -margin))


def lower_bound(t: PairedCounts, alpha: float) -> float:
    """One-sided (1 - alpha) lower confidence bound of acc_c - acc_d, inverting the same score test."""
    lo, hi = -1.0, t.delta
    if norm_sf(tango_z(t, lo + 1e-12)) > alpha:
        return -1.0
    for _ in range(80):
        mid = (lo + hi) / 2.0
        if norm_sf(tango_z(t, mid)) <= alpha:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2.0


def examples_needed(t: PairedCounts, margin: float, alpha: float, power: float = 0.8) -> int | None:
    """About how many examples give a `power` chance of passing if the true table has the observed shares: the
    same score statistic the test uses grows as sqrt(n) at fixed shares, so n * ((z_alpha + z_power) / z)^2.
    None when the observed change is not inside the allowance (more data cannot help)."""
    if t.delta + margin <= 0:
        return None
    z = tango_z(t, -margin)
    target = NormalDist().inv_cdf(1.0 - alpha) + NormalDist().inv_cdf(power)
    if math.isinf(z):
        return t.n
    return max(t.n, math.ceil(t.n * (target / z) ** 2))


@dataclass(frozen=True)
class NonInferiority:
    counts: PairedCounts
    margin: float
    alpha: float
    p_value: float
    lower: float

    @property
    def passed(self) -> bool:
        return self.p_value < self.alpha


def noninferiority(dense: Sequence[bool], compressed: Sequence[bool], margin: float, alpha: float) -> NonInferiority:
    """Paired one-sided non-inferiority test of accuracy with an absolute margin."""
    t = PairedCounts.from_outcomes(dense, compressed)
    return NonInferiority(t, margin, alpha, noninferiority_p(t, margin), lower_bound(t, alpha))


# ---- paired cluster bootstrap -----------------------------------------------------------------------------


OUTCOMES = ("within", "inconclusive", "regressed")


@dataclass(frozen=True)
class BootstrapTest:
    """A paired bootstrap of one statistic (e.g. the increase in |bias|) against an allowance.

    Two one-sided tests on the same draws. `p_value`: H0 statistic <= allowed, so a small value shows the
    compressed model regressed beyond the allowance. `p_within`: H0 statistic >= allowed, so a small value shows
    the change stayed within it. `lower`/`upper` are one-sided (1 - alpha) bounds (together a 1 - 2 alpha
    interval); `spread` is the standard deviation of the draws (the statistic's standard error at this n)."""

    estimate: float
    lower: float
    upper: float
    p_value: float
    clusters: int
    reps: int
    p_within: float = math.nan
    spread: float = math.nan

    def mc_error(self, p: float) -> float:
        """Monte Carlo standard error of a p-value estimated from this test's draws."""
        return math.sqrt(p * (1.0 - p) / self.reps) if self.reps else math.nan

    def outcome(self, alpha: float) -> str:
        """'within' (shown within the allowance at alpha), 'regressed' (shown beyond it) or 'inconclusive'."""
        if self.p_within <= alpha:
            return "within"
        if self.p_value <= alpha:
            return "regressed"
        return "inconclusive"

    def examples_needed(self, n: int, allowed: float, alpha: float, power: float = 0.8) -> int | None:
        """About how many examples would give a `power` chance of showing the change within the allowance, if
        the true change is the observed one and the standard error shrinks as 1/sqrt(n); None when the
        observed change is not below the allowance (more examples would not show it within)."""
        room = allowed - self.estimate
        if math.isnan(self.spread) or room <= 0:
            return None
        z = NormalDist().inv_cdf(1.0 - alpha) + NormalDist().inv_cdf(power)
        return max(n, math.ceil(n * (z * self.spread / room) ** 2))


def cluster_sums(clusters: Sequence[str], rows: Sequence[Sequence[float]]):
    """Sum per-example count rows within each cluster: (cluster names, C x k array)."""
    import numpy as np

    names = sorted(set(clusters))
    index = {c: i for i, c in enumerate(names)}
    k = len(rows[0]) if rows else 0
    sums = np.zeros((len(names), k))
    for c, row in zip(clusters, rows):
        sums[index[c]] += np.asarray(row, dtype=float)
    return names, sums


def paired_cluster_bootstrap(
    clusters: Sequence[str],
    dense_rows: Sequence[Sequence[float]],
    compressed_rows: Sequence[Sequence[float]],
    statistic,
    allowed: float,
    alpha: float,
    reps: int = 2000,
    seed: int = 0,
    max_reps: int | None = None,
) -> BootstrapTest:
    """Resample whole clusters (e.g. BBQ templates) with replacement, the same draw for both models, and
    recompute `statistic(dense_sums, compressed_sums)` (vectorised over the first axis) on each draw.

    The p-value of H0: statistic <= allowed is (1 + #{draws <= allowed}) / (1 + draws) (percentile bootstrap), and
    of H0: statistic >= allowed (1 + #{draws >= allowed}) / (1 + draws). Starting from `reps` draws, the draws are
    doubled while either p-value is within three Monte Carlo standard errors of alpha (up to `max_reps`, default
    16 x reps), so that a verdict does not hang on the seed; `mc_error` reports what is left."""
    import numpy as np

    if len(dense_rows) != len(compressed_rows) or len(dense_rows) != len(clusters):
        raise ValueError("paired rows and clusters differ in length")
    if not clusters:
        raise ValueError("no examples to resample")
    _, d = cluster_sums(clusters, dense_rows)
    _, c = cluster_sums(clusters, compressed_rows)
    n = d.shape[0]
    rng = np.random.default_rng(seed)
    limit = max_reps or 16 * reps
    chunks: list = []
    with np.errstate(divide="ignore", invalid="ignore"):
        observed = float(np.asarray(statistic(d.sum(0)[None], c.sum(0)[None]))[0])
        target, made = reps, 0
        while True:
            while made < target:  # in blocks of `reps` draws, so memory stays that of one block
                size = min(reps, target - made)
                weights = rng.multinomial(n, np.full(n, 1.0 / n), size=size).astype(float)
                chunks.append(np.asarray(statistic(weights @ d, weights @ c), dtype=float))
                made += size
            draws = np.concatenate(chunks)
            draws = draws[~np.isnan(draws)]  # a draw can leave a metric undefined (e.g. no ambiguous item)
            if draws.size == 0 or math.isnan(observed):
                return BootstrapTest(observed, math.nan, math.nan, math.nan, n, 0)
            p = min(1.0, (1.0 + float((draws <= allowed).sum())) / (1.0 + draws.size))
            p_within = min(1.0, (1.0 + float((draws >= allowed).sum())) / (1.0 + draws.size))
            if made >= limit or not (_near(p, alpha, draws.size) or _near(p_within, alpha, draws.size)):
                break
            target = min(2 * made, limit)
    lower, upper = np.quantile(draws, [alpha, 1.0 - alpha])
    return BootstrapTest(observed, float(lower), float(upper), p, n, int(draws.size), p_within, float(draws.std()))


def _near(p: float, alpha: float, draws: int) -> bool:
    """Whether p is within three Monte Carlo standard errors of alpha (the decision could flip with the seed)."""
    return abs(p - alpha) < 3.0 * math.sqrt(alpha * (1.0 - alpha) / draws)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm step-down adjusted p-values (family-wise error control); NaN stays NaN and is not counted."""
    valid = [(p, i) for i, p in enumerate(p_values) if not math.isnan(p)]
    m = len(valid)
    out = [math.nan] * len(p_values)
    running = 0.0
    for rank, (p, i) in enumerate(sorted(valid)):
        running = max(running, min(1.0, (m - rank) * p))
        out[i] = running
    return out


# ---- bounds for the fidelity gate -------------------------------------------------------------------------------


def binomial_upper(k: int, n: int, alpha: float) -> float:
    """One-sided (1 - alpha) Clopper-Pearson upper bound of a rate seen k times in n (exact)."""
    from scipy.stats import beta

    return 1.0 if k >= n else float(beta.ppf(1.0 - alpha, k + 1, n - k))


def binomial_lower(k: int, n: int, alpha: float) -> float:
    """One-sided (1 - alpha) Clopper-Pearson lower bound of a rate seen k times in n (exact)."""
    from scipy.stats import beta

    return 0.0 if k <= 0 else float(beta.ppf(alpha, k, n - k + 1))


def mean_upper(values: Sequence[float], alpha: float, reps: int = 2000, seed: int = 0) -> float:
    """One-sided (1 - alpha) percentile-bootstrap upper bound of a mean (resampling the examples)."""
    import numpy as np

    x = np.asarray(values, dtype=float)
    if x.size == 0:
        return math.nan
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, x.size, size=(reps, x.size))].mean(axis=1)
    return float(np.quantile(means, 1.0 - alpha))
