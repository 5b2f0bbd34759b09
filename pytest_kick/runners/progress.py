"""Progress of long model work on the terminal (requests done / total, rate, time left), shown only once the work
has run a few seconds, never into captured test output or JUnit XML."""

from __future__ import annotations

import math
import os
import re
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import contextmanager, nullcontext
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pytest

ENV = "PYTEST_KICK_PROGRESS"  # "0" (or "off", "no", "false") turns progress off
ENV_AFTER = "PYTEST_KICK_PROGRESS_AFTER"  # seconds of work before the first line (default 2)
AFTER_S = 2.0
LINE_EVERY_S = 5.0  # the least time between two lines when they cannot be rewritten in place (logs, xdist)
REWRITE_EVERY_S = 0.2  # ... and between two rewrites of one terminal line
GRAIN = 64  # chunks are multiples of this: of any power-of-two batch size up to 64, and of the engine's auto batch
MAX_CHUNK = 1024
UPDATES = 20  # about this many chunks (so updates) per piece of work


def duration(seconds: float) -> str:
    """`0.6 s`, `18 s`, `3 min 20 s`, `2 h 05 min`: as precise as people read them."""
    if seconds < 9.95:
        return f"{max(0.0, seconds):.1f} s"
    s = round(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


def rate(per_s: float) -> str:
    """Requests per second with about three significant digits: `350/s`, `35.2/s`, `0.35/s`."""
    if per_s >= 100:
        return f"{per_s:.0f}/s"
    if per_s >= 1:
        return f"{per_s:.1f}/s"
    return f"{per_s:.2f}/s"


def line(label: str, done: int, total: int, elapsed: float, final: bool = False, unit: str = "requests", per_s: float | None = None) -> str:
    """`kick: <label> 120/400 requests, 35.2/s, ~8 s left`; the final one says how long it took instead. `per_s`:
    the throughput measured so far (default: done / elapsed); 0 when it cannot be measured yet (no estimate)."""
    head = f"kick: {label} {done}/{total} {unit}"
    if elapsed <= 0 or done <= 0:
        return head + (f", {duration(elapsed)}" if final else "")
    if final:
        return f"{head}, {rate(done / elapsed)}, done in {duration(elapsed)}"
    per_s = done / elapsed if per_s is None else per_s
    if per_s <= 0:
        return f"{head}, {duration(elapsed)} so far, estimating the time left"
    return f"{head}, {rate(per_s)}, ~{duration((total - done) / per_s)} left"


def fit(text: str, width: int) -> str:
    """`text` in `width` columns, the model's label shortened in the middle; a rewritten line must never wrap."""
    if len(text) <= width:
        return text
    counts = re.search(r" \d+/\d+ \w+", text)
    tail = text[counts.start() :] if counts else ""
    room = width - len(tail) - 3
    return text[:room] + "..." + tail if room >= 12 else text[: width - 3] + "..."


def chunk_size(total: int, batch: int | str | None = None) -> int:
    """About 1/20 of the work, rounded up to a multiple of the batch size (of 64 when it is unknown or `auto`), at
    least one batch of 64 and at most 1,024 requests (more only to stay a multiple of a large batch)."""
    grain = batch if isinstance(batch, int) and batch > 0 else GRAIN
    if grain < GRAIN:
        grain *= math.ceil(GRAIN / grain)
    want = min(max(math.ceil(total / UPDATES), GRAIN), MAX_CHUNK)
    return max(grain, math.ceil(want / grain) * grain)


class Display:
    """Writes progress lines for one pytest session where its own output goes, with capture suspended (so never
    into a test's captured output or JUnit XML): through pytest's terminal reporter, rewriting one line in place on
    a terminal; on an xdist worker, whose stdout goes nowhere, as whole lines `[gw0] kick: ...` on its stderr, which
    the worker shares with the controller."""

    def __init__(self, plugins: Callable[[str], Any], worker: str | None, after: float = AFTER_S) -> None:
        self.plugins = plugins  # looked up when first needed: the terminal reporter registers after this plugin
        self.worker = worker
        self.after = after
        self._open: object | None = None  # the task whose line is the terminal's current line (rewritable)
        self._resume: object = None

    @classmethod
    def for_config(cls, config: pytest.Config) -> Display | None:
        """None when quiet: `-q`, or PYTEST_KICK_PROGRESS=0."""
        if os.environ.get(ENV, "").strip().lower() in ("0", "off", "no", "false") or config.get_verbosity() < 0:
            return None
        try:
            after = float(os.environ.get(ENV_AFTER, AFTER_S))
        except ValueError:
            after = AFTER_S
        return cls(config.pluginmanager.get_plugin, getattr(config, "workerinput", {}).get("workerid"), after)

    @property
    def in_place(self) -> bool:
        reporter = self.plugins("terminalreporter")
        return self.worker is None and reporter is not None and bool(reporter.isatty())

    @property
    def every(self) -> float:
        return REWRITE_EVERY_S if self.in_place else LINE_EVERY_S

    def show(self, task: object, text: str, final: bool) -> None:
        tr, capman = self.plugins("terminalreporter"), self.plugins("capturemanager")
        if self.worker is None and tr is None:  # -p no:terminal
            return
        with capman.global_and_fixture_disabled() if capman is not None else nullcontext():
            if self.worker is not None:
                sys.stderr.write(f"[{self.worker}] {text}\n")
                sys.stderr.flush()
                return
            if self._open is not task:
                self._resume = tr.currentfspath  # what pytest had begun on its line: a file, or a test (-v)
                tr.ensure_newline()
                tr.write(fit(text, shutil.get_terminal_size().columns - 1) if self.in_place else text)
            elif self.in_place:
                tr.rewrite(fit(text, shutil.get_terminal_size().columns - 1), erase=True)
            else:
                tr.write("\n" + text)
            tr.currentfspath = -2  # pytest's own mark for "something is on this line": its next output starts anew
            if final:
                self._give_back(tr)
            tr.flush()
            self._open = None if final else task

    def _give_back(self, tr: Any) -> None:
        """Without -v pytest writes a test's letter (`.`, `F`) straight after whatever is on the line: begin its
        file's line again for it, as pytest would. With -v it starts the test's line anew by itself."""
        if isinstance(self._resume, os.PathLike):
            tr.write("\n" + os.path.relpath(self._resume, tr.startpath) + " ")
            tr.currentfspath = self._resume


class Task:
    """One piece of work of `total` units (requests, layers, windows): `advance(n)` as they finish, `finish()` at
    the end. Lines appear only once it has run `display.after` seconds, then at most every `display.every` seconds,
    and a final line. The time left is estimated from the throughput measured since the first advance, so what
    came before it (loading a model, a first call's warm-up) never inflates the estimate."""

    def __init__(
        self, display: Display | None, label: str, total: int, clock: Callable[[], float] = time.monotonic, unit: str = "requests"
    ) -> None:
        self.display, self.label, self.total, self.clock, self.unit = display, label, total, clock, unit
        self.done = 0
        self.started = clock()
        self.shown_at: float | None = None
        self.first: tuple[float, int] | None = None  # (time, done) at the first advance: where throughput is measured from

    def per_s(self, now: float) -> float:
        """Units a second since the first advance (0: not measurable yet)."""
        if self.first is None or now <= self.first[0] or self.done <= self.first[1]:
            return 0.0
        return (self.done - self.first[1]) / (now - self.first[0])

    def advance(self, n: int) -> None:
        self.done += n
        now = self.clock()
        if self.first is None:
            self.first = (now, self.done)
        if self.display is None or self.done >= self.total or now - self.started < self.display.after:
            return
        if self.shown_at is None or now - self.shown_at >= self.display.every:
            self.shown_at = now
            text = line(self.label, self.done, self.total, now - self.started, unit=self.unit, per_s=self.per_s(now))
            self.display.show(self, text, final=False)

    def finish(self) -> None:
        elapsed = self.clock() - self.started
        if self.display is not None and (self.shown_at is not None or elapsed >= self.display.after):
            self.display.show(self, line(self.label, self.done, self.total, elapsed, final=True, unit=self.unit), final=True)


# The displays of the pytest sessions running in this process, innermost last (pytester nests sessions). Module
# state, against the house habit of config.stash, because the result cache that reports knows no config; each
# entry lives exactly as long as its session (install / config cleanup).
_SESSIONS: list[list[Display | None]] = []


def install(config: pytest.Config) -> None:
    """From pytest_configure: this session's long work reports to its terminal (removed again at its cleanup)."""
    slot = [Display.for_config(config)]
    _SESSIONS.append(slot)
    config.add_cleanup(lambda: _SESSIONS.remove(slot))


def current() -> Display | None:
    """The innermost session's display; None outside pytest or when that session is quiet."""
    return _SESSIONS[-1][0] if _SESSIONS else None


@contextmanager
def track(label: str, total: int, live: bool = False, unit: str = "requests"):
    """`with track("tiny [rtn4] generate", 400) as task: ... task.advance(n)`: for code that learns of finished
    requests itself (a pool of workers) and so needs no chunks. With `live`, `advance(n)` (and `Share`) from
    anywhere in this thread report to it while it is open: a runner that computes one call in many forwards reports
    as they end. Without it, such reports go nowhere (the caller counts; nothing is counted twice)."""
    task = Task(current(), label, total, unit=unit)
    _ACTIVE.append(task if live else None)
    try:
        yield task
    finally:
        _ACTIVE.pop()
    task.finish()


_ACTIVE: list[Task | None] = []  # the tracked work now running, innermost last (None: its caller counts)


def advance(n: int) -> None:
    """`n` more requests of the tracked work now running are done (nothing when none is tracked)."""
    if _ACTIVE and _ACTIVE[-1] is not None and n > 0:
        _ACTIVE[-1].advance(n)


class Share:
    """A runner's progress in its own units (rows scored, prompts finished) reported as the call's requests:
    `Share(len(requests), units)`, then `add(k)` as k units end."""

    def __init__(self, requests: int, units: int = 0) -> None:
        self.requests, self.units, self.done, self.reported = requests, units, 0, 0

    def add(self, k: int) -> None:
        self.done += k
        now = self.requests if self.units <= 0 else self.requests * min(self.done, self.units) // self.units
        if now > self.reported:
            advance(now - self.reported)
            self.reported = now


def chunked(compute: Callable[[list], list], requests: Sequence, label: str, batch: int | str | None = None, live: bool = False) -> list:
    """`compute(requests)` in chunks (see `chunk_size`), reporting progress after each (work of one chunk gets
    only the final line, when it took long); the results, in order. With `live` (a runner that reports its own
    progress, see `Share`: the engine), one call: chunks would cut shared contexts and prefix groups apart.

    Results are per request, so they are those of one call up to batch composition: decisions (argmax choice,
    greedy text) are identical, and scores move at most as a different batch size moves them (a request meets
    other neighbours in its batch and prefix group; float noise, never a decision: bit-identical on CPU in our
    tests). The chunks depend only on the number of requests and `batch`, never on verbosity, the terminal or
    xdist, so a quiet run computes exactly what a loud one does."""
    requests = list(requests)
    if not requests:
        return list(compute(requests))
    if live:  # the runner reports as its forwards end: one call, laid out as it likes
        with track(label, len(requests), live=True) as task:
            results = list(compute(requests))
            if len(results) != len(requests):
                raise ValueError(f"{label}: the runner returned {len(results)} results for {len(requests)} requests")
            task.done = len(requests)
        return results
    size = chunk_size(len(requests), batch)
    out: list = []
    with track(label, len(requests)) as task:
        for at in range(0, len(requests), size):
            part = requests[at : at + size]
            results = list(compute(part))
            if len(results) != len(part):  # a runner owes one result per request
                raise ValueError(f"{label}: the runner returned {len(results)} results for {len(part)} requests")
            out += results
            task.advance(len(part))
    return out


def announce(text: str) -> None:
    """A long step that reports no progress of its own begins: one line at once (where progress lines go)."""
    display = current()
    if display is not None:
        display.show(object(), text, final=True)


def each(items: Sequence, label: str, unit: str):
    """`for layer in each(layers, "compress rtn4", "layers"): ...`: the items, with progress as each one ends."""
    with track(label, len(items), unit=unit) as task:
        for item in items:
            yield item
            task.advance(1)


@contextmanager
def through_tqdm(module: Any, label: str, unit: str):
    """A library's own loop over `tqdm(items)` in `module` reported as ours while the block runs (its bar would go
    to stderr, into a test's captured output): e.g. transformers converting a GGUF file tensor by tensor."""
    original = getattr(module, "tqdm", None)
    if original is None:  # the library changed: no progress, nothing broken
        yield
        return

    def ours(items=None, *args: Any, **kwargs: Any):
        return original(items, *args, **kwargs) if items is None or not hasattr(items, "__len__") else each(list(items), label, unit)

    module.tqdm = ours
    try:
        yield
    finally:
        module.tqdm = original
