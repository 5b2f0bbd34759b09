"""progress: the line's wording, when lines appear, where they go, and chunked work giving one call's results."""

from __future__ import annotations

import io
from types import SimpleNamespace

import pytest

from pytest_kick.contract import GenerationRequest, LoglikelihoodRequest
from pytest_kick.runners import progress
from pytest_kick.runners.progress import Display, Task, chunk_size, chunked, duration, fit, line, rate
from pytest_kick.testing import FakeRunner


def test_duration_reads_like_a_person_would_say_it():
    assert [duration(s) for s in (0, 7.64, 9.96, 59.4, 200, 3599, 7500)] == [
        "0.0 s",
        "7.6 s",
        "10 s",
        "59 s",
        "3 min 20 s",
        "59 min 59 s",
        "2 h 05 min",
    ]


def test_rate_keeps_about_three_digits():
    assert [rate(r) for r in (350.4, 35.24, 0.349)] == ["350/s", "35.2/s", "0.35/s"]


def test_line_gives_done_total_rate_and_time_left():
    # 120 of 400 in 4 s: 30/s, 280 left -> ~9.3 s
    assert line("tiny [rtn4] loglikelihood", 120, 400, 4.0) == "kick: tiny [rtn4] loglikelihood 120/400 requests, 30.0/s, ~9.3 s left"
    assert line("dense generate", 400, 400, 80.0, final=True) == "kick: dense generate 400/400 requests, 5.0/s, done in 1 min 20 s"
    assert line("dense generate", 0, 400, 0.0) == "kick: dense generate 0/400 requests"


def test_a_long_line_is_fitted_to_the_terminal_keeping_counts_rate_and_time_left():
    text = line("meta-llama/Llama-2-70b-hf [gptq4-g128] loglikelihood", 120, 400, 4.0)
    assert fit(text, 200) == text
    short = fit(text, 70)
    assert len(short) == 70 and short.startswith("kick: meta-llama/") and short.endswith("... 120/400 requests, 30.0/s, ~9.3 s left")
    assert fit(text, 30) == text[:27] + "..."  # too narrow even for the counts: at least it never wraps


@pytest.mark.parametrize(
    ("total", "batch", "size"),
    [
        (10, None, 64),  # never below one auto batch
        (400, None, 64),
        (2000, None, 128),  # ~1/20, rounded up to a multiple of 64
        (10**6, "auto", 1024),  # at most 1,024
        (2000, 16, 128),
        (2000, 48, 192),  # a multiple of the batch, at least 64
        (10**6, 100, 1100),  # a multiple of a large batch wins over the 1,024 cap
    ],
)
def test_chunk_size(total, batch, size):
    assert chunk_size(total, batch) == size
    if isinstance(batch, int):
        assert size % batch == 0


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Shown:
    """A display double: records what it would show."""

    def __init__(self, after: float = 2.0, every: float = 5.0) -> None:
        self.after, self.every = after, every
        self.lines: list[tuple[str, bool]] = []

    def show(self, task, text, final):
        self.lines.append((text, final))


def test_short_work_shows_nothing():
    clock, shown = Clock(), Shown()
    task = Task(shown, "dense loglikelihood", 400, clock)
    for _ in range(4):
        clock.now += 0.4
        task.advance(100)
    task.finish()
    assert shown.lines == []


def test_long_work_shows_after_the_threshold_at_most_every_few_seconds_then_a_final_line():
    clock, shown = Clock(), Shown(after=2.0, every=5.0)
    task = Task(shown, "dense loglikelihood", 1000, clock)
    for _ in range(10):  # 100 requests a second
        clock.now += 1.0
        task.advance(100)
    task.finish()
    texts = [t for t, _ in shown.lines]
    # 1 s: too early; 2 s: first line; then 7 s (5 s later); 10 s: done (no progress line), the final line
    assert texts == [
        "kick: dense loglikelihood 200/1000 requests, 100/s, ~8.0 s left",
        "kick: dense loglikelihood 700/1000 requests, 100/s, ~3.0 s left",
        "kick: dense loglikelihood 1000/1000 requests, 100/s, done in 10 s",
    ]
    assert [f for _, f in shown.lines] == [False, False, True]


def test_one_slow_chunk_gets_only_a_final_line():
    clock, shown = Clock(), Shown()
    task = Task(shown, "dense generate", 50, clock)
    clock.now += 30
    task.advance(50)
    task.finish()
    assert shown.lines == [("kick: dense generate 50/50 requests, 1.7/s, done in 30 s", True)]


def test_no_display_no_lines():
    clock = Clock()
    task = Task(None, "x", 10, clock)
    clock.now += 60
    task.advance(5)
    task.finish()  # nothing to write to: nothing raised either


class Reporter:
    """The few TerminalReporter members the display uses, writing to a string."""

    def __init__(self, tty: bool) -> None:
        self.out = io.StringIO()
        self.tty = tty
        self.currentfspath: object = "test_x.py"  # pytest has written 'test_x.py ' and no newline yet

    def isatty(self) -> bool:
        return self.tty

    def ensure_newline(self):
        if self.currentfspath:
            self.out.write("\n")
            self.currentfspath = None

    def write(self, text):
        self.out.write(text)

    def rewrite(self, text, erase=False):
        self.out.write("\r" + text + (" " * 3 if erase else ""))

    def flush(self):
        pass


class Capman:
    def __init__(self) -> None:
        self.suspended = 0

    def global_and_fixture_disabled(self):
        from contextlib import contextmanager

        @contextmanager
        def suspended():
            self.suspended += 1
            yield

        return suspended()


def plugins(reporter=None, capman=None):
    return {"terminalreporter": reporter, "capturemanager": capman}.get


def test_terminal_rewrites_one_line_in_place_and_leaves_pytest_a_fresh_line():
    tr, capman = Reporter(tty=True), Capman()
    d = Display(plugins(tr, capman), worker=None)
    task, other = object(), object()
    d.show(task, "a 1/3", False)
    d.show(task, "a 2/3", False)
    d.show(task, "a 3/3 done", True)
    d.show(other, "b 1/2", False)
    assert tr.out.getvalue() == "\na 1/3\ra 2/3   \ra 3/3 done   \nb 1/2"
    assert tr.currentfspath == -2  # pytest starts its next output on a new line
    assert capman.suspended == 4  # every write happens with capture suspended


def test_without_v_pytest_gets_its_files_line_back_for_the_tests_letter(tmp_path):
    tr = Reporter(tty=False)
    tr.startpath, tr.currentfspath = tmp_path, tmp_path / "tests" / "test_x.py"  # pytest wrote 'tests/test_x.py '
    d = Display(plugins(tr), worker=None)
    task = object()
    d.show(task, "a 1/3", False)
    assert tr.currentfspath == -2
    d.show(task, "a 3/3 done", True)
    assert tr.out.getvalue() == "\na 1/3\na 3/3 done\ntests/test_x.py "  # so '.' lands after the file, not our line
    assert tr.currentfspath == tmp_path / "tests" / "test_x.py"


def test_without_a_terminal_every_line_is_a_line():
    tr = Reporter(tty=False)
    d = Display(plugins(tr), worker=None)
    assert not d.in_place and d.every == progress.LINE_EVERY_S
    task = object()
    d.show(task, "a 1/3", False)
    d.show(task, "a 3/3 done", True)
    assert tr.out.getvalue() == "\na 1/3\na 3/3 done"


def test_an_xdist_worker_writes_whole_tagged_lines_to_stderr(capsys):
    d = Display(plugins(None, Capman()), worker="gw1")
    d.show(object(), "kick: a 1/3", False)
    assert capsys.readouterr().err == "[gw1] kick: a 1/3\n"
    assert not d.in_place


def test_no_terminal_reporter_no_lines(capsys):
    Display(plugins(None, Capman()), worker=None).show(object(), "kick: a 1/3", False)  # -p no:terminal
    assert capsys.readouterr() == ("", "")


def config_double(verbose: int = 0, worker: str | None = None, reporter: object | None = None):
    cleanups = []
    plugins = {"terminalreporter": reporter if reporter is not None else Reporter(tty=False), "capturemanager": None}
    cfg = SimpleNamespace(
        get_verbosity=lambda: verbose,
        pluginmanager=SimpleNamespace(get_plugin=plugins.get),
        add_cleanup=cleanups.append,
        cleanups=cleanups,
    )
    if worker:
        cfg.workerinput = {"workerid": worker}
    return cfg


def test_quiet_runs_and_the_environment_switch_turn_it_off(monkeypatch):
    monkeypatch.delenv(progress.ENV, raising=False)
    monkeypatch.setenv(progress.ENV_AFTER, "0.5")
    shown = Display.for_config(config_double())
    assert shown is not None and shown.after == 0.5
    assert Display.for_config(config_double(verbose=-1)) is None
    assert Display.for_config(config_double(worker="gw0")).worker == "gw0"
    monkeypatch.setenv(progress.ENV, "0")
    assert Display.for_config(config_double()) is None


def test_nested_sessions_each_see_their_own_display(monkeypatch):
    monkeypatch.delenv(progress.ENV, raising=False)
    monkeypatch.setattr(progress, "_SESSIONS", [])
    assert progress.current() is None
    outer, inner = config_double(), config_double(verbose=-1)
    progress.install(outer)
    loud = progress.current()
    assert loud is not None
    progress.install(inner)
    assert progress.current() is None  # a quiet inner session never falls back to the outer one's terminal
    inner.cleanups[0]()
    assert progress.current() is loud
    outer.cleanups[0]()
    assert progress.current() is None


def requests(n: int) -> list[LoglikelihoodRequest]:
    return [LoglikelihoodRequest(f"Question {i}?", f" answer {i % 7}") for i in range(n)]


@pytest.mark.parametrize("n", [0, 1, 64, 65, 300, 3001])
def test_chunked_gives_one_calls_results_in_order(n):
    reqs = requests(n)
    answers = {f"Question {i}?": f"answer {i % 7}" for i in range(0, n, 3)}
    one, parts = FakeRunner(answers), FakeRunner(answers)
    assert chunked(parts.loglikelihood, reqs, "dense loglikelihood") == one.loglikelihood(reqs)
    assert parts.requests == reqs  # every request asked once, in order
    assert parts.calls == max(1, -(-n // chunk_size(n)))


def test_chunked_reports_every_request_once(monkeypatch):
    seen = []
    monkeypatch.setattr(progress.Task, "advance", lambda self, k: seen.append(k) or None)
    chunked(FakeRunner().generate, [GenerationRequest(f"p{i}", (), 4) for i in range(300)], "dense generate")
    assert seen == [64, 64, 64, 64, 44]


def test_chunks_of_a_runner_that_also_reports_are_counted_once(monkeypatch):
    """A runner that reports from inside (an engine wrapped by a runner that does not say so) is chunked: its own
    reports go nowhere, so no request is counted twice (found as '140/70 requests' in a progress line)."""
    seen = []
    monkeypatch.setattr(progress.Task, "advance", lambda self, k: seen.append(k) or None)

    def reporting(reqs):
        progress.Share(len(reqs), len(reqs)).add(len(reqs))
        return list(reqs)

    chunked(reporting, list(range(100)), "dense generate")
    assert seen == [64, 36]


def test_a_runner_that_drops_results_is_caught():
    with pytest.raises(ValueError, match="returned 63 results for 64 requests"):
        chunked(lambda reqs: reqs[:-1], list(range(100)), "broken")


@pytest.mark.slow
def test_chunked_on_a_real_model_matches_one_call(random_model_dir):
    """The engine batches within each chunk: decisions agree exactly, scores within the batch-size contract."""
    from pytest_kick.models.load import load_hf
    from pytest_kick.runners.engine import Engine
    from pytest_kick.settings import LoadSettings

    model, tok = load_hf(random_model_dir, LoadSettings(device="cpu"))
    shots = "".join(f"Question: What is the capital of Ka{i}?\nAnswer: Lo{i}\n\n" for i in range(4))  # shared prefixes
    reqs = [LoglikelihoodRequest(f"Question: what is {i}?\nAnswer:", f" Ka{i % 5}") for i in range(150)]
    reqs += [LoglikelihoodRequest(shots + f"Question: What is the capital of Mi{j}?\nAnswer:", f" {c}") for j in range(30) for c in "ABCD"]
    assert chunk_size(len(reqs), 16) < len(reqs)  # several chunks
    whole = Engine(model, tok, batch_size=16).loglikelihood(reqs)
    engine = Engine(model, tok, batch_size=16)
    parts = chunked(engine.loglikelihood, reqs, "random loglikelihood", batch=engine.batch_size)
    assert [r.is_greedy for r in parts] == [r.is_greedy for r in whole]
    assert [r.n_tokens for r in parts] == [r.n_tokens for r in whole]
    assert max(abs(a.logprob - b.logprob) for a, b in zip(parts, whole)) <= 1e-5
    gens = [GenerationRequest(f"Question: what is {i}?\nAnswer:", ("\n",), 4) for i in range(70)]
    assert chunked(engine.generate, gens, "random generate", batch=16) == Engine(model, tok, batch_size=16).generate(gens)


def test_share_reports_a_runners_own_units_as_requests(monkeypatch):
    seen = []
    monkeypatch.setattr(progress.Task, "advance", lambda self, k: seen.append(k) or None)
    with progress.track("dense distribution", 10, live=True):
        share = progress.Share(10, 40)  # ten requests of four continuations each
        for k in (3, 3, 20, 14):
            share.add(k)
    assert seen == [1, 5, 4] and sum(seen) == 10  # whole requests only, never more than the call's
    progress.Share(5, 5).add(5)  # nothing tracked: nothing to report, no error


def test_live_work_is_one_call_that_reports_as_it_goes(monkeypatch):
    seen, calls = [], []
    monkeypatch.setattr(progress.Task, "advance", lambda self, k: seen.append(k) or None)

    def compute(reqs):
        calls.append(len(reqs))
        share = progress.Share(len(reqs), len(reqs))
        for _ in range(0, len(reqs), 100):
            share.add(100)
        return list(reqs)

    assert chunked(compute, list(range(300)), "dense loglikelihood", batch=16, live=True) == list(range(300))
    assert calls == [300] and seen == [100, 100, 100]
    assert progress._ACTIVE == []
    with pytest.raises(ValueError, match="returned 299 results for 300 requests"):
        chunked(lambda reqs: reqs[:-1], list(range(300)), "broken", live=True)
    assert progress._ACTIVE == []


@pytest.mark.slow
def test_the_engine_is_asked_once_and_reports_after_its_forwards(random_model_dir, tmp_path, monkeypatch):
    """Through the result cache the engine gets every miss in one call (shared contexts and prefixes are not cut
    apart), and progress still moves forward after each of its forwards."""
    from pytest_kick.contract import RunnerFactory
    from pytest_kick.models.load import load_hf
    from pytest_kick.runners.cache import CachedRunner, ResultCache
    from pytest_kick.runners.engine import Engine
    from pytest_kick.settings import LoadSettings

    model, tok = load_hf(random_model_dir, LoadSettings(device="cpu"))
    engine = Engine(model, tok, batch_size=2)
    seen, sizes = [], []
    monkeypatch.setattr(progress.Task, "advance", lambda self, k: seen.append(k) or None)
    real = engine.loglikelihood
    monkeypatch.setattr(engine, "loglikelihood", lambda reqs: sizes.append(len(reqs)) or real(reqs))
    reqs = [LoglikelihoodRequest(f"Question {i}: what is {i} plus {i}?\nAnswer:", f" {c}") for i in range(150) for c in "AB"]
    runner = CachedRunner(RunnerFactory("random", lambda: engine, "fp"), ResultCache(tmp_path))
    assert chunk_size(len(reqs), 2) < len(reqs)  # a runner without live progress would be cut into chunks
    got = runner.loglikelihood(reqs)
    assert sizes == [300] and len(seen) > 10 and sum(seen) == 300
    assert [g.logprob for g in got] == [r.logprob for r in Engine(model, tok, batch_size=2).loglikelihood(reqs)]


def test_the_time_left_comes_from_the_throughput_after_the_first_step_not_from_a_slow_start():
    """A first layer that waited 60 s for a model to load, then 10 layers a second: the estimate says ~2 s left for
    the remaining 20, not the hour a rate over the whole elapsed time would give; until two steps have been
    measured it says it is estimating."""
    clock, shown = Clock(), Shown(after=2.0, every=0.0)
    task = Task(shown, "compress rtn4", 31, clock, unit="layers")
    clock.now += 60
    task.advance(1)
    for _ in range(10):
        clock.now += 0.1
        task.advance(1)
    first, last = shown.lines[0][0], shown.lines[-1][0]
    assert first == "kick: compress rtn4 1/31 layers, 1 min 00 s so far, estimating the time left"
    assert last == "kick: compress rtn4 11/31 layers, 10.0/s, ~2.0 s left"


def test_each_reports_one_step_per_item_with_its_unit(monkeypatch):
    clock, shown = Clock(), Shown(after=0.0, every=0.0)
    monkeypatch.setattr(progress, "current", lambda: shown)
    items = []
    for layer in progress.each(["q", "k", "v"], "compress magnitude50", "layers"):
        clock.now += 1.0
        items.append(layer)
    assert items == ["q", "k", "v"]
    assert shown.lines[-1][0].startswith("kick: compress magnitude50 3/3 layers, ") and "done in" in shown.lines[-1][0]
    assert [t.split(" layers")[0] for t, _ in shown.lines[:-1]] == ["kick: compress magnitude50 1/3", "kick: compress magnitude50 2/3"]


def test_a_librarys_own_tqdm_loop_reports_as_ours_and_is_put_back(monkeypatch):
    import types

    clock, shown = Clock(), Shown(after=0.0, every=0.0)
    monkeypatch.setattr(progress, "current", lambda: shown)
    library = types.SimpleNamespace(tqdm=lambda items=None, **kw: items)

    def convert(tensors):
        out = []
        for t in library.tqdm(tensors, desc="Converting and de-quantizing GGUF tensors..."):
            clock.now += 0.5
            out.append(t * 2)
        return out

    with progress.through_tqdm(library, "convert model.gguf", "tensors"):
        assert convert([1, 2, 3, 4]) == [2, 4, 6, 8]
    assert shown.lines[-1][0].startswith("kick: convert model.gguf 4/4 tensors, ") and shown.lines[-1][1]
    assert library.tqdm([5]) == [5]  # the library's own again
    with progress.through_tqdm(types.SimpleNamespace(), "x", "y"):  # a library without it: nothing breaks
        pass


def test_an_announced_step_shows_at_once(monkeypatch):
    shown = Shown()
    monkeypatch.setattr(progress, "current", lambda: shown)
    progress.announce("kick: converting model.gguf to safetensors (once per file, then cached)")
    assert shown.lines == [("kick: converting model.gguf to safetensors (once per file, then cached)", True)]
