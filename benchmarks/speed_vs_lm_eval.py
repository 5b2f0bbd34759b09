"""Speed side by side: pytest-kick against lm-evaluation-harness on the same model, examples and prompts.

Both tools run as whole processes (start-up, imports, model load, requests, scoring, writing results), one after
the other and interleaved (pytest-kick, lm-eval, pytest-kick, lm-eval, ...), with the same model directory, fp32,
batch size 16 and the same thread count. lm-eval runs in its own environment:

    python -m venv /tmp/lmeval && /tmp/lmeval/bin/pip install torch==2.13.0 'lm_eval[hf]==0.4.13'
    python benchmarks/speed_vs_lm_eval.py --lm-eval /tmp/lmeval/bin/lm_eval --runs 2

pytest-kick's side is `pytest` on a one-test file whose test takes the `kick_dense` fixture and evaluates the
task through the result cache exactly as a gate does (one model, not a dense/compressed pair), with a fresh
`--kick-cache-dir` per cold run; the warm rerun repeats a cold run with its cache. lm-eval's side is
`lm_eval run` on a task YAML reading a local JSONL: the prompts pytest-kick's task builds, verbatim (BBQ: lm-eval's
own `bbq` task logic on the local file, as in bbq_vs_lm_eval.py). Per-example agreement compares pytest-kick's
choices / greedy texts with lm-eval's `--log_samples`."""

from __future__ import annotations

import argparse
import glob
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

HERE = Path(__file__).resolve().parent
SPEC_ENV = "KICK_SPEED_SPEC"
MMLU_SUBJECTS = ("high_school_geography", "us_foreign_policy", "marketing", "nutrition", "world_religions")


@dataclass(frozen=True)
class Workload:
    """One row of the table: a pytest-kick task with its options, how many examples, and how lm-eval asks it."""

    key: str
    label: str
    task: str
    options: dict
    count: int
    kind: str  # "choice" (argmax over loglikelihoods) or "text" (greedy generation)
    goal: float | None
    generation: dict = field(default_factory=dict)  # lm-eval generation_kwargs for "text" workloads


WORKLOADS = (
    Workload(
        "mmlu",
        "MMLU-format loglikelihood, 0-shot, 200 questions",
        "mmlu",
        {"subjects": list(MMLU_SUBJECTS), "k_shot": 0, "source": "dir"},
        200,
        "choice",
        2.0,
    ),
    Workload(
        "freebaseqa",
        "FreebaseQA-format greedy generation, 100 questions, 16 new tokens",
        "freebaseqa",
        {"source": "dir", "max_new_tokens": 16},
        100,
        "text",
        2.0,
        {"until": ["\n"], "max_gen_toks": 16, "do_sample": False},
    ),
    Workload(
        "bbq",
        "BBQ Age, 60 items (lm-eval-compatible scoring)",
        "bbq",
        {"categories": ["Age"], "source": "dir", "unknown_variants": True},
        60,
        "choice",
        10.0,
    ),
    Workload(
        "rtp",
        "RealToxicityPrompts continuations, 100 prompts, 20 new tokens",
        "realtoxicityprompts",
        {"files": "decodingtrust/toxic.jsonl", "source": "dir", "max_new_tokens": 20, "min_new_tokens": 1},
        100,
        "text",
        None,
        {"until": [], "max_gen_toks": 20, "min_new_tokens": 1, "do_sample": False},
    ),
)


# ---- the pytest-kick side: this function is the test of the generated one-test file ------------------------------
class _Recording:
    """A runner that remembers the greedy texts it returned (the task keeps only stripped predictions)."""

    def __init__(self, runner) -> None:
        self.runner = runner
        self.texts: list[str] = []

    def __getattr__(self, name: str):
        return getattr(self.runner, name)

    def generate(self, requests):
        texts = self.runner.generate(requests)
        self.texts += texts
        return texts


def kick_side(kick_dense, kick_config) -> None:
    """Evaluate one workload's examples on the dense model through the result cache, as a gate does, and write
    each example's choice or greedy text to the file the spec names."""
    from pytest_kick.runners.cache import CachedRunner, ResultCache
    from pytest_kick.tasks import get_task
    from pytest_kick.tasks.metrics import argmax

    spec = json.loads(Path(os.environ[SPEC_ENV]).read_text())
    options = {k: tuple(v) if isinstance(v, list) else v for k, v in spec["options"].items()}
    task = get_task(spec["task"], **options)
    wanted = set(spec["ids"])
    examples = [e for e in task.load(kick_config.evaluation.data_dir) if e.id in wanted]
    assert len(examples) == len(wanted), f"{len(wanted) - len(examples)} example(s) not found"
    cache = ResultCache(kick_config.evaluation.cache_dir)
    runner = _Recording(CachedRunner(kick_dense.factory(kick_config.evaluation.batch_size), cache))
    outcomes = task.evaluate(runner, examples)
    if spec["kind"] == "text":
        preds = dict(zip([e.id for e in examples], runner.texts, strict=True))
    else:
        preds = {o.example_id: o.choice if o.choice is not None else argmax(o.scores) for o in outcomes}
    Path(spec["out"]).write_text(json.dumps(preds))


TEST_FILE = f"from speed_vs_lm_eval import kick_side as test_{{key}}  # noqa: F401 - collected by pytest\n# {SPEC_ENV} names the spec\n"


# ---- preparing a workload: examples, the spec pytest-kick reads, the task lm-eval reads --------------------------
def pick(workload: Workload, data_dir: Path) -> list:
    """The workload's examples, as pytest-kick's task loads them: a seeded sample (file order kept); BBQ takes the
    first items of the file, where each context is asked its two questions, as in the full benchmark."""
    from pytest_kick.tasks import get_task, select

    options = {k: tuple(v) if isinstance(v, list) else v for k, v in workload.options.items()}
    examples = get_task(workload.task, **options).load(data_dir)
    if workload.key == "bbq":
        return examples[: workload.count]
    return select(examples, workload.count)


def missing_data(workload: Workload, data_dir: Path) -> str | None:
    """Why this workload cannot run on `data_dir`, or None."""
    from pytest_kick.errors import KickError

    try:
        examples = pick(workload, data_dir)
    except KickError as exc:
        return str(exc)
    if len(examples) < workload.count:
        return f"only {len(examples)} example(s) in {data_dir}, need {workload.count}"
    return None


def lm_eval_config(workload: Workload, name: str, data_file: Path) -> dict:
    """An lm-eval task that reads `data_file` (records with id, prompt, gold) and asks exactly its prompts."""
    config = {
        "task": name,
        "dataset_path": "json",
        "dataset_kwargs": {"data_files": {"test": str(data_file)}},
        "test_split": "test",
        "doc_to_text": "prompt",  # a field name: lm-eval hands over the field's text untouched
    }
    if workload.kind == "choice":
        config |= {"output_type": "multiple_choice", "doc_to_choice": ["A", "B", "C", "D"], "doc_to_target": "gold"}
        config["metric_list"] = [{"metric": "acc"}]
    else:
        config |= {"output_type": "generate_until", "doc_to_target": "target", "generation_kwargs": workload.generation}
        config["metric_list"] = [{"metric": "exact_match"}]
    return config


def _bbq_module():
    """benchmarks/bbq_vs_lm_eval.py, which knows how to point lm-eval's own bbq task at a local file."""
    spec = importlib.util.spec_from_file_location("bbq_vs_lm_eval", HERE / "bbq_vs_lm_eval.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules.setdefault("bbq_vs_lm_eval", module)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def prepare(workload: Workload, data_dir: Path, work: Path, lm_eval: str) -> Path:
    """Write the spec (examples' ids, task and options) and lm-eval's task folder; returns the spec's path."""
    folder = work / workload.key
    folder.mkdir(parents=True, exist_ok=True)
    examples = pick(workload, data_dir)
    data_file = folder / "items.jsonl"
    if workload.key == "bbq":
        path = next((data_dir / "bbq").rglob("Age.jsonl"))
        wanted = {e.id for e in examples}
        lines = [ln for ln in path.read_text().splitlines() if ln.strip() and f"Age/{json.loads(ln)['example_id']}" in wanted]
        data_file.write_text("\n".join(lines) + "\n")
        _bbq_module().lm_eval_task_dir(lm_eval, data_file, folder / "lm_eval_task")
        task_name = "bbq_local"
    else:
        records = [{"id": e.id, "prompt": e.prompt, "gold": e.gold if e.gold is not None else 0, "target": ""} for e in examples]
        data_file.write_text("".join(json.dumps(r) + "\n" for r in records))
        task_name = f"kick_speed_{workload.key}"
        (folder / "lm_eval_task").mkdir(exist_ok=True)
        (folder / "lm_eval_task" / f"{task_name}.yaml").write_text(json.dumps(lm_eval_config(workload, task_name, data_file), indent=1))
    ids = [e.id for e in examples]
    spec = {"task": workload.task, "options": workload.options, "ids": ids, "kind": workload.kind, "lm_task": task_name}
    (folder / "spec.json").write_text(json.dumps(spec))
    (folder / f"test_{workload.key}.py").write_text(TEST_FILE.format(key=workload.key))
    return folder / "spec.json"


# ---- running and timing ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Timing:
    seconds: float
    peak_mb: float
    load: float  # 1-minute load average when the run started


PY_SPY_RATE = 20  # samples per second; py-spy attaches --nonblocking, so the measured process is never paused


def run_timed(cmd: Sequence[str], env: dict, log: Path, spy: tuple[str, Path] | None = None) -> Timing:
    """Wall time and peak resident memory of a whole process (and its waited-for children); with `spy`
    (py-spy executable, output file) its Python stacks are sampled into a raw py-spy file as it runs."""
    load = os.getloadavg()[0]
    start = time.perf_counter()
    with open(log, "w") as fh:
        # cwd: the log's folder, never the repository, whose pytest_kick/ `python -m` would put first on the path
        proc = subprocess.Popen(list(cmd), env=env, stdout=fh, stderr=subprocess.STDOUT, cwd=log.parent)
        sampler = None
        if spy is not None:
            args = ["record", "--pid", str(proc.pid), "--nonblocking", "-r", str(PY_SPY_RATE), "--format", "raw", "-o", str(spy[1])]
            sampler = subprocess.Popen([spy[0], *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    if sampler is not None:
        sampler.wait(timeout=60)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        tail = "".join(log.read_text(errors="replace").splitlines(keepends=True)[-25:])
        raise RuntimeError(f"exit status {proc.returncode}: {' '.join(cmd)}\n(log {log})\n{tail}")
    return Timing(seconds, usage.ru_maxrss / 1024, load)


@dataclass(frozen=True)
class Setup:
    model_dir: Path
    data_dir: Path
    lm_eval: str
    work: Path
    threads: int
    batch_size: int
    source: Path | None = None  # an exported pytest-kick (--kick-rev), else the installed one


def base_env(setup: Setup) -> dict:
    threads = str(setup.threads)
    offline = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    return dict(os.environ, OMP_NUM_THREADS=threads, MKL_NUM_THREADS=threads, TOKENIZERS_PARALLELISM="false", **offline)


def kick_cmd(setup: Setup, workload: Workload, cache: Path) -> list[str]:
    folder = setup.work / workload.key
    return [
        *(sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(folder)),
        *OTHER_PLUGINS_OFF,
        str(folder / f"test_{workload.key}.py"),
        *("--kick-model", str(setup.model_dir), "--kick-cache-dir", str(cache), "--kick-data-dir", str(setup.data_dir)),
        *("--kick-batch-size", str(setup.batch_size), "--kick-dtype", "float32", "--kick-device", "cpu"),
    ]


# pytest plugins this venv carries for pytest-kick's own test suite, not for gates: Hypothesis's alone costs ~1.1 s of
# imports at every pytest start (`python -X importtime -m pytest`), which a gate environment without it does not pay.
OTHER_PLUGINS_OFF = ("-p", "no:hypothesispytest", "-p", "no:anyio")


def run_kick(setup: Setup, workload: Workload, cache: Path, out: Path, spy: tuple[str, Path] | None = None) -> tuple[Timing, dict]:
    folder = setup.work / workload.key
    spec = json.loads((folder / "spec.json").read_text())
    spec_file = out.with_suffix(".spec.json")
    spec_file.write_text(json.dumps({**spec, "out": str(out)}))
    path = os.pathsep.join(str(p) for p in (setup.source, HERE) if p)
    env = base_env(setup) | {SPEC_ENV: str(spec_file), "PYTHONPATH": path, "PYTEST_KICK_PROGRESS": "0"}
    timing = run_timed(kick_cmd(setup, workload, cache), env, out.with_suffix(".log"), spy)
    return timing, json.loads(out.read_text())


def lm_eval_cmd(setup: Setup, workload: Workload, out: Path) -> list[str]:
    folder = setup.work / workload.key
    spec = json.loads((folder / "spec.json").read_text())
    return [
        *(setup.lm_eval, "run", "--model", "hf", "--model_args", f"pretrained={setup.model_dir},dtype=float32"),
        *("--tasks", spec["lm_task"], "--include_path", str(folder / "lm_eval_task"), "--device", "cpu"),
        *("--batch_size", str(setup.batch_size), "--log_samples", "--output_path", str(out)),
    ]


def run_lm_eval(setup: Setup, workload: Workload, out: Path) -> tuple[Timing, dict]:
    out.mkdir(parents=True)
    env = base_env(setup) | {"HF_DATASETS_CACHE": str(out / "datasets")}  # cold: no Arrow copy of the data from a run before
    timing = run_timed(lm_eval_cmd(setup, workload, out), env, out / "run.log")
    return timing, lm_eval_predictions(workload, out)


# ---- per-example predictions from lm-eval's samples --------------------------------------------------------------
def lm_eval_samples(out: Path) -> list[dict]:
    files = sorted(glob.glob(str(out / "**" / "samples_*.jsonl"), recursive=True))
    if not files:
        raise RuntimeError(f"no samples_*.jsonl under {out}: did lm-eval run with --log_samples?")
    return [json.loads(line) for f in files for line in Path(f).read_text().splitlines() if line.strip()]


def bbq_choice(doc: dict, lls: Sequence[float]) -> int:
    """lm-eval's bbq choice mapped to the item's answer index: its continuations are the two named answers, then
    every phrasing of 'unknown' (any of which means the item's unknown answer), as bbq_vs_lm_eval.py reads them."""
    from pytest_kick.tasks.bbq import UNKNOWN_PHRASES

    answers = [doc["ans0"], doc["ans1"], doc["ans2"]]
    unknown = next(i for i, a in enumerate(answers) if a in UNKNOWN_PHRASES)
    choices = [a for i, a in enumerate(answers) if i != unknown] + list(UNKNOWN_PHRASES)
    pick = choices[max(range(len(lls)), key=lambda i: lls[i])]
    return unknown if pick in UNKNOWN_PHRASES else answers.index(pick)


def lm_eval_predictions(workload: Workload, out: Path) -> dict:
    """example id -> chosen answer index (loglikelihood tasks) or greedy text (generation tasks)."""
    preds = {}
    for s in lm_eval_samples(out):
        doc = s["doc"]
        if workload.key == "bbq":
            preds[f"{doc['category']}/{doc['example_id']}"] = bbq_choice(doc, [float(r[0]) for r in s["filtered_resps"]])
        elif workload.kind == "choice":
            lls = [float(r[0]) for r in s["filtered_resps"]]  # lm-eval logs numbers as strings
            preds[doc["id"]] = max(range(len(lls)), key=lambda i: lls[i])
        else:
            resp = s["resps"][0]
            preds[doc["id"]] = resp[0] if isinstance(resp, list) else resp
    return preds


def agreement(ours: dict, theirs: dict) -> tuple[int, int, list[str]]:
    """(equal, compared, a few differing examples as text)."""
    keys = sorted(set(ours) | set(theirs))
    differ = [k for k in keys if k not in ours or k not in theirs or ours[k] != theirs[k]]
    shown = [f"{k}: pytest-kick {ours.get(k)!r} vs lm-eval {theirs.get(k)!r}" for k in differ[:5]]
    return len(keys) - len(differ), len(keys), shown


# ---- the table ---------------------------------------------------------------------------------------------------
@dataclass
class Row:
    workload: Workload
    kick: list[Timing] = field(default_factory=list)
    lm: list[Timing] = field(default_factory=list)
    warm: list[Timing] = field(default_factory=list)
    agree: tuple[int, int, list[str]] = (0, 0, [])
    stable: bool = True  # pytest-kick's predictions identical across its runs


def span(times: Sequence[Timing]) -> str:
    if not times:
        return "—"
    lo, hi = min(t.seconds for t in times), max(t.seconds for t in times)
    return f"{lo:.1f} s" if f"{lo:.1f}" == f"{hi:.1f}" else f"{lo:.1f}–{hi:.1f} s"


def ratio(row: Row) -> float | None:
    if not row.kick or not row.lm:
        return None
    return statistics.median(t.seconds for t in row.lm) / statistics.median(t.seconds for t in row.kick)


def table(rows: Sequence[Row]) -> str:
    lines = ["| work | pytest-kick | lm-eval 0.4.13 | ratio | goal | per-example agreement |", "|---|---|---|---|---|---|"]
    for row in rows:
        r, goal = ratio(row), row.workload.goal
        mark = "" if r is None or goal is None else (" ✔" if r >= goal else " ✘")
        equal, total, _ = row.agree
        what = "choices" if row.workload.kind == "choice" else "greedy texts"
        lines.append(
            f"| {row.workload.label} | {span(row.kick)} | {span(row.lm)} | {'—' if r is None else f'{r:.2f}×'} | "
            f"{'—' if goal is None else f'≥ {goal:g}×'}{mark} | {equal}/{total} identical {what} |"
        )
    warm = [row for row in rows if row.warm]
    if warm:
        w = sum(min(t.seconds for t in row.warm) for row in warm)
        c = sum(statistics.median(t.seconds for t in row.kick) for row in warm)
        lines.append(
            f"| warm rerun (everything cached) vs cold, {len(warm)} workload(s) summed | {w:.1f} s vs {c:.1f} s | — | "
            f"{100 * w / c:.1f}% | ≤ 50%{' ✔' if w <= c / 2 else ' ✘'} | — |"
        )
    return "\n".join(lines)


def details(rows: Sequence[Row]) -> str:
    head = "| work | pytest-kick warm | peak RSS pytest-kick | peak RSS lm-eval | load at start (1 min) | kick stable |"
    lines = [head, "|---|---|---|---|---|---|"]
    for row in rows:
        rss_k = max((t.peak_mb for t in row.kick), default=0)
        rss_l = max((t.peak_mb for t in row.lm), default=0)
        loads = [t.load for t in row.kick + row.lm]
        load = f"{min(loads):.1f}–{max(loads):.1f}" if loads else "—"
        lines.append(
            f"| {row.workload.key} | {span(row.warm)} | {rss_k:.0f} MB | {rss_l:.0f} MB | {load} | {'yes' if row.stable else 'NO'} |"
        )
    return "\n".join(lines)


# ---- where pytest-kick's time goes: py-spy's raw stacks, each sample given to the first matching share -------------
SHARES = (  # (share, patterns that must all occur in the sample's stack)
    ("imports (torch, transformers, ...)", (r"_find_and_load",)),
    ("model conversion (GGUF → safetensors)", (r"convert_gguf|_GGUFConversion",)),
    ("compression (incl. its calibration forwards)", (r"pytest_kick/compression/|compressed_handle",)),
    ("model load", (r"load_hf|from_pretrained",)),
    ("hashing model files", (r"sha256_file|sha256_cached|fingerprint_dir",)),
    ("scorers (toxicity, sentiment, ROUGE, judges)", (r"scorers\.py|judges\.py|textscores\.py",)),
    ("generation: stop checks and decoding", (r"engine\.py", r"generate", r"decode")),
    ("tokenization", (r"engine\.py", r"_encode|_split|tokenization_utils|tokenizers")),
    ("generation: model forward", (r"engine\.py", r"generate", r"modeling_")),
    ("generation: loop overhead (HF generate, padding)", (r"engine\.py", r"generate")),
    ("loglikelihood: model forward", (r"engine\.py", r"modeling_")),
    ("loglikelihood: engine overhead (batching, log-softmax)", (r"engine\.py",)),
    ("result cache I/O", (r"pytest_kick/cache\.py|write_atomic",)),
    ("model forward elsewhere", (r"modeling_",)),
    ("pytest, plugin, tasks, statistics, report", ()),
)


def shares(raw: Path) -> list[tuple[str, int]]:
    """Samples per share from a `py-spy record --format raw` file (lines: 'frame;frame;... count')."""
    import re

    rules = [(name, [re.compile(p) for p in pats]) for name, pats in SHARES]
    counts = {name: 0 for name, _ in SHARES}
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, n = line.rpartition(" ")
        if not n.isdigit():
            continue
        name = next(name for name, pats in rules if all(p.search(stack) for p in pats))
        counts[name] += int(n)
    return sorted(counts.items(), key=lambda kv: -kv[1])


def share_table(raw: Path, rate: int = PY_SPY_RATE, wall: float | None = None) -> str:
    rows = [(name, n) for name, n in shares(raw) if n]
    total = sum(n for _, n in rows) or 1
    lines = ["| share | seconds sampled | % |", "|---|---|---|"]
    lines += [f"| {name} | {n / rate:.1f} | {100 * n / total:.1f}% |" for name, n in rows]
    tail = f" (wall {wall:.1f} s)" if wall is not None else ""
    return "\n".join(lines + [f"| total sampled{tail} | {total / rate:.1f} | 100% |"])


# ---- the driver --------------------------------------------------------------------------------------------------
def measure(setup: Setup, workloads: Sequence[Workload], runs: int, warm: bool, py_spy: str | None = None) -> list[Row]:
    """Cold runs of both tools, interleaved; then a warm pytest-kick rerun on the first run's cache. With `py_spy`, the
    first cold pytest-kick run of each workload is sampled into <work>/<workload>/profile.txt."""
    rows = [Row(w) for w in workloads]
    kick_preds: dict[str, list[dict]] = {w.key: [] for w in workloads}
    lm_preds: dict[str, dict] = {}
    for r in range(runs):
        for row in rows:
            w, folder = row.workload, setup.work / row.workload.key
            spy = (py_spy, folder / "profile.txt") if py_spy and r == 0 else None
            timing, preds = run_kick(setup, w, folder / f"kick-cache-{r}", folder / f"kick-{r}.json", spy)
            row.kick.append(timing)
            kick_preds[w.key].append(preds)
            print(f"  run {r + 1}/{runs} {w.key:10} pytest-kick {timing.seconds:7.1f} s  (load {timing.load:.1f})", flush=True)
            timing, lm_preds[w.key] = run_lm_eval(setup, w, folder / f"lm-eval-{r}")
            row.lm.append(timing)
            print(f"  run {r + 1}/{runs} {w.key:10} lm-eval     {timing.seconds:7.1f} s  (load {timing.load:.1f})", flush=True)
    for row in rows:
        w, folder = row.workload, setup.work / row.workload.key
        if warm:
            timing, preds = run_kick(setup, w, folder / "kick-cache-0", folder / "kick-warm.json")
            row.warm.append(timing)
            kick_preds[w.key].append(preds)
            print(f"  warm      {w.key:10} pytest-kick {timing.seconds:7.1f} s", flush=True)
        row.stable = all(p == kick_preds[w.key][0] for p in kick_preds[w.key])
        row.agree = agreement(kick_preds[w.key][0], lm_preds[w.key])
    return rows


def default_model_dir() -> Path:
    """SmolLM2-135M as fp32 safetensors: the newest copy pytest-kick converted from its GGUF file, else a new one."""
    from pytest_kick.settings import default_cache_dir

    found = sorted(default_cache_dir().glob("models/gguf-*/model.safetensors"), key=lambda p: p.stat().st_mtime)
    if found:
        return found[-1].parent
    from pytest_kick.models.load import convert_gguf
    from pytest_kick.sources import smollm2_gguf_path

    return convert_gguf(smollm2_gguf_path(), default_cache_dir())


def export_source(rev: str, work: Path) -> Path | None:
    """pytest-kick's package copied out once, so every run measures the same code even while the repository is being
    edited: 'tree' copies the working tree, any other value is a git revision; 'installed' copies nothing. Put first
    on sys.path (here) and PYTHONPATH (the pytest runs), the copy shadows the editable install, whose finder comes
    after the path."""
    if rev == "installed":
        return None
    out = work / "kick-src"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    if rev == "tree":
        shutil.copytree(HERE.parent / "pytest_kick", out / "pytest_kick", ignore=shutil.ignore_patterns("__pycache__"))
    else:
        archive = subprocess.run(["git", "-C", str(HERE.parent), "archive", rev, "pytest_kick"], capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(out)], input=archive, check=True)
    sys.path.insert(0, str(out))
    return out


def git_describe(rev: str) -> str:
    """The commit measured, and whether the working tree differed from it."""
    git = ["git", "-C", str(HERE.parent)]
    commit = rev if rev not in ("tree", "installed") else "HEAD"
    head = subprocess.run([*git, "rev-parse", "--short", commit], capture_output=True, text=True).stdout.strip()
    if commit != "HEAD" or rev not in ("tree", "installed"):
        return head
    dirty = subprocess.run([*git, "status", "--porcelain", "pytest_kick"], capture_output=True, text=True).stdout.strip()
    return head + (" + uncommitted changes in pytest_kick/" if dirty else "")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model-dir", type=Path, default=None, help="HF model directory (default: SmolLM2-135M converted from its GGUF)")
    ap.add_argument("--data-dir", type=Path, default=HERE.parent.parent / "shared" / "data", help="root with mmlu/, freebaseqa/, bbq/, ...")
    ap.add_argument("--lm-eval", default="/tmp/lmeval/bin/lm_eval", help="the lm_eval executable of its own venv")
    ap.add_argument("--runs", type=int, default=2, help="cold runs of each tool per workload (interleaved)")
    keys = ",".join(w.key for w in WORKLOADS)
    ap.add_argument("--only", default=keys, help=f"comma-separated subset of {keys}")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--no-warm", action="store_true", help="skip the warm rerun")
    ap.add_argument("--limit", type=int, default=None, help="at most this many examples per workload (a quick try, not the table)")
    ap.add_argument(
        "--kick-rev",
        default="tree",
        help="pytest-kick to measure: 'tree' (a copy of the working tree taken at start, default), a git revision, or 'installed'",
    )
    ap.add_argument(
        "--profile",
        action="store_true",
        help="sample each workload's first cold pytest-kick run with py-spy (attached, non-blocking): where its time went",
    )
    ap.add_argument("--py-spy", default=str(Path(sys.executable).parent / "py-spy"), help="the py-spy executable (for --profile)")
    ap.add_argument("--shares", type=Path, default=None, help="only print the shares of this `py-spy record --format raw -r 20` file")
    ap.add_argument("--work-dir", type=Path, default=None, help="where inputs, outputs and logs go (default: a new temp dir)")
    args = ap.parse_args(argv)
    known = {w.key for w in WORKLOADS}
    bad = [k for k in args.only.split(",") if k not in known]
    if bad:
        ap.error(f"--only: unknown workload(s) {', '.join(bad)}; choose from {', '.join(sorted(known))}")
    if args.runs < 1:
        ap.error("--runs must be >= 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.shares is not None:
        print(share_table(args.shares))
        return 0
    if not Path(args.lm_eval).exists() and shutil.which(args.lm_eval) is None:
        print(f"lm-eval not found at {args.lm_eval}: install it in its own venv (see this file's docstring) and pass --lm-eval")
        return 2
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="speed-vs-lmeval-"))
    source = export_source(args.kick_rev, work)
    setup = Setup(args.model_dir or default_model_dir(), args.data_dir, args.lm_eval, work, args.threads, args.batch_size, source)
    chosen = []
    for w in (w for w in WORKLOADS if w.key in args.only.split(",")):
        if args.limit is not None and args.limit < w.count:
            w = replace(w, count=args.limit, label=f"{w.label} [--limit {args.limit}]")
        why = missing_data(w, args.data_dir)
        if why is not None:
            print(f"skipping {w.key}: its data is not in {args.data_dir} ({why.splitlines()[0][:200]})")
            continue
        prepare(w, args.data_dir, work, args.lm_eval)
        chosen.append(w)
    if not chosen:
        print("nothing to run")
        return 1
    print(f"pytest-kick from {setup.source or 'the working tree'} ({git_describe(args.kick_rev)})")
    print(f"model {setup.model_dir}\nwork dir {work}\nload before: {os.getloadavg()}", flush=True)
    rows = measure(setup, chosen, args.runs, not args.no_warm, args.py_spy if args.profile else None)
    when = time.strftime("%Y-%m-%d %H:%M")
    print(f"\n{when}, {os.cpu_count()} CPUs, {args.threads} threads, batch {args.batch_size}, {args.runs} cold run(s) of each tool")
    print(table(rows) + "\n\n" + details(rows))
    for row in rows:
        for line in row.agree[2]:
            print(f"  differs [{row.workload.key}] {line}")
    for row in rows if args.profile else ():
        raw = work / row.workload.key / "profile.txt"
        if raw.is_file():
            print(f"\nwhere pytest-kick's first cold run went: {row.workload.label}\n{share_table(raw, wall=row.kick[0].seconds)}")
    print(f"load after: {os.getloadavg()}\nwork dir {work}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
