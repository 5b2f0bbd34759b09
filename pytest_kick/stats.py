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


def upper_bound(t: PairedCounts, alpha: float) -> float:
    """One-sided (1 - alpha) upper confidence bound of acc_c - acc_d, inverting the same score test."""
    lo, hi = t.delta, 1.0
    if norm_sf(-tango_z(t, hi - 1e-12)) > alpha:
        return 1.0
    for _ in range(80):
        mid = (lo + hi) / 2.0
        if norm_sf(-tango_z(t, mid)) <= alpha:
            hi = mid
        else:
            lo = mid
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
    """`p_value`: H0 acc_c <= acc_d - margin (small: shown within the allowance). `p_regressed`: H0 acc_c >=
    acc_d - margin (small: shown to have lost more than allowed). `lower`/`upper`: one-sided (1 - alpha) bounds."""

    counts: PairedCounts
    margin: float
    alpha: float
    p_value: float
    lower: float
    p_regressed: float = math.nan
    upper: float = math.nan

    @property
    def passed(self) -> bool:
        return self.p_value < self.alpha

    @property
    def outcome(self) -> str:
        if self.passed:
            return "within"
        return "regressed" if self.p_regressed < self.alpha else "inconclusive"


def noninferiority(dense: Sequence[bool], compressed: Sequence[bool], margin: float, alpha: float) -> NonInferiority:
    """Paired one-sided non-inferiority test of accuracy with an absolute margin (and its mirror image, which
    tells a drop shown beyond the margin from one that could not be told)."""
    t = PairedCounts.from_outcomes(dense, compressed)
    z = tango_z(t, -margin)
    return NonInferiority(t, margin, alpha, norm_sf(z), lower_bound(t, alpha), norm_sf(-z), upper_bound(t, alpha))


# ---- paired cluster bootstrap -----------------------------------------------------------------------------


OUTCOMES = ("within", "inconclusive", "regressed")

# How a gate's watched change is built from the contrasts its statistic returns: the change is
# max over groups of min over the contrasts in the group. LINEAR: the statistic is the change itself.
# ABS_CHANGE: the contrasts are (c - d, c + d, -c - d, -c + d) of two bias scores, so the change is
# max(c - |d|, -c - |d|) = |c| - |d|, written with linear pieces only (see `abs_change`).
LINEAR: tuple[tuple[int, ...], ...] = ((0,),)
ABS_CHANGE: tuple[tuple[int, ...], ...] = ((0, 1), (2, 3))


def abs_change(dense, compressed):
    """The four linear contrasts whose max-min is |compressed| - |dense| (numpy, stacked on a last axis)."""
    import numpy as np

    d, c = np.asarray(dense, dtype=float), np.asarray(compressed, dtype=float)
    return np.stack([c - d, c + d, -c - d, -c + d], axis=-1)


@dataclass(frozen=True)
class BootstrapTest:
    """A paired bootstrap of one watched change (e.g. the growth of |bias|) against an allowance.

    Two one-sided tests on the same draws. `p_value`: H0 change <= allowed, so a small value shows the
    compressed model regressed beyond the allowance. `p_within`: H0 change >= allowed, so a small value shows
    the change stayed within it. `lower`/`upper` are one-sided (1 - alpha) bounds (together a 1 - 2 alpha
    interval) that agree with the two tests; `spread` is the standard deviation of the draws of the change.
    `deciding` holds, per piece of the change (see LINEAR / ABS_CHANGE), the estimate and standard deviation of
    the contrast that decides 'within' and its Bonferroni factor, for the sample-size advice."""

    estimate: float
    lower: float
    upper: float
    p_value: float
    clusters: int
    reps: int
    p_within: float = math.nan
    spread: float = math.nan
    deciding: tuple[tuple[float, float, int], ...] = ()

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
        the true contrasts are the observed ones and their standard errors shrink as 1/sqrt(n). Every piece of
        the change must be shown within, so each gets power**(1/pieces) (by Bonferroni the joint chance is then
        at least `power`); None when a piece is not below the allowance (more examples would not show it)."""
        pieces = self.deciding or ((self.estimate, self.spread, 1),)
        each = power ** (1.0 / len(pieces))
        need = n
        for estimate, sd, factor in pieces:
            room = allowed - estimate
            if math.isnan(sd) or room <= 0:
                return None
            z = NormalDist().inv_cdf(1.0 - alpha / factor) + NormalDist().inv_cdf(each)
            need = max(need, math.ceil(n * (z * sd / room) ** 2))
        return need


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
    structure: tuple[tuple[int, ...], ...] = LINEAR,
) -> BootstrapTest:
    """Resample whole clusters (e.g. BBQ templates) with replacement, the same draw for both models, and
    recompute `statistic(dense_sums, compressed_sums)` (vectorised over the first axis) on each draw.

    The statistic returns the watched change (LINEAR) or contrasts combined by `structure`: the change is
    max over groups of min over a group's contrasts. Within a group the contrasts are alternatives (shown within
    if any one is, Bonferroni: alpha / group size); across groups every one must be shown (an intersection-union
    test, no correction), and the reverse for 'regressed'. A contrast's p-value of H0 contrast >= allowed is
    (1 + #{draws >= allowed}) / (1 + draws) (percentile bootstrap), and of H0 contrast <= allowed the same with
    <=. Starting from `reps` draws, the draws are doubled while either p-value is within three Monte Carlo
    standard errors of alpha (up to `max_reps`, default 16 x reps), so that a verdict does not hang on the seed;
    `mc_error` reports what is left."""
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
    width = 1 + max(j for g in structure for j in g)
    chunks: list = []
    with np.errstate(divide="ignore", invalid="ignore"):
        observed = _contrasts(statistic, width, d.sum(0)[None], c.sum(0)[None])[0]
        target, made = reps, 0
        while True:
            while made < target:  # in blocks of `reps` draws, so memory stays that of one block
                size = min(reps, target - made)
                weights = rng.multinomial(n, np.full(n, 1.0 / n), size=size).astype(float)
                chunks.append(_contrasts(statistic, width, weights @ d, weights @ c))
                made += size
            draws = np.concatenate(chunks)
            draws = draws[~np.isnan(draws).any(axis=1)]  # a draw can leave a metric undefined (e.g. no ambiguous item)
            if draws.size == 0 or np.isnan(observed).any():
                return BootstrapTest(_combine(observed, structure), math.nan, math.nan, math.nan, n, 0)
            test = _decide(draws, observed, allowed, alpha, structure)
            if made >= limit or not (_near(test.p_value, alpha, len(draws)) or _near(test.p_within, alpha, len(draws))):
                break
            target = min(2 * made, limit)
    return BootstrapTest(test.estimate, test.lower, test.upper, test.p_value, n, len(draws), test.p_within, test.spread, test.deciding)


def _contrasts(statistic, width: int, dense, compressed):
    """The statistic on (draws x fields) totals, as a (draws x contrasts) array."""
    import numpy as np

    out = np.asarray(statistic(dense, compressed), dtype=float)
    return out.reshape(out.shape[0], width)


def _combine(values, structure) -> float:
    """max over groups of min over each group's contrasts."""
    return max(min(float(values[j]) for j in g) for g in structure)


def _decide(draws, observed, allowed: float, alpha: float, structure) -> BootstrapTest:
    import numpy as np

    b = len(draws)
    p_within_each = (1.0 + (draws >= allowed).sum(axis=0)) / (1.0 + b)
    p_beyond_each = (1.0 + (draws <= allowed).sum(axis=0)) / (1.0 + b)
    groups = len(structure)
    deciding = []
    p_within = 0.0
    for g in structure:
        j = min(g, key=lambda k: p_within_each[k])
        p_within = max(p_within, len(g) * float(p_within_each[j]))
        deciding.append((float(observed[j]), float(draws[:, j].std()), len(g)))
    p_value = groups * min(max(float(p_beyond_each[j]) for j in g) for g in structure)
    upper = max(min(float(np.quantile(draws[:, j], 1.0 - alpha / len(g))) for j in g) for g in structure)
    lower = max(min(float(np.quantile(draws[:, j], alpha / groups)) for j in g) for g in structure)
    change = np.max([np.min(draws[:, list(g)], axis=1) for g in structure], axis=0)
    return BootstrapTest(
        _combine(observed, structure),
        lower,
        upper,
        min(1.0, p_value),
        0,
        b,
        min(1.0, p_within),
        float(change.std()),
        tuple(deciding),
    )


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


def mean_bounds(values: Sequence[float], alpha: float, reps: int = 2000, seed: int = 0) -> tuple[float, float]:
    """One-sided (1 - alpha) percentile-bootstrap (lower, upper) bounds of a mean (resampling the examples)."""
    import numpy as np

    x = np.asarray(values, dtype=float)
    if x.size == 0:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, x.size, size=(reps, x.size))].mean(axis=1)
    lower, upper = np.quantile(means, [alpha, 1.0 - alpha])
    return float(lower), float(upper)
