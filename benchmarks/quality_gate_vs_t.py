"""Why the generation-quality gate uses a paired bootstrap-t and not a paired t-test: the size of each at the
tolerance boundary (true mean drop = max_drop, so every pass is a false pass) on skewed per-example score
differences, where most examples do not move and a few lose a lot (ROUGE of summaries, judge scores).

    python benchmarks/quality_gate_vs_t.py            # 600 simulations per cell, a few minutes on 2 cores
    python benchmarks/quality_gate_vs_t.py --sims 200

Prints, per setting, the false-pass rate of the one-sided paired t lower bound and of the gate's bootstrap-t
(`stats.mean_bounds`, as `quality.decide_scores` calls it), at alpha = 0.05."""

from __future__ import annotations

import argparse
import math

import numpy as np
from scipy import stats as st

from pytest_kick.gates.stats import mean_bounds

SETTINGS = [  # (label, n, share of examples that move, tolerance)
    ("30% move, n=50", 50, 0.3, 0.03),
    ("30% move, n=100", 100, 0.3, 0.03),
    ("30% move, n=300", 300, 0.3, 0.03),
    ("10% move, n=100", 100, 0.1, 0.03),
]


def draw(rng, n: int, share: float, drop: float):
    dense = rng.beta(2, 5, size=n)
    moved = rng.random(n) < share
    loss = np.where(moved, rng.exponential(drop / share, size=n), 0.0)  # E[loss] = drop
    return dense, dense - loss + rng.normal(0, 0.02, size=n)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sims", type=int, default=600)
    ap.add_argument("--reps", type=int, default=1000)
    args = ap.parse_args()
    print(f"{'setting':<20} {'paired t':>9} {'bootstrap-t':>12}   (false-pass rate at the boundary, alpha 0.05, {args.sims} sims)")
    for label, n, share, tol in SETTINGS:
        t_pass = boot_pass = 0
        for i in range(args.sims):
            rng = np.random.default_rng([5, i])
            d, c = draw(rng, n, share, tol)
            x = c - d
            t_lower = x.mean() - st.t.ppf(0.95, n - 1) * x.std(ddof=1) / math.sqrt(n)
            boot_lower, _ = mean_bounds(x.tolist(), 0.05, reps=args.reps, seed=i)
            t_pass += t_lower > -tol
            boot_pass += boot_lower > -tol
        se = math.sqrt(0.05 * 0.95 / args.sims)
        print(f"{label:<20} {t_pass / args.sims:>9.3f} {boot_pass / args.sims:>12.3f}   (binomial SE at 0.05: {se:.3f})")


if __name__ == "__main__":
    main()
