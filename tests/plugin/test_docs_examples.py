"""Every test file the front page and the manual show runs as a user would run it (pytest, the plugin, a real tiny
model): each of its tests reaches a verdict (a pass, or a gate's own regression failure) or is skipped for a stated
reason; none errors, none fails for any other cause."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
VERDICTS = ("AccuracyRegression", "FidelityRegression", "QualityRegression", "SafetyRegression")


def shown_test_files() -> list[tuple[str, str]]:
    """(page, source) of every Python block that is a test file using a kick fixture."""
    out = []
    for page in PAGES:
        for block in re.findall(r"^```python\n(.*?)^```", page.read_text(), flags=re.S | re.M):
            if re.search(r"def test_\w+\(kick_", block):
                out.append((page.name, block))
    return out


def test_the_pages_show_test_files():
    assert {page for page, _ in shown_test_files()} >= {"README.md", "index.md", "gate-safety.md"}


@pytest.mark.slow
@pytest.mark.parametrize("page,source", shown_test_files(), ids=[f"{p}-{i}" for i, (p, _) in enumerate(shown_test_files())])
def test_a_shown_test_file_runs_to_verdicts(pytester, random_model_dir, tmp_path_factory, page, source):
    pytester.makepyfile(test_shown=source)
    cache = tmp_path_factory.mktemp("kick-cache")
    args = [f"--kick-model={random_model_dir}", "--kick-method=rtn8", "--kick-limit=8", f"--kick-cache-dir={cache}"]
    result = pytester.runpytest_subprocess(*args, "--kick-device=cpu", "-p", "no:cacheprovider", "-rs")
    outcomes = result.parseoutcomes()
    text = result.stdout.str()
    assert outcomes.get("errors", 0) == 0 and result.ret in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED), text
    failures = re.findall(r"^E\s+(\w+(?:Error|Regression|Exception))\b", text, flags=re.M)
    assert set(failures) <= set(VERDICTS), f"{page}: a shown test failed for another reason than its gate: {failures}\n{text}"
    for reason in re.findall(r"^SKIPPED .*$", text, flags=re.M):
        assert "judge" in reason, f"{page}: skipped without a judge being the reason: {reason}"
    assert sum(outcomes.get(k, 0) for k in ("passed", "failed", "skipped")) == source.count("def test_")
