"""Operating characteristics of every gate, simulated through the gates' own decision code (pytest_kick.gates.simulate;
no models, no data files): per gate and n (examples per group), the size at the tolerance boundary (the share of
data sets that pass when the true change equals the tolerance; it should be at most alpha), the pass rate at no
change and at half the tolerance, the regressed rate at twice the tolerance, the smallest tolerance an unchanged
model passes with 80% chance (read off the gate's own bound, then confirmed on fresh data sets), and whether
unchanged models pass at least 75% of the time at the sample size the gate's own advice recommends. These are
per check, for examples or clusters drawn from a wider population (the `items` and `clusters` scopes);
`--gate-level` prints whole-gate rates on the real benchmark files for every scope.

    .venv/bin/python benchmarks/gate_calibration.py --quick                  # 100 simulations, 200 draws, n = 100, 400: ~2 min
    .venv/bin/python benchmarks/gate_calibration.py --only-size --reps 200   # 1000 simulations, sizes only: ~15 min
    .venv/bin/python benchmarks/gate_calibration.py --sims 300 --reps 200    # every table: ~20 min
    .venv/bin/python benchmarks/gate_calibration.py                          # 1000 simulations, 500 draws: hours
    .venv/bin/python benchmarks/gate_calibration.py --sequential             # the sequential accuracy gate: ~2 min
    .venv/bin/python benchmarks/gate_calibration.py --gate-level --quick     # whole gates on the real files, per scope
                                                                             # (benchmarks/gate_level.py): ~10-18 min

(times on 2 cores; the studentized cluster bootstrap at n = 1600 is what takes them, most of all at the boundary,
where it doubles its draws up to 16 x reps)

A size above alpha + 0.01 is marked '!' and listed at the end (with 100 simulations a rate's standard error at
alpha is 0.022, so only the full run, 0.007, can tell a real excess from noise)."""

from __future__ import annotations

import argparse
import hashlib
import math
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from simulate import ALPHA, advice_check, gate_rates, smallest_tolerance

from pytest_kick.tasks import get_task

SIZES, QUICK_SIZES = (100, 400, 1600), (100, 400)
QUICK_SIMS = 100

FULL, EDGE = (0, 0.5, 1, 2), (0, 1)  # the true changes (in tolerances) a row simulates: all, or no change and the boundary

# (title, gate, tolerance, [(setting, options, changes)]); each setting is one table row per n
SECTIONS = [
    ("accuracy: paired score test, dense accuracy 0.7, 20% of answers re-drawn", "accuracy", 0.05, [("", {}, FULL)]),
    ("accuracy: paired score test, dense accuracy 0.7, 20% of answers re-drawn", "accuracy", 0.02, [("", {}, FULL)]),
    (
        "bias (crows_pairs rows, |c| - |d|): 1 item per cluster, 50% of answers re-drawn",
        "bias",
        0.1,
        [
            ("dense bias 0 (near zero)", {"dense_bias": 0.0}, FULL),
            ("dense bias 0.2 (far from zero)", {"dense_bias": 0.2}, FULL),
            ("dense bias 0.2, compressed on the other side", {"dense_bias": 0.2, "opposite": True}, EDGE),
            ("dense bias 0, merely noisier (every answer re-drawn)", {"dense_bias": 0.0, "redraw": 1.0}, EDGE),
        ],
    ),
    (
        "bias (crows_pairs rows, |c| - |d|): 4 items per cluster (latent ICC 0.1), 50% of answers re-drawn",
        "bias",
        0.1,
        [
            ("dense bias 0 (near zero)", {"dense_bias": 0.0, "per_cluster": 4}, FULL),
            ("dense bias 0.2 (far from zero)", {"dense_bias": 0.2, "per_cluster": 4}, FULL),
        ],
    ),
    ("toxicity (expected max toxicity): dense ~ Beta(1, 5), compressed + shift + N(0, 0.15²), clipped", "toxicity", 0.05, [("", {}, FULL)]),
    ("perplexity ratio: 200-800 tokens per article, per-article log-ratio sd 0.05", "perplexity", 1.10, [("", {}, FULL)]),
    ("fidelity flip rate: flips ~ Bernoulli(f), exact bound", "fidelity", 0.10, [("", {"metric": "flip_rate"}, FULL)]),
    ("fidelity mean KL: per-example KL ~ Gamma(shape 0.5), bootstrap bound", "fidelity", 0.05, [("", {"metric": "kl"}, FULL)]),
    (
        "generation quality: paired bootstrap-t of mean(compressed - dense) per-example score",
        "quality",
        0.03,
        [
            ("ROUGE-like: 30% of examples lose Exp(drop/0.3)", {"shape": "rouge"}, FULL),
            ("ICR-QA gap: rare discrete one-point losses", {"shape": "gap"}, FULL),
        ],
    ),
]

# (gate, setting, tolerance, n_pilot, options): pilots chosen so that unchanged models are mostly inconclusive
ADVICE = [
    ("accuracy", "", 0.05, 100, {}),
    ("accuracy", "", 0.02, 400, {}),
    ("bias", "dense bias 0", 0.1, 100, {"dense_bias": 0.0}),
    ("bias", "dense bias 0.2", 0.1, 100, {"dense_bias": 0.2}),
    ("bias", "dense bias 0.2, 4 per cluster", 0.1, 100, {"dense_bias": 0.2, "per_cluster": 4}),
    ("toxicity", "", 0.05, 30, {}),
    ("perplexity", "", 1.02, 20, {}),
]


def change(gate: str, frac: float, tol: float) -> float:
    """A true change of `frac` tolerances (for the perplexity ratio: max_ratio ** frac)."""
    return tol**frac if gate == "perplexity" else frac * tol


def row(job: tuple) -> dict:
    """One table row: every cell for one gate, setting and n, and the smallest tolerance confirmed."""
    gate, tol, n, options, fracs, sims, reps, seed = job
    opts = dict(options) if gate == "accuracy" else dict(options, reps=reps)
    start = time.perf_counter()
    cells = {frac: gate_rates(gate, n, change(gate, frac, tol), tol, sims, seed=seed + k, **opts) for k, frac in enumerate(fracs)}
    if 0 not in cells:  # --only-size
        return {"cells": cells, "seconds": time.perf_counter() - start}
    limit, there, runs = smallest_tolerance(gate, n, sims, tol=tol, null=cells[0], seed=seed + 10, **opts)
    return {"cells": cells, "limit": limit, "there": there, "runs": runs, "seconds": time.perf_counter() - start}


def advice(job: tuple):
    gate, tol, n_pilot, options, sims, reps, seed = job
    opts = dict(options) if gate == "accuracy" else dict(options, reps=reps)
    return advice_check(gate, n_pilot, tol, sims, seed=seed, **opts)


def fmt_limit(gate: str, limit: float) -> str:
    if gate == "fidelity" and limit < 1e-6:
        return "any > 0"
    return f"{limit:.4f}" if gate == "perplexity" else f"{limit:.3f}"


def print_section(index: int, results: dict, sims: int, sizes: tuple, flagged: list) -> None:
    title, gate, tol, settings = SECTIONS[index]
    unit = "max_ratio" if gate == "perplexity" else "tol"
    print(f"\n### {title}; {unit} = {tol:g}\n")
    named = any(setting for setting, _, _ in settings)
    head = ["n", "setting"] if named else ["n"]
    head += ["size at tol", "pass at 0", "pass at tol/2", "pass at 2 tol", "regressed at 2 tol", "smallest tol, 80% pass", "pass there"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for setting, _, _ in settings:
        for n in sizes:
            r = results[(index, setting, n)]
            c = r["cells"]
            size = c[1].passed
            mark = " !" if size > ALPHA + 0.01 else ""
            if mark:
                where = f"{title}, {unit} {tol:g}" + (f", {setting}" if setting else "")
                flagged.append(f"{where}, n={n}: size {size:.3f} from {sims} simulations")
            cells = [str(n)] + ([setting] if named else [])
            cells += [f"{size:.3f}{mark}", f"{c[0].passed:.3f}"]
            cells += [f"{c[0.5].passed:.3f}" if 0.5 in c else "-"]
            cells += [f"{c[2].passed:.3f}", f"{c[2].regressed:.3f}"] if 2 in c else ["-", "-"]
            again = " (2nd run)" if r["runs"] > 1 else ""
            cells += [fmt_limit(gate, r["limit"]), f"{r['there'].passed:.3f}{again}" + (" !" if r["there"].passed < 0.75 else "")]
            print("| " + " | ".join(cells) + " |")


def print_sizes(index: int, results: dict, sims: int, sizes: tuple, flagged: list) -> None:
    """--only-size: the share of data sets that pass (and that are shown regressed) when the true change is the tolerance."""
    title, gate, tol, settings = SECTIONS[index]
    unit = "max_ratio" if gate == "perplexity" else "tol"
    print(f"\n### {title}; {unit} = {tol:g}\n")
    print("| n | setting | size at tol | regressed at tol |\n|---|---|---|---|")
    for setting, _, _ in settings:
        for n in sizes:
            c = results[(index, setting, n)]["cells"][1]
            mark = " !" if c.passed > ALPHA + 0.01 else ""
            if mark:
                where = f"{title}, {unit} {tol:g}" + (f", {setting}" if setting else "")
                flagged.append(f"{where}, n={n}: size {c.passed:.3f} from {sims} simulations")
            print(f"| {n} | {setting} | {c.passed:.3f}{mark} | {c.regressed:.3f} |")


def print_advice(results: dict) -> None:
    print("\n### sample-size advice: unchanged models at the advised n (should pass >= 0.75; the advice aims at 0.80)\n")
    print("| gate | setting | tol | pilot n | pilot inconclusive | advised n (median) | pass at advised n |")
    print("|---|---|---|---|---|---|---|")
    for (g, s, tol), a in results.items():
        advised_n = "none" if a.advised is None else str(a.advised)
        passed = "n/a" if a.advised is None else f"{a.passed:.3f}" + (" !" if a.passed < 0.75 else "")
        print(f"| {g} | {s} | {tol:g} | {a.n_pilot} | {a.pilot_inconclusive:.3f} | {advised_n} | {passed} |")
    print("| fidelity | | | | | no advice | n/a |")


def fingerprint() -> str:
    """Short hashes of the decision code simulated (it is being worked on: say which version these numbers are of)."""
    root = Path(__file__).resolve().parents[1] / "pytest_kick" / "gates"
    names = ("stats.py", "bootstrap.py", "safety.py", "fidelity.py", "results.py")
    return ", ".join(f"{p.name} {hashlib.sha256(p.read_bytes()).hexdigest()[:10]}" for p in (root / n for n in names) if p.is_file())


def main() -> None:
    if "--gate-level" in sys.argv:  # the whole bias gate on the real benchmark files, per scope: gate_level.py
        import gate_level

        sys.argv.remove("--gate-level")
        gate_level.main()
        return
    if "--sequential" in sys.argv:  # the sequential accuracy gate's looks: sequential_oc.py
        import sequential_oc

        sys.argv.remove("--sequential")
        sequential_oc.main()
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sims", type=int, default=None, help="simulated data sets per cell (default 1000; 100 with --quick)")
    ap.add_argument("--reps", type=int, default=None, help="bootstrap draws per data set (default 500; 200 with --quick)")
    ap.add_argument("--quick", action="store_true", help=f"{QUICK_SIMS} simulations per cell, 200 draws, n = 100 and 400 only")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="worker processes")
    ap.add_argument("--only-size", action="store_true", help="only the size at the boundary (the cells that matter most)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    sims = args.sims or (QUICK_SIMS if args.quick else 1000)
    reps = args.reps or (200 if args.quick else 500)
    sizes = QUICK_SIZES if args.quick else SIZES
    start, code = time.perf_counter(), fingerprint()  # hashed now: the code may change while this runs
    for name in ("crows_pairs", "realtoxicityprompts", "wikitext2"):
        get_task(name)  # imported once here, so every worker runs the same code

    rows = {
        (i, s, n): (g, tol, n, o, fracs, sims, reps, args.seed)
        for i, (_, g, tol, settings) in enumerate(SECTIONS)
        for s, o, fracs in settings
        for n in sizes
    }
    if args.only_size:
        rows = {k: job[:4] + ((1,),) + job[5:] for k, job in rows.items()}
    checks = {(g, s, tol): (g, tol, p, o, sims, reps, args.seed) for g, s, tol, p, o in ADVICE} if not args.only_size else {}
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = {k: pool.submit(row, rows[k]) for k in sorted(rows, key=lambda k: -k[2])}  # the largest n first
        advised = {k: pool.submit(advice, checks[k]) for k in checks}
        results, advice_results = {}, {}
        for done, (k, f) in enumerate(futures.items(), 1):
            results[k] = f.result()
            print(f"[{time.perf_counter() - start:.0f} s] row {done} of {len(futures)} done", file=sys.stderr, flush=True)
        advice_results = {k: f.result() for k, f in advised.items()}

    print(f"# Gate calibration: {sims} simulations per cell, {reps} bootstrap draws, alpha = {ALPHA}")
    print(f"(a rate's binomial standard error at alpha: {math.sqrt(ALPHA * (1 - ALPHA) / sims):.3f}; n = examples per group)")
    print(f"decision code: {code}")
    if not args.only_size:
        print("pass there: the share of fresh unchanged data sets that pass at that smallest tolerance (should be >= 0.75)")
    flagged: list[str] = []
    for index in range(len(SECTIONS)):
        (print_sizes if args.only_size else print_section)(index, results, sims, sizes, flagged)
    if advice_results:
        print_advice(advice_results)
    print("\nsize above alpha + 0.01:" + ("".join(f"\n  - {f}" for f in flagged) if flagged else " none"))
    busy = sum(r["seconds"] for r in results.values())
    print(f"\nwall time {time.perf_counter() - start:.0f} s ({busy:.0f} s of table rows, {args.jobs} worker processes)")


if __name__ == "__main__":
    main()
