"""Operating characteristics of the sequential accuracy gate, simulated through the gate's own decision code (no
models, no data files): each simulated data set is looked at as the gate looks at its examples (the first n_k of
one fixed order, `Schedule.sizes`), each look decided by `stats.noninferiority` at the look's nominal level
(`Schedule.nominal`), stopping at the first look that is not inconclusive: exactly what `run_gate` does with
`decide` of `assert_kick_accuracy_within`.

Per design (fixed, or K looks with O'Brien-Fleming or Pocock spending) and true drop (none, the tolerance, 3x the
tolerance): the share shown within, shown regressed and inconclusive, and the mean examples used. At the tolerance
both claims are wrong, so both shares are sizes (each should be at most alpha, up to Monte Carlo error).

    .venv/bin/python benchmarks/gate_calibration.py --sequential                 # 4000 simulations a cell: ~2 min
    .venv/bin/python benchmarks/gate_calibration.py --sequential --sims 20000    # ~10 min (standard error 0.0015)
"""

from __future__ import annotations

import argparse
import math
import time

from simulate import ALPHA

from pytest_kick.gates.sequential import Schedule
from pytest_kick.gates.stats import noninferiority

DENSE_ACC, REDRAW = 0.7, 0.5  # the dense model's accuracy; the share of answers the compressed model re-draws


def run(n: int, drop: float, tol: float, sims: int, schedule: Schedule | None, seed: int = 0, population: int = 0) -> dict:
    """Outcome shares and mean examples used over `sims` paired data sets of n answers with a true drop `drop`.
    `population` N > 0: the benchmark scope: one fixed benchmark of N items whose drop is exactly `drop` (to the
    nearest item), each data set a random order of it (the hash order's stand-in), looks drawn without replacement
    (finite-population factor; a look over all N items is exact), as the gate does under `scope='benchmark'`."""
    import numpy as np

    q = DENSE_ACC - drop / REDRAW  # accuracy on the re-drawn answers
    sizes = schedule.sizes(n) if schedule else [n]
    levels = schedule.nominal(n, ALPHA, population or None) if schedule else [ALPHA]
    if population:
        d0 = np.arange(population) < round(DENSE_ACC * population)
        c0 = d0.copy()
        c0[: round(drop * population)] = False  # the first drop * N right answers are lost
    counts, used = {"within": 0, "regressed": 0, "inconclusive": 0}, 0
    for i in range(sims):
        rng = np.random.default_rng([seed, i])
        if population:
            order = rng.permutation(population)
            d, c = d0[order], c0[order]
        else:
            d = rng.random(n) < DENSE_ACC
            c = np.where(rng.random(n) < REDRAW, rng.random(n) < q, d)
        for size, level in zip(sizes, levels):
            fpc = (population - size) / (population - 1) if population else 1.0
            exact = bool(population) and size >= population
            outcome = noninferiority(d[:size].tolist(), c[:size].tolist(), tol, level, fpc, exact).outcome
            if outcome != "inconclusive":
                break
        counts[outcome] += 1
        used += size
    return {**{k: v / sims for k, v in counts.items()}, "examples": used / sims}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sims", type=int, default=4000, help="simulated data sets per cell (default 4000)")
    ap.add_argument("--n", type=int, default=400, help="examples the fixed design uses (default 400)")
    ap.add_argument("--tol", type=float, default=0.05, help="the allowed drop (default 0.05)")
    ap.add_argument("--looks", type=int, default=4)
    ap.add_argument("--population", type=int, default=0, help="the benchmark scope: N items (looks without replacement)")
    args = ap.parse_args()
    start = time.perf_counter()
    designs = [("fixed", None), (f"{args.looks} looks, O'Brien-Fleming", Schedule(args.looks, "obrien-fleming"))]
    designs.append((f"{args.looks} looks, Pocock", Schedule(args.looks, "pocock")))
    se = math.sqrt(ALPHA * (1 - ALPHA) / args.sims)
    where = f", the benchmark scope over N = {args.population} items" if args.population else ""
    print(f"# Sequential accuracy gate: n = {args.n}{where}, allowed drop {args.tol}, alpha = {ALPHA}, {args.sims} simulations a cell")
    print(f"(dense accuracy {DENSE_ACC}, {REDRAW:.0%} of answers re-drawn; a size's standard error at alpha: {se:.4f})\n")
    print("| design | true drop | within | regressed | inconclusive | mean examples | examples saved |")
    print("|---|---|---|---|---|---|---|")
    flagged = []
    for drop_name, drop in (("none", 0.0), ("= tolerance", args.tol), ("3 x tolerance", 3 * args.tol)):
        for name, schedule in designs:
            r = run(args.n, drop, args.tol, args.sims, schedule, population=args.population)
            saved = 1 - r["examples"] / args.n
            print(
                f"| {name} | {drop_name} | {r['within']:.4f} | {r['regressed']:.4f} | {r['inconclusive']:.4f} | "
                f"{r['examples']:.0f} | {saved:.0%} |"
            )
            if drop == args.tol and max(r["within"], r["regressed"]) > ALPHA + 3 * se:
                flagged.append(f"{name}: a size above alpha + 3 standard errors")
    print("\nsizes above alpha + 3 standard errors:" + ("".join(f"\n  - {f}" for f in flagged) if flagged else " none"))
    print(f"\nwall time {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
