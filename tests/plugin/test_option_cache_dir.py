"""--kick-cache-dir: a second session is answered from the cache; 'none' keeps nothing."""

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
    assert not (tmp_path / "default-cache").exists()
