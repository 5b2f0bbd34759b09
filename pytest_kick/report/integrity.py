"""A saved run is compared only as it was written: each gate's checksum over its content, and every example's
fields and their types, checked on read (a file edited into "all wrong" would let a worse release pass)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..errors import KickUsageError


def checksum(gate: Mapping[str, Any]) -> str:
    """SHA-256 of a gate's content (every field but the checksum itself), as canonical JSON."""
    import hashlib

    body = {k: v for k, v in gate.items() if k != "checksum"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False, allow_nan=False).encode()).hexdigest()


_FIELDS = {  # every field of a saved example and the types it may hold (checked before a comparison trusts it)
    "id": (str,), "correct": (bool,), "score": (int, float, type(None)), "prediction": (str,), "reference": (str,),
    "choice": (int, type(None)), "scores": (list,), "values": (dict,),
}  # fmt: skip


def checked_gate(raw: Any, index: int, where: str) -> dict:
    if not isinstance(raw, Mapping):
        raise KickUsageError(f"{where}: gates[{index}] is not an object")
    name = f"gates[{index}] ({raw.get('test')}, {raw.get('task')})"
    if raw.get("checksum") != checksum(raw):
        raise KickUsageError(
            f"{where}: {name} was changed after it was saved (its checksum does not match its content): "
            "a saved run is compared only as it was written; run that release again with --kick-save"
        )
    bad = _bad_gate_field(raw)
    if bad:
        raise KickUsageError(f"{where}: {name}.{bad}")
    examples = raw.get("examples")
    if not isinstance(examples, list):
        raise KickUsageError(f"{where}: {name}.examples is not a list")
    seen: set = set()
    for j, ex in enumerate(examples):
        bad = _bad_field(ex)
        if bad:
            raise KickUsageError(f"{where}: {name}.examples[{j}].{bad}")
        if ex["id"] in seen:
            raise KickUsageError(f"{where}: {name}: example {ex['id']!r} is saved twice")
        seen.add(ex["id"])
    return {k: v for k, v in raw.items() if k != "checksum"}


_GATE_FIELDS = {  # allowed is null for a gate with one limit per metric (fidelity)
    "test": (str,), "kind": (str,), "task": (str,), "method": (str,), "model": (str,),
    "allowed": (int, float, type(None)), "alpha": (int, float),
}  # fmt: skip


def _bad_gate_field(raw: Mapping[str, Any]) -> str:
    """The first field of a saved gate that is missing or of the wrong type, in words ('' when it is sound)."""
    for key, types in _GATE_FIELDS.items():
        if key not in raw:
            return f"{key}: missing"
        value = raw[key]
        if not isinstance(value, types) or isinstance(value, bool):
            return f"{key}: expected {'a number' if key in ('allowed', 'alpha') else 'a string'}, got {value!r}"[:200]
    if not (0 < raw["alpha"] < 1) or not (raw["allowed"] is None or raw["allowed"] >= 0):
        return f"alpha/allowed: expected 0 < alpha < 1 and allowed >= 0, got {raw['alpha']!r} / {raw['allowed']!r}"
    return ""


def _bad_field(ex: Any) -> str:
    """The first field of a saved example that is missing or of the wrong type, in words ('' when it is sound)."""
    if not isinstance(ex, Mapping):
        return "is not an object"
    for key, types in _FIELDS.items():
        if key not in ex:
            if key in ("reference", "choice", "scores", "values"):
                continue  # optional: defaults
            return f"{key}: missing"
        value = ex[key]
        if not isinstance(value, types) or (key != "correct" and isinstance(value, bool)):
            return f"{key}: expected {' or '.join(t.__name__ for t in types)}, got {value!r}"[:200]
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in ex.get("scores", [])):
        return "scores: expected a list of numbers"
    return ""
