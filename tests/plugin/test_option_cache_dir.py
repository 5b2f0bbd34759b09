"""--kick-cache-dir: a second session is answered from the cache; 'none' keeps nothing."""

from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def test_second_session_is_answered_from_the_cache(pytester, kick_args, gate_file):
    first = pytester.runpytest(*kick_args, "--kick-method=rtn8", "-s")
    first.assert_outcomes(passed=1)
    first.stdout.fnmatch_lines(["*LOADS 1 1 40*"])
    second = pytester.runpytest(*kick_args, "--kick-method=rtn8", "-s")
    second.assert_outcomes(passed=1)
    second.stdout.fnmatch_lines(["*LOADS 0 0 40*"])  # no model was loaded: every answer came from the cache


def test_none_caches_nothing_between_sessions(pytester, kick_args, gate_file, monkeypatch, tmp_path):
    monkeypatch.setenv("PYTEST_KICK_CACHE", str(tmp_path / "default-cache"))
    args = [a for a in kick_args if not a.startswith("--kick-cache-dir")] + ["--kick-cache-dir=none", "--kick-method=rtn8", "-s"]
    for _ in range(2):
        result = pytester.runpytest(*args)
        result.assert_outcomes(passed=1)
        result.stdout.fnmatch_lines(["*LOADS 1 1 40*"])  # loaded and evaluated again: nothing was kept
        # the compressed model lived in the session's temporary folder, removed when the session ended
        assert not list(Path(pytester.path.parent).glob("**/kick-models/*")), "the session's scratch models were kept"
    assert not (tmp_path / "default-cache").exists()


def test_kill_9_during_compression_and_result_writes_leaves_nothing_after_the_next_start(pytester, kick_args, gate_file, tmp_path):
    """SIGKILL in the middle of building the compressed model and in the middle of writing a result: the rerun gives
    the verdicts of an undisturbed run, and its start sweeps every temp file the killed runs left."""
    import os
    import signal
    import subprocess
    import sys

    cache = Path(next(a for a in kick_args if a.startswith("--kick-cache-dir")).split("=", 1)[1])
    clean = [a for a in kick_args if not a.startswith("--kick-cache-dir")] + [f"--kick-cache-dir={tmp_path / 'clean'}"]
    reference = pytester.runpytest(*clean, "--kick-method=magnitude50", f"--kick-report={tmp_path / 'reference.json'}")
    reference.assert_outcomes(passed=1)
    pytester.makeconftest(KILLER)
    for moment, left in (("write", "results"), ("compress", "compressed")):
        env = {**os.environ, "KICK_KILL_AT": moment}
        env = {k: v for k, v in env.items() if not k.startswith("PYTEST_XDIST")}
        run = subprocess.run(
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *kick_args, "--kick-method=magnitude50", "-s"],
            cwd=pytester.path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert run.returncode == -signal.SIGKILL, run.stdout + run.stderr
        assert list((cache / left).rglob(".tmp-*")), f"the run killed during {moment} left no temp file to sweep"
    (pytester.path / "conftest.py").unlink()
    rerun = pytester.runpytest(*kick_args, "--kick-method=magnitude50", f"--kick-report={tmp_path / 'rerun.json'}")
    rerun.assert_outcomes(passed=1)
    assert not list(cache.rglob(".tmp-*")), "the next start left temp files behind"
    import json

    def gates(name):  # every gate's typed result: verdict, numbers, per-example evidence
        return json.loads((tmp_path / name).read_text())["results"]

    assert gates("reference.json") and gates("reference.json") == gates("rerun.json")


# In the killed runs: SIGKILL this process at the named moment, the way an OOM killer or a cancelled CI job does.
KILLER = """
import os, signal

moment = os.environ.get("KICK_KILL_AT")
if moment == "compress":
    from pytest_kick.compression import prune

    real = prune.magnitude_compress

    def killed(model, spec, ctx):
        (ctx.out_dir / "model-00001.safetensors").write_bytes(b"half a shard")
        os.kill(os.getpid(), signal.SIGKILL)

    prune.magnitude_compress = killed
elif moment == "write":
    from pytest_kick import files

    real_replace = os.replace
    seen = []

    def replace(src, dst):
        if str(dst).endswith(".json") and "/results/" in str(dst):
            seen.append(dst)
            if len(seen) == 5:  # mid-way through the results: the temp file is written, the rename never happens
                os.kill(os.getpid(), signal.SIGKILL)
        return real_replace(src, dst)

    files.os.replace = replace
"""
