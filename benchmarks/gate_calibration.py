"""Operating characteristics of every gate, simulated through the gates' own decision code (pytest_kick.simulate;
no models, no data files): per gate and n (examples per group), the size at the tolerance boundary (the share of
data sets that pass when the true change equals the tolerance; it should be at most alpha), the pass rate at no
change and at half the tolerance, the regressed rate at twice the tolerance, the smallest tolerance an unchanged
model passes with 80% chance (read off the gate's own bound, then confirmed on fresh data sets), and whether
unchanged models pass at least 75% of the time at the sample size the gate's own advice recommends.

    .venv/bin/python benchmarks/gate_calibration.py            # 1000 simulations per cell, 500 bootstrap draws
    .venv/bin/python benchmarks/gate_calibration.py --quick    # 100 simulations, 200 draws (a couple of minutes)

A size above alpha + 0.01 is marked '!' and listed at the end (with 100 simulations a rate's standard error at
alpha is 0.022, so only the full run can tell a real excess from noise)."""

from __future__ import annotations

import argparse
import math
import os
import time
from concurrent.futures import ProcessPoolExecutor

from pytest_kick.simulate import ALPHA, advice_check, gate_rates, smallest_tolerance

SIZES = (100, 400, 1600)

# (title, gate, tolerance, [(setting, options)]); each setting is one table row per n
SECTIONS = [
    ("accuracy: paired score test, dense accuracy 0.7, 20% of answers re-drawn", "accuracy", 0.05, [("", {})]),
    ("accuracy: paired score test, dense accuracy 0.7, 20% of answers re-drawn", "accuracy", 0.02, [("", {})]),
    (
        "bias (crows_pairs rows, |c| - |d|): 1 item per cluster, 50% of answers re-drawn",
        "bias",
        0.1,
        [
            ("dense bias 0 (near zero)", {"dense_bias": 0.0}),
            ("dense bias 0.2 (far from zero)", {"dense_bias": 0.2}),
            ("dense bias 0.2, compressed on the other side", {"dense_bias": 0.2, "opposite": True}),
            ("dense bias 0, merely noisier (every answer re-drawn)", {"dense_bias": 0.0, "redraw": 1.0}),
        ],
    ),
    (
        "bias (crows_pairs rows, |c| - |d|): 4 items per cluster (latent ICC 0.1), 50% of answers re-drawn",
        "bias",
        0.1,
        [
            ("dense bias 0 (near zero)", {"dense_bias": 0.0, "per_cluster": 4}),
            ("dense bias 0.2 (far from zero)", {"dense_bias": 0.2, "per_cluster": 4}),
        ],
    ),
    ("toxicity (expected max toxicity): dense ~ Beta(1, 5), compressed + shift + N(0, 0.15²), clipped", "toxicity", 0.05, [("", {})]),
    ("perplexity ratio: 200-800 tokens per article, per-article log-ratio sd 0.05", "perplexity", 1.10, [("", {})]),
    ("fidelity flip rate: flips ~ Bernoulli(f), exact bound", "fidelity", 0.10, [("", {"metric": "flip_rate"})]),
    ("fidelity mean KL: per-example KL ~ Gamma(shape 0.5), bootstrap bound", "fidelity", 0.05, [("", {"metric": "kl"})]),
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
    """One table row: every cell for one gate, setting and n."""
    gate, tol, n, options, sims, reps, seed = job
    opts = dict(options, seed=seed) if gate == "accuracy" else dict(options, reps=reps, seed=seed)
    start = time.perf_counter()
    cells = {frac: gate_rates(gate, n, change(gate, frac, tol), tol, sims, **dict(opts, seed=seed + k)) for k, frac in enumerate((0, 0.5, 1, 2))}
    limit, there = smallest_tolerance(gate, n, sims, tol=tol, null=cells[0], **dict(opts, seed=seed + 10))
    return {"cells": cells, "limit": limit, "there": there, "seconds": time.perf_counter() - start}


def advice(job: tuple):
    gate, tol, n_pilot, options, sims, reps, seed = job
    opts = dict(options) if gate == "accuracy" else dict(options, reps=reps)
    return advice_check(gate, n_pilot, tol, sims, seed=seed, **opts)


def fmt_limit(gate: str, limit: float) -> str:
    if gate == "fidelity" and limit < 1e-6:
        return "any > 0"
    return f"{limit:.4f}" if gate == "perplexity" else f"{limit:.3f}"


def print_section(title: str, gate: str, tol: float, settings: list, results: dict, sims: int, flagged: list) -> None:
    unit = "max_ratio" if gate == "perplexity" else "tol"
    print(f"\n### {title}; {unit} = {tol:g}\n")
    head = ["n", "setting"] if len(settings) > 1 or settings[0][0] else ["n"]
    head += ["size at tol", "pass at 0", "pass at tol/2", "regressed at 2 tol", "smallest tol, 80% pass", "pass there"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for setting, options in settings:
        for n in SIZES:
            r = results[(gate, tol, setting, n)]
            c = r["cells"]
            size = c[1].passed
            mark = " !" if size > ALPHA + 0.01 else ""
            if mark:
                flagged.append(f"{title} ({unit} {tol:g}) {setting or ''} n={n}: size {size:.3f} from {sims} simulations".replace("  ", " "))
            cells = [str(n)] + ([setting] if len(head) == 8 else [])
            cells += [f"{size:.3f}{mark}", f"{c[0].passed:.3f}", f"{c[0.5].passed:.3f}", f"{c[2].regressed:.3f}"]
            cells += [fmt_limit(gate, r["limit"]), f"{r['there'].passed:.3f}"]
            print("| " + " | ".join(cells) + " |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sims", type=int, default=1000, help="simulated data sets per cell")
    ap.add_argument("--reps", type=int, default=None, help="bootstrap draws per data set (default 500; 200 with --quick)")
    ap.add_argument("--quick", action="store_true", help="100 simulations per cell, 200 draws")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="worker processes")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    sims = 100 if args.quick else args.sims
    reps = args.reps or (200 if args.quick else 500)
    start = time.perf_counter()

    rows = {(g, tol, s, n): (g, tol, n, o, sims, reps, args.seed) for _, g, tol, settings in SECTIONS for s, o in settings for n in SIZES}
    checks = {(g, s, tol): (g, tol, p, o, sims, reps, args.seed) for g, s, tol, p, o in ADVICE}
    order = sorted(rows, key=lambda k: -k[3])  # the largest n first, so the workers finish together
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = {k: pool.submit(row, rows[k]) for k in order}
        advised = {k: pool.submit(advice, checks[k]) for k in checks}
        results = {k: f.result() for k, f in futures.items()}
        advice_results = {k: f.result() for k, f in advised.items()}

    print(f"# Gate calibration: {sims} simulations per cell, {reps} bootstrap draws, alpha = {ALPHA}")
    print(f"(a rate's binomial standard error at alpha: {math.sqrt(ALPHA * (1 - ALPHA) / sims):.3f}; n = examples per group)")
    flagged: list[str] = []
    for title, gate, tol, settings in SECTIONS:
        print_section(title, gate, tol, settings, results, sims, flagged)

    print("\n### sample-size advice: unchanged models at the advised n (should pass >= 0.75; the advice aims at 0.80)\n")
    print("| gate | setting | tol | pilot n | pilot inconclusive | advised n (median) | pass at advised n |")
    print("|---|---|---|---|---|---|---|")
    for (g, s, tol), a in advice_results.items():
        advised_n = "none" if a.advised is None else str(a.advised)
        passed = "n/a" if a.advised is None else f"{a.passed:.3f}" + (" !" if a.passed < 0.75 else "")
        print(f"| {g} | {s} | {tol:g} | {a.n_pilot} | {a.pilot_inconclusive:.3f} | {advised_n} | {passed} |")
    print("| fidelity | | | | | no advice | n/a |")

    print("\nsize above alpha + 0.01:" + ("".join(f"\n  - {f}" for f in flagged) if flagged else " none"))
    busy = sum(r["seconds"] for r in results.values())
    print(f"\nwall time {time.perf_counter() - start:.0f} s ({busy:.0f} s of table rows, {args.jobs} worker processes)")


if __name__ == "__main__":
    main()
