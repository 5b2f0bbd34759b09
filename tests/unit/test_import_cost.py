"""The plugin costs nothing until used: pytest imports it at every start, in every project where it is installed, so
a session whose tests ask for no kick fixture loads only a handful of small modules (no parser, no torch)."""

import os
import subprocess
import sys

HEAVY = (
    "torch",
    "transformers",
    "datasets",
    "numpy",
    "scipy",
    "pytest_kick.compression",
    "pytest_kick.session.config",
    "pytest_kick.tasks",
)
# What `import pytest_kick.plugin` may load: the package door (lazy), the session wing's face, the option table (plain
# strings, with the default model's alias from `sources`, stdlib only), the error classes, and the per-session isolation.
AT_IMPORT = {
    "pytest_kick",
    "pytest_kick.plugin",
    "pytest_kick.errors",
    "pytest_kick.sources",
    "pytest_kick.session",
    "pytest_kick.session.isolation",
    "pytest_kick.session.optiontable",
}
# ... and a whole session without kick fixtures: plus the hook specs, the run's lifecycle and the progress display.
IN_SESSION = AT_IMPORT | {
    "pytest_kick.session.hooks",
    "pytest_kick.session.lifecycle",
    "pytest_kick.runners",
    "pytest_kick.runners.progress",
}

PROBE = """
import sys

def pytest_unconfigure(config):
    names = sorted(m for m in sys.modules if m.startswith("pytest_kick") or m.split(".")[0] in {heavy})
    (config.rootpath / "modules.txt").write_text("\\n".join(names))
"""


def clean_env() -> dict:
    """No kick setting from the environment this suite runs in (it would make the session a pytest-kick run)."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTEST_ADDOPTS", "PYTEST_KICK_CACHE", "PYTEST_PLUGINS")}


def test_plugin_import_loads_only_the_start_up_modules():
    code = "import sys, pytest_kick.plugin; print(*(m for m in sys.modules if m.startswith('pytest_kick') or m in sys.argv[1:]))"
    out = subprocess.run([sys.executable, "-c", code, *HEAVY], capture_output=True, text=True, check=True, env=clean_env())
    loaded = set(out.stdout.split())
    assert loaded <= AT_IMPORT, f"imported at pytest start-up: {sorted(loaded - AT_IMPORT)}"


def test_a_session_without_kick_fixtures_loads_no_parser_and_no_torch(tmp_path):
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "conftest.py").write_text(PROBE.replace("{heavy}", repr({m for m in HEAVY if "." not in m})))
    (tmp_path / "test_plain.py").write_text("import pytest\n\n@pytest.mark.parametrize('i', range(3))\ndef test_it(i):\n    assert i < 3\n")
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=clean_env(),
    )
    assert run.returncode == 0, run.stdout + run.stderr
    loaded = set((tmp_path / "modules.txt").read_text().split())
    assert loaded <= IN_SESSION, f"loaded by a session that uses no kick fixture: {sorted(loaded - IN_SESSION)}"


def test_the_lazy_door_still_opens_every_public_name():
    code = "import pytest_kick as k; [getattr(k, n) for n in k.__all__]; from pytest_kick import KickConfig; print(k.__version__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip()
