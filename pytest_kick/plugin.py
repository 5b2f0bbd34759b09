"""pytest face of pytest-kick: the options, the hooks (each one step of the run's lifecycle, `session/lifecycle.py`),
and the fixtures. Free until used: at start-up it imports only the option table (no parser, no torch)."""

from __future__ import annotations

import os
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import pytest

from .errors import KickError, KickRegression
from .session import isolation
from .session.optiontable import OPTIONS

if TYPE_CHECKING:  # pragma: no cover
    from .compression import CompressionSpec
    from .models.handles import ModelHandle
    from .models.pair import ModelPair
    from .session.config import KickConfig
    from .session.lifecycle import KickRun
    from .settings import LoadSettings

RUN_KEY = pytest.StashKey["KickRun"]()  # this process's part in the run (session/lifecycle.py)
EARLY_KEY = pytest.StashKey[dict]()  # what the run changed before it was configured: registrations, environment


def _run(config: pytest.Config) -> KickRun:
    return config.stash[RUN_KEY]


def _kick(config: pytest.Config) -> KickConfig:
    """The parsed options (parsed on first use)."""
    return _run(config).kick


# ---- the lifecycle, in the order pytest calls it ----------------------------------------------------------------
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
    early = early_config.stash[EARLY_KEY] = {"outer": isolation.registrations(), "env": {}}
    ns = early_config.known_args_namespace
    if os.environ.get("PYTEST_XDIST_WORKER") or getattr(ns, "numprocesses", None) not in (None, 0):
        return  # workers get their share from the controller (pytest_xdist_setupnodes)
    if getattr(ns, "kick_gpus", None) or early_config.getini("kick_gpus"):  # (imports the parsers)
        from .session.options import first_share

        share = first_share(lambda ini: getattr(ns, ini, None) or early_config.getini(ini)) or {}
        early["env"] = {name: os.environ.get(name) for name in share}
        os.environ.update(share)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "kick(limit=None, methods=None): per-test pytest-kick overrides (examples per task, methods)")
    from .session.lifecycle import KickRun

    early = config.stash.get(EARLY_KEY, {"outer": isolation.registrations(), "env": {}})
    config.stash[RUN_KEY] = run = KickRun(config, early["outer"], early["env"])
    run.configure()


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    _run(session.config).start()


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_setupnodes(config: pytest.Config, specs: list) -> None:
    _run(config).share_gpus(specs)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    _run(metafunc.config).parametrize(metafunc)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    _run(config).group(items)


def pytest_collection_finish(session: pytest.Session) -> None:
    _run(session.config).collected(session.items)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    # Usage errors raised inside a test (bad task name, missing data) read as one instruction, not a traceback;
    # a regression keeps pytest's own report (it is an AssertionError pointing at the user's line).
    exc = call.excinfo.value if call.excinfo is not None else None
    if isinstance(exc, KickError) and not isinstance(exc, KickRegression):
        report.longrepr = f"{item.nodeid}\n{type(exc).__name__}: {exc}"
    run = _run(item.config)
    if call.when == "call" or report.failed or (report.skipped and not _kick_skip(report)):
        run.sweep_outcome(item, not report.failed, exc)  # skipped or xfailed for its own reasons: done, neither way
    if report.failed and run.parsed and run.kick.fail_fast:
        from .session import failfast

        failfast.failed(run, exc)
    return report


def _kick_skip(report: pytest.TestReport) -> bool:
    """A skip pytest-kick made (an implied sweep candidate, fail-fast): not an outcome of the candidate's own."""
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr or "")
    return "--kick-sweep:" in reason or "--kick-fail-fast:" in reason


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    why = _run(item.config).sweep_skip(item)
    if why is not None:  # reported at the test's own line, as a skip mark's is
        raise pytest.skip.Exception(why, _use_item_location=True)


def pytest_sessionfinish(session: pytest.Session) -> None:
    _run(session.config).finish(session.exitstatus)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    _run(node.config).merge(node)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    _run(config).summary(terminalreporter)


def pytest_unconfigure(config: pytest.Config) -> None:
    if RUN_KEY in config.stash:
        _run(config).unconfigure()


# ---- the fixtures -----------------------------------------------------------------------------------------------
def _clean(fn, *args):
    """Run a fixture body; a pytest-kick error becomes one readable line instead of a traceback (failed outside the
    except block: pytest would otherwise print the error twice, joined by "During handling of the above exception")."""
    try:
        return fn(*args)
    except KickError as exc:
        message = f"{type(exc).__name__}: {exc}"
    pytest.fail(message, pytrace=False)


@pytest.fixture(scope="session")
def kick_config(pytestconfig: pytest.Config) -> KickConfig:
    """The parsed --kick-* options."""
    return _kick(pytestconfig)


@pytest.fixture(scope="session")
def kick_load_settings(kick_config: KickConfig, pytestconfig: pytest.Config) -> LoadSettings:
    """How this process loads models: the configured settings, its xdist worker id, and with
    --kick-cache-dir=none a scratch folder of this session's for converted and compressed models."""
    load = kick_config.load
    run = _run(pytestconfig)
    cache_dir = load.cache_dir if load.cache_dir is not None else run.scratch_models()
    return replace(load, cache_dir=cache_dir, worker_id=run.worker_id)


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


@pytest.fixture(scope="session")
def kick_judge_head_to_head(kick_judge):
    """`kick_judge` judging the compressed model's answers head to head against the dense model's, the reference
    that every example has (the same as `against="dense"` on the gate); skipped without a judge."""
    import dataclasses

    return dataclasses.replace(kick_judge, against="dense")


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
    record = reporting.recorder(request.config, node, kick_compressed, kick_dense)
    if kick_config.fail_fast:
        from .session import failfast

        why = failfast.reason(_run(request.config), kick_method.id)
        if why is not None:
            pytest.skip(why)

    def observe(result: Any, evidence: Any) -> Any:  # --kick-save / --kick-compare
        from .report import baseline

        return baseline.on_gate(request.config, kick_config, result, evidence, kick_dense.name)

    return ModelPair(
        dense=_runner_factory(request.config, kick_dense),
        compressed=_runner_factory(request.config, kick_compressed),
        method=kick_method,
        settings=replace(settings, limit=marker_limit(node, settings.limit)),
        test_id=node.nodeid,
        recorder=record,
        observer=observe if kick_config.save is not None or kick_config.compare is not None else None,
    )


def _runner_factory(config: pytest.Config, handle: ModelHandle):
    """How a model answers: its engine in this process, or with --kick-ray a pool of replicas on the cluster (an
    xdist worker's pool takes its share of the cluster)."""
    run = _run(config)
    if run.kick.ray is None:
        return handle.factory(run.kick.evaluation.batch_size)
    from .models.fanout import factory

    run.uses_ray = True  # its replicas stop when the session ends
    return factory(handle, run.kick.ray, run.kick.evaluation.batch_size, run.workers)
