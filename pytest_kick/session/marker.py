"""The `kick` marker: its keywords checked at collection, its methods (parsed and planned like --kick-method) and its
example limit (which wins over --kick-limit)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from ..errors import KickUsageError, MissingBackend
from ..registry import did_you_mean
from ..settings import Limit, check_limit

if TYPE_CHECKING:  # pragma: no cover
    from ..compression import CompressionSpec
    from .config import KickConfig

MARKER = "@pytest.mark.kick"


def marker_methods(metafunc: pytest.Metafunc, kick: KickConfig) -> tuple[CompressionSpec, ...]:
    marker = metafunc.definition.get_closest_marker("kick")
    wanted = marker.kwargs.get("methods") if marker else None
    if wanted is None or kick.plans[0].is_checkpoint:
        return kick.methods
    from ..compression import parse_specs

    if not (isinstance(wanted, str) or (isinstance(wanted, (list, tuple)) and all(isinstance(m, str) for m in wanted))):
        pytest.fail(
            f"{MARKER}(methods=...) in {metafunc.definition.nodeid}: a method spec or a list of them, e.g. methods=['rtn8', "
            f"'gptq4'], got {wanted!r}",
            pytrace=False,
        )
    text = wanted if isinstance(wanted, str) else ",".join(wanted)
    try:
        specs = parse_specs(text)
        for spec in specs:  # the same start-up checks as --kick-method (backend installed, calibration file)
            kick.plan(spec)
        return specs
    except (KickUsageError, MissingBackend) as exc:
        message = f"{MARKER}(methods=...) in {metafunc.definition.nodeid}: {exc}"
    pytest.fail(message, pytrace=False)  # outside the except block: one message, not two chained


MARKER_KEYWORDS = ("limit", "methods")


def check_marker(metafunc: pytest.Metafunc) -> None:
    """A typo in the kick marker (limt=, method=) must not silently run with the command-line values."""

    for marker in metafunc.definition.iter_markers("kick"):
        if marker.args:
            pytest.fail(
                f"{MARKER} in {metafunc.definition.nodeid} takes keywords only (limit=..., methods=...), got {marker.args!r}", pytrace=False
            )
        for key in marker.kwargs:
            if key not in MARKER_KEYWORDS:
                did = did_you_mean(key, MARKER_KEYWORDS, "{}=")
                pytest.fail(
                    f"{MARKER}({key}=...) in {metafunc.definition.nodeid}: unknown keyword '{key}'.{did} "
                    f"It takes {', '.join(k + '=' for k in MARKER_KEYWORDS)}.",
                    pytrace=False,
                )


def marker_limit(node: pytest.Item, configured: Limit | None) -> Limit | None:
    """The test's kick marker wins over --kick-limit, which wins over the ini value."""
    marker = node.get_closest_marker("kick")
    value = marker.kwargs.get("limit") if marker else None
    if value is None:
        return configured
    knob = f"{MARKER}(limit=...)"
    try:
        check_limit(value, knob)
        return Limit(value, knob)
    except KickUsageError as exc:
        message = f"KickUsageError: {exc}"
    pytest.fail(message, pytrace=False)
