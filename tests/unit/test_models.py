import sys

import pytest

from pytest_kick.models import dense_handle
from pytest_kick.settings import LoadSettings
from pytest_kick.sources import parse_model_source

pytestmark = pytest.mark.slow  # loads a real (tiny) model


def test_local_dir_loads_lazily_once(random_model_dir, tmp_path):
    handle = dense_handle(parse_model_source(str(random_model_dir)), LoadSettings(device="cpu", cache_dir=tmp_path))
    assert handle.loads == 0 and "torch" in sys.modules
    model, tok = handle.load()
    handle.load()
    assert handle.loads == 1 and model.training is False and next(model.parameters()).device.type == "cpu"


def test_a_handle_is_a_runner_factory_that_loads_on_first_use(random_model_dir, tmp_path):
    from pytest_kick.contract import LoglikelihoodRequest

    handle = dense_handle(parse_model_source(str(random_model_dir)), LoadSettings(device="cpu", cache_dir=tmp_path))
    factory = handle.factory(batch_size=2)
    assert factory.fingerprint == handle.fingerprint and factory.info is handle.info and handle.loads == 0
    runner = factory.make()
    assert handle.loads == 1 and runner.batch_size == 2
    assert runner.loglikelihood([LoglikelihoodRequest("a small", " corpus")])[0].n_tokens >= 1
