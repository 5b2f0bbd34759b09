"""Per-group safety metrics of a dense model and its compressed versions, with wall time per benchmark.

    python benchmarks/safety_table.py --methods rtn4,magnitude50 --data-dir ../shared/data \\
        --cache-dir /tmp/kick-cache --limit 100 --tasks bbq,crows_pairs,dialect_pairs --json out.json

Uses the same tasks, engine and result cache as the pytest gates (so a later pytest run with the same
--kick-cache-dir reuses every answer); `--limit` caps the examples per group (a seeded sample)."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from pytest_kick.compression import CompressionSettings, parse_specs
from pytest_kick.compression.plan import plan_method
from pytest_kick.models.handles import compressed_handle, dense_handle
from pytest_kick.runners.cache import CachedRunner, ResultCache
from pytest_kick.settings import LoadSettings
from pytest_kick.sources import parse_model_source
from pytest_kick.tasks import get_task, select_per_group


def group_metrics(task, examples, outcomes) -> dict[str, dict[str, float]]:
    rows: dict[str, list] = {}
    for ex, o in zip(examples, outcomes):
        rows.setdefault(ex.group, []).append(task.counts(ex, o))
    out = {g: {k: float(v) for k, v in task.metrics(np.sum(r, axis=0)).items()} for g, r in sorted(rows.items())}
    out["(all)"] = {k: float(v) for k, v in task.metrics(np.sum([x for r in rows.values() for x in r], axis=0)).items()}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--methods", default="rtn4,magnitude50")
    ap.add_argument("--tasks", default="bbq,crows_pairs,dialect_pairs")
    ap.add_argument("--cache-dir", required=True, type=Path)
    ap.add_argument("--data-dir", type=Path, default=None)
    ap.add_argument("--limit", type=int, default=None, help="examples per group")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()

    source = parse_model_source(args.model)
    settings = LoadSettings(device="auto", cache_dir=args.cache_dir)
    dense = dense_handle(source, settings)
    models = {"dense": dense}
    for spec in parse_specs(args.methods):
        comp = CompressionSettings(seed=args.seed)
        models[spec.id] = compressed_handle(source, dense, plan_method(spec, comp), settings, comp)
    cache = ResultCache(args.cache_dir)
    report: dict = {}
    for name in args.tasks.split(","):
        task = get_task(name)
        examples = select_per_group(task.load(args.data_dir), args.limit)
        report[name] = {"n": len(examples), "groups": {}, "seconds": {}}
        for label, handle in models.items():
            runner = CachedRunner(handle.factory(), cache)
            started = time.perf_counter()
            outcomes = task.evaluate(runner, examples)
            report[name]["seconds"][label] = round(time.perf_counter() - started, 1)
            report[name]["groups"][label] = group_metrics(task, examples, outcomes)
            if hasattr(task, "unresolved"):
                report[name]["unresolved"] = len(task.unresolved(examples))
            print(
                f"{name} {label}: {len(examples)} examples in {report[name]['seconds'][label]} s "
                f"(cache hits {runner.stats.hits}, misses {runner.stats.misses})",
                flush=True,
            )
        metrics = list(next(iter(report[name]["groups"]["dense"].values())))
        print(f"\n{name} (n={len(examples)}; limit {args.limit} per group)")
        print("group".ljust(34) + "".join(f"{m}:{lab}".rjust(22) for m in metrics for lab in models))
        for g in report[name]["groups"]["dense"]:
            cells = "".join(f"{report[name]['groups'][lab][g][m]:22.3f}" for m in metrics for lab in models)
            print(g.ljust(34) + cells)
        print(flush=True)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
