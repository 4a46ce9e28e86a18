"""The small filter language of the local sources (memory, json_items).

A query is a mapping of conditions that must all hold; a list value means
"any of". Keys: ``key``, ``kind``, ``status`` (todo/in_progress/done),
``parent``, ``label`` (the item carries it), ``title_contains``, and
``fields.<name>`` (equality on a numeric field).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from okr_sync.models import WorkItem

KNOWN_KEYS = ("key", "kind", "status", "parent", "label", "title_contains")


def query_problem(query: object) -> str | None:
    """Why a query is not valid for these sources, or None."""
    if not isinstance(query, Mapping) or not query:
        return "a query here is a non-empty mapping such as {label: customer-bug, status: done}"
    for key, wanted in query.items():
        if key not in KNOWN_KEYS and not str(key).startswith("fields."):
            return f"unknown filter key {key!r}; use {', '.join(KNOWN_KEYS)} or fields.<name>"
        options = _any(wanted)
        if not options or not all(_scalar(o) for o in options):
            return f"{key}: expected a value or a list of values, not {str(wanted)[:60]!r}"
        if str(key).startswith("fields.") and not all(_number(o) for o in options):
            return f"{key}: compares a numeric field, so give numbers, not {str(wanted)[:60]!r}"
    return None


def _scalar(value: object) -> bool:
    return isinstance(value, str | int | float) and not isinstance(value, bool)


def _number(value: object) -> bool:
    try:
        return math.isfinite(float(value))  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return False


def _any(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


def matches(item: WorkItem, query: Mapping[str, Any]) -> bool:
    """True when the item satisfies every condition of the query."""
    for key, wanted in query.items():
        options = [str(v) for v in _any(wanted)]
        if key == "key":
            ok = item.key in options
        elif key == "kind":
            ok = item.kind.value in options
        elif key == "status":
            ok = item.status_category.value in options
        elif key == "parent":
            ok = item.parent_key in options
        elif key == "label":
            ok = any(label in options for label in item.labels)
        elif key == "title_contains":
            ok = any(o.lower() in item.title.lower() for o in options)
        elif key.startswith("fields."):
            value = item.fields.get(key[7:])
            ok = value is not None and any(float(o) == value for o in options)
        else:
            ok = False
        if not ok:
            return False
    return True
