"""Tasks: the `Task` contract, the registry, and where a task's data comes from."""

from __future__ import annotations

import hashlib
import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from ..contract import Runner
from ..errors import KickUsageError
from ..registry import Registry

BUILTIN_DATA = Path(__file__).resolve().parent.parent / "data"
SOURCES = ("auto", "builtin", "dir", "hub")


@dataclass(frozen=True)
class Example:
    """One scored item. `choices`/`gold` for multiple choice; `answers` (all accepted) for generation."""

    id: str
    prompt: str
    choices: tuple[str, ...] = ()
    gold: int | None = None
    answers: tuple[str, ...] = ()
    group: str = ""  # subject / category, for per-group reporting
    meta: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)  # task-specific fields


@dataclass(frozen=True)
class Outcome:
    """What one model did on one example."""

    example_id: str
    correct: bool
    prediction: str
    reference: str
    scores: tuple[float, ...] = field(default=(), compare=False)
    choice: int | None = None  # index of the chosen answer, for multiple choice
    values: Mapping[str, float] = field(default_factory=dict, compare=False, hash=False)  # per-example measurements


@runtime_checkable
class Task(Protocol):
    """A benchmark: loads examples from a data root, then turns a runner's answers into per-example outcomes."""

    name: str

    def load(self, data_dir: Path | None) -> list[Example]: ...

    def evaluate(self, runner: Runner, examples: Sequence[Example]) -> list[Outcome]: ...


TASKS: Registry[str | Callable[..., Task]] = Registry("task")
for _name, _where in {
    "mmlu": ".mmlu:MMLU",
    "freebaseqa": ".freebaseqa:FreebaseQA",
    "icr_qa": ".icr_qa:ICRQA",
    "ifeval": ".ifeval:IFEval",
    "instruction_following": ".instruction_following:InstructionFollowing",
    "summarization": ".summarization:Summarization",
    "truthfulqa": ".truthfulqa:TruthfulQA",
    "bbq": ".bbq:BBQ",
    "crows_pairs": ".crows_pairs:CrowsPairs",
    "stereoset": ".stereoset:StereoSet",
    "realtoxicityprompts": ".toxicity:RealToxicityPrompts",
    "bold": ".toxicity:BOLD",
    "toxigen": ".toxicity:ToxiGen",
    "advpromptset": ".toxicity:AdvPromptSet",
    "holistic_bias": ".holistic_bias:HolisticBias",
    "holistic_bias_generation": ".holistic_bias:HolisticBiasGeneration",
    "unqover": ".unqover:UnQover",
    "dialect_pairs": ".dialect:DialectPairs",
    "wikitext2": ".wikitext:WikiText2",
}.items():
    TASKS.add(_name, _where, builtin=True)


def register_task(name: str, factory: str | Callable[..., Task] | None = None, *, replace: bool = False):
    """Register a task factory by name; usable as a decorator on a Task class. An existing name is replaced
    only with `replace=True`; what a session registers is forgotten when it ends."""

    def deco(obj):
        TASKS.add(name, obj, replace=replace)
        return obj

    return deco(factory) if factory is not None else deco


def task_names() -> list[str]:
    return TASKS.names()


def get_task(task: str | Task, **options: Any) -> Task:
    """A task instance from a registered name (with options) or the instance itself."""
    if not isinstance(task, str):
        if options:
            raise KickUsageError("task options can only be given with a task name, not with a Task instance")
        return task
    factory = TASKS.get(task)
    if factory is None:
        raise KickUsageError(f"unknown task '{task}'.{TASKS.did_you_mean(task)} Available tasks: {', '.join(task_names())}.")
    if isinstance(factory, str):
        module, _, attr = factory.partition(":")
        factory = getattr(importlib.import_module(module, __name__), attr)
    try:
        return factory(**options)
    except TypeError as exc:
        raise KickUsageError(f"task '{task}': bad option ({exc})") from None


def task_data_dir(name: str, data_dir: Path | None, source: str, expected: str) -> Path:
    """The folder a task reads: DATA_DIR/<name> for 'dir', the package's built-in sample for 'builtin'."""
    if source not in SOURCES:
        raise KickUsageError(f"task '{name}': source must be one of {', '.join(SOURCES)}, got {source!r}")
    if source == "builtin" or (source == "auto" and data_dir is None):
        return BUILTIN_DATA / name
    if data_dir is None:
        raise KickUsageError(f"task '{name}' with source='dir' needs --kick-data-dir (expected layout: DIR/{expected})")
    folder = Path(data_dir) / name
    if not folder.is_dir():
        raise KickUsageError(
            f"--kick-data-dir {data_dir}: no '{name}' folder in it. Expected layout: DIR/{expected}. "
            "Point --kick-data-dir at the root that holds one folder per benchmark."
        )
    return folder


def find_data_folder(name: str, data_dir: Path | None, source: str, expected: str, aliases: Sequence[str] = ()) -> Path:
    """Like `task_data_dir`, but also accepts the benchmark's usual folder names (e.g. crows-pairs, wikitext-2-raw)."""
    if source in ("dir", "auto") and data_dir is not None:
        for alias in aliases:
            if (Path(data_dir) / alias).is_dir():
                return Path(data_dir) / alias
    return task_data_dir(name, data_dir, source, expected)


def read_text(path: Path) -> str:
    """A data file's text; bytes that are not UTF-8 are a usage error naming the file, the line and the byte."""
    data = Path(path).read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise KickUsageError(f"{path}:{line}: not UTF-8 text (byte 0x{data[exc.start]:02x}); save the file as UTF-8") from None


def nonblank_lines(path: Path):
    """(line number, line) for every non-blank line of a text file; a file with none is a usage error naming it (an
    empty benchmark file is a failed download or export, never a benchmark)."""
    found = False
    for n, line in enumerate(read_text(path).splitlines(keepends=True), 1):
        if line.strip():
            found = True
            yield n, line
    if not found:
        raise KickUsageError(f"{path}: the file is empty (no records); export or download it again")


def jsonl_records(path: Path):
    """(line number, object) per non-blank line; a line that is not JSON is a usage error naming file and line."""
    import json

    for n, line in nonblank_lines(path):
        try:
            yield n, json.loads(line)
        except ValueError as exc:
            raise KickUsageError(f"{path}:{n}: not a JSON object ({exc})") from None


def json_file(path: Path, hint: str = "") -> Any:
    """A whole-file JSON document; text that is not UTF-8 or not JSON is a usage error naming file and line."""
    import json

    text = read_text(path)
    try:
        return json.loads(text)
    except ValueError as exc:
        raise KickUsageError(f"{path}:{getattr(exc, 'lineno', 1)}: not valid JSON ({getattr(exc, 'msg', exc)}){hint}") from None


def is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


# kind -> (what the message says is expected, the check); a bool is never an int, an int is a number.
KINDS: dict[str, tuple[str, Callable[[Any], bool]]] = {
    "str": ("a string", lambda v: isinstance(v, str)),
    "text": ("a non-empty string", lambda v: isinstance(v, str) and bool(v.strip())),
    "int": ("an integer", is_int),
    "number": ("a number", lambda v: is_int(v) or isinstance(v, float)),
    "id": ("a string or an integer", lambda v: isinstance(v, str) or is_int(v)),
    "list": ("a list", lambda v: isinstance(v, list)),
    "list[str]": ("a list of strings", lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v)),
    "list[text]": ("a non-empty list of non-empty strings", lambda v: isinstance(v, list) and v and all(KINDS["text"][1](x) for x in v)),
    "dict": ("an object", lambda v: isinstance(v, dict)),
    "any": ("a value", lambda v: True),
}
_NOTHING = object()


def shown(value: Any) -> str:
    """A bad value in an error message: its type and a short repr ("str '1'", "list ['a', 'b']")."""
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 60 else text[:57] + '...'}"


def field(rec: Any, key: str, kind: str, where: str, default: Any = _NOTHING, name: str | None = None) -> Any:
    """rec[key] when it is of `kind` (see KINDS); else a usage error naming `where` (file:line, or file: record),
    the field and what was expected. A missing (or null) field gives `default` when one is given."""
    expected, ok = KINDS[kind]
    label = name or key
    if not isinstance(rec, dict):
        raise KickUsageError(f"{where}: expected a JSON object with field '{label}', got {shown(rec)}")
    value = rec.get(key)
    if value is None and default is not _NOTHING:
        return default
    if key not in rec or value is None:
        raise KickUsageError(f"{where}: field '{label}' is missing; it must be {expected}")
    if not ok(value):
        raise KickUsageError(f"{where}: field '{label}' must be {expected}, got {shown(value)}")
    return value


def index_field(rec: Any, key: str, n: int, where: str, name: str | None = None) -> int:
    """rec[key] as an index into n choices: an integer 0..n-1 (not a bool, a float or a digit string)."""
    value = field(rec, key, "any", where, name=name)
    if not is_int(value) or not 0 <= value < n:
        raise KickUsageError(f"{where}: field '{name or key}' must be an integer 0-{n - 1}, got {shown(value)}")
    return value


def _rank(example: Example) -> bytes:
    """Where an example stands in the fixed order a limit keeps from: a hash of its id, so the sample depends on
    the data and the limit only (no seed to rerun until a borderline gate passes)."""
    return hashlib.sha256(example.id.encode()).digest()


def select(examples: list[Example], limit: int | None) -> list[Example]:
    """The `limit` examples first in the fixed hash order of their ids (a sample without replacement that no seed
    redraws; a larger limit keeps every example a smaller one kept), kept in file order."""
    if limit is None or limit >= len(examples):
        return examples
    keep = sorted(sorted(range(len(examples)), key=lambda i: (_rank(examples[i]), i))[:limit])
    return [examples[i] for i in keep]


@runtime_checkable
class MeasuredTask(Task, Protocol):
    """A safety benchmark: per-example counts that sum within a group, and metrics computed from those sums.

    `counts(example, outcome)` gives one number per name in `fields`; `metrics(totals)` maps summed counts
    (numpy, any leading axes: the bootstrap passes many resampled totals at once) to named metrics; `gated`
    says which metrics a gate watches and how: 'abs' (|metric| must not grow: bias scores centred on 0) or 'up'
    (the metric must not grow: toxicity, dialect gap). `cluster(example)` names the unit the bootstrap
    resamples (a BBQ template, a BOLD person, an article); `shift(example, dense, compressed)` > 0 means this
    example moved toward harm, for the failure message."""

    fields: tuple[str, ...]
    gated: Mapping[str, str]

    def counts(self, example: Example, outcome: Outcome) -> tuple[float, ...]: ...

    def metrics(self, totals: Any) -> dict[str, Any]: ...

    def cluster(self, example: Example) -> str: ...

    def shift(self, example: Example, dense: Outcome, compressed: Outcome) -> float: ...


def select_per_group(examples: list[Example], limit: int | None) -> list[Example]:
    """`select` within each group, so a small group keeps its examples when a large one is cut."""
    if limit is None:
        return examples
    groups: dict[str, list[int]] = {}
    for i, ex in enumerate(examples):
        groups.setdefault(ex.group, []).append(i)
    keep: list[int] = []
    for idxs in groups.values():
        keep += sorted(idxs, key=lambda i: (_rank(examples[i]), i))[:limit]
    return [examples[i] for i in sorted(keep)]


def several(task: Any, *options: str) -> None:
    """Options that take several values (subjects, categories, groups, ...) also take one as a plain string, and
    a list: each named option of the (frozen) task becomes a tuple; None stays None (all of them)."""
    for name in options:
        value = getattr(task, name)
        if isinstance(value, (str, list)):
            object.__setattr__(task, name, (value,) if isinstance(value, str) else tuple(value))


def safe_ratio(num: Any, den: Any) -> Any:
    """num / den elementwise, NaN where den == 0 (a group or draw with nothing to measure)."""
    import numpy as np

    num, den = np.asarray(num, dtype=float), np.asarray(den, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
