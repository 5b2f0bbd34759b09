"""`ModelPair`: what a gate compares, built from two runner factories (dense and compressed), the method, and
how to evaluate. The per-request result cache sits between the pair and each factory."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..compression import CompressionSpec, parse_spec
from ..contract import Runner, RunnerFactory
from ..runners.cache import CachedRunner, ResultCache
from ..settings import EvalSettings, Limit


def _factory(side: Any, name: str) -> RunnerFactory:
    """A RunnerFactory as is; a model handle (the kick_dense / kick_compressed fixtures) through its `.factory()`;
    a runner wrapped in an uncached factory."""
    if isinstance(side, RunnerFactory):
        return side
    if callable(getattr(side, "factory", None)):
        return side.factory()
    if all(callable(getattr(side, m, None)) for m in ("loglikelihood", "generate")):
        return RunnerFactory.of(side, name)
    raise TypeError(f"ModelPair's {name} side must be a RunnerFactory, a model handle or a Runner, got {type(side).__name__}")


@dataclass
class ModelPair:
    """What a test gets from `kick_pair`, and what a user may build by hand:

        pair = ModelPair(FakeRunner(...), FakeRunner(...), method="rtn4")

    `dense` and `compressed` are `RunnerFactory`s (a plain runner is wrapped in one, uncached); `settings` says
    where data lives, the seed, batch size and cache; `limit` is the test's configured limit (see `Limit`).
    Gates read `dense_runner` / `compressed_runner` and hand their typed result to `record`."""

    dense: RunnerFactory | Runner
    compressed: RunnerFactory | Runner
    method: CompressionSpec
    settings: EvalSettings = field(default_factory=EvalSettings)
    test_id: str = ""
    recorder: Callable[[Any], None] | None = None
    observer: Callable[[Any, Any], Any] | None = None
    _runners: dict[str, CachedRunner] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        self.dense = _factory(self.dense, "dense")
        self.compressed = _factory(self.compressed, "compressed")
        if isinstance(self.method, str):
            self.method = parse_spec(self.method)

    def _runner(self, which: str) -> CachedRunner:
        if which not in self._runners:
            factory = self.dense if which == "dense" else self.compressed
            self._runners[which] = CachedRunner(factory, ResultCache(self.settings.cache_dir))
        return self._runners[which]

    @property
    def dense_runner(self) -> CachedRunner:
        return self._runner("dense")

    @property
    def compressed_runner(self) -> CachedRunner:
        return self._runner("compressed")

    @property
    def data_dir(self) -> Path | None:
        return self.settings.data_dir

    @property
    def limit(self) -> Limit | None:
        return self.settings.limit

    @property
    def scope(self) -> str:
        return self.settings.scope

    @property
    def sequential(self) -> int:
        return self.settings.sequential

    @property
    def seed(self) -> int:
        return self.settings.seed

    @property
    def toxicity_scorer(self) -> str | None:
        return self.settings.toxicity_scorer

    def record(self, result: Any, evidence: Any = None) -> Any:
        """Hand a finished gate to the recorder (the run report) and its evidence to the observer (a saved run, a
        comparison); returns what the observer says beyond the gate's own verdict (a failed comparison with a saved
        release, with --kick-compare-fail)."""
        if self.recorder is not None:
            self.recorder(result)
        return self.observer(result, evidence) if self.observer is not None else None
