"""Query sorts: ``[{"property": name_or_id, "direction": …}]`` and timestamp sorts.

Earlier sorts take precedence; empty values go last in either direction; select,
status and multi_select sort by the option order of the schema, as in Notion.
Without sorts a query lists the newest pages first (what the recorded queries show).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sandboxes.notion.compute import Computer
from sandboxes.notion.formula import FormulaValue
from sandboxes.notion.http import shown, validation
from sandboxes.notion.model import DataSource, DateValue, Page, floor_minute

SortKey = Callable[[Page], Any]


def sort_pages(ds: DataSource, compute: Computer, pages: list[Page], sorts: Any) -> list[Page]:
    """``pages`` (newest first) ordered by ``sorts``; 400 when ``sorts`` is invalid."""
    ordered = sorted(pages, key=lambda p: p.seq, reverse=True)
    if sorts is None:
        return ordered
    if not isinstance(sorts, list) or len(sorts) > 100:
        raise validation(
            f"body failed validation: body.sorts should be an array, instead was {shown(sorts)}."
        )
    keys = [_sort_key(ds, compute, s, f"body.sorts[{i}]") for i, s in enumerate(sorts)]
    # Stable sorts from the last key to the first; each pass keeps empties last.
    for key, descending in reversed(keys):
        valued = [(key(p), p) for p in ordered]
        full = sorted(
            (kv for kv in valued if kv[0] is not None), key=lambda kv: kv[0], reverse=descending
        )
        ordered = [p for _, p in full] + [p for k, p in valued if k is None]
    return ordered


def _sort_key(ds: DataSource, compute: Computer, spec: Any, path: str) -> tuple[SortKey, bool]:
    direction = spec.get("direction") if isinstance(spec, dict) else spec
    if direction not in ("ascending", "descending"):
        raise validation(
            f'body failed validation: {path}.direction should be `"ascending"` or '
            f'`"descending"`, instead was {shown(direction)}.'
        )
    descending = direction == "descending"
    if "timestamp" in spec:
        stamp = spec["timestamp"]
        if stamp not in ("created_time", "last_edited_time"):
            raise validation(
                f'body failed validation: {path}.timestamp should be `"created_time"` or '
                f'`"last_edited_time"`, instead was {shown(stamp)}.'
            )
        if stamp == "created_time":
            return (lambda p: floor_minute(p.created)), descending
        return (lambda p: floor_minute(p.edited)), descending
    prop = ds.find(str(spec.get("property")))
    if prop is None:
        raise validation(f"Could not find sort property with name or id: {spec.get('property')}")
    if prop.type in ("select", "status", "multi_select"):
        order = {o.id: i for i, o in enumerate(prop.options)}

        def option_key(page: Page) -> Any:
            raw = page.values.get(prop.id)
            first = raw[0] if isinstance(raw, list) and raw else raw
            return order.get(first) if isinstance(first, str) else None

        return option_key, descending
    return (lambda p: _comparable(compute.scalar(p, prop))), descending


def _comparable(value: FormulaValue) -> Any:
    if value is None or value == "" or value == []:
        return None
    if isinstance(value, DateValue):
        return value.sort_key()
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, str):
        return value.casefold()
    if isinstance(value, list):
        return len(value)
    return value
