"""The one gate skeleton: check arguments, evaluate both models on the same examples, decide, record, raise.
Every assert_* is a thin use of `run_gate`, and every gate's result is a `GateResult` (typed; JSON round-trip)."""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

from ..errors import KickRegression, KickUsageError
from ..settings import effective_limit
from ..tasks import Example, Outcome, Task, get_task, select, select_per_group
from .scope import Sampling, sampled_outputs

if TYPE_CHECKING:  # pragma: no cover
    from ..models.pair import ModelPair
    from .sequential import Schedule

OUTCOMES = ("within", "inconclusive", "regressed")  # per group: shown within at alpha, neither, shown beyond


# ---- argument checks: every gate refuses bad input before any model runs --------------------------------------


def check_fraction(name: str, value: Any, low: float, high: float, *, open_low: bool = False) -> None:
    ok = (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
        and (low < value if open_low else low <= value)
        and value <= high
    )
    if not ok:
        bound = f"({low}, {high}]" if open_low else f"[{low}, {high}]"
        raise KickUsageError(f"{name} must be a number in {bound}, got {value!r}")


def check_alpha(alpha: Any) -> None:
    check_fraction("alpha", alpha, 0.0, 0.5, open_low=True)


def check_tolerance(name: str, value: Any, upper: float | None = None) -> None:
    if (
        not isinstance(value, (int, float))
        or isinstance(value, bool)
        or not math.isfinite(value)
        or value < 0
        or (upper is not None and value > upper)
    ):
        bound = f"[0, {upper}]" if upper is not None else ">= 0"
        raise KickUsageError(f"{name} must be a number {bound}, got {value!r}")


def check_reps(reps: Any, alpha: float, bonferroni: int = 1) -> None:
    """Bootstrap draws: enough that the smallest possible p-value, 1 / (reps + 1), can be below alpha (divided
    by `bonferroni` where a test is split over that many alternatives)."""
    if not isinstance(reps, int) or isinstance(reps, bool) or reps < 100:
        raise KickUsageError(f"reps must be an integer >= 100 (bootstrap draws), got {reps!r}")
    level = alpha / bonferroni
    if 1.0 / (reps + 1) > level:
        split = f" (alpha={alpha:g} split over {bonferroni} contrasts)" if bonferroni > 1 else ""
        raise KickUsageError(f"reps={reps} draws cannot reach a p-value of {level:g}{split}: use at least {math.ceil(1 / level) - 1}")


# ---- evidence: both models on the same examples ----------------------------------------------------------------


@dataclass(frozen=True)
class Evidence:
    """What a gate decides on: the examples, what each model did on each, and the knob that cut them."""

    task: Any
    examples: list[Example]
    dense: list[Outcome]
    compressed: list[Outcome]
    limited_by: str = ""  # the knob whose limit cut the task's examples ("" when every example was used)
    scores: dict[str, list[float]] = field(default_factory=dict)  # per-example scores a gate computed ("dense", "compressed")
    decide: Any = field(default=None, repr=False)  # the gate's own test on evidence like this (set by run_gate)
    # per group: (items, clusters) the task holds before any limit; empty: the examples are the whole population
    population: dict[str, tuple[int, int]] = field(default_factory=dict)
    look: Look | None = None  # a sequential gate's look these examples are (None: the one look of a fixed design)

    def sampling(self, scope: str, group: str | None = None) -> Sampling:
        """How the examples of `group` (None: all of them) stand to the population the claim under `scope` is about.
        A task that names no clusters is decided as items under 'clusters', and says so."""
        unclustered = scope == "clusters" and getattr(self.task, "cluster", None) is None
        scope = "items" if unclustered else scope
        mine = [ex for ex in self.examples if group is None or ex.group == group]
        clusters = len({unit_of(self.task, ex) for ex in mine})
        held = [v for g, v in self.population.items() if group is None or g == group]
        items, all_clusters = (sum(v[0] for v in held), sum(v[1] for v in held)) if held else (len(mine), clusters)
        return Sampling(
            scope, len(mine), max(items, len(mine)), clusters, max(all_clusters, clusters), sampled_outputs(self.task), unclustered
        )


def unit_of(task: Any, example: Example) -> str:
    """The cluster an example belongs to (a BBQ template, a StereoSet target, ...); an example is its own where the
    task names none."""
    cluster = getattr(task, "cluster", None)
    return cluster(example) if cluster is not None else example.id


def _population(task: Any, examples: Sequence[Example]) -> dict[str, tuple[int, int]]:
    groups: dict[str, list[Example]] = {}
    for ex in examples:
        groups.setdefault(ex.group, []).append(ex)
    return {g: (len(exs), len({unit_of(task, ex) for ex in exs})) for g, exs in groups.items()}


def collect(
    pair: ModelPair,
    task: Any,
    limit: int | None,
    *,
    per_group: bool = False,
    groups: Sequence[str] | None = None,
    look: Look | None = None,
    loaded: list[Example] | None = None,
) -> Evidence:
    """Load the task's examples, keep the requested groups, apply the limit (per group for safety tasks: a small
    group keeps its examples when a large one is cut), and evaluate both models on exactly those examples. A
    sequential look keeps the first `look.size` of them in the same fixed order (a prefix of the next look's);
    its gate loads the task once for all its looks (`loaded`)."""
    available = task.load(pair.data_dir) if loaded is None else loaded
    if groups is not None:
        known = sorted({ex.group for ex in available})
        unknown = [g for g in groups if g not in known]
        if unknown:
            raise KickUsageError(f"{task.name}: unknown group(s) {', '.join(unknown)}. Groups in the data: {', '.join(known)}")
        available = [ex for ex in available if ex.group in groups]
    wins = effective_limit(limit, pair.limit)
    cap = wins.value if wins else None
    if look is not None:
        cap = look.size if cap is None else min(cap, look.size)
    examples = (select_per_group if per_group else select)(available, cap)
    if not examples:
        raise KickUsageError(f"task '{task.name}' has no examples after filtering (check the data files, groups and limit)")
    dense = task.evaluate(pair.dense_runner, examples)
    comp = task.evaluate(pair.compressed_runner, examples)
    cut = wins.knob if wins and len(examples) < len(available) else ""
    if look is not None and not look.final:
        cut = f"sequential look {look.index} of {look.count}"
    return Evidence(task, examples, dense, comp, cut, population=_population(task, available), look=look)


@dataclass(frozen=True)
class Look:
    """One look of a sequential gate: the `index`-th of `count`, over the first `size` examples, deciding at the
    nominal one-sided level `nominal` (gates.sequential)."""

    index: int
    count: int
    size: int
    nominal: float
    spending: str

    @property
    def final(self) -> bool:
        return self.index == self.count


def looks(pair: ModelPair, task: Any, available: int, limit: int | None, schedule: Schedule, alpha: float, scope: str) -> list[Look | None]:
    """The looks a sequential gate takes over the examples a fixed design would use (after every limit). Under
    the benchmark scope the looks sample the benchmark's items without replacement (their information carries the
    finite-population factor) and a last look over every item is exact. No examples: one look of the fixed design
    (which says so). `available`: the examples the task holds."""
    wins = effective_limit(limit, pair.limit)
    n = min(available, wins.value) if wins else available
    if n < 1:
        return [None]
    finite = available if scope == "benchmark" and not sampled_outputs(task) else None
    sizes, nominal = schedule.sizes(n), schedule.nominal(n, alpha, finite)
    return [Look(i + 1, len(sizes), size, level, schedule.spending) for i, (size, level) in enumerate(zip(sizes, nominal))]


def run_gate(
    pair: ModelPair,
    task: str | Task,
    decide: Callable[[Evidence], GateResult],
    *,
    limit: int | None,
    task_options: dict[str, Any] | None = None,
    per_group: bool = False,
    groups: Sequence[str] | None = None,
    sequential: tuple[Schedule, float, str] | None = None,
) -> GateResult:
    """The skeleton every gate uses: evaluate both models on the same examples, let `decide` run the paired test
    and build the typed result, record it for the run report, and raise the result's failure when it did not pass.
    `sequential`: (schedule, alpha, scope) evaluates in looks and stops at the first that decides (`decide` reads
    `evidence.look`); the examples of each look come from the result cache for the looks before."""
    __tracebackhide__ = True
    the_task = get_task(task, **(task_options or {}))
    loaded = the_task.load(pair.data_dir) if sequential else None
    steps = looks(pair, the_task, len(loaded), limit, *sequential) if loaded is not None else [None]
    for look in steps:
        # the gate's own test travels with its evidence: a saved release is compared by it (--kick-compare)
        found = collect(pair, the_task, limit, per_group=per_group, groups=groups, look=look, loaded=loaded)
        evidence = dataclasses.replace(found, decide=decide)
        result = decide(evidence)
        if getattr(result, "outcome", "inconclusive") != "inconclusive":
            break
    extra = pair.record(result, evidence)
    if not result.passed:
        raise result.failure(result.explain(), result)
    if isinstance(extra, KickRegression):  # the gate passed, but a comparison it must pass did not
        raise extra
    return result


# ---- typed results -----------------------------------------------------------------------------------------------


class Interval(NamedTuple):
    """One check as the HTML page plots it: the estimate and its bounds (NaN or infinite: none), the allowance's
    line, the check's outcome ('within' / 'inconclusive' / 'regressed'), and its axis: the quantity and its unit
    (checks share an axis only when they share a unit)."""

    label: str
    value: float
    lower: float
    upper: float
    limit: float
    outcome: str
    axis: str


class GateResult:
    """What every gate's result offers (subclasses are frozen dataclasses with at least test, task, method, alpha).

    `passed`; `outcomes()` per group or metric ('within' / 'inconclusive' / 'regressed'); `rows()` one dict per
    test; `summary()` the summary-table row; `explain()` the failure message; `to_json()` / `from_json()` a
    lossless JSON form (non-finite numbers as null), which is what crosses the xdist boundary and the report."""

    kind: ClassVar[str] = ""
    failure: ClassVar[type[KickRegression]] = KickRegression
    columns: ClassVar[tuple[tuple[str, str], ...]] = ()  # (header, summary key) of the summary table
    plot: ClassVar[tuple[str, str, str]] = ("", "", "")  # (caption, title, axis label) of this kind's plot on the page
    examples_field: ClassVar[str] = ""  # the field holding the examples a failure shows (flips, moved, ...)

    passed: bool  # a field or a property of each subclass

    @property
    def verdict(self) -> str:
        return "pass" if self.passed else "FAIL"

    def outcomes(self) -> dict[str, str]:  # pragma: no cover
        raise NotImplementedError

    def rows(self) -> list[dict[str, Any]]:  # pragma: no cover
        raise NotImplementedError

    def summary(self) -> dict[str, Any]:  # pragma: no cover
        raise NotImplementedError

    def explain(self) -> str:  # pragma: no cover
        raise NotImplementedError

    def intervals(self) -> list[Interval]:
        """Each check the page plots."""
        return []

    def to_json(self) -> dict[str, Any]:
        """Every field, plus `kind`, `passed` and `verdict` for whoever reads the file without this package."""
        return {"kind": self.kind, **encode(self), "passed": bool(self.passed), "verdict": self.verdict}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> GateResult:
        if data.get("kind") != cls.kind:
            raise ValueError(f"not a {cls.kind} result: kind={data.get('kind')!r}")
        fields = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        derived = {"kind", "verdict"} | ({"passed"} - fields)
        return decode(cls, {k: v for k, v in data.items() if k not in derived})


def encode(obj: Any) -> Any:
    """A dataclass (nested dataclasses, tuples, floats) as JSON-ready data; NaN and infinities become null."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: encode(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (tuple, list)):
        return [encode(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def decode(cls: Any, data: Any) -> Any:
    """The inverse of `encode`, driven by the type hints of `cls` (unknown keys are an error: a schema change)."""
    try:
        hints = typing.get_type_hints(cls)
    except NameError:  # its module was imported again since (pytester's in-process runs): the globals it was made with
        hints = typing.get_type_hints(cls, globalns=getattr(cls.__init__, "__globals__", None))
    names = {f.name for f in dataclasses.fields(cls)}
    extra = set(data) - names
    if extra:
        raise ValueError(f"{cls.__name__}: unknown field(s) {', '.join(sorted(extra))}")
    return cls(**{k: _value(hints[k], v) for k, v in data.items()})


_UNIONS = (typing.Union, types.UnionType)


def _value(hint: Any, value: Any) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if value is None:  # a NaN that `encode` wrote as null, or an optional field left empty
        return None if type(None) in args else (math.nan if hint is float else None)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_value(args[0], v) for v in value)
        return tuple(_value(a, v) for a, v in zip(args, value, strict=True))
    if dataclasses.is_dataclass(hint):
        return decode(hint, value)
    if hint is float or (origin in _UNIONS and float in args):
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value
    return value
