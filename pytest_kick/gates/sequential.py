"""Group-sequential gates: evaluate the examples in looks, spend alpha across the looks with a published spending
function, and stop at the first look that decides.

The examples of every look are a prefix of one fixed order (the hash order a limit keeps from, `tasks.select`), so
the stopping rule never changes which examples a look contains and a rerun stops at the same look. Look k uses
n_k = ceil(k n / K) of the n examples the gate would use without looks (information fraction t_k = n_k / n).

Each of the gate's two one-sided tests ('within': the drop is inside the allowance; 'regressed': beyond it) spends
its own alpha with the Lan-DeMets spending function (O'Brien-Fleming type, alpha(t) = 2 - 2 Phi(z_{alpha/2} /
sqrt t), or Pocock type, alpha ln(1 + (e - 1) t)); the critical values c_1..c_K of the standardized statistic come
from the joint law of the looks' statistics (a Brownian motion observed at t_k: independent increments), by the
recursive numerical integration of Armitage, McPherson and Rowe (1969). A look decides 'within' when Z >= c_k,
'regressed' when -Z >= c_k; the last look decides at c_K, which for O'Brien-Fleming is barely above the fixed
design's z_{1-alpha}. Equivalently, a look compares its nominal p-value with 1 - Phi(c_k) (`Schedule.nominal`)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from statistics import NormalDist

from ..errors import KickUsageError

SPENDING = ("obrien-fleming", "pocock")
DEFAULT_LOOKS = 4
_N = NormalDist()


def spent(t: float, alpha: float, spending: str) -> float:
    """The alpha spent by information fraction t (0 < t <= 1): alpha at t = 1."""
    if t >= 1.0:
        return alpha
    if spending == "obrien-fleming":
        return 2.0 - 2.0 * _N.cdf(_N.inv_cdf(1.0 - alpha / 2.0) / math.sqrt(t))
    if spending == "pocock":
        return alpha * math.log(1.0 + (math.e - 1.0) * t)
    raise KickUsageError(f"spending must be one of {', '.join(SPENDING)}, got {spending!r}")


@lru_cache(maxsize=256)
def boundaries(fractions: tuple[float, ...], alpha: float, spending: str = "obrien-fleming") -> tuple[float, ...]:
    """Critical values c_k of Z at the looks' information fractions (increasing, the last 1): under H0,
    P(Z_1 < c_1, ..., Z_{k-1} < c_{k-1}, Z_k >= c_k) = spent(t_k) - spent(t_{k-1})."""
    import numpy as np
    from scipy.optimize import brentq
    from scipy.signal import fftconvolve
    from scipy.stats import norm

    if not fractions or any(b <= a for a, b in zip(fractions, fractions[1:])) or not 0 < fractions[0] or fractions[-1] != 1.0:
        raise ValueError(f"information fractions must increase to 1, got {fractions}")
    grid = np.linspace(-12.0, 12.0, 4801)  # the score S_k = Z_k sqrt(t_k), on a grid wide enough for any look
    step = grid[1] - grid[0]
    density, previous, bounds = None, 0.0, []
    for k, t in enumerate(fractions):
        target = spent(t, alpha, spending) - previous
        previous = spent(t, alpha, spending)
        if density is None:  # the first look: S_1 ~ N(0, t_1)
            c = float(norm.isf(target))
            density = norm.pdf(grid, scale=math.sqrt(t))
        else:
            sd = math.sqrt(t - fractions[k - 1])

            def crossing(c: float, density=density, sd=sd, t=t, target=target) -> float:
                return float(np.sum(density * norm.sf((c * math.sqrt(t) - grid) / sd)) * step) - target

            c = brentq(crossing, -10.0, 40.0, xtol=1e-10) if target > 0 else math.inf
            kernel = norm.pdf((grid - grid[len(grid) // 2]) / sd) / sd  # S_k = S_{k-1} + N(0, t_k - t_{k-1})
            density = np.clip(fftconvolve(density, kernel, mode="same") * step, 0.0, None)
        bounds.append(c)
        density = np.where(grid < c * math.sqrt(t), density, 0.0)  # the paths that go on past this look
    return tuple(bounds)


@dataclass(frozen=True)
class Schedule:
    """K looks at equal shares of the examples, alpha spent by `spending` (see the module's description)."""

    looks: int = DEFAULT_LOOKS
    spending: str = "obrien-fleming"

    def __post_init__(self) -> None:
        if isinstance(self.looks, bool) or not isinstance(self.looks, int) or not 2 <= self.looks <= 20:
            raise KickUsageError(f"sequential looks must be an integer from 2 to 20, got {self.looks!r}")
        if self.spending not in SPENDING:
            raise KickUsageError(f"spending must be one of {', '.join(SPENDING)}, got {self.spending!r}")

    def sizes(self, n: int) -> list[int]:
        """The examples each look uses (a look that would add none is dropped): ceil(k n / K)."""
        return sorted({max(1, math.ceil(k * n / self.looks)) for k in range(1, self.looks + 1)})

    def nominal(self, n: int, alpha: float, population: int | None = None) -> list[float]:
        """Each look's nominal one-sided level: a look decides when its p-value is at most this.

        `population`: the looks are drawn without replacement from this many items (the benchmark scope), so each
        look's statistic carries the finite-population factor and its information is n_k (N - 1) / (N - n_k), not
        n_k: the information fractions that set the looks' correlations come from that. A last look over every
        item is exact (the observed change decides, no error): then all of alpha is spent by the look before it,
        and the last look's level is 1 (`information` says so)."""
        sizes = self.sizes(n)
        info = information(sizes, population)
        if math.isinf(info[-1]):  # the last look is exact: the interim looks share alpha between them
            interim = info[:-1]
            if not interim:
                return [1.0]
            fractions = tuple(i / interim[-1] for i in interim)
            return [_level(c) for c in boundaries(fractions, alpha, self.spending)] + [1.0]
        return [_level(c) for c in boundaries(tuple(i / info[-1] for i in info), alpha, self.spending)]

    def label(self) -> str:
        return f"{self.looks} looks, {self.spending}"


def information(sizes: list[int], population: int | None) -> list[float]:
    """The statistical information of each look (proportional to it): n_k, or n_k (N - 1) / (N - n_k) drawn without
    replacement from N items (infinite for a look over all of them)."""
    if not population or population <= 1:
        return [float(s) for s in sizes]
    return [math.inf if s >= population else s * (population - 1) / (population - s) for s in sizes]


def _level(c: float) -> float:
    return float(_N.cdf(-c)) if math.isfinite(c) else 0.0


def schedule_of(value: object, spending: str = "obrien-fleming") -> Schedule | None:
    """A gate's `sequential=` argument (or --kick-sequential): None / False / 0 off, True the default looks, an
    integer K >= 2 that many looks."""
    if value is None or value is False or value == 0:
        return None
    if value is True:
        return Schedule(DEFAULT_LOOKS, spending)
    return Schedule(value, spending)  # type: ignore[arg-type]
