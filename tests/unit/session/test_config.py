import pytest

from pytest_kick.compression import CheckpointSpec, parse_spec
from pytest_kick.errors import KickUsageError
from pytest_kick.session.config import KickConfig


def build(**values):
    return KickConfig.from_values(values.get)


def test_defaults(monkeypatch, tmp_path):
    monkeypatch.setenv("PYTEST_KICK_CACHE", str(tmp_path))
    cfg = build()
    assert cfg.model.kind == "alias" and [m.id for m in cfg.methods] == ["rtn8"]
    ev, load = cfg.evaluation, cfg.load
    assert ev.limit is None and ev.batch_size == "auto" and load.device == "auto" and not load.trust_remote_code
    assert ev.cache_dir == load.cache_dir == tmp_path and cfg.gpus is None and load.gpus_per_worker == 1


@pytest.mark.parametrize(
    "values, needle",
    [
        ({"kick_limit": "0"}, "--kick-limit '0': must be a positive integer"),
        ({"kick_limit": "-5"}, "--kick-limit '-5'"),
        ({"kick_limit": "many"}, "--kick-limit 'many'"),
        ({"kick_batch_size": "0"}, "positive integer or 'auto'"),
        ({"kick_device": "gpu"}, "auto, cpu, cuda, cuda:N"),
        ({"kick_dtype": "fp8"}, "auto, float32, bfloat16, float16"),
        ({"kick_seed": "x"}, "must be a whole number from 0 to 4294967295"),
        ({"kick_data_dir": "/no/such/dir"}, "no such directory"),
        ({"kick_method": "gptq17"}, "gptq supports 2, 3, 4, 8 bits"),
        ({"kick_backend": "vllm"}, "valid values are auto, builtin, llmcompressor"),
        ({"kick_targets": "mlp", "kick_skip_last": "x"}, "--kick-skip-last 'x'"),
        ({"kick_model": "./missing-model"}, "no such file or directory"),
        ({"kick_compressed": "/no/such/ckpt"}, "--kick-compressed"),
        ({"kick_gpus": "0,,1"}, "--kick-gpus '0,,1': give comma-separated GPU indices"),
        ({"kick_gpus": "0,1,0"}, "listed twice"),
        ({"kick_gpus_per_worker": "0"}, "--kick-gpus-per-worker '0': must be a positive integer"),
        ({"kick_calib_data": "/no/such.txt", "kick_method": "gptq4"}, "no such file"),
    ],
)
def test_bad_values_are_usage_errors(values, needle):
    with pytest.raises(KickUsageError) as err:
        build(**values)
    assert needle in str(err.value)


def test_values_parse(tmp_path):
    cfg = build(
        kick_limit="20",
        kick_batch_size="4",
        kick_device="cuda:1",
        kick_method="rtn4,magnitude-2:4",
        kick_data_dir=str(tmp_path),
        kick_cache_dir="none",
        kick_trust_remote_code=True,
    )
    ev = cfg.evaluation
    assert (ev.limit.value, ev.limit.knob, ev.batch_size, cfg.load.device, ev.cache_dir) == (20, "--kick-limit", 4, "cuda:1", None)
    assert cfg.load.cache_dir is None  # --kick-cache-dir=none: the session gives models a scratch folder
    assert ev.data_dir == tmp_path.resolve() and cfg.load.trust_remote_code


def test_compressed_checkpoint_replaces_methods(tmp_path):
    (tmp_path / "config.json").write_text('{"model_type": "llama"}')
    cfg = build(kick_compressed=str(tmp_path), kick_method="rtn4")
    assert cfg.methods == (CheckpointSpec(str(tmp_path.resolve())),)
    assert cfg.methods[0].id == f"checkpoint:{tmp_path.name}"


def test_compression_settings_are_parsed_once(tmp_path):
    text = tmp_path / "calib.txt"
    text.write_text("some text " * 50)
    cfg = build(
        kick_method="gptq4",
        kick_backend="LLMCompressor",
        kick_calib_data=str(text),
        kick_calib_samples="16",
        kick_calib_seqlen="64",
        kick_targets="mlp, q_proj",
        kick_skip_first="1",
        kick_skip_last="2",
    )
    c = cfg.compression
    assert (c.backend, c.calibration.samples, c.calibration.seqlen, c.calibration.source) == ("llmcompressor", 16, 64, str(text))
    assert (c.layers.targets, c.layers.skip_first, c.layers.skip_last) == (("mlp", "q_proj"), 1, 2)
    assert c.seed == cfg.evaluation.seed


def test_every_method_is_planned_once_at_start_up(tmp_path):
    text = tmp_path / "calib.txt"
    text.write_text("some text " * 50)
    cfg = build(kick_method="rtn4,gptq4", kick_calib_data=str(text))
    rtn, gptq = cfg.plans
    assert rtn.backend.name == "builtin" and not rtn.needs_calibration and rtn.calibration is None
    assert gptq.backend.name == "llmcompressor" and gptq.needs_calibration and gptq.calibration["source"] == str(text)
    assert cfg.plan(cfg.methods[1]) is gptq and cfg.plan(parse_spec("magnitude50")).backend.name == "builtin"


def test_relative_paths_resolve_from_where_the_value_came_from(tmp_path):
    from pytest_kick.session.config import Value

    (tmp_path / "data").mkdir()
    cfg = KickConfig.from_values({"kick_data_dir": Value("data", tmp_path, "kick_data_dir in pytest.ini")}.get)
    assert cfg.evaluation.data_dir == (tmp_path / "data").resolve()
    limited = KickConfig.from_values({"kick_limit": Value("5", tmp_path, "kick_limit in pytest.ini")}.get)
    assert limited.evaluation.limit.knob == "kick_limit in pytest.ini"


def test_every_option_in_the_table_has_one_parser():
    """The option table pytest reads at start-up (plain strings) and the parsers used once a kick test runs agree."""
    from pytest_kick.session.options import PARSERS
    from pytest_kick.session.optiontable import OPTIONS

    assert [o.ini for o in OPTIONS] == list(PARSERS) and all(o.flag == "--" + o.ini.replace("_", "-") for o in OPTIONS)
