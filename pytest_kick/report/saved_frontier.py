"""A sweep's frontier kept in a saved run (--kick-save of a --kick-sweep run) and a later release read against it
(--kick-compare): each saved answer carries a SHA-256 of its content, like a saved gate, so a frontier edited by
hand is refused at start-up; the comparison says where this run's methods stand against the saved frontier."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..errors import KickUsageError
from .integrity import checksum

_ANSWER = {"sweep": str, "candidates": list, "passes": (str, type(None)), "fails": (str, type(None)), "failed_by": str, "run": int}


def saved(frontier: Sequence[dict]) -> list[dict]:
    """The answers as a saved run holds them: each with its checksum."""
    return [{**answer, "checksum": checksum(answer)} for answer in frontier]


def read(raw: Any, where: str) -> list[dict]:
    """A saved run's frontier, checked: a list of answers of the right shape whose checksums match (absent: [])."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise KickUsageError(f"{where}: 'frontier' must be a list of sweep answers")
    out = []
    for i, answer in enumerate(raw):
        if not isinstance(answer, dict) or any(not isinstance(answer.get(k), t) for k, t in _ANSWER.items()):
            raise KickUsageError(f"{where}: frontier[{i}] is malformed (it needs {', '.join(_ANSWER)})")
        if answer.get("checksum") != checksum(answer):
            raise KickUsageError(f"{where}: frontier[{i}] ({answer['sweep']}) was changed after it was saved (its checksum does not match)")
        out.append({k: v for k, v in answer.items() if k != "checksum"})
    return out


def _by_method(answer: dict) -> dict[str, dict]:
    return {c["method"]: c for c in answer["candidates"] if isinstance(c, dict) and "method" in c}


def lines(name: str, frontier: Sequence[dict], results: Sequence[Any]) -> list[str]:
    """Per saved sweep, its answer; then each method of this run with its size (from its spec), whether all its
    gates passed, and where it stands against the saved frontier's most compressed passing candidate."""
    from ..compression import parse_spec
    from .frontier import size, size_value

    out = []
    methods = sorted({r.method for r in results})
    for answer in frontier:
        best = _by_method(answer).get(answer["passes"] or "", {})
        fails = f"{answer['fails']} fails first" if answer["fails"] else "none fails"
        head = f"{name}'s frontier of {answer['sweep']}: "
        out.append(head + (f"{answer['passes']} ({best.get('size', '')}) passes every gate; {fails}" if best else f"none passes; {fails}"))
        for method in methods:
            try:
                spec = parse_spec(method)
            except KickUsageError:
                continue
            mine, theirs = size_value(spec), best.get("size_value")
            passed = all(r.passed for r in results if r.method == method)
            where = ""
            if mine is not None and isinstance(theirs, (int, float)):
                where = "more compressed than" if mine < theirs else ("as compressed as" if mine == theirs else "less compressed than")
                where = f", {where} {answer['passes']}"
            verdict = "passes every gate" if passed else "fails a gate"
            out.append(f"  this run's {method} ({size(spec) or 'size not known from its spec'}) {verdict}{where}")
    return out
