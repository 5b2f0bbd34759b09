"""One pytest run as pytest-kick lives it, in the order it happens: configure → parse → check → parametrize →
run → merge → write. The plugin's hooks each call one step of the `KickRun` kept in the config's stash; the
process's role under xdist is decided once, when the run is configured. Stdlib and pytest only at import: every
pytest session in a project with pytest-kick installed makes one."""

from __future__ import annotations

import enum
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from ..errors import KickUsageError, MissingBackend
from .optiontable import OPTIONS

if TYPE_CHECKING:  # pragma: no cover
    from .config import KickConfig

PAIR_FIXTURES = {"kick_pair", "kick_compressed", "kick_method"}
KICK_FIXTURES = PAIR_FIXTURES | {"kick_dense"}


class Role(enum.Enum):
    """What this process does in the run."""

    SOLO = "solo"  # no xdist: it collects, checks, runs and reports
    CONTROLLER = "controller"  # xdist's controller: checks before the workers start, collects nothing, merges
    WORKER = "worker"  # an xdist worker: runs tests and hands its report to the controller

    @classmethod
    def of(cls, config: pytest.Config) -> Role:
        if hasattr(config, "workerinput"):  # told by xdist itself, not by a variable a subprocess could inherit
            return cls.WORKER
        # xdist's own test for starting workers (its controller session registers later, in its trylast configure)
        distributed = config.getoption("dist", "no") != "no" and bool(config.getoption("tx", None))
        return cls.CONTROLLER if distributed and not config.getoption("collectonly", False) else cls.SOLO


class KickRun:
    """This process's part in one pytest run: its role, the options this run sets, the parsed `KickConfig` (parsed
    at configure when the run sets one, else when a test first asks for a kick fixture: defaults cannot be wrong),
    and what it changed that must be put back (registrations, environment variables)."""

    def __init__(self, config: pytest.Config, outer: dict, env: dict) -> None:
        self.config = config
        self.role = Role.of(config)
        self.outer = outer  # registrations made before this session, put back when it ends
        self.env = env  # environment variables this session changed, and their earlier values
        self.given = {o.ini for o in OPTIONS if config.getoption(o.ini) is not None or config.getini(o.ini) not in (None, "", o.default)}
        self._kick: KickConfig | None = None
        self._swept = False
        self.uses_ray = False

    # ---- configure → parse -------------------------------------------------------------------------------------
    def configure(self) -> None:
        from ..runners import progress

        progress.install(self.config)  # progress lines for long evaluations (quiet under -q)
        # A pytest-kick run (an option set, the cache named, a conftest registering methods) parses now, so that a
        # bad value stops the run before anything runs.
        if self.given or os.environ.get("PYTEST_KICK_CACHE") or self.config.hook.pytest_kick_register.get_hookimpls():
            self.parse()

    @property
    def parsed(self) -> bool:
        return self._kick is not None

    @property
    def kick(self) -> KickConfig:
        """The parsed options (parsed on first use)."""
        if self._kick is None:
            self.parse()
        assert self._kick is not None
        return self._kick

    def parse(self) -> None:
        """Every option parsed into the frozen KickConfig, with the checks that need no model; a bad value is a
        usage error. A saved run to compare with must be readable now, before anything runs."""
        from .config import KickConfig, option_values
        from .preflight import check_files, check_outputs

        config = self.config
        ini_dir = Path(config.inipath).parent if config.inipath else Path(config.invocation_params.dir)
        values = option_values(
            {o.ini: config.getoption(o.ini) for o in OPTIONS},
            {o.ini: config.getini(o.ini) for o in OPTIONS},
            Path(config.invocation_params.dir),
            ini_dir,
            Path(config.inipath).name if config.inipath else "the ini file",
        )
        try:
            config.hook.pytest_kick_register(config=config)
            kick = KickConfig.from_values(values.get)
            # a cache folder the user named is checked now; the default one only once a test uses a kick fixture
            warnings = check_files(kick, check_cache="kick_cache_dir" in self.given or bool(os.environ.get("PYTEST_KICK_CACHE")))
            if self.role is not Role.WORKER:
                check_outputs(kick, Path(config.rootpath))
            if kick.compare is not None:
                from ..report import baseline

                baseline.load_for(config, kick.compare)
        except (KickUsageError, MissingBackend) as exc:
            raise pytest.UsageError(str(exc)) from None
        self._kick = kick
        if self.role is not Role.WORKER:
            for text in warnings:
                config.issue_config_time_warning(pytest.PytestConfigWarning(f"pytest-kick: {text}"), stacklevel=2)

    # ---- check ------------------------------------------------------------------------------------------------
    def start(self) -> None:
        """Session start, in the process that starts the run: sweep what killed runs left in the cache; as the xdist
        controller (which collects nothing, so cannot see which tests use a kick fixture) run the model checks now
        when this is a pytest-kick run, and start the one local Ray cluster the workers join."""
        if not self.parsed or self.role is Role.WORKER:
            return
        self.sweep()
        if self.role is Role.CONTROLLER and self.given:
            self.check_model(self.kick.plans)
        if self.role is Role.CONTROLLER and self.kick.ray is not None and self.kick.ray.address == "local":
            from ..models.fanout import ADDRESS_ENV, start_local

            self.env.setdefault(ADDRESS_ENV, os.environ.get(ADDRESS_ENV))
            os.environ[ADDRESS_ENV] = start_local()  # inherited by the workers xdist starts next
            self.uses_ray = True

    def collected(self, items: list[pytest.Item]) -> None:
        """Without xdist, once the tests are known and one uses a kick fixture: the model checks for every method
        the tests will use (a kick marker's own methods included)."""
        self.count_sweep(items)
        if self.role is not Role.SOLO:
            return
        kick_items = [i for i in items if not KICK_FIXTURES.isdisjoint(getattr(i, "fixturenames", ()))]
        if kick_items:
            self.sweep()  # a run that parsed its options only now, at collection
            specs = {_method(i) for i in kick_items} - {None}
            self.check_model([self.kick.plan(s) for s in specs] or list(self.kick.plans))

    def sweep(self) -> None:
        """Once per run: remove what killed runs left in the cache."""
        if self.kick.load.cache_dir is not None and not self._swept:
            from ..files import sweep

            self._swept = True
            sweep(self.kick.load.cache_dir)

    def check_model(self, plans) -> None:
        """The start-up checks that wait until kick tests are known: the default cache folder is writable, and
        (torch level) the device and the layer options against the architecture. A failure is a usage error."""
        from .preflight import check_model, check_writable, needs_model_checks

        try:
            if self.kick.load.cache_dir is not None:
                check_writable(Path(self.kick.load.cache_dir))
            if needs_model_checks(self.kick, plans):
                check_model(self.kick, plans)
        except (KickUsageError, MissingBackend) as exc:
            raise pytest.UsageError(str(exc)) from None

    # ---- parametrize ------------------------------------------------------------------------------------------
    def share_gpus(self, specs: list) -> None:
        """As the xdist controller: each worker gwN starts with CUDA_VISIBLE_DEVICES narrowed to its share, set
        before it imports anything; nothing is narrowed when neither --kick-gpus nor CUDA_VISIBLE_DEVICES lists
        GPUs."""
        from ..models.devices import narrows, share_environment, visible_gpus, worker_index

        if not self.parsed and visible_gpus(None, os.environ) is None:
            return  # no kick option set (they would be parsed by now), and no GPU listed to share
        gpus = visible_gpus(self.kick.gpus, os.environ) if narrows(self.kick.load.device) else None
        if gpus is None:
            return
        try:
            for spec in specs:
                spec.env.update(share_environment(gpus, worker_index(spec.id), self.kick.load.gpus_per_worker))
        except KickUsageError as exc:
            raise pytest.UsageError(str(exc)) from None

    def parametrize(self, metafunc: pytest.Metafunc) -> None:
        """A kick marker is checked; a test using the pair runs once per method (ids like [rtn4])."""
        if metafunc.definition.get_closest_marker("kick") is not None:
            from .marker import check_marker

            check_marker(metafunc)
        if not PAIR_FIXTURES.isdisjoint(metafunc.fixturenames):
            from .marker import marker_methods

            specs = marker_methods(metafunc, self.kick)
            metafunc.parametrize("kick_method", specs, ids=[s.id for s in specs], indirect=True, scope="session")

    def group(self, items: list[pytest.Item]) -> None:
        """With `-n N --dist loadgroup`, all tests of one method run on one worker: it compresses the model once.
        With --kick-sweep, the candidates' tests run grouped by candidate in bisection order."""
        if not self.parsed:
            return  # no test asked for a kick fixture: none is parametrized by method
        if self.kick.sweeps:
            self.order_sweep(items)
        for item in items:
            spec = _method(item)
            if spec is not None:
                item.add_marker(pytest.mark.xdist_group(name=f"kick-{spec.id}"))

    def order_sweep(self, items: list[pytest.Item]) -> None:
        """Tests without a candidate first, then each candidate's tests together, candidates in bisection order;
        how many tests each candidate has is written down for whoever decides its outcome (controller included)."""
        rank = {sweep.ids[i]: (s, k) for s, sweep in enumerate(self.kick.sweeps) for k, i in enumerate(sweep.probe_order())}
        place = {id(item): n for n, item in enumerate(items)}
        items.sort(key=lambda item: (rank.get(getattr(_method(item), "id", None), (-1, 0)), place[id(item)]))

    def count_sweep(self, items: list[pytest.Item]) -> None:
        """Once the tests that will run are final (after -k, -m, --lf and deselection): how many each candidate has,
        written down for whoever decides a candidate's outcome (xdist workers and the controller alike)."""
        if not self.parsed or not self.kick.sweeps:
            return
        import json

        from ..files import write_atomic

        ids = {m for sweep in self.kick.sweeps for m in sweep.ids}
        expected: dict[str, int] = {}
        for item in items:
            spec = _method(item)
            if spec is not None and spec.id in ids:
                expected[spec.id] = expected.get(spec.id, 0) + 1
        self.sweep_folder().mkdir(parents=True, exist_ok=True)
        write_atomic(self.sweep_folder() / "expected.json", json.dumps(expected))

    def sweep_skip(self, item: pytest.Item) -> str | None:
        """Why a candidate's test is not run (its outcome is implied, or the candidate already failed); None: run."""
        spec = _method(item)
        if not self.parsed or not self.kick.sweeps or spec is None:
            return None
        return self.sweep_state().skip_reason(spec.id)

    def sweep_outcome(self, item: pytest.Item, passed: bool, exc: BaseException | None) -> None:
        """A sweep candidate's test ended (a failure in setup counts; a test skipped or xfailed for its own reasons
        counts as done, neither way): its outcome, and the gate that failed it."""
        spec = _method(item)
        if not self.parsed or not self.kick.sweeps or spec is None or all(spec.id not in s.ids for s in self.kick.sweeps):
            return
        result = getattr(exc, "result", None)
        gate = f"{result.kind} gate on {result.task}: {result.outcome}" if result is not None else (type(exc).__name__ if exc else "")
        self.sweep_state().record(spec.id, item.nodeid, passed, gate)

    def frontier_answers(self) -> list[dict]:
        """Each sweep's answer with its candidates' sizes, speeds and gates (report.frontier)."""
        from ..report.frontier import sweep_json
        from . import reporting
        from .sweep import frontier

        state, report = self.sweep_state(), reporting.run_report(self.config)
        return [sweep_json(frontier(state, sweep), sweep, report) for sweep in self.kick.sweeps]

    def sweep_folder(self) -> Path:
        return self.scratch("kick-sweep")

    def scratch(self, name: str) -> Path:
        """A folder of this run that its xdist workers share (the session's temporary folder; without pytest's
        tmpdir plugin, one made for this process)."""
        factory = getattr(self.config, "_tmp_path_factory", None)
        if factory is None:
            import tempfile

            if not hasattr(self, "_own_scratch"):
                self._own_scratch = Path(tempfile.mkdtemp(prefix="pytest-kick-"))
            return self._own_scratch / name
        base = factory.getbasetemp()
        return (base.parent if self.role is Role.WORKER else base) / name

    def sweep_state(self):
        import json

        from .sweep import SweepState

        try:
            expected = json.loads((self.sweep_folder() / "expected.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            expected = {}
        return SweepState(self.sweep_folder(), self.kick.sweeps, expected)

    # ---- run --------------------------------------------------------------------------------------------------
    @property
    def workers(self) -> int:
        return getattr(self.config, "workerinput", {}).get("workercount", 1)

    @property
    def worker_id(self) -> str | None:
        return getattr(self.config, "workerinput", {}).get("workerid")

    def scratch_models(self) -> Path:
        """With --kick-cache-dir=none, converted and compressed models live in the session's temporary folder
        (shared by its xdist workers: theirs are subfolders of the controller's), deleted when the session ends."""
        return self.scratch("kick-models")

    # ---- merge → write ----------------------------------------------------------------------------------------
    def finish(self, exitstatus: int) -> None:
        """Session end: Ray replicas stop (and a cluster started here); a worker hands its typed report over,
        serialised only here; the process that started the run writes the report files."""
        if not self.parsed:
            return
        if self.uses_ray:
            from ..models import fanout

            fanout.shutdown()
        from . import reporting

        if self.role is Role.WORKER:
            reporting.worker_output(self.config, self.kick)
            return
        if self.kick.load.cache_dir is None:  # --kick-cache-dir=none: the session's models go with it
            import shutil

            shutil.rmtree(self.scratch_models(), ignore_errors=True)
        if self.kick.sweeps:
            reporting.run_report(self.config).frontier = self.frontier_answers()
        if exitstatus != pytest.ExitCode.USAGE_ERROR:  # a run stopped at start-up writes nothing
            reporting.write_files(self.config, self.kick)

    def merge(self, node: Any) -> None:
        """A worker finished: if it ran kick tests, its report joins this one (the controller collects nothing)."""
        if any(key.startswith("kick_") for key in getattr(node, "workeroutput", {})):
            from . import reporting

            if not self.parsed:  # the controller may not have needed the options until now
                self.parse()
            reporting.node_down(node)

    def summary(self, terminalreporter: Any) -> None:
        if self.parsed and self.role is not Role.WORKER:
            from . import reporting

            reporting.terminal_summary(terminalreporter, self.config, self.kick)
            if self.kick.sweeps:
                from ..report.frontier import lines

                terminalreporter.write_sep("=", "pytest-kick frontier")
                terminalreporter.write_line("\n".join(lines(self.frontier_answers())).lstrip("\n"))

    def unconfigure(self) -> None:
        from . import isolation

        isolation.restore(self.outer)
        for name, value in self.env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _method(item: pytest.Item):
    """The compression spec a collected test is parametrized with (None for a test without the pair)."""
    return getattr(getattr(item, "callspec", None), "params", {}).get("kick_method")
