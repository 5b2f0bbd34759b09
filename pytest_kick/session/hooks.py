"""Hook specifications that pytest-kick adds to pytest (implement them in a conftest.py or a plugin)."""

from __future__ import annotations

import pytest


@pytest.hookspec
def pytest_kick_register(config: pytest.Config) -> None:
    """Called once, before --kick-method is parsed: register your compression methods (and tasks) here, e.g. with
    `pytest_kick.register_family(...)` or `@pytest_kick.compression_method`, so that the grammar knows them."""
