"""The run's outputs: the typed run report each process keeps (workers hand theirs to the controller), the
--kick-report / --kick-html / --kick-save files written at the end, and the terminal summary."""

from __future__ import annotations

import json
from typing import Any

import pytest

REPORT_KEY = pytest.StashKey[Any]()  # the RunReport, made when a gate first records (the plugin stays light)
LOST_KEY = pytest.StashKey[list]()  # the output files that could not be written at the end, with why


def run_report(config: pytest.Config):
    """This process's typed run report (workers hand theirs to the controller at the end)."""
    if REPORT_KEY not in config.stash:
        from ..report.run import RunReport

        config.stash[REPORT_KEY] = RunReport()
    return config.stash[REPORT_KEY]


def recorder(config: pytest.Config, node: pytest.Item, compressed: Any, dense: Any = None):
    """What a kick_pair test's gates record with: the run report, and the test's JUnit XML properties (the summary
    row, every group's row, and how this process got its compressed model). `compressed` and `dense` are model
    handles: their facts are read as each gate records, so a model's speed counts the work done by then."""

    def record(result: Any) -> None:
        facts = compressed.snapshot()
        run_report(config).add(result, facts, dense.snapshot() if dense is not None else None)
        for key, value in result.summary().items():
            node.user_properties.append((f"kick_{key}", value))
        node.user_properties.append(("kick_rows", json.dumps(result.rows())))
        for key in ("backend", "build", "compress_s"):
            if getattr(facts, key) not in ("", None):
                node.user_properties.append((f"kick_{key}", getattr(facts, key)))

    return record


def worker_output(config: pytest.Config, kick: Any) -> None:
    """An xdist worker's report and saved gates, serialised for the controller."""
    if REPORT_KEY in config.stash:
        config.workeroutput["kick_report"] = json.dumps(run_report(config).to_json())
    if kick.save is not None or kick.compare is not None:
        from ..report import baseline

        config.workeroutput.update(baseline.worker_output(config))


def node_down(node: Any) -> None:
    """A worker finished: merge what it handed over."""
    output = getattr(node, "workeroutput", {})
    if output.get("kick_report"):
        from ..report.run import RunReport

        run_report(node.config).merge(RunReport.from_json(json.loads(output["kick_report"])))
    if output.get("kick_saved"):
        from ..report import baseline

        baseline.merge_worker(node.config, output)


def write_files(config: pytest.Config, kick: Any) -> None:
    """--kick-save (and the comparison lines), --kick-html and --kick-report, each written atomically. A write that
    fails now (a full disk, a folder removed since start-up) loses only that file: the others are still written and
    the summary still printed, with the reason (`LOST_KEY`)."""
    lost = config.stash.setdefault(LOST_KEY, [])
    compared: list[str] = []
    if kick.save is not None or kick.compare is not None:
        from ..report import baseline

        try:
            compared = baseline.finish(config, kick.save, run_report(config).frontier)
        except OSError as exc:
            lost.append(f"--kick-save {kick.save}: {exc.strerror or exc}")
    if kick.html is not None:
        from ..report.html import render

        _write(lost, "--kick-html", kick.html, render(run_report(config), compared))
    if kick.markdown is not None:
        from ..report.markdown import render_markdown

        _write(lost, "--kick-markdown", kick.markdown, render_markdown(run_report(config), compared))
    if kick.report is not None:
        _write(lost, "--kick-report", kick.report, json.dumps(run_report(config).to_json(), indent=1, allow_nan=False) + "\n")


def _write(lost: list[str], flag: str, path: Any, text: str) -> None:
    from ..files import write_atomic

    try:
        write_atomic(path, text)
    except OSError as exc:
        lost.append(f"{flag} {path}: {exc.strerror or exc}")


def terminal_summary(terminalreporter: Any, config: pytest.Config, kick: Any) -> None:
    lines = config.stash[REPORT_KEY].lines() if REPORT_KEY in config.stash else []
    if lines:
        terminalreporter.write_sep("=", "pytest-kick summary")
        terminalreporter.write_line("\n".join(lines))
    if kick.save is not None or kick.compare is not None:
        from ..report import baseline

        baseline.summary(config, terminalreporter, kick.compare_fail)
        saved = config.stash.get(baseline.BASELINE_KEY, None)
        if saved is not None and saved.frontier:  # a release read against a saved sweep's frontier
            from ..report.saved_frontier import lines

            terminalreporter.write_line("\n".join(lines(saved.name, saved.frontier, run_report(config).results)))
    if kick.pair_any and any(p.is_checkpoint for p in kick.plans):
        terminalreporter.write_line(
            "pytest-kick: --kick-pair-any: the --kick-compressed model was not checked against --kick-model (tokenizer, architecture)"
        )
    lost = config.stash.get(LOST_KEY, [])
    for label, path in (("report", kick.report), ("HTML report", kick.html), ("Markdown report", kick.markdown)):
        if path is not None and not any(line.startswith("--kick-") and str(path) in line for line in lost):
            terminalreporter.write_line(f"pytest-kick {label}: {path}")
    for line in lost:
        terminalreporter.write_line(f"pytest-kick: NOT WRITTEN: {line}", red=True)
