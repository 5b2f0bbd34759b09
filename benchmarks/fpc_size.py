"""The benchmark scope under a limit: the size of each gate's test with the finite-population correction.

A finite benchmark of N items whose true change (over all N) sits exactly at the tolerance; a limit keeps n of them
without replacement; the gate's own decision code runs with fpc = (N - n) / (N - 1). The share of samples shown
*within* is the size, which should be at most alpha (plus Monte Carlo error). Beside it, the same samples seen as
items from an endless population (no correction): far below alpha, the power the correction gives back.

    .venv/bin/python benchmarks/fpc_size.py            # 2000 samples for accuracy, 1000 for the bootstraps: ~2 min on 2 cores
    .venv/bin/python benchmarks/fpc_size.py --quick    # 500 / 200: ~30 s
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

from pytest_kick.gates.bootstrap import paired_cluster_bootstrap
from pytest_kick.gates.stats import mean_test, noninferiority

ALPHA = 0.05


def accuracy_population(n_items: int, margin: float) -> tuple[np.ndarray, np.ndarray]:
    """Dense right on 70%; the compressed model loses 10% of the items and gains back enough that the drop over the
    whole benchmark is exactly `margin`."""
    lost, wrong = round(0.10 * n_items), round(0.3 * n_items)
    gained = lost - round(margin * n_items)
    dense, comp = np.ones(n_items, bool), np.ones(n_items, bool)
    dense[:wrong] = comp[:wrong] = False
    comp[wrong : wrong + lost] = False
    comp[:gained] = True
    return dense, comp


def accuracy_size(n_items: int, n: int, sims: int, rng) -> tuple[float, float]:
    dense, comp = accuracy_population(n_items, 0.05)
    fpc, shown, plain = (n_items - n) / (n_items - 1), 0, 0
    for _ in range(sims):
        idx = rng.choice(n_items, n, replace=False)
        d, c = dense[idx].tolist(), comp[idx].tolist()
        shown += noninferiority(d, c, 0.05, ALPHA, fpc).passed
        plain += noninferiority(d, c, 0.05, ALPHA).passed
    return shown / sims, plain / sims


def change(d, c):
    return c[..., 1] / c[..., 0] - d[..., 1] / d[..., 0]


def score_sizes(n_items: int, n: int, sims: int, rng, tol: float = 0.05) -> tuple[float, float]:
    """A per-item score (toxicity-like) whose mean rise over the benchmark is exactly `tol`: the safety gate's
    bootstrap-t and the quality gate's mean bound, both with the correction."""
    dense = rng.beta(1, 5, n_items)
    delta = rng.normal(0, 0.1, n_items)
    delta += tol - delta.mean()
    comp, fpc = dense + delta, (n_items - n) / (n_items - 1)
    safety = quality = 0
    for s in range(sims):
        idx = rng.choice(n_items, n, replace=False)
        rows_d, rows_c = [(1.0, x) for x in dense[idx]], [(1.0, x) for x in comp[idx]]
        test = paired_cluster_bootstrap([str(i) for i in idx], rows_d, rows_c, change, tol, ALPHA, 200, seed=s, fpc=fpc)
        safety += test.outcome(ALPHA) == "within"
        drop = mean_test(list(dense[idx] - comp[idx]), ALPHA, 200, s, fpc, threshold=-tol)  # a score that falls by tol
        quality += drop.lower >= -tol
    return safety / sims, quality / sims


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    acc_sims, boot_sims = (500, 200) if args.quick else (2000, 1000)
    rng, start = np.random.default_rng(0), time.perf_counter()
    se = math.sqrt(ALPHA * (1 - ALPHA) / acc_sims)
    print(f"accuracy gate, max_drop 0.05 at the boundary: {acc_sims} samples per row (Monte Carlo error {se:.3f})")
    print("| N | n (limit) | size with the correction | as items (no correction) |")
    print("|---|---|---|---|")
    for n_items, n in ((1000, 100), (1000, 400), (1000, 800), (300, 250)):
        shown, plain = accuracy_size(n_items, n, acc_sims, rng)
        print(f"| {n_items} | {n} | {shown:.3f} | {plain:.3f} |")
    se = math.sqrt(ALPHA * (1 - ALPHA) / boot_sims)
    print(f"\nsafety (bootstrap-t) and quality (mean bound), tolerance 0.05: {boot_sims} samples per row (error {se:.3f})")
    print("| N | n (limit) | safety size | quality size |")
    print("|---|---|---|---|")
    for n_items, n in ((600, 150), (600, 450)):
        safety, quality = score_sizes(n_items, n, boot_sims, rng)
        print(f"| {n_items} | {n} | {safety:.3f} | {quality:.3f} |")
    print(f"\n{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
