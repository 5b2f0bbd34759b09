"""The compression frontier on the default model: the example project's suite swept over RTN bits and magnitude
sparsity (`--kick-sweep`, bisection, with sequential gates and --kick-fail-fast), against running every candidate's
full suite (`--kick-method` with every candidate, fixed-size gates). Each arm starts from its own empty cache, so
both pay the GGUF conversion, the compressions and the dense answers they need.

Printed per arm: wall time, candidates compressed, gates run, examples evaluated (the sum of the gates' n), and
requests computed (the per-example results the engine wrote to the cache: its forward work), then the frontier each
arm finds (the full run's is read off every candidate's outcomes) and the ratios.

    .venv/bin/python benchmarks/frontier.py                         # --kick-limit=50: ~25 min on 2 cores
    .venv/bin/python benchmarks/frontier.py --limit 20 --tests test_knowledge.py
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROJECT = ROOT / "example_project"
SWEEP = "rtn{8,6,4,3};magnitude{20..70:10}"


def candidates(sweep: str) -> list[list[str]]:
    sys.path.insert(0, str(ROOT))
    from pytest_kick.session.sweep import parse_sweeps

    return [s.ids for s in parse_sweeps(sweep)]


def arm(args: list[str], cache: Path, report: Path, tests: list[str]) -> dict:
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--kick-cache-dir={cache}", f"--kick-report={report}"]
    start = time.perf_counter()
    done = subprocess.run([*cmd, *args, *tests], cwd=PROJECT, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if not report.exists():
        raise SystemExit(f"no report from {' '.join(cmd + args)}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    data = json.loads(report.read_text())
    return {
        "wall": wall,
        "compressed": sum(1 for p in (cache / "compressed").glob("*") if p.is_dir()),
        "gates": len(data["results"]),
        "examples": sum(examples(r) for r in data["results"]),
        "requests": sum(1 for _ in (cache / "results").rglob("*.json")),
        "results": data["results"],
        "frontier": data.get("frontier", []),
        "tail": done.stdout.splitlines()[-1] if done.stdout else "",
    }


def examples(result: dict) -> int:
    """The examples a gate evaluated: its n, or for a safety gate the sum over its groups."""
    if "n" in result:
        return result["n"]
    return sum({c["group"]: c["n"] for c in result.get("checks", ())}.values())


def full_frontier(results: list[dict], ids: list[str]) -> tuple[str | None, str | None]:
    """(most compressed passing before the first failing candidate, first failing) from every candidate's gates."""
    passed = {m: all(r["passed"] for r in results if r["method"] == m) for m in ids}
    first_fail = next((i for i, m in enumerate(ids) if not passed[m]), None)
    best = ids[first_fail - 1] if first_fail not in (None, 0) else (ids[-1] if first_fail is None else None)
    return best, ids[first_fail] if first_fail is not None else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=50, help="examples per task (the demo's 50)")
    ap.add_argument("--sweep", default=SWEEP)
    ap.add_argument("--tests", nargs="*", default=[], help="test files of the example project (default: all)")
    args = ap.parse_args()
    groups = candidates(args.sweep)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        limit = f"--kick-limit={args.limit}"
        sweep = [f"--kick-sweep={args.sweep}", "--kick-sequential=on", "--kick-fail-fast", limit]
        swept = arm(sweep, tmp / "a", tmp / "a.json", args.tests)
        methods = ",".join(m for ids in groups for m in ids)
        full = arm([f"--kick-method={methods}", limit], tmp / "b", tmp / "b.json", args.tests)
    print(f"# Frontier on SmolLM2-135M (default model), example project, --kick-limit={args.limit}, sweep {args.sweep}\n")
    print("| arm | wall s | candidates compressed | gates run | examples evaluated | requests computed |")
    print("|---|---|---|---|---|---|")
    for name, r in (("sweep (bisection, sequential, fail-fast)", swept), ("every candidate, full suite", full)):
        print(f"| {name} | {r['wall']:.0f} | {r['compressed']} | {r['gates']} | {r['examples']} | {r['requests']} |")
    print(
        f"\nfull / sweep: wall {full['wall'] / swept['wall']:.2f}x, examples {full['examples'] / max(1, swept['examples']):.2f}x, "
        f"requests {full['requests'] / max(1, swept['requests']):.2f}x\n"
    )
    for ids, answer in zip(groups, swept["frontier"]):
        best, fails = full_frontier(full["results"], ids)
        agree = "agree" if (answer["passes"], answer["fails"]) == (best, fails) else "DISAGREE"
        print(f"{answer['sweep']}: sweep says {answer['passes']} passes, {answer['fails']} fails ({answer['run']} of {len(ids)} run);")
        print(f"  every candidate run says {best} passes, {fails} fails: {agree}; violations: {answer['violations'] or 'none'}")
    print(f"\nlast lines: sweep '{swept['tail']}', full '{full['tail']}'")


if __name__ == "__main__":
    main()
