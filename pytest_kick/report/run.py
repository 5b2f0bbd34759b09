"""The run report: every gate's typed result and how each compressed model was made, rendered as the terminal
summary (`lines`) and as JSON with a versioned schema (`to_json`, `--kick-report`). Only the xdist boundary and
the report file serialise it; `from_json` reads both back into the same typed objects."""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .._version import __version__
from ..gates.accuracy import AccuracyResult
from ..gates.fidelity import FidelityResult
from ..gates.gate import GateResult, encode
from ..gates.quality import QualityResult
from ..gates.results import SafetyResult
from ..gates.table import MODEL_COLUMNS, format_table

if TYPE_CHECKING:  # pragma: no cover
    from ..models.handles import BuildFacts

SCHEMA = "pytest-kick run report"
SCHEMA_VERSION = 9  # bump on any change to a result's fields; tests/unit/report/test_report.py checks the schema file
# 2: the generation-quality gate's results (kind "quality"); 3: where each compressed model was evaluated
# 6: a quality result's no_reference
KINDS: dict[str, type[GateResult]] = {k.kind: k for k in (AccuracyResult, FidelityResult, QualityResult, SafetyResult)}


@dataclass(frozen=True)
class ModelBuild:
    """How one compressed model was made for this run: by which library, built now or reused, and how long it took."""

    method: str
    backend: str = ""
    build: str = ""
    compress_s: float = math.nan
    evaluated_on: str = "this process"  # or the Ray replicas that answered (--kick-ray)
    params: int = 0  # parameters of the compressed model as loaded here or by a Ray replica (0: not loaded: cached answers)
    params_vs_dense: float = math.nan
    tokens_per_s: float = math.nan  # tokens its engine read per second of model work in this process
    speed_vs_dense: float = math.nan  # that rate over the dense model's, when both ran here

    @classmethod
    def of(cls, facts: BuildFacts, dense: BuildFacts | None = None) -> ModelBuild:
        seconds, rate = facts.compress_s, _rate(facts)
        dense_rate = _rate(dense) if dense is not None else math.nan
        return cls(
            facts.method,
            facts.backend,
            facts.build,
            float(seconds) if seconds is not None else math.nan,
            facts.ray or "this process",
            facts.params,
            facts.params / dense.params if facts.params and dense is not None and dense.params else math.nan,
            round(rate, 1) if rate == rate else rate,
            rate / dense_rate if rate == rate and dense_rate == dense_rate else math.nan,
        )


def _rate(facts: BuildFacts) -> float:
    """Tokens per second of model work, from what the engine counted (NaN when it has not run)."""
    return facts.tokens_fed / facts.busy_s if facts.busy_s and facts.tokens_fed else math.nan


MEASURED = ("params", "params_vs_dense", "tokens_per_s", "speed_vs_dense")


@dataclass
class RunReport:
    """Every gate result of a run, in the order recorded, and one build line per compressed model."""

    results: list[GateResult] = field(default_factory=list)
    models: dict[str, ModelBuild] = field(default_factory=dict)
    frontier: list[dict[str, Any]] = field(default_factory=list)  # --kick-sweep: one answer per sweep (report.frontier)

    def add(self, result: GateResult, model: BuildFacts | None = None, dense: BuildFacts | None = None) -> None:
        self.results.append(result)
        if model is not None and model.backend:
            self.add_model(ModelBuild.of(model, dense))

    def merge(self, other: RunReport) -> None:
        self.results.extend(other.results)
        for build in other.models.values():
            self.add_model(build)

    def add_model(self, build: ModelBuild) -> None:
        # the worker that built a model says so; the others reused it. Parameters and speed come from the latest
        # gate that saw them (the engine's counts grow over the run; an earlier gate may have read the cache only)
        known = self.models.get(build.method)
        if known is None or build.build == "compressed":
            known, self.models[build.method] = build, build
        measured = {k: getattr(build, k) for k in MEASURED if getattr(build, k) == getattr(build, k) and getattr(build, k)}
        if measured:
            self.models[build.method] = dataclasses.replace(known, **measured)

    def lines(self) -> list[str]:
        """The terminal summary: one table per kind of gate (the group closest to failing for safety gates)."""
        lines: list[str] = []
        ordered = sorted(self.results, key=lambda r: (r.test, r.method))
        for kind in ("accuracy", "fidelity", "quality", "safety"):
            rows = [r.summary() for r in ordered if r.kind == kind]
            if rows:
                lines += ([""] if lines else []) + format_table(rows, KINDS[kind].columns)
        if self.models:
            rows = [dataclasses.asdict(m) for m in self.models.values()]
            for row in rows:  # blank: not loaded or not run here (its answers came from the cache)
                row.update({k: "" for k in MEASURED if not row[k] or row[k] != row[k]})
            lines += [""] + format_table(rows, MODEL_COLUMNS)
        return lines

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "version": SCHEMA_VERSION,
            "pytest_kick": __version__,
            "results": [r.to_json() for r in self.results],
            "models": [encode(m) for m in self.models.values()],
            "frontier": self.frontier,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RunReport:
        if data.get("schema") != SCHEMA or data.get("version") != SCHEMA_VERSION:
            raise ValueError(f"not a {SCHEMA} version {SCHEMA_VERSION}: schema={data.get('schema')!r}, version={data.get('version')!r}")
        report = cls()
        for r in data["results"]:
            kind = r.get("kind")
            if kind not in KINDS:
                raise ValueError(f"unknown result kind {kind!r}; known: {', '.join(KINDS)}")
            report.results.append(KINDS[kind].from_json(r))
        for m in data["models"]:
            report.add_model(ModelBuild(**{k: (math.nan if v is None else v) for k, v in m.items()}))
        report.frontier = list(data.get("frontier", []))
        return report


# ---- the JSON schema, derived from the result types (the committed file must equal it) --------------------------


_CANDIDATE = {
    "type": "object",
    "required": ["method", "status", "why", "size", "size_value", "worst_margin", "speed_vs_dense", "gates"],
    "properties": {
        "method": {"type": "string"},
        "status": {"enum": ["pass", "fail", "implied pass", "implied fail", "open"]},
        "why": {"type": "string"},
        "size": {"type": "string"},
        "size_value": {"type": ["number", "null"]},
        "worst_margin": {"type": ["number", "null"]},
        "speed_vs_dense": {"type": ["number", "null"]},
        "gates": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}
FRONTIER = {  # one --kick-sweep's answer (report.frontier.sweep_json)
    "type": "object",
    "required": ["sweep", "candidates", "passes", "fails", "failed_by", "run", "violations"],
    "properties": {
        "sweep": {"type": "string"},
        "candidates": {"type": "array", "items": _CANDIDATE},
        "passes": {"type": ["string", "null"]},
        "fails": {"type": ["string", "null"]},
        "failed_by": {"type": "string"},
        "run": {"type": "integer"},
        "violations": {"type": "array", "items": {"type": "string"}},
    },
}


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of `RunReport.to_json()`, built from the dataclasses' type hints."""
    derived = {"passed": {"type": "boolean"}, "verdict": {"enum": ["pass", "FAIL", "no evidence"]}}
    results = [_object(k, {"kind": {"const": k.kind}, **derived}) for k in KINDS.values()]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"{SCHEMA}, version {SCHEMA_VERSION}",
        "description": "Written by pytest --kick-report=PATH. Non-finite numbers (NaN) are written as null.",
        "type": "object",
        "required": ["schema", "version", "pytest_kick", "results", "models"],
        "additionalProperties": False,
        "properties": {
            "schema": {"const": SCHEMA},
            "version": {"const": SCHEMA_VERSION},
            "pytest_kick": {"type": "string"},
            "results": {"type": "array", "items": {"oneOf": results}},
            "models": {"type": "array", "items": _object(ModelBuild)},
            "frontier": {"type": "array", "items": FRONTIER},
        },
    }


def _object(cls: Any, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    props = {f.name: _type(hints[f.name]) for f in dataclasses.fields(cls)}
    props.update(extra or {})
    return {
        "type": "object",
        "title": cls.__name__,
        "required": sorted(props),
        "additionalProperties": False,
        "properties": props,
    }


def _type(hint: Any) -> dict[str, Any]:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        return {"anyOf": [_type(a) for a in inner] + [{"type": "null"}]}
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return {"type": "array", "items": _type(args[0])}
        return {"type": "array", "prefixItems": [_type(a) for a in args], "items": False}
    if dataclasses.is_dataclass(hint):
        return _object(hint)
    simple = {bool: "boolean", int: "integer", str: "string"}
    if hint is float:
        return {"type": ["number", "null"]}
    return {"type": simple[hint]}


if __name__ == "__main__":  # python -m pytest_kick.report.run > pytest_kick/report/report.schema.json
    import json

    print(json.dumps(json_schema(), indent=1, ensure_ascii=False))
