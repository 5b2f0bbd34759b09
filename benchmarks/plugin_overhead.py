"""What the plugin costs a suite that never uses it: a suite of trivial tests timed with pytest-kick installed and
with `-p no:kick`, interleaved, and the modules the plugin imports (by `import pytest_kick.plugin`, and in a whole
pytest session that asks for no kick fixture).

    python benchmarks/plugin_overhead.py --tests 200 --repeats 15 [--compile-every-run]

Modules are compiled once and their bytecode reused, as in an installed package (in a temporary pycache prefix,
whatever PYTHONDONTWRITEBYTECODE says); --compile-every-run keeps this environment's setting instead (with
PYTHONDONTWRITEBYTECODE=1 every run compiles pytest-kick's source again). On a busy machine read the medians (and
the load printed with them); the goal is a ratio <= 1.03."""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PYTEST = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
SESSION_PROBE = """
import sys

def pytest_sessionfinish(session):
    names = sorted(m for m in sys.modules if m.startswith("pytest_kick"))
    (session.config.rootpath / "modules.txt").write_text("\\n".join(names) + "\\n" + "ALL=" + str(len(sys.modules)) + "\\n")
"""


def write_suite(folder: Path, n_tests: int) -> None:
    (folder / "pytest.ini").write_text("[pytest]\n")  # the rootdir is this folder, whatever encloses it
    body = "".join(f"def test_{i}():\n    assert {i} + 1 == {i + 1}\n\n\n" for i in range(n_tests))
    (folder / "test_trivial.py").write_text(body)


ENV = dict(os.environ)


def run_once(folder: Path, extra: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one pytest process; CPU time is what other jobs on the machine disturb least."""
    before, start = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    subprocess.run(PYTEST + extra, cwd=folder, check=True, capture_output=True, env=ENV)
    wall, after = time.perf_counter() - start, resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def timings(folder: Path, repeats: int) -> dict[str, list[tuple[float, float]]]:
    """{"on": with the plugin, "off": without}: interleaved, the order alternating each round so drift hits both."""
    run_once(folder, [])  # warm the file cache and the .pyc files
    run_once(folder, ["-p", "no:kick"])
    runs: dict[str, list[tuple[float, float]]] = {"on": [], "off": []}
    for i in range(repeats):
        pair = [("on", []), ("off", ["-p", "no:kick"])]
        for name, extra in pair if i % 2 == 0 else reversed(pair):
            runs[name].append(run_once(folder, extra))
    return runs


def import_modules(folder: Path) -> tuple[list[str], int]:
    """pytest_kick modules, and all modules new after `import pytest`, that `import pytest_kick.plugin` loads."""
    code = (
        "import sys, pytest; before = set(sys.modules); import pytest_kick.plugin; new = set(sys.modules) - before; "
        "print(len(new)); print('\\n'.join(sorted(m for m in new if m.startswith('pytest_kick'))))"
    )
    run = subprocess.run([sys.executable, "-c", code], cwd=folder, check=True, capture_output=True, text=True, env=ENV)
    out = run.stdout.split()
    return out[1:], int(out[0])


def session_modules(n_tests: int) -> dict[str, tuple[list[str], int]]:
    """The pytest_kick modules loaded by the end of a session of trivial tests, and how many modules in all, with
    the plugin and without it."""
    out = {}
    for name, extra in (("on", []), ("off", ["-p", "no:kick"])):
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            write_suite(folder, n_tests)
            (folder / "conftest.py").write_text(SESSION_PROBE)
            subprocess.run(PYTEST + extra, cwd=folder, check=True, capture_output=True, env=ENV)
            lines = (folder / "modules.txt").read_text().split()
            out[name] = ([m for m in lines if not m.startswith("ALL=")], int(lines[-1].removeprefix("ALL=")))
    return out


def report(runs: dict[str, list[tuple[float, float]]], load: tuple, n_tests: int) -> None:
    cache = "every run compiles (PYTHONDONTWRITEBYTECODE=1)" if ENV.get("PYTHONDONTWRITEBYTECODE") else "bytecode cached"
    print(f"{n_tests} trivial tests, {len(runs['on'])} interleaved runs each: {' '.join(PYTEST[2:])}; {cache}")
    for k, what in enumerate(("wall", "CPU")):
        on, off = ([r[k] for r in runs[name]] for name in ("on", "off"))
        med_on, med_off = statistics.median(on), statistics.median(off)
        paired = statistics.median(a / b for a, b in zip(on, off))
        print(f"  {what:4}  with pytest-kick median {med_on:.3f} s (min {min(on):.3f}); -p no:kick {med_off:.3f} s (min {min(off):.3f})")
        ratios = f"of medians {med_on / med_off:.3f}, of minima {min(on) / min(off):.3f}, median of paired ratios {paired:.3f}"
        print(f"        ratio {ratios} (goal <= 1.03)")
    (b1, b5, b15), (a1, a5, a15) = load
    print(f"  load average (1, 5, 15 min): before {b1:.2f} {b5:.2f} {b15:.2f}, after {a1:.2f} {a5:.2f} {a15:.2f}; {os.cpu_count()} CPUs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--compile-every-run", action="store_true", help="keep PYTHONDONTWRITEBYTECODE as it is")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, tempfile.TemporaryDirectory() as pycache:
        if not args.compile_every_run:
            ENV.pop("PYTHONDONTWRITEBYTECODE", None)
            ENV["PYTHONPYCACHEPREFIX"] = pycache  # the bytecode goes here, not into the source tree
        write_suite(Path(tmp), args.tests)
        load_before = os.getloadavg()
        runs = timings(Path(tmp), args.repeats)
        report(runs, (load_before, os.getloadavg()), args.tests)
        kick, new = import_modules(Path(tmp))
        print(f"import pytest_kick.plugin: {len(kick)} pytest_kick modules, {new} modules new after `import pytest`")
        print(f"  {', '.join(kick)}")
        session = session_modules(args.tests)
    on_names, on_all = session["on"]
    extra = on_all - session["off"][1]
    print(f"a session of trivial tests: {len(on_names)} pytest_kick modules; {on_all} modules in all ({extra:+d} against -p no:kick)")
    print(f"  {', '.join(on_names)}")


if __name__ == "__main__":
    main()
