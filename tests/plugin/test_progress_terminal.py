"""Long model work shows its progress on the terminal, as a user runs pytest: never for short work, never under -q,
never in a test's captured output or JUnit XML; on a terminal one line rewritten in place; under xdist whole lines
tagged with the worker."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

# A runner that takes 2 ms a request: 300 requests are five chunks of at most 64, about 0.6 s in all.
SLOW_TESTS = """
import time

from pytest_kick import LoglikelihoodRequest, ModelPair
from pytest_kick.testing import FakeRunner


class Slow(FakeRunner):
    def loglikelihood(self, requests):
        time.sleep(0.002 * len(requests))
        return super().loglikelihood(requests)


def work():
    pair = ModelPair(Slow(), Slow(), method="rtn4")
    return pair.dense_runner.loglikelihood([LoglikelihoodRequest(f"Q{i}?", " a") for i in range(300)])


def test_passes():
    assert len(work()) == 300


def test_fails():
    print("USER OUTPUT")
    work()
    assert False


def test_capsys(capsys):
    print("USER OUTPUT")
    work()
    assert capsys.readouterr().out == "USER OUTPUT\\n"
"""

FIRST = "kick: dense loglikelihood 64/300 requests, * s so far, estimating the time left"  # a rate needs two measurements
LAST = "kick: dense loglikelihood 300/300 requests, */s, done in * s"


@pytest.fixture
def slow_tests(pytester, monkeypatch):
    monkeypatch.delenv("PYTEST_KICK_PROGRESS", raising=False)
    monkeypatch.setenv("PYTEST_KICK_PROGRESS_AFTER", "0")  # show even this short work
    return pytester.makepyfile(test_slow=SLOW_TESTS)


def kick_lines(text: str) -> list[str]:
    return [ln for ln in text.replace("\r", "\n").splitlines() if "kick: dense" in ln]


def test_long_work_shows_progress_on_the_terminal_only(pytester, slow_tests):
    junit = pytester.path / "junit.xml"
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", f"--junitxml={junit}", "-o", "junit_logging=all")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines([FIRST, LAST])
    assert len(kick_lines(result.stdout.str())) == 6  # a first and a final line for each of the three tests
    captured = result.stdout.str().split("Captured stdout call")[1].split("short test summary")[0]
    assert "USER OUTPUT" in captured and "kick:" not in captured
    xml = junit.read_text()
    assert "USER OUTPUT" in xml and "kick:" not in xml  # JUnit has the test's own output, not the progress
    assert "kick:" not in result.stderr.str()


def test_short_work_shows_nothing(pytester, slow_tests, monkeypatch):
    monkeypatch.delenv("PYTEST_KICK_PROGRESS_AFTER")  # the default: a few seconds
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, failed=1)
    assert kick_lines(result.stdout.str()) == []


@pytest.mark.parametrize("how", [("-q",), ("-qq",), ("env",)])
def test_quiet_runs_show_nothing(pytester, slow_tests, monkeypatch, how):
    if how == ("env",):
        monkeypatch.setenv("PYTEST_KICK_PROGRESS", "0")
        how = ()
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", *how)
    assert result.ret == pytest.ExitCode.TESTS_FAILED  # -qq prints no summary line to count outcomes from
    assert "kick:" not in result.stdout.str() + result.stderr.str()


def test_on_a_terminal_one_line_is_rewritten_in_place(pytester, slow_tests):
    """Run under a pseudo-terminal, as a person at a shell would."""
    pty = pytest.importorskip("pty")
    main, sub = pty.openpty()
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-k", "passes", str(slow_tests)]
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=sub, stderr=sub, cwd=pytester.path)
    os.close(sub)
    chunks = []
    while True:
        try:
            data = os.read(main, 65536)
        except OSError:  # the terminal closes when the run ends
            break
        if not data:
            break
        chunks.append(data)
    os.close(main)
    assert proc.wait(timeout=60) == 0
    out = b"".join(chunks).decode(errors="replace")
    assert "\rkick: dense loglikelihood 300/300 requests" in out  # the final line rewrites the last progress line
    shown = out[out.index("kick: dense") : out.index("300/300 requests")]
    assert "\r" in shown and "\n" not in shown  # one line, rewritten: never a new line per update


def test_under_xdist_each_worker_writes_tagged_lines(pytester, slow_tests):
    pytest.importorskip("xdist")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2")
    result.assert_outcomes(passed=2, failed=1)
    result.stderr.fnmatch_lines([f"[[]gw?[]] {LAST}"])
    tagged = [ln for ln in result.stderr.str().splitlines() if "kick: dense" in ln]
    assert len(tagged) == 6 and all(ln.startswith(("[gw0] ", "[gw1] ")) for ln in tagged)
    assert "kick:" not in result.stdout.str()
