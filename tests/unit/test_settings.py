import pytest

from pytest_kick.errors import KickUsageError
from pytest_kick.settings import Limit, check_limit, default_cache_dir, effective_limit


def test_the_argument_wins_over_what_the_test_configured():
    configured = Limit(50, "--kick-limit")
    assert effective_limit(None, configured) is configured
    assert effective_limit(10, configured) == Limit(10, "the assertion's limit= argument")
    assert effective_limit(None, None) is None


@pytest.mark.parametrize("bad", [0, -1, 2.5, "10", True])
def test_a_limit_is_a_positive_integer_and_the_error_names_the_knob(bad):
    with pytest.raises(KickUsageError, match=rf"@pytest.mark.kick\(limit=...\) must be a positive integer, got {bad!r}"):
        check_limit(bad, "@pytest.mark.kick(limit=...)")
    with pytest.raises(KickUsageError, match="kick_limit in tox.ini must be"):
        Limit(bad, "kick_limit in tox.ini")


def test_one_default_cache_directory(monkeypatch, tmp_path):
    monkeypatch.setenv("PYTEST_KICK_CACHE", str(tmp_path / "a"))
    assert default_cache_dir() == tmp_path / "a"
    monkeypatch.delenv("PYTEST_KICK_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "pytest-kick"
