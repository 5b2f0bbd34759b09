"""What a verdict generalizes to: the three scopes a gate's claim can have, and how each one turns a group's
examples into the units a test resamples and the variance it allows for.

- `benchmark` (the default): the benchmark's own items, a finite population. A run over every item with
  deterministic answers has no sampling error: the verdict is the observed change against the tolerance. A
  `limit` keeps a sample without replacement (the fixed hash order of `tasks.select`), so the bound carries the
  finite-population correction (N - n) / (N - 1). Sampled generation keeps its Monte Carlo error (no correction).
- `items`: the items as draws from a wider population of items like them (lm-eval's standard errors).
- `clusters`: the clusters (BBQ templates, StereoSet target terms, BOLD people, prompts) as draws from a wider
  population of clusters; items of one cluster move together. The strongest claim, and the one that needs most data.

Pure Python: the option parser imports it at start-up."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import KickUsageError

SCOPES = {
    "benchmark": "the benchmark's own items (a finite population; every item run: exact)",
    "items": "items like these, drawn from a wider population (lm-eval's convention)",
    "clusters": "clusters (templates, target terms, prompts) like these, drawn from a wider population",
}
DEFAULT_SCOPE = "benchmark"


def check_scope(scope: Any, knob: str = "scope") -> str:
    if scope not in SCOPES:
        raise KickUsageError(f"{knob} must be one of {', '.join(SCOPES)}, got {scope!r} (see docs/statistics.md, 'Scopes')")
    return scope


def resolve_scope(scope: Any, pair: Any) -> str:
    """A gate's scope= argument, else the run's (--kick-scope, the kick_scope ini value, 'benchmark'), checked."""
    if scope is not None:
        return check_scope(scope)
    return check_scope(getattr(pair, "scope", DEFAULT_SCOPE), "--kick-scope")


def sampled_outputs(task: Any) -> bool:
    """Whether the task's answers are random draws (sampled generation): then even every item leaves Monte Carlo error."""
    return bool(getattr(task, "sampled_outputs", False))


@dataclass(frozen=True)
class Sampling:
    """How one group's examples stand to the population its claim is about.

    `n`: examples evaluated; `population`: examples the task holds for the group (after the requested groups, before
    any limit); `clusters` / `population_clusters`: the same in clusters (the task's resampling unit; each example is
    its own where the task has none); `sampled`: the models' answers are random draws."""

    scope: str
    n: int
    population: int
    clusters: int = 0
    population_clusters: int = 0
    sampled: bool = False
    unclustered: bool = False  # 'clusters' asked of a task that names none: decided as items, and labelled so

    @property
    def exact(self) -> bool:
        """Every item of a finite population, with deterministic answers: the observed change is the truth."""
        return self.scope == "benchmark" and self.n >= self.population and not self.sampled

    @property
    def fpc(self) -> float:
        """The factor on the variance of a mean for sampling without replacement from the benchmark (1: none)."""
        if self.scope != "benchmark" or self.sampled or self.population <= 1:
            return 1.0
        return max(0.0, (self.population - self.n) / (self.population - 1))

    @property
    def by_cluster(self) -> bool:
        return self.scope == "clusters"

    @property
    def units(self) -> int:
        """The independent units the test stands on: clusters under the clusters scope, else examples."""
        return self.clusters if self.by_cluster else self.n

    @property
    def exhausted(self) -> bool:
        """Whether more examples of this benchmark cannot add units (every cluster, or every item, is already in)."""
        if self.by_cluster:
            return self.clusters >= self.population_clusters
        return self.n >= self.population

    def label(self) -> str:
        """The scope as a summary cell: 'benchmark (all 3680)', 'benchmark (500 of 3680)', 'items', 'clusters (25)'."""
        if self.scope == "benchmark":
            if self.sampled:
                return f"benchmark ({self.n} of {self.population}, sampled answers)"
            return f"benchmark (all {self.population})" if self.exact else f"benchmark ({self.n} of {self.population})"
        if self.scope == "clusters":
            return f"clusters ({self.clusters})"
        return "items (no clusters)" if self.unclustered else "items"

    def claim(self, task: str, group: str = "") -> str:
        """What the verdict generalizes to, in a sentence."""
        where = f"{task}/{group}" if group else task
        if self.scope == "benchmark":
            if self.exact:
                return f"the {self.population} items of {where} as loaded (every item run: the observed change, no sampling error)"
            how = "the answers are sampled, so no finite-population correction" if self.sampled else "finite-population correction"
            return f"the {self.population} items of {where}, from {self.n} kept by the fixed hash order ({how})"
        if self.scope == "clusters":
            return f"clusters like the {self.clusters} of {where}, drawn from a wider population of clusters"
        return f"items like the {self.n} of {where}, drawn from a wider population of items"


def exact_within(change: float, allowed: float, direction: str = "max") -> bool:
    """The exact rule of the benchmark scope over every item: the observed change at or inside the allowance."""
    tiny = 1e-12 * max(1.0, abs(allowed))  # a change equal to the allowance up to rounding is at it
    return change <= allowed + tiny if direction == "max" else change >= allowed - tiny
