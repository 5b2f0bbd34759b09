"""--kick-fail-fast: once a gate has shown a method regressed, that method's remaining kick tests in the run are
skipped with the reason, so a broken candidate costs one gate, not the suite. The mark is a file in the session's
temporary folder, which the xdist workers share (theirs are subfolders of the controller's): a method shown
regressed on one worker is skipped on every other from then on; tests already running finish."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..fingerprint import digest


def folder(run: Any) -> Path:
    return run.scratch("kick-regressed")


def _file(run: Any, method: str) -> Path:
    return folder(run) / f"{digest(method)[:16]}.txt"


def mark(run: Any, method: str, test: str) -> None:
    """`method` was shown regressed by `test` (the first such test is kept)."""
    path = _file(run, method)
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(f"{method}\n{test}\n", encoding="utf-8")
    os.replace(tmp, path)


def reason(run: Any, method: str) -> str | None:
    """Why this method's test is skipped; None when no gate has shown it regressed in this run."""
    try:
        _, test = _file(run, method).read_text(encoding="utf-8").splitlines()[:2]
    except (OSError, ValueError):
        return None
    return f"--kick-fail-fast: method '{method}' was already shown regressed by {test}; its remaining gates are skipped"


def failed(run: Any, exc: BaseException | None) -> None:
    """A kick test failed with `exc`: when it is a gate whose checks were shown regressed, its method is marked (a
    regression the test expected, inside pytest.raises or an xfail test, never reaches here)."""
    result = getattr(exc, "result", None)
    if result is not None and "regressed" in result.outcomes().values():
        mark(run, result.method, result.test)
