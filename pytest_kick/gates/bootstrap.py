"""The paired cluster bootstrap behind the safety gates: studentized (bootstrap-t) one-sided tests of a watched
change against an allowance, with the standard error of every draw from the linearized statistic."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from statistics import NormalDist

from .scope import exact_within
from .stats import outcome, rejects

# How a gate's watched change is built from the contrasts its statistic returns: the change is
# max over groups of min over the contrasts in the group. LINEAR: the statistic is the change itself.
# ABS_CHANGE: the contrasts are (c - d, c + d, -c - d, -c + d) of two bias scores, so the change is
# max(c - |d|, -c - |d|) = |c| - |d|, written with smooth pieces only (see `abs_change`).
LINEAR: tuple[tuple[int, ...], ...] = ((0,),)
ABS_CHANGE: tuple[tuple[int, ...], ...] = ((0, 1), (2, 3))
CELLS = 4_000_000  # draws x clusters x contrasts held at once while linearizing (memory stays ~100 MB)


def abs_change(dense, compressed):
    """The four contrasts whose max-min is |compressed| - |dense| (numpy, stacked on a last axis)."""
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
    `deciding` holds, per piece of the change (see LINEAR / ABS_CHANGE), the estimate and standard error of
    the contrast that decides 'within' and its Bonferroni factor, for the sample-size advice. `fpc`: the
    finite-population factor already applied to the standard errors (benchmark scope with a limit; 1: none).
    `reps` = 0: an exact test (every item of the benchmark, see `exact_test`)."""

    estimate: float
    lower: float
    upper: float
    p_value: float
    clusters: int
    reps: int
    p_within: float = math.nan
    spread: float = math.nan
    deciding: tuple[tuple[float, float, int], ...] = ()
    fpc: float = 1.0

    @property
    def exact(self) -> bool:
        return self.reps == 0 and not math.isnan(self.p_value)

    def mc_error(self, p: float) -> float:
        """Monte Carlo standard error of a p-value estimated from this test's draws."""
        return math.sqrt(p * (1.0 - p) / self.reps) if self.reps else math.nan

    def outcome(self, alpha: float) -> str:
        """'within' (shown within the allowance at alpha), 'regressed' (shown beyond it) or 'inconclusive'."""
        return outcome(rejects(self.p_within, alpha), rejects(self.p_value, alpha))

    def examples_needed(self, n: int, allowed: float, alpha: float, power: float = 0.8, population: int | None = None) -> int | None:
        """About how many examples would give a `power` chance of showing the change within the allowance, if
        the true contrasts are the observed ones and their standard errors shrink as 1/sqrt(n) (drawn without
        replacement from `population` items when the test carries a finite-population factor: then never more than
        the population). Every piece of the change must be shown within, so each gets power**(1/pieces) (by
        Bonferroni the joint chance is then at least `power`); None when a piece is not below the allowance (more
        examples would not show it)."""
        pieces = self.deciding or ((self.estimate, self.spread, 1),)
        each = power ** (1.0 / len(pieces))
        need = n
        for estimate, sd, factor in pieces:
            room = allowed - estimate
            if math.isnan(sd) or not room > 0:  # NaN: nothing measured
                return None
            z = NormalDist().inv_cdf(1.0 - alpha / factor) + NormalDist().inv_cdf(each)
            if population and self.fpc < 1.0:
                plain = sd * sd / self.fpc if self.fpc > 0 else 0.0  # the variance without the correction
                ratio = (room / z) ** 2 * (population - 1) / (plain * n) if plain > 0 else math.inf
                need = max(need, min(population, math.ceil(population / (1.0 + ratio))))
            else:
                need = max(need, math.ceil(n * (z * sd / room) ** 2))
        return need


def exact_test(change: float, allowed: float, units: int) -> BootstrapTest:
    """The benchmark scope over every item with deterministic answers: no sampling error, so the observed change is
    the change, its bounds are itself, and the outcome is it against the allowance (p 0 or 1 on the decided side)."""
    if math.isnan(change):
        return BootstrapTest(change, math.nan, math.nan, math.nan, units, 0, math.nan, 0.0)
    within = exact_within(change, allowed)
    return BootstrapTest(change, change, change, 1.0 if within else 0.0, units, 0, 0.0 if within else 1.0, 0.0)


def observed_change(dense_rows, compressed_rows, statistic, structure=LINEAR) -> float:
    """The watched change on the totals of every example (what `exact_test` decides on)."""
    import numpy as np

    width = 1 + max(j for g in structure for j in g)
    d = np.asarray(dense_rows, dtype=float).sum(axis=0)[None, :]
    c = np.asarray(compressed_rows, dtype=float).sum(axis=0)[None, :]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return _combine(_contrasts(statistic, width, d, c)[0], structure)


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
    fpc: float = 1.0,
) -> BootstrapTest:
    """Resample whole clusters (e.g. BBQ templates) with replacement, the same draw for both models, and
    recompute `statistic(dense_sums, compressed_sums)` (vectorised over the first axis) on each draw.

    The statistic returns the watched change (LINEAR) or contrasts combined by `structure`: the change is the
    max over groups of the min over a group's contrasts. Within a group the contrasts are alternatives (shown
    within if any one is: Bonferroni, alpha / group size); every group must be shown (an intersection-union
    test, no correction), and the reverse for 'regressed'. Each contrast is tested by bootstrap-t: its draws are
    studentized by their own linearized standard error, which keeps the size near alpha where a percentile
    bootstrap is too liberal (few discordant examples, skewed ratios). Starting from `reps` draws, the draws
    are doubled while a p-value is within three Monte Carlo standard errors of alpha (up to `max_reps`, default
    16 x reps), so that a verdict does not hang on the seed; `mc_error` reports what is left. `fpc` (a limited run
    of a finite benchmark, `scope.Sampling.fpc`) shrinks the standard error the studentized draws are read against."""
    import numpy as np

    if len(dense_rows) != len(compressed_rows) or len(dense_rows) != len(clusters):
        raise ValueError("paired rows and clusters differ in length")
    if not clusters:
        raise ValueError("no examples to resample")
    (_, d), (_, c) = cluster_sums(clusters, dense_rows), cluster_sums(clusters, compressed_rows)
    n, rng, limit = d.shape[0], np.random.default_rng(seed), max_reps or 16 * reps
    width = 1 + max(j for g in structure for j in g)
    values, studentized = [], []
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        observed, se_obs = _draws(statistic, width, d, c, np.ones((1, n)))
        observed, se_obs = observed[0], se_obs[0]
        target, made = reps, 0
        while True:
            while made < target:  # in blocks of `reps` draws, so memory stays that of one block
                size = min(reps, target - made)
                weights = rng.multinomial(n, np.full(n, 1.0 / n), size=size).astype(float)
                t, se = _draws(statistic, width, d, c, weights)
                values.append(t)
                # a draw whose clusters all agree has an unknown standard error, not 0: floor it at one cluster's share
                studentized.append(_studentize(t, observed, np.sqrt(se * se + se_obs * se_obs / n)))
                made += size
            keep = np.concatenate([~np.isnan(v).any(axis=1) & ~np.isnan(s).any(axis=1) for v, s in zip(values, studentized)])
            draws, t_draws = np.concatenate(values)[keep], np.concatenate(studentized)[keep]
            if len(draws) == 0 or np.isnan(observed).any() or np.isnan(se_obs).any():
                return BootstrapTest(_combine(observed, structure), math.nan, math.nan, math.nan, n, 0)
            # the observed t uses the same floored standard error as the draws' (sqrt(1 + 1/C) of the plain one)
            se_read = se_obs * math.sqrt((1.0 + 1.0 / n) * fpc)
            test = _decide(draws, t_draws, (observed, se_read), allowed, alpha, structure, math.sqrt(fpc))
            if made >= limit or not (_near(test.p_value, alpha, len(draws)) or _near(test.p_within, alpha, len(draws))):
                break
            target = min(2 * made, limit)
    return replace(test, clusters=n, fpc=fpc)


def _contrasts(statistic, width: int, dense, compressed):
    """The statistic on (draws x fields) totals, as a (draws x contrasts) array."""
    import numpy as np

    out = np.asarray(statistic(dense, compressed), dtype=float)
    return out.reshape(out.shape[0], width)


def _draws(statistic, width: int, d, c, weights):
    """(contrasts, standard errors), each draws x contrasts, for cluster weights (draws x clusters). The standard
    error of a draw is that of the statistic linearized at the draw's totals: the influence of cluster i is the
    gradient (forward differences over the k fields of each model) dotted with its sums, and the variance is
    the weighted spread of the influences, as resampling the draw's clusters again would give."""
    import numpy as np

    td, tc = weights @ d, weights @ c
    value = _contrasts(statistic, width, td, tc)
    k = d.shape[1]
    grad_d, grad_c = np.empty(value.shape + (k,)), np.empty(value.shape + (k,))
    for j in range(k):
        for totals, grad, other in ((td, grad_d, tc), (tc, grad_c, td)):
            h = 1e-6 * np.maximum(np.abs(totals[:, j]), 1.0)
            bumped = totals.copy()
            bumped[:, j] += h
            args = (bumped, other) if grad is grad_d else (other, bumped)
            grad[:, :, j] = (_contrasts(statistic, width, *args) - value) / h[:, None]
    se = np.empty_like(value)
    rows = max(1, CELLS // max(1, d.shape[0] * width))
    for lo in range(0, len(weights), rows):  # draws x clusters x contrasts, a slice of draws at a time
        w = weights[lo : lo + rows]
        u = np.einsum("bmk,ik->bim", grad_d[lo : lo + rows], d) + np.einsum("bmk,ik->bim", grad_c[lo : lo + rows], c)
        total = w.sum(axis=1)[:, None]
        mean = np.einsum("bi,bim->bm", w, u) / total
        se[lo : lo + rows] = np.sqrt(np.maximum(np.einsum("bi,bim->bm", w, u * u) - total * mean * mean, 0.0))
    return value, se


def _studentize(values, observed, se):
    """(draw - observed) / its standard error; a draw that did not move and has no spread counts as 0."""
    import numpy as np

    diff = values - observed
    return np.where(se > 0, diff / np.where(se > 0, se, 1.0), np.where(diff == 0, 0.0, np.sign(diff) * np.inf))


def _combine(values, structure) -> float:
    """max over groups of min over each group's contrasts."""
    return max(min(float(values[j]) for j in g) for g in structure)


def _decide(draws, t_draws, observed_se, allowed: float, alpha: float, structure, shrink: float = 1.0) -> BootstrapTest:
    import numpy as np

    observed, se = observed_se
    b = len(draws)
    with np.errstate(divide="ignore", invalid="ignore"):
        gap = observed - allowed
        # no spread and a change exactly at the allowance: at it is inside it (the one boundary convention, stats.reaches)
        t_obs = np.where(se > 0, gap / np.where(se > 0, se, 1.0), np.where(gap == 0, -np.inf, np.sign(gap) * np.inf))
    p_within_each = (1.0 + (t_draws <= t_obs).sum(axis=0)) / (1.0 + b)
    p_beyond_each = (1.0 + (t_draws >= t_obs).sum(axis=0)) / (1.0 + b)
    groups = len(structure)

    def bound(j: int, level: float) -> float:
        """The (1 - level) upper bound of contrast j (a lower one for level > 1/2). The quantile is taken on the
        conservative side without interpolation: draws with no spread studentize to +-inf, and interpolating
        between infinities would give NaN."""
        if se[j] <= 0:
            return float(observed[j])
        q = np.quantile(t_draws[:, j], level, method="lower" if level < 0.5 else "higher")
        return float(observed[j] - q * se[j])

    deciding, p_within = [], 0.0
    for g in structure:
        j = min(g, key=lambda k: p_within_each[k])
        p_within = max(p_within, len(g) * float(p_within_each[j]))
        deciding.append((float(observed[j]), float(se[j]), len(g)))
    p_value = groups * min(max(float(p_beyond_each[j]) for j in g) for g in structure)
    upper = max(min(bound(j, alpha / len(g)) for j in g) for g in structure)
    lower = max(min(bound(j, 1.0 - alpha / groups) for j in g) for g in structure)
    change = np.max([np.min(draws[:, list(g)], axis=1) for g in structure], axis=0)
    estimate = _combine(observed, structure)
    spread = float(change.std()) * shrink
    return BootstrapTest(estimate, lower, upper, min(1.0, p_value), 0, b, min(1.0, p_within), spread, tuple(deciding))


def _near(p: float, alpha: float, draws: int) -> bool:
    """Whether p is within three Monte Carlo standard errors of alpha (the decision could flip with the seed)."""
    return abs(p - alpha) < 3.0 * math.sqrt(alpha * (1.0 - alpha) / draws)
