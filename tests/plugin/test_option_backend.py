"""--kick-backend: which library compresses; what is not installed or cannot run a method is said at start-up."""

import pytest
from conftest import assert_usage_error


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--kick-backend=auto-gptq", "--kick-method=gptq4"], "auto-gptq is end-of-life; it refuses to quantize without CUDA"),
        (["--kick-backend=triton"], "--kick-backend 'triton': valid values are auto, builtin"),
        (["--kick-method=wanda50", "--kick-backend=builtin"], "cannot run wanda50: the wanda family is served by llmcompressor"),
    ],
)
def test_bad_backends_are_usage_errors(pytester, args, needle):
    assert_usage_error(pytester, args, needle)


def test_missing_backend_names_the_pip_command(pytester, monkeypatch):
    from pytest_kick.compression import backends

    fake = backends.Backend(
        "llmcompressor", "no_such_module_xyz", "llmcompressor", "pip install 'llmcompressor>=0.14,<0.15'", calibrates=True
    )
    monkeypatch.setitem(backends.BACKENDS, "llmcompressor", fake)
    assert_usage_error(
        pytester,
        ["--kick-method=wanda50"],
        "needs the llmcompressor backend, which is not installed. Install it with: pip install 'llmcompressor>=0.14,<0.15'",
    )
