"""A team registers its own task and compression method from conftest.py, as the README shows."""

import pytest

CONFTEST = """
import re
from dataclasses import dataclass

import torch

from pytest_kick import Example, Outcome, compression_method, register_task
from pytest_kick.compression import CompressionSpec, register_family
from pytest_kick.runners.engine import GenerationRequest


@dataclass(frozen=True)
class Noise(CompressionSpec):
    scale: float
    family = "noise"

    @property
    def id(self):
        return f"noise{self.scale:g}"


def parse(text):
    m = re.fullmatch(r"noise(\\d+(?:\\.\\d+)?)", text)
    if not m:
        raise ValueError("expected noise<scale>, e.g. noise0.01")
    return Noise(float(m.group(1)))


def add_noise(model, spec, ctx):
    for _, lin in ctx.layers(model):  # the same --kick-targets / --kick-skip-* selection as built-in methods
        lin.weight.add_(torch.randn_like(lin.weight) * spec.scale)


def pytest_kick_register(config):
    register_family("noise", parse, add_noise, examples=("noise0.01",))

    @compression_method("zero")  # --kick-method=zero<fraction>: zero the first rows of every selected layer
    def zero_rows(model, spec, ctx):
        for _, lin in ctx.layers(model):
            lin.weight[: int(float(spec.arg) * lin.weight.shape[0])] = 0


@register_task("echo")
@dataclass(frozen=True)
class Echo:
    name: str = "echo"

    def load(self, data_dir):
        return [Example(id=str(i), prompt=f"Question: item {i}?\\nAnswer:", answers=("x",)) for i in range(12)]

    def evaluate(self, runner, examples):
        texts = runner.generate([GenerationRequest(e.prompt, ("\\n",), 4) for e in examples])
        # Correct when the model is deterministic enough to say the same thing twice.
        again = runner.generate([GenerationRequest(e.prompt, ("\\n",), 4) for e in examples])
        return [Outcome(e.id, a == b, a, "same twice") for e, a, b in zip(examples, texts, again)]
"""


@pytest.mark.slow
def test_custom_method_and_task(pytester, kick_args):
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(
        """
        from pytest_kick import assert_kick_accuracy_within

        def test_custom(kick_pair):
            r = assert_kick_accuracy_within(kick_pair, task="echo", max_drop=0.5)
            assert r.dense_acc == 1.0 and r.method == "noise0.001"
        """
    )
    result = pytester.runpytest(*kick_args, "--kick-method=noise0.001", "-v")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*test_custom?noise0.001? PASSED*", "noise0.001*custom*compressed*"])
    bad = pytester.runpytest(*kick_args, "--kick-method=noise")
    bad.stderr.fnmatch_lines(["*expected noise<scale>*Valid forms:*noise0.01*"])


@pytest.mark.slow
def test_decorated_method_changes_the_model(pytester, kick_args, gate_file):
    pytester.makeconftest(CONFTEST)
    result = pytester.runpytest(*kick_args, "--kick-method=zero0.9", "-v")
    result.assert_outcomes(failed=1)  # 90% of every row zeroed: the facts are gone, the gate says so
    result.stdout.fnmatch_lines(["*test_recall?zero0.9? FAILED*"])


ECHO_ONLY = """
from dataclasses import dataclass
from pytest_kick import register_task


@register_task("echo_only")
@dataclass(frozen=True)
class EchoOnly:
    name: str = "echo_only"

    def load(self, data_dir):
        return []

    def evaluate(self, runner, examples):
        return []
"""

USES_ECHO = """
from pytest_kick import get_task

def test_uses():
    get_task("echo_only")
"""


def test_registrations_live_for_one_session(pytester):
    pytester.makeconftest(ECHO_ONLY)
    pytester.makepyfile(test_uses=USES_ECHO)
    pytester.runpytest().assert_outcomes(passed=1)
    (pytester.path / "conftest.py").unlink()
    again = pytester.runpytest()  # same process, next session: the conftest's task is gone
    again.assert_outcomes(failed=1)
    again.stdout.fnmatch_lines(["*unknown task 'echo_only'*"])


def test_a_conftest_cannot_silently_replace_a_built_in(pytester):
    pytester.makeconftest(ECHO_ONLY.replace('"echo_only"', '"mmlu"'))
    pytester.makepyfile(test_x="def test_x(): pass")
    result = pytester.runpytest()
    assert result.ret != 0
    result.stderr.fnmatch_lines(["*a task named 'mmlu' is already registered; pick another name, or pass replace=True*"])


def test_an_inner_session_gives_back_the_outer_sessions_registrations(pytester, request):
    from pytest_kick.tasks import TASKS

    request.addfinalizer(TASKS.reset)
    TASKS.add("outer_task", "pytest_kick.tasks.mmlu:MMLU")
    pytester.makepyfile(test_x="from pytest_kick import get_task\n\ndef test_x():\n    get_task('outer_task')\n")
    pytester.makeconftest(ECHO_ONLY)
    pytester.runpytest().assert_outcomes(passed=1)  # registered before the session: seen inside it
    assert "outer_task" in TASKS and "echo_only" not in TASKS  # what the inner session added is gone


def test_a_duplicate_registration_in_the_hook_is_a_usage_error(pytester):
    pytester.makeconftest(
        """
from pytest_kick import compression_method

def pytest_kick_register(config):
    compression_method("rtn")(lambda model, spec, ctx: None)
"""
    )
    pytester.makepyfile(test_x="def test_x(): pass")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: a compression method family named 'rtn' is already registered*"])
