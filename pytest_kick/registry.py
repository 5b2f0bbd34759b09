"""Named registries (tasks, compression families): built-ins plus what a session's conftest adds, which is
dropped again when the session ends. A name is never silently replaced."""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from typing import Generic, TypeVar

from .errors import KickUsageError

T = TypeVar("T")


def did_you_mean(name: str, choices, form: str = "'{}'") -> str:
    """' Did you mean …?' for the closest of `choices` to a mistyped `name` (empty when none is close)."""
    hint = difflib.get_close_matches(name, list(choices), n=1)
    return f" Did you mean {form.format(hint[0])}?" if hint else ""


class Registry(Generic[T]):
    """`kind` names the entries in messages ('task', 'compression method family')."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._builtin: dict[str, T] = {}
        self._added: dict[str, T] = {}

    def add(self, name: str, value: T, *, replace: bool = False, builtin: bool = False) -> None:
        """Register `name`; an existing name (built-in or registered earlier) needs `replace=True`."""
        if name in self and not replace:
            raise KickUsageError(
                f"a {self.kind} named '{name}' is already registered; pick another name, or pass replace=True to replace it on purpose"
            )
        (self._builtin if builtin else self._added)[name] = value

    def get(self, name: str) -> T | None:
        return self._added.get(name, self._builtin.get(name))

    def did_you_mean(self, name: str) -> str:
        return did_you_mean(name, self)

    def names(self) -> list[str]:
        return sorted(self)

    def values(self) -> list[T]:
        return [self.get(n) for n in self]  # type: ignore[misc]

    def reset(self) -> None:
        """Forget everything registered outside the package (and restore replaced built-ins)."""
        self._added.clear()

    def snapshot(self) -> dict[str, T]:
        """What is registered outside the package now, to `restore` later (a session inside a session)."""
        return dict(self._added)

    def restore(self, saved: dict[str, T]) -> None:
        self._added = dict(saved)

    def __contains__(self, name: object) -> bool:
        return name in self._added or name in self._builtin

    def __iter__(self) -> Iterator[str]:
        return iter({**self._builtin, **self._added})
