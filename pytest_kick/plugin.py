"""pytest face of pytest-kick: options, the kick marker, GPU shares for xdist workers, fixtures, reporting.
Free until used: at start-up it imports only the option table (no parser, no torch). The options are parsed at
configure when the run sets one, else when a test first asks for a kick fixture (defaults cannot be wrong)."""

from __future__ import annotations

import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .errors import KickError, KickRegression, KickUsageError, MissingBackend
from .session import isolation
from .session.optiontable import OPTIONS

if TYPE_CHECKING:  # pragma: no cover
    from .compression import CompressionSpec
    from .models.handles import ModelHandle
    from .models.pair import ModelPair
    from .session.config import KickConfig
    from .settings import LoadSettings

CONFIG_KEY = pytest.StashKey["KickConfig"]()
OUTER_KEY = pytest.StashKey[dict]()  # registrations made before this session, put back when it ends
ENV_KEY = pytest.StashKey[dict]()  # environment variables this session changed, and their earlier values
GIVEN_KEY = pytest.StashKey[set]()  # the kick options this run sets (command line or ini), not left at their defaults
SWEPT_KEY = pytest.StashKey[bool]()  # the cache was swept (once per run)
PAIR_FIXTURES = {"kick_pair", "kick_compressed", "kick_method"}
KICK_FIXTURES = PAIR_FIXTURES | {"kick_dense"}


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from .session import hooks

    pluginmanager.add_hookspecs(hooks)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("kick", "pytest-kick: paired compression gates for LLMs")
    for opt in OPTIONS:
        if opt.kind == "flag":  # a switch on the command line; its ini twin is parsed (and checked) by config
            group.addoption(opt.flag, action="store_true", default=None, dest=opt.ini, help=opt.help)
        else:
            group.addoption(opt.flag, action="store", default=None, dest=opt.ini, metavar="VALUE", help=opt.help)
        parser.addini(opt.ini, opt.help, type="string", default=opt.default)


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config, parser: pytest.Parser, args: list[str]) -> None:
    """Before any conftest (and so before torch): remember what is registered, so that what this session's
    conftests register is forgotten when it ends (in-process pytester runs never see each other's), and in a run
    without xdist workers narrow CUDA_VISIBLE_DEVICES to the first share of an explicit --kick-gpus."""
    isolation.forget_dropped_modules()
    early_config.stash[OUTER_KEY] = isolation.registrations()
    ns = early_config.known_args_namespace
    if os.environ.get("PYTEST_XDIST_WORKER") or getattr(ns, "numprocesses", None) not in (None, 0):
        return  # workers get their share from the controller (pytest_xdist_setupnodes)
    if getattr(ns, "kick_gpus", None) or early_config.getini("kick_gpus"):  # (imports the parsers)
        from .session.options import first_share

        share = first_share(lambda ini: getattr(ns, ini, None) or early_config.getini(ini)) or {}
        early_config.stash[ENV_KEY] = {name: os.environ.get(name) for name in share}
        os.environ.update(share)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "kick(limit=None, methods=None): per-test pytest-kick overrides (examples per task, methods)")
    from .runners import progress

    progress.install(config)  # progress lines for long evaluations (quiet under -q)
    config.stash[GIVEN_KEY] = given = {
        opt.ini for opt in OPTIONS if config.getoption(opt.ini) is not None or config.getini(opt.ini) not in (None, "", opt.default)
    }
    # A pytest-kick run (an option set, the cache named, a conftest registering methods) parses now, so that a bad
    # value stops the run before anything runs; any other run parses the defaults only if a test asks for a fixture.
    if given or os.environ.get("PYTEST_KICK_CACHE") or config.hook.pytest_kick_register.get_hookimpls():
        _kick(config)


def _kick(config: pytest.Config) -> KickConfig:
    """The parsed options (parsed on first use)."""
    if CONFIG_KEY not in config.stash:
        _parse_options(config)
    return config.stash[CONFIG_KEY]


def _parse_options(config: pytest.Config) -> None:
    """Every option parsed into the KickConfig kept in the stash, with the checks that need no model; a bad value
    is a usage error."""
    from .session.config import KickConfig, option_values
    from .session.preflight import check_files

    given = config.stash[GIVEN_KEY]
    ini_dir = Path(config.inipath).parent if config.inipath else Path(config.invocation_params.dir)
    values = option_values(
        {opt.ini: config.getoption(opt.ini) for opt in OPTIONS},
        {opt.ini: config.getini(opt.ini) for opt in OPTIONS},
        Path(config.invocation_params.dir),
        ini_dir,
        Path(config.inipath).name if config.inipath else "the ini file",
    )
    try:
        config.hook.pytest_kick_register(config=config)
        kick = KickConfig.from_values(values.get)
        # a cache folder the user named is checked now; the default one only once a test uses a kick fixture
        warnings = check_files(kick, check_cache="kick_cache_dir" in given or bool(os.environ.get("PYTEST_KICK_CACHE")))
    except (KickUsageError, MissingBackend) as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[CONFIG_KEY] = kick
    if kick.compare is not None:  # the saved run must be readable before anything runs
        from .report import baseline

        try:
            baseline.load_for(config, kick.compare)
        except KickUsageError as exc:
            raise pytest.UsageError(str(exc)) from None
    if not _is_worker(config):
        for text in warnings:
            config.issue_config_time_warning(pytest.PytestConfigWarning(f"pytest-kick: {text}"), stacklevel=2)


def _is_worker(config: pytest.Config) -> bool:
    """An xdist worker (told by xdist itself, not by an environment variable a subprocess could inherit)."""
    return hasattr(config, "workerinput")


def _check_model(config: pytest.Config, plans) -> None:
    """The start-up checks that wait until kick tests are known: the default cache folder is writable, and (torch
    level) the device and the layer options against the architecture. A failure is a usage error."""
    from .session.preflight import check_model, check_writable, needs_model_checks

    kick = config.stash[CONFIG_KEY]
    try:
        if kick.load.cache_dir is not None:
            check_writable(Path(kick.load.cache_dir))
        if needs_model_checks(kick, plans):
            check_model(kick, plans)
    except (KickUsageError, MissingBackend) as exc:
        raise pytest.UsageError(str(exc)) from None


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    """In the process that starts the run (not in xdist workers): sweep what killed runs left in the cache, and
    under xdist run the model-level start-up checks here, before any worker starts."""
    config = session.config
    if CONFIG_KEY not in config.stash or _is_worker(config):
        return
    kick = config.stash[CONFIG_KEY]
    _sweep(config)
    # The xdist controller collects nothing, so it cannot see which tests use a kick fixture: it checks when the
    # run sets a kick option (command line or ini), i.e. when it is a pytest-kick run.
    if config.pluginmanager.hasplugin("dsession") and config.stash[GIVEN_KEY]:
        _check_model(config, kick.plans)
    if kick.ray is not None and kick.ray.address == "local" and config.pluginmanager.hasplugin("dsession"):
        from .models.fanout import ADDRESS_ENV, start_local  # one cluster for the whole run: the workers join it

        config.stash.setdefault(ENV_KEY, {}).setdefault(ADDRESS_ENV, os.environ.get(ADDRESS_ENV))
        os.environ[ADDRESS_ENV] = start_local()  # inherited by the workers xdist starts next


def _sweep(config: pytest.Config) -> None:
    """Once per run, in the process that starts it: remove what killed runs left in the cache."""
    kick = config.stash[CONFIG_KEY]
    if kick.load.cache_dir is not None and not config.stash.get(SWEPT_KEY, False):
        from .files import sweep

        config.stash[SWEPT_KEY] = True
        sweep(kick.load.cache_dir)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Without xdist: once the tests are known, and only when one uses a kick fixture, the model-level checks for
    every method the tests will use (a kick marker's own methods included)."""
    config = session.config
    if _is_worker(config) or config.pluginmanager.hasplugin("dsession"):
        return
    kick_items = [i for i in session.items if not KICK_FIXTURES.isdisjoint(getattr(i, "fixturenames", ()))]
    if kick_items:
        kick = _kick(config)
        _sweep(config)  # a run that parsed its options only now, at collection
        specs = {getattr(getattr(i, "callspec", None), "params", {}).get("kick_method") for i in kick_items} - {None}
        _check_model(config, [kick.plan(s) for s in specs] or list(kick.plans))


def pytest_unconfigure(config: pytest.Config) -> None:
    if OUTER_KEY in config.stash:
        isolation.restore(config.stash[OUTER_KEY])
    for name, value in config.stash.get(ENV_KEY, {}).items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_setupnodes(config: pytest.Config, specs: list) -> None:
    """Each worker gwN starts with CUDA_VISIBLE_DEVICES narrowed to its share, set by execnet before the worker
    imports anything; nothing is narrowed when neither --kick-gpus nor CUDA_VISIBLE_DEVICES lists GPUs."""
    from .models.devices import narrows, share_environment, visible_gpus, worker_index

    if CONFIG_KEY not in config.stash and visible_gpus(None, os.environ) is None:
        return  # no kick option set (they would be parsed by now), and no GPU listed to share
    kick = _kick(config)
    if not narrows(kick.load.device):
        return
    gpus = visible_gpus(kick.gpus, os.environ)
    if gpus is None:
        return
    try:
        for spec in specs:
            spec.env.update(share_environment(gpus, worker_index(spec.id), kick.load.gpus_per_worker))
    except KickUsageError as exc:
        raise pytest.UsageError(str(exc)) from None


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if metafunc.definition.get_closest_marker("kick") is not None:
        from .session.marker import check_marker

        check_marker(metafunc)
    if not PAIR_FIXTURES.isdisjoint(metafunc.fixturenames):
        from .session.marker import marker_methods

        specs = marker_methods(metafunc, _kick(metafunc.config))
        metafunc.parametrize("kick_method", specs, ids=[s.id for s in specs], indirect=True, scope="session")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # With `-n N --dist loadgroup`, all tests of one method run on one worker: it compresses the model once.
    if CONFIG_KEY not in config.stash:
        return  # no test asked for a kick fixture: none is parametrized by method
    for item in items:
        spec = getattr(getattr(item, "callspec", None), "params", {}).get("kick_method")
        if spec is not None:
            item.add_marker(pytest.mark.xdist_group(name=f"kick-{spec.id}"))


def _clean(fn, *args):
    """Run a fixture body; a pytest-kick error becomes one readable line instead of a traceback."""
    try:
        return fn(*args)
    except KickError as exc:
        pytest.fail(f"{type(exc).__name__}: {exc}", pytrace=False)


@pytest.fixture(scope="session")
def kick_config(pytestconfig: pytest.Config) -> KickConfig:
    """The parsed --kick-* options."""
    return _kick(pytestconfig)


@pytest.fixture(scope="session")
def kick_load_settings(kick_config: KickConfig, pytestconfig: pytest.Config) -> LoadSettings:
    """How this process loads models: the configured settings, its xdist worker id, and with
    --kick-cache-dir=none a scratch folder of this session's for converted and compressed models."""
    load = kick_config.load
    cache_dir = load.cache_dir if load.cache_dir is not None else _scratch_models(pytestconfig)
    return replace(load, cache_dir=cache_dir, worker_id=getattr(pytestconfig, "workerinput", {}).get("workerid"))


def _scratch_models(config: pytest.Config) -> Path:
    """With --kick-cache-dir=none, converted and compressed models live in the session's temporary folder (shared
    by its xdist workers: theirs are subfolders of the controller's) and are deleted when the session ends."""
    base = config._tmp_path_factory.getbasetemp()  # type: ignore[attr-defined]
    return (base.parent if _is_worker(config) else base) / "kick-models"


@pytest.fixture(scope="session")
def kick_dense(kick_config: KickConfig, kick_load_settings: LoadSettings) -> ModelHandle:
    """The dense model (a lazy handle: weights load on the first request the cache cannot answer)."""
    from .models.handles import dense_handle

    return _clean(dense_handle, kick_config.model, kick_load_settings)


@pytest.fixture(scope="session")
def kick_method(request: pytest.FixtureRequest) -> CompressionSpec:
    """The compression spec of the current parametrization (one per --kick-method entry)."""
    if not hasattr(request, "param"):
        return _kick(request.config).methods[0]
    return request.param


@pytest.fixture(scope="session")
def kick_compressed(
    kick_config: KickConfig, kick_load_settings: LoadSettings, kick_dense: ModelHandle, kick_method: CompressionSpec
) -> ModelHandle:
    """The compressed model for the current method (lazy, once per session and worker)."""
    from .models.handles import compressed_handle

    plan = _clean(kick_config.plan, kick_method)
    return _clean(compressed_handle, kick_config.model, kick_dense, plan, kick_load_settings, kick_config.compression)


@pytest.fixture(scope="session")
def kick_judge(kick_config: KickConfig, kick_load_settings: LoadSettings):
    """The judge --kick-judge configures (an endpoint or a local model), for
    `assert_generation_quality_within(..., scorer=kick_judge)`; a test that asks for it is skipped without one."""
    spec = kick_config.evaluation.judge
    if spec is None:
        pytest.skip("no judge configured: pass --kick-judge=<OpenAI-compatible endpoint URL or local model> (see the README)")
    from .gates.judges import configured_judge

    return _clean(configured_judge, spec, kick_config.evaluation, kick_load_settings)


@pytest.fixture
def kick_pair(
    request: pytest.FixtureRequest,
    kick_config: KickConfig,
    kick_dense: ModelHandle,
    kick_compressed: ModelHandle,
    kick_method: CompressionSpec,
) -> ModelPair:
    """(dense, compressed) for the current method, with this test's limit and a recorder for the report."""
    from .models.pair import ModelPair
    from .session import reporting
    from .session.marker import marker_limit

    node = request.node
    settings = kick_config.evaluation

    def observe(result: Any, evidence: Any) -> Any:  # --kick-save / --kick-compare
        from .report import baseline

        return baseline.on_gate(request.config, kick_config, result, evidence, kick_dense.name)

    return ModelPair(
        dense=_runner_factory(request.config, kick_dense),
        compressed=_runner_factory(request.config, kick_compressed),
        method=kick_method,
        settings=replace(settings, limit=marker_limit(node, settings.limit)),
        test_id=node.nodeid,
        recorder=reporting.recorder(request.config, node, kick_compressed, kick_dense),
        observer=observe if kick_config.save is not None or kick_config.compare is not None else None,
    )


def _runner_factory(config: pytest.Config, handle: ModelHandle):
    """How a model answers: its engine in this process, or with --kick-ray a pool of replicas on the cluster (an
    xdist worker's pool takes its share of the cluster)."""
    kick = _kick(config)
    if kick.ray is None:
        return handle.factory(kick.evaluation.batch_size)
    from .models.fanout import factory

    drivers = getattr(config, "workerinput", {}).get("workercount", 1)
    return factory(handle, kick.ray, kick.evaluation.batch_size, drivers)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    # Usage errors raised inside a test (bad task name, missing data) read as one instruction, not a traceback;
    # a regression keeps pytest's own report (it is an AssertionError pointing at the user's line).
    exc = call.excinfo.value if call.excinfo is not None else None
    if isinstance(exc, KickError) and not isinstance(exc, KickRegression):
        report.longrepr = f"{item.nodeid}\n{type(exc).__name__}: {exc}"
    return report


def pytest_sessionfinish(session: pytest.Session) -> None:
    config = session.config
    if CONFIG_KEY not in config.stash:
        return
    kick = config.stash[CONFIG_KEY]
    if kick.ray is not None and "pytest_kick.models.fanout" in sys.modules:  # replicas stop; a cluster started here too
        sys.modules["pytest_kick.models.fanout"].shutdown()
    from .session import reporting

    if hasattr(config, "workeroutput"):  # xdist worker: hand the typed report over, serialised only here
        reporting.worker_output(config, kick)
        return
    if kick.load.cache_dir is None:  # --kick-cache-dir=none: the session's models go with it
        import shutil

        shutil.rmtree(_scratch_models(config), ignore_errors=True)
    if session.exitstatus != pytest.ExitCode.USAGE_ERROR:  # a run stopped at start-up writes nothing
        reporting.write_files(config, kick)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    if any(key.startswith("kick_") for key in getattr(node, "workeroutput", {})):
        _kick(node.config)  # a worker ran kick tests: the controller (which collects nothing) reports them
        from .session import reporting

        reporting.node_down(node)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    if CONFIG_KEY in config.stash and not hasattr(config, "workeroutput"):
        from .session import reporting

        reporting.terminal_summary(terminalreporter, config, config.stash[CONFIG_KEY])
