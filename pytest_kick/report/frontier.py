"""The frontier of a --kick-sweep run, as a terminal table and as JSON: per sweep, each candidate's size, measured
speed against the dense model, its outcome (run, or implied by the monotonicity assumption), each gate's outcome
and margin; then the answer: the most compressed candidate that passes every gate and the first that fails."""

from __future__ import annotations

from typing import Any

from ..gates.table import format_table


def _kept(spec: Any) -> tuple[float, str] | None:
    """What a candidate keeps, from its spec, relative to a 16-bit dense model and as people read it: bits per weight
    (a group's 16-bit scale included) / 16, or the share of weights kept; None where the spec does not say."""
    bits, group = getattr(spec, "bits", None), getattr(spec, "group_size", None)
    if isinstance(bits, int) and not hasattr(spec, "kv"):
        per_weight = bits + (16 / group if group else 0)
        return per_weight / 16, f"{per_weight:.2f} bits/weight"
    n, m, sparsity = getattr(spec, "n", None), getattr(spec, "m", None), getattr(spec, "sparsity", None)
    share = n / m if n and m else (1 - sparsity if sparsity is not None else None)
    return (share, f"{share:.0%} of weights") if share is not None else None


def size(spec: Any) -> str:
    """The candidate's size as the table shows it; blank where the spec does not say (then read params vs dense in
    the models table)."""
    kept = _kept(spec)
    return kept[1] if kept else ""


def size_value(spec: Any) -> float | None:
    """The candidate's size relative to a 16-bit dense model (the x of the frontier plot)."""
    kept = _kept(spec)
    return kept[0] if kept else None


def worst_margin(results: list) -> float | None:
    """The smallest margin of the candidate's accuracy gates (its bound's distance inside the allowance)."""
    values = [r.lower_bound + r.allowed_drop for r in results if r.kind == "accuracy"]
    return min(values) if values else None


def margin(result: Any) -> str:
    """A gate's outcome, and for the accuracy gate how far its bound is from the allowance (+: inside it)."""
    outcome = getattr(result, "outcome", None) or ("within" if result.passed else "FAIL")
    if result.kind == "accuracy":
        return f"{outcome} {result.lower_bound + result.allowed_drop:+.3f}"
    return outcome


def _gate_name(result: Any) -> str:
    test = result.test.split("::")[-1].split("[")[0]
    return f"{test} ({result.task})"


def sweep_json(answer: dict, sweep: Any, report: Any) -> dict:
    """The sweep's answer (`session.sweep.frontier`) with each candidate's size, speed and gates."""
    by_method: dict[str, list] = {}
    for r in report.results if report is not None else ():
        by_method.setdefault(r.method, []).append(r)
    rows = []
    for spec, cand in zip(sweep.candidates, answer["candidates"]):
        model = report.models.get(spec.id) if report is not None else None
        speed = getattr(model, "speed_vs_dense", float("nan"))
        gates = {_gate_name(r): margin(r) for r in sorted(by_method.get(spec.id, []), key=lambda r: r.test)}
        mine = by_method.get(spec.id, [])
        rows.append(
            {
                **cand, "size": size(spec), "size_value": size_value(spec), "worst_margin": worst_margin(mine),
                "speed_vs_dense": speed if speed == speed else None, "gates": gates,
            }
        )  # fmt: skip
    return {**answer, "candidates": rows}


def lines(answers: list[dict]) -> list[str]:
    """The terminal table of every sweep and its answer."""
    out: list[str] = []
    for answer in answers:
        gates = sorted({g for c in answer["candidates"] for g in c["gates"]})
        rows = [
            {
                "candidate": c["method"],
                "size": c["size"],
                "speed vs dense": f"{c['speed_vs_dense']:.2f}" if c["speed_vs_dense"] is not None else "",
                "outcome": c["status"],
                **{g: c["gates"].get(g, "") for g in gates},
            }
            for c in answer["candidates"]
        ]
        columns = [(k, k) for k in ("candidate", "size", "speed vs dense", "outcome")] + [(g, g) for g in gates]
        out += ["", f"sweep {answer['sweep']}: {answer['run']} of {len(rows)} candidates run (the rest implied)"]
        out += format_table(rows, columns)
        passes = answer["passes"] or "none of them"
        fails = f"{answer['fails']}, failed by {answer['failed_by']}" if answer["fails"] else "none of them"
        open_ = [c["method"] for c in answer["candidates"] if c["status"] == "open"]
        if open_:  # neither run to the end nor implied (-x, --maxfail, a crashed worker): no answer to give
            out.append(f"UNDETERMINED: {', '.join(open_)} neither ran every test nor is implied; the frontier below is partial")
        out.append(f"most compressed that passes every gate: {passes}; first that fails: {fails}")
        out += [f"MONOTONICITY VIOLATED: {v} (this sweep's frontier is not trusted)" for v in answer["violations"]]
    return out
