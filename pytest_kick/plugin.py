"""pytest face of pytest-kick: options, the kick marker, fixtures, reporting. Imports no torch at load time."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .config import OPTIONS, KickConfig
from .errors import KickError, KickUsageError, MissingBackend

if TYPE_CHECKING:  # pragma: no cover
    from .compression import CompressionSpec
    from .models import ModelHandle, ModelPair

CONFIG_KEY = pytest.StashKey["KickConfig"]()
RESULTS_KEY = pytest.StashKey[list]()
PAIR_FIXTURES = {"kick_pair", "kick_compressed", "kick_method"}


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from . import hooks

    pluginmanager.add_hookspecs(hooks)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("kick", "pytest-kick: paired compression gates for LLMs")
    for opt in OPTIONS:
        if opt.kind == "bool":
            group.addoption(opt.flag, action="store_true", default=None, dest=opt.ini, help=opt.help)
        else:
            group.addoption(opt.flag, action="store", default=None, dest=opt.ini, metavar="VALUE", help=opt.help)
        parser.addini(opt.ini, opt.help, type=opt.kind, default=opt.default if opt.kind != "bool" else False)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "kick(limit=None, methods=None): per-test pytest-kick overrides (examples per task, methods)"
    )
    # Relative paths: from the ini file's folder when they come from it, else from where pytest was started.
    ini_dir = Path(config.inipath).parent if config.inipath else Path(config.invocation_params.dir)

    def resolved(name: str) -> Any:
        cli = config.getoption(name)
        if cli is not None:
            return cli
        return config.getini(name)

    base = Path(config.invocation_params.dir)
    values = {opt.ini: resolved(opt.ini) for opt in OPTIONS}
    for name in ("kick_model", "kick_compressed", "kick_data_dir", "kick_cache_dir", "kick_calib_data"):
        raw = values[name]
        if name == "kick_calib_data" and raw in ("builtin", "wikitext2"):
            continue
        if raw and config.getoption(name) is None and not Path(str(raw)).expanduser().is_absolute():
            candidate = ini_dir / str(raw)
            if candidate.exists() or name != "kick_model":
                values[name] = str(candidate)
    config.hook.pytest_kick_register(config=config)
    try:
        kick = KickConfig.from_values(values.get, base=base)
    except (KickUsageError, MissingBackend) as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[CONFIG_KEY] = kick
    config.stash[RESULTS_KEY] = []


def _methods_for(metafunc: pytest.Metafunc, kick: KickConfig) -> tuple["CompressionSpec", ...]:
    from .compression import CheckpointSpec, parse_specs

    marker = metafunc.definition.get_closest_marker("kick")
    wanted = marker.kwargs.get("methods") if marker else None
    if wanted is None or isinstance(kick.methods[0], CheckpointSpec):
        return kick.methods
    text = wanted if isinstance(wanted, str) else ",".join(wanted)
    try:
        return parse_specs(text)
    except KickUsageError as exc:
        pytest.fail(f"@pytest.mark.kick(methods=...) in {metafunc.definition.nodeid}: {exc}", pytrace=False)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if PAIR_FIXTURES & set(metafunc.fixturenames):
        kick = metafunc.config.stash[CONFIG_KEY]
        specs = _methods_for(metafunc, kick)
        metafunc.parametrize("kick_method", specs, ids=[s.id for s in specs], indirect=True, scope="session")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # With `-n N --dist loadgroup`, all tests of one method run on one worker: it compresses the model once.
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


def _settings(kick: KickConfig):
    from .models import LoadSettings

    return LoadSettings(
        device=kick.device,
        dtype=kick.dtype,
        cache_dir=kick.cache_dir or Path(os.environ.get("TMPDIR", "/tmp")) / "pytest-kick-nocache",
        trust_remote_code=kick.trust_remote_code,
        worker_id=os.environ.get("PYTEST_XDIST_WORKER"),
    )


@pytest.fixture(scope="session")
def kick_config(pytestconfig: pytest.Config) -> KickConfig:
    """The parsed --kick-* options."""
    return pytestconfig.stash[CONFIG_KEY]


@pytest.fixture(scope="session")
def kick_dense(kick_config: KickConfig) -> "ModelHandle":
    """The dense model (a lazy handle: weights load on the first request the cache cannot answer)."""
    from .models import dense_handle

    return _clean(dense_handle, kick_config.model, _settings(kick_config))


@pytest.fixture(scope="session")
def kick_method(request: pytest.FixtureRequest) -> "CompressionSpec":
    """The compression spec of the current parametrization (one per --kick-method entry)."""
    if not hasattr(request, "param"):
        return request.config.stash[CONFIG_KEY].methods[0]
    return request.param


@pytest.fixture(scope="session")
def kick_compressed(kick_config: KickConfig, kick_dense: "ModelHandle", kick_method: "CompressionSpec") -> "ModelHandle":
    """The compressed model for the current method (lazy, once per session and worker)."""
    from .models import compressed_handle

    return _clean(
        compressed_handle, kick_config.model, kick_dense, kick_method, _settings(kick_config), kick_config.compression
    )


@pytest.fixture
def kick_pair(
    request: pytest.FixtureRequest,
    kick_config: KickConfig,
    kick_dense: "ModelHandle",
    kick_compressed: "ModelHandle",
    kick_method: "CompressionSpec",
) -> "ModelPair":
    """(dense, compressed) for the current method, with this test's limit and a recorder for the report."""
    from .models import ModelPair

    marker = request.node.get_closest_marker("kick")
    limit = marker.kwargs.get("limit") if marker else None
    if limit is not None and (not isinstance(limit, int) or limit <= 0):
        pytest.fail(f"@pytest.mark.kick(limit=...) must be a positive integer, got {limit!r}", pytrace=False)
    node = request.node
    results = request.config.stash[RESULTS_KEY]

    def record(result: Any) -> None:
        row = result.to_dict()
        row["test"] = node.nodeid
        for key in ("backend", "build", "compress_s"):
            if key in kick_compressed.info:
                row[key] = kick_compressed.info[key]
        results.append(row)
        for key, value in row.items():
            node.user_properties.append((f"kick_{key}", json.dumps(value) if isinstance(value, (list, dict)) else value))

    return ModelPair(
        dense=kick_dense,
        compressed=kick_compressed,
        method=kick_method,
        data_dir=kick_config.data_dir,
        limit=limit or kick_config.limit,
        seed=kick_config.seed,
        batch_size=kick_config.batch_size,
        cache_dir=kick_config.cache_dir,
        test_id=node.nodeid,
        recorder=record,
        toxicity_scorer=kick_config.toxicity_scorer,
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    # Usage errors raised inside a test (bad task name, missing data) read as one instruction, not a traceback.
    if call.excinfo is not None and call.excinfo.errisinstance(KickError):
        exc = call.excinfo.value
        report.longrepr = f"{item.nodeid}\n{type(exc).__name__}: {exc}"
    return report


def pytest_sessionfinish(session: pytest.Session) -> None:
    config = session.config
    if hasattr(config, "workeroutput") and RESULTS_KEY in config.stash:  # xdist worker: hand results over
        config.workeroutput["kick_results"] = json.dumps(config.stash[RESULTS_KEY])


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    rows = getattr(node, "workeroutput", {}).get("kick_results")
    if rows:
        node.config.stash[RESULTS_KEY].extend(json.loads(rows))


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    from .report import summary_lines

    if RESULTS_KEY not in config.stash or hasattr(config, "workeroutput"):
        return
    lines = summary_lines(config.stash[RESULTS_KEY])
    if lines:
        terminalreporter.write_sep("=", "pytest-kick summary")
        for line in lines:
            terminalreporter.write_line(line)
