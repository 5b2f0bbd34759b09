"""What one pytest session leaves to the next in the same process (pytester's in-process runs): the conftest
registrations it made are forgotten at its end, and module copies pytester dropped are not reused. Stdlib only: the
plugin imports this at every start."""

from __future__ import annotations

import sys
from types import ModuleType

REGISTRIES = (("pytest_kick.tasks", "TASKS"), ("pytest_kick.compression", "FAMILIES"))  # module, registry in it


def forget_dropped_modules() -> None:
    """pytester's in-process runs drop from sys.modules what a run imported, but not the package attributes naming
    those modules: drop these too, so that a session imports one fresh copy of each module instead of mixing the
    dropped copy (reached as an attribute, `from . import x`) with a new one (reached through sys.modules)."""
    for name, module in list(sys.modules.items()):
        if name == "pytest_kick" or name.startswith("pytest_kick."):
            for attr, value in list(vars(module).items()):
                if isinstance(value, ModuleType) and value.__name__ == f"{name}.{attr}" and sys.modules.get(value.__name__) is not value:
                    delattr(module, attr)


def registrations() -> dict[str, dict]:
    """What is registered from outside the package now, per registry module; a registry not imported yet holds
    nothing (and is emptied again by `restore`)."""
    return {module: getattr(sys.modules[module], name).snapshot() for module, name in REGISTRIES if module in sys.modules}


def restore(saved: dict[str, dict]) -> None:
    """Put back what `registrations` saw, importing nothing."""
    for module, name in REGISTRIES:
        if module in sys.modules:
            getattr(sys.modules[module], name).restore(saved.get(module, {}))
