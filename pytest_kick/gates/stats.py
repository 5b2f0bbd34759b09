"""Paired statistics: the non-inferiority score test for two accuracies on the same examples, Holm's correction,
and the one-sided bounds of the fidelity gate (the cluster bootstrap of the safety gates is in bootstrap.py)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

# ---- the one outcome rule ------------------------------------------------------------------------------------
# Every gate shows a side of its allowance the same way: a one-sided p-value at or below alpha rejects, which is the
# same as its one-sided (1 - alpha) bound lying at or inside the limit. "Within" is asked first, so a change of
# exactly zero with a zero allowance is within (an unchanged model can pass).


def rejects(p: float, alpha: float) -> bool:
    """A one-sided test at level alpha rejects its null (NaN: it could not be computed, so it does not)."""
    return p <= alpha


def reaches(bound: float, limit: float, direction: str) -> bool:
    """A one-sided bound lies at or inside `limit`: below it for direction 'max', above it for 'min'."""
    return bound <= limit if direction == "max" else bound >= limit


def outcome(shown_within: bool, shown_beyond: bool) -> str:
    """'within' when the change is shown inside the allowance, else 'regressed' when it is shown beyond it, else
    'inconclusive'."""
    return "within" if shown_within else ("regressed" if shown_beyond else "inconclusive")


def fewest_clusters(alpha: float) -> int:
    """The fewest independent clusters from which any distribution-free paired test can show a change at level
    alpha: the most extreme of the 2**C sign patterns of C cluster differences has probability 2**-C, which must be
    at most alpha (5 clusters at alpha = 0.05, 7 at 0.01). A bootstrap over fewer cannot support a bound."""
    return math.ceil(math.log2(1.0 / alpha) - 1e-12)


def data_seed(*parts: Any) -> int:
    """A bootstrap's seed, drawn from the data it resamples (strings, or arrays of numbers): a rerun on the same
    answers draws the same resamples, and no option can re-roll a borderline verdict. The gates seed from the
    examples and the dense model's answers only, so every compressed model of one dense run is resampled alike
    (a model closer to the dense one then gets bounds closer to zero: tests/unit/gates/test_monotone.py)."""
    import hashlib
    import struct

    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, str):
            h.update(part.encode() + b"\0")
            continue
        for item in part:
            if isinstance(item, str):
                h.update(item.encode() + b"\0")
            else:
                values = item if isinstance(item, (tuple, list)) else (item,)
                h.update(struct.pack(f"<{len(values)}d", *(float(v) for v in values)))
        h.update(b"\1")
    return int.from_bytes(h.digest()[:8], "little")


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


def tango_z(t: PairedCounts, delta0: float, fpc: float = 1.0) -> float:
    """Score statistic for H0: acc_c - acc_d = delta0 against acc_c - acc_d > delta0 (large = evidence for H1).
    `fpc`: the finite-population factor on the variance (a sample without replacement from a finite benchmark)."""
    p10 = _restricted_p10(t, delta0)
    p01 = p10 + delta0
    var = (p10 + p01 - delta0 * delta0) / t.n * fpc
    diff = t.delta - delta0
    if var <= 0.0:
        return math.inf if diff > 0 else (-math.inf if diff < 0 else 0.0)
    return diff / math.sqrt(var)


def noninferiority_p(t: PairedCounts, margin: float) -> float:
    """One-sided p-value of H0: acc_c <= acc_d - margin (Tango's paired score test)."""
    return norm_sf(tango_z(t, -margin))


def lower_bound(t: PairedCounts, alpha: float, fpc: float = 1.0) -> float:
    """One-sided (1 - alpha) lower confidence bound of acc_c - acc_d, inverting the same score test."""
    lo, hi = -1.0, t.delta
    if norm_sf(tango_z(t, lo + 1e-12, fpc)) > alpha:
        return -1.0
    for _ in range(80):
        mid = (lo + hi) / 2.0
        if norm_sf(tango_z(t, mid, fpc)) <= alpha:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2.0


def upper_bound(t: PairedCounts, alpha: float, fpc: float = 1.0) -> float:
    """One-sided (1 - alpha) upper confidence bound of acc_c - acc_d, inverting the same score test."""
    lo, hi = t.delta, 1.0
    if norm_sf(-tango_z(t, hi - 1e-12, fpc)) > alpha:
        return 1.0
    for _ in range(80):
        mid = (lo + hi) / 2.0
        if norm_sf(-tango_z(t, mid, fpc)) <= alpha:
            hi = mid
        else:
            lo = mid
    return (lo + hi) / 2.0


def examples_needed(t: PairedCounts, margin: float, alpha: float, power: float = 0.8, population: int | None = None) -> int | None:
    """About how many examples give a `power` chance of passing if the true table has the observed shares: the
    same score statistic the test uses grows as sqrt(n) at fixed shares, so n * ((z_alpha + z_power) / z)^2;
    drawn without replacement from `population` items (the benchmark scope), z grows also by the
    finite-population factor, and the answer is never more than the population. None when the observed change is
    not inside the allowance (more data cannot help)."""
    if t.delta + margin <= 0:
        return None
    z = tango_z(t, -margin)
    target = NormalDist().inv_cdf(1.0 - alpha) + NormalDist().inv_cdf(power)
    if math.isinf(z):
        return t.n
    if population and population > t.n:
        per = z * z / t.n  # z^2 per example without the correction
        return max(t.n, min(population, math.ceil(target * target * population / (per * (population - 1) + target * target))))
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
    exact: bool = False  # every item of the benchmark with deterministic answers: the observed change decides

    @property
    def passed(self) -> bool:
        return rejects(self.p_value, self.alpha)

    @property
    def outcome(self) -> str:
        return outcome(self.passed, rejects(self.p_regressed, self.alpha))


def noninferiority(
    dense: Sequence[bool], compressed: Sequence[bool], margin: float, alpha: float, fpc: float = 1.0, exact: bool = False
) -> NonInferiority:
    """Paired one-sided non-inferiority test of accuracy with an absolute margin (and its mirror image, which
    tells a drop shown beyond the margin from one that could not be told). `fpc`: the finite-population factor of
    a limited run of the benchmark scope; `exact`: every item of the benchmark (see gates.scope), so the observed
    change is the change and decides alone."""
    from .scope import exact_within

    t = PairedCounts.from_outcomes(dense, compressed)
    if exact:
        within = exact_within(t.delta, -margin, "min")
        return NonInferiority(t, margin, alpha, 0.0 if within else 1.0, t.delta, 1.0 if within else 0.0, t.delta, exact=True)
    z = tango_z(t, -margin, fpc)
    return NonInferiority(t, margin, alpha, norm_sf(z), lower_bound(t, alpha, fpc), norm_sf(-z), upper_bound(t, alpha, fpc))


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


def hypergeom_bounds(k: int, n: int, population: int, alpha: float) -> tuple[float, float]:
    """One-sided (1 - alpha) exact (lower, upper) bounds of the share of a finite population of `population` items
    that has a property, seen k times in a sample of n drawn without replacement (the benchmark scope's limit)."""
    from scipy.stats import hypergeom

    lo_k, hi_k = k, population - (n - k)  # the counts the population can hold, given the sample

    def largest(ok) -> int:  # the largest K in [lo_k, hi_k] with ok(K), for ok true up to a point
        a, b = lo_k, hi_k
        while a < b:
            mid = (a + b + 1) // 2
            a, b = (mid, b) if ok(mid) else (a, mid - 1)
        return a

    upper = largest(lambda big: hypergeom.cdf(k, population, big, n) > alpha)
    # the smallest K whose chance of k or more is above alpha: one past the largest K where it is not
    below = (lambda big: hypergeom.sf(k - 1, population, big, n) <= alpha) if k > 0 else None
    lower = lo_k if below is None or not below(lo_k) else largest(below) + 1
    return lower / population, upper / population


def share_examples_needed(k: int, n: int, limit: float, alpha: float, population: int = 0, cap: int = 10**6) -> int | None:
    """The fewest examples m > n at which a share seen k times in n, holding at that rate (ceil(k m / n) times in m,
    never below it), has its one-sided (1 - alpha) upper bound at or below `limit`, by the bound the gate takes:
    Clopper-Pearson, or from a `population` the hypergeometric one (all of it: the share itself). None when no m up
    to the population (else `cap`) does, as always when k / n is not below the limit. Exact, not a power estimate:
    at one count the bound falls as m grows, so the first m within lies in the first run of equal counts whose last
    m is within; those last m are checked a block at a time, then that run is bisected."""
    import numpy as np
    from scipy.stats import beta, hypergeom

    top = min(population, cap) if population else cap
    if k / n >= limit or n >= top:
        return None
    room = math.floor(limit * population)  # the most items of the population a share within the limit holds
    if population:  # (as the gate compares: count / population <= limit)
        room = room + 1 if (room + 1) / population <= limit else (room - 1 if room / population > limit else room)

    def within(m: Any) -> Any:
        m = np.asarray(m, dtype=np.int64)
        kk = -(-k * m // n)
        if not population:
            upper = np.where(kk >= m, 1.0, beta.ppf(1.0 - alpha, kk + 1, np.maximum(m - kk, 1)))
            return upper <= limit
        # the hypergeometric upper bound is at most room/N when the count fits and no larger share is plausible
        fits = (kk <= room) & ((population - (m - kk) <= room) | (hypergeom.cdf(kk, population, room + 1, m) <= alpha))
        return np.where(m >= population, kk / population <= limit, fits)

    runs = np.arange(-(-k * (n + 1) // n), -(-k * top // n) + 1) if k else np.array([1])
    ends = np.minimum(runs * n // k, top) if k else np.array([top])
    for lo in range(0, len(ends), 4096):
        hits = np.flatnonzero(within(ends[lo : lo + 4096]))
        if hits.size:
            j = lo + int(hits[0])
            a, b = max(n + 1, int((runs[j] - 1) * n // k + 1) if k else n + 1), int(ends[j])
            while a < b:  # the smallest m of this run that is within (the run's last one is)
                mid = (a + b) // 2
                a, b = (a, mid) if within(mid) else (mid + 1, b)
            return a
    return None


@dataclass(frozen=True)
class MeanBounds:
    """One-sided (1 - alpha) bounds of a mean, the bootstrap draws behind them, and each bound's Monte Carlo
    standard error (how far another seed could move it: half the spread of the bounds read one standard error of
    the quantile's level either side)."""

    lower: float
    upper: float
    draws: int = 0
    mc_lower: float = 0.0
    mc_upper: float = 0.0


def mean_test(
    values: Sequence[float], alpha: float, reps: int = 2000, seed: int = 0, fpc: float = 1.0, threshold: float | None = None
) -> MeanBounds:
    """One-sided (1 - alpha) bootstrap-t (lower, upper) bounds of a mean, resampling the examples: each draw's
    mean is studentized by its own standard error, which keeps the coverage of a right-skewed mean (per-example
    KL divergences) where a percentile bound is too liberal (size 0.09 at alpha 0.05, n = 100, in
    benchmarks/gate_calibration.py). `fpc`: the finite-population factor on the variance (benchmark scope with a
    limit): the studentized draws are unchanged, the standard error they scale shrinks by sqrt(fpc). With a
    `threshold` (the limit a bound is read against), the draws are doubled, up to 16 x reps, while either bound
    lies within three Monte Carlo standard errors of it, so that the verdict does not hang on the seed."""
    import numpy as np

    x = np.asarray(values, dtype=float)
    if x.size == 0:
        return MeanBounds(math.nan, math.nan)
    mean, sd = float(x.mean()), float(x.std())
    if sd == 0.0:
        return MeanBounds(mean, mean)
    rng = np.random.default_rng(seed)
    scale = sd / math.sqrt(x.size) * math.sqrt(fpc)
    t = np.empty(0)
    block = min(reps, max(1, 4_000_000 // x.size))  # draws x examples held at once stays ~32 MB
    while True:
        want = reps if t.size == 0 else t.size  # the first reps draws, then as many again
        for lo in range(0, want, block):
            draws = x[rng.integers(0, x.size, size=(min(block, want - lo), x.size))]
            spread = draws.var(axis=1)
            se = np.sqrt(np.where(spread > 0, spread, sd * sd / x.size) / x.size)  # a draw of one repeated value: not 0
            t = np.concatenate([t, (draws.mean(axis=1) - mean) / se])
        bounds = _mean_bounds_of(t, mean, scale, alpha)
        near = threshold is not None and any(
            abs(b - threshold) < 3.0 * e for b, e in ((bounds.lower, bounds.mc_lower), (bounds.upper, bounds.mc_upper))
        )
        if not near or t.size >= 16 * reps:
            return bounds


def _mean_bounds_of(t, mean: float, scale: float, alpha: float) -> MeanBounds:
    import numpy as np

    step = math.sqrt(alpha * (1.0 - alpha) / t.size)  # one standard error of the quantile's level

    def bound(level: float, method: str) -> float:
        return mean - float(np.quantile(t, min(max(level, 0.0), 1.0), method=method)) * scale

    upper, lower = bound(alpha, "lower"), bound(1.0 - alpha, "higher")
    mc_upper = abs(bound(alpha - step, "lower") - bound(alpha + step, "lower")) / 2.0
    mc_lower = abs(bound(1.0 - alpha - step, "higher") - bound(1.0 - alpha + step, "higher")) / 2.0
    return MeanBounds(lower, upper, int(t.size), mc_lower, mc_upper)


def mean_bounds(values: Sequence[float], alpha: float, reps: int = 2000, seed: int = 0, fpc: float = 1.0) -> tuple[float, float]:
    """(lower, upper) of `mean_test` without a threshold (no adaptive draws)."""
    b = mean_test(values, alpha, reps, seed, fpc)
    return b.lower, b.upper
