import pytest

from pytest_kick.compression import FAMILIES, Calibration, CheckpointSpec, CompressionSettings, compression_method, parse_spec
from pytest_kick.compression.plan import plan_method
from pytest_kick.errors import KickUsageError


def test_built_in_methods_take_no_calibration():
    plan = plan_method(parse_spec("magnitude50"), CompressionSettings())
    assert plan.backend.name == "builtin" and not plan.needs_calibration and plan.code is None
    assert plan.family.name == "magnitude" and callable(plan.compressor())


def test_a_team_method_is_keyed_by_calibration_and_code(request, tmp_path):
    request.addfinalizer(FAMILIES.reset)

    @compression_method("halve")
    def halve(model, spec, ctx):  # pragma: no cover - not run here
        pass

    text = tmp_path / "calib.txt"
    text.write_text("words " * 100)
    plan = plan_method(parse_spec("halve"), CompressionSettings(calibration=Calibration(source=str(text))))
    assert plan.backend.name == "custom" and plan.needs_calibration and plan.code
    assert plan.calibration["source"] == str(text) and len(plan.calibration["sha256"]) == 20


def test_a_checkpoint_plan_names_its_format_and_has_nothing_to_compress(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    plan = plan_method(CheckpointSpec(str(tmp_path)), CompressionSettings())
    assert plan.is_checkpoint and plan.checkpoint_format == "dense"
    with pytest.raises(KickUsageError, match="nothing to compress"):
        plan.compressor()
