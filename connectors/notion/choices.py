"""Measures and directions as a Notion KR page names them. Pure.

A ``measure`` option (select, status or text) names one of okr-sync's measures;
case and spaces are forgiven ("Issues done" is ``issues_done``). A ``direction``
is a select, status or text reading Increase or Decrease (any case; also "Higher
is better" / "Lower is better"), or a checkbox meaning *lower is better* when
checked. Anything else is not guessed at: the caller makes it the KR's problem.
"""

from __future__ import annotations

import re
from typing import Any

from okr_sync.models import Direction

#: The measures okr-sync knows, besides ``sum:<field>`` (the engine's names: a connector
#: imports only the domain contract, so they are listed here too).
MEASURES = frozenset(
    {"issues_done", "points_done", "initiatives_done", "count", "count:done", "manual"}
)
_DIRECTIONS = {
    "increase": Direction.INCREASE, "higher is better": Direction.INCREASE,
    "decrease": Direction.DECREASE, "lower is better": Direction.DECREASE,
}  # fmt: skip


def measure_name(option: str) -> str | None:
    """A measure name from a Notion option ("Issues done" → issues_done), None if unknown."""
    text = option.strip()
    if text in MEASURES or (text.startswith("sum:") and text[4:].strip()):
        return text
    folded = re.sub(r"[\s-]+", "_", text.casefold())
    return folded if folded in MEASURES else None


def known_measure(option: str) -> bool:
    """Whether okr-sync reads this option (or text) as a measure."""
    return measure_name(option) is not None


def direction_of(found: Any) -> tuple[Direction | None, bool]:
    """A direction from a property's plain value, and whether it could be read.

    Empty is no direction (readable); a checkbox is *lower is better* when checked.
    """
    if isinstance(found, bool):
        return (Direction.DECREASE if found else Direction.INCREASE), True
    if not isinstance(found, str) or not found.strip():
        return None, True
    direction = _DIRECTIONS.get(" ".join(found.casefold().split()))
    return direction, direction is not None


def known_direction(option: str) -> bool:
    """Whether okr-sync reads this option (or text) as a direction."""
    return direction_of(option)[1]
