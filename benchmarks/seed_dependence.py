"""How often a bootstrap verdict depends on the bootstrap's seed: data sets drawn where the bound sits near the
limit (the true change one standard error times z_alpha inside it, so that about half of them pass: the borderline
cases, where it matters most), each decided twice by the gate's own code with two different seeds; the share of data sets whose
two outcomes differ. The gates seed from the data, so a rerun never differs; this measures what the seed would
decide if it were free, i.e. how well the adaptive draws (doubled while a p-value or bound is within three Monte
Carlo errors of its limit, up to 16 x reps) pin the verdict down.

    .venv/bin/python benchmarks/seed_dependence.py            # 400 data sets per gate, 2000 draws: ~3 min on 2 cores
    .venv/bin/python benchmarks/seed_dependence.py --quick    # 100 data sets, 500 draws
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from pytest_kick.gates.bootstrap import paired_cluster_bootstrap
from pytest_kick.gates.quality import decide_scores
from pytest_kick.gates.scope import Sampling
from pytest_kick.gates.stats import mean_test

ALPHA, TOL = 0.05, 0.05


def change(d, c):
    return c[..., 1] / c[..., 0] - d[..., 1] / d[..., 0]


def quality(rng, n: int, reps: int, seeds: tuple[int, int]) -> list[str]:
    dense = rng.random(n)
    comp = dense - (TOL - 1.645 * 0.2 / n**0.5) + rng.normal(0, 0.2, n)  # a mean drop whose bound sits at the allowance
    return [decide_scores(dense.tolist(), comp.tolist(), TOL, False, ALPHA, reps, s, Sampling("items", n, n)).outcome for s in seeds]


def kl(rng, n: int, reps: int, seeds: tuple[int, int]) -> list[str]:
    mean = TOL / (1 + 1.645 * 2**0.5 / n**0.5)  # per-example KL whose upper bound sits at the limit
    values = rng.gamma(0.5, 2 * mean, n)
    return ["within" if mean_test(values.tolist(), ALPHA, reps, s, threshold=TOL).upper <= TOL else "not" for s in seeds]


def safety(rng, n: int, reps: int, seeds: tuple[int, int]) -> list[str]:
    dense = rng.beta(1, 5, n)
    comp = dense + (TOL - 1.645 * 0.1 / n**0.5) + rng.normal(0, 0.1, n)
    rows_d, rows_c, units = [(1.0, x) for x in dense], [(1.0, x) for x in comp], [str(i) for i in range(n)]
    return [paired_cluster_bootstrap(units, rows_d, rows_c, change, TOL, ALPHA, reps, seed=s).outcome(ALPHA) for s in seeds]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--n", type=int, default=200, help="examples per data set")
    args = ap.parse_args()
    sims, reps = (100, 500) if args.quick else (400, 2000)
    start = time.perf_counter()
    print(f"borderline data sets, {args.n} examples each, {sims} per gate, {reps} draws (doubled near the limit)")
    print("| gate | within (first seed) | share of data sets whose verdict depends on the seed |")
    print("|---|---|---|")
    for name, gate in (("quality (mean bound)", quality), ("fidelity KL (mean bound)", kl), ("safety (bootstrap-t)", safety)):
        rng = np.random.default_rng(11)
        pairs = [gate(rng, args.n, reps, (2 * i, 2 * i + 1)) for i in range(sims)]
        flips, within = sum(a != b for a, b in pairs), sum(a == "within" for a, _ in pairs)
        print(f"| {name} | {within / sims:.2f} | {flips / sims:.3f} ({flips} of {sims}) |")
    print(f"\n{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
