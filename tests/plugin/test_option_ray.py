"""--kick-ray: the tiny-model suite evaluated by replicas on a real local Ray cluster gives the per-example results
of a local run (the same cache entries, byte for byte), also when a replica is killed mid-run, and under xdist
(the controller starts one cluster, the workers join it)."""

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # starts a Ray cluster and runs real (tiny) models

pytest.importorskip("ray")

KILLER = """
import os, signal, threading, time
from pathlib import Path

import psutil

KILLED = []


def _replicas():
    # only this run's cluster (started by this process): other tests' replicas may be running on the machine
    out = []
    for p in psutil.Process().children(recursive=True):
        try:
            cmd = p.cmdline()
        except psutil.Error:
            continue
        if cmd and cmd[0].startswith("ray::Replica"):
            out.append(p)
    return out


def _hunt():
    # SIGKILL the first replica seen answering a shard (its process title is ray::Replica.run meanwhile)
    deadline = time.time() + 600
    while time.time() < deadline and not KILLED:
        procs = _replicas()
        for _ in range(40):
            for p in procs:
                try:
                    if p.cmdline()[0].startswith("ray::Replica.run"):
                        os.kill(p.pid, signal.SIGKILL)
                        KILLED.append(p.pid)
                        return
                except (psutil.Error, IndexError):
                    pass
            time.sleep(0.002)


def pytest_sessionstart(session):
    threading.Thread(target=_hunt, daemon=True).start()


def pytest_sessionfinish(session):
    Path("killed.txt").write_text(" ".join(map(str, KILLED)))
"""


def run(pytester, fact_setup, cache: Path, *extra):
    model_dir, data_dir = fact_setup
    report = cache.with_suffix(".json")
    args = [f"--kick-model={model_dir}", f"--kick-data-dir={data_dir}", f"--kick-cache-dir={cache}", "--kick-method=rtn4,rtn8"]
    result = pytester.runpytest_subprocess(*args, f"--kick-report={report}", "-p", "no:hypothesispytest", "-p", "no:anyio", *extra)
    return result, json.loads(report.read_text())


def results(report: dict) -> list:
    """Every gate's per-example outcome and numbers (the models' build times aside)."""
    return sorted(json.dumps(r, sort_keys=True) for r in report["results"])


def entries(cache: Path) -> dict[str, bytes]:
    return {p.relative_to(cache).as_posix(): p.read_bytes() for p in (cache / "results").rglob("*") if p.is_file()}


@pytest.fixture
def local(pytester, fact_setup, tmp_path):
    result, report = run(pytester, fact_setup, tmp_path / "local")
    result.assert_outcomes(passed=2)
    return report, entries(tmp_path / "local")


def test_replicas_on_a_local_cluster_give_the_local_runs_results(pytester, fact_setup, tmp_path, gate_file, local):
    result, report = run(pytester, fact_setup, tmp_path / "ray", "--kick-ray=local", "--kick-ray-replicas=2")
    result.assert_outcomes(passed=2)
    assert results(report) == results(local[0])
    assert entries(tmp_path / "ray") == local[1]  # the same keys and the same answers: either run serves the other
    assert all("2 Ray replica(s)" in m["evaluated_on"] for m in report["models"]), report["models"]
    # the replicas loaded the models, not this process: their parameters still reach the report
    params = {m["method"]: m["params"] for m in report["models"]}
    assert all(n > 0 for n in params.values()) and params == {m["method"]: m["params"] for m in local[0]["models"]}, params


def test_a_replica_killed_mid_run_costs_only_its_shard(pytester, fact_setup, tmp_path, gate_file, local):
    pytester.makeconftest(KILLER)
    result, report = run(pytester, fact_setup, tmp_path / "ray", "--kick-ray=local", "--kick-ray-replicas=2")
    result.assert_outcomes(passed=2)
    assert (pytester.path / "killed.txt").read_text().strip(), "no replica was seen answering a shard"
    result.stdout.fnmatch_lines(["*a Ray replica died while answering shard*; its work goes to another replica*"])
    assert results(report) == results(local[0])
    assert entries(tmp_path / "ray") == local[1]  # nothing lost, nothing counted twice


def test_under_xdist_the_workers_join_one_cluster_the_controller_started(pytester, fact_setup, tmp_path, gate_file, local):
    pytest.importorskip("xdist")
    result, report = run(pytester, fact_setup, tmp_path / "ray", "--kick-ray=local", "-n", "2", "--dist", "loadgroup")
    result.assert_outcomes(passed=2)
    assert results(report) == results(local[0])
    assert entries(tmp_path / "ray") == local[1]
    # each worker's pool took its share of the machine's CPUs (one cluster; not one per worker)
    import os

    share = max(1, (os.cpu_count() or 1) // 2)
    assert all(f"{share} Ray replica(s)" in m["evaluated_on"] for m in report["models"]), report["models"]
