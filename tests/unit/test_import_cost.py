import subprocess
import sys


def test_plugin_import_loads_no_heavy_libraries():
    code = "import sys, pytest_kick.plugin; print(','.join(m for m in ('torch', 'transformers', 'datasets') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
