"""Notion property values: read any type into a plain value, write the writable ones. Pure."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from typing import Any

from okr_sync.errors import SourceError

#: Types okr-sync may write; formulas, rollups, ids and timestamps are Notion's own.
WRITABLE = frozenset(
    {"number", "status", "select", "date", "rich_text", "title", "checkbox", "url"}
)
READ_ONLY = frozenset({"formula", "rollup", "unique_id", "created_time", "last_edited_time",
                       "created_by", "last_edited_by"})  # fmt: skip


def _list(value: Any) -> list[Any]:
    """A JSON array, or nothing (a malformed value reads as empty, never as its characters)."""
    return value if isinstance(value, list) else []


def _text(parts: Any) -> str:
    return "".join(str(p.get("plain_text") or "") for p in _list(parts) if isinstance(p, dict))


def _date(value: Any) -> str | None:
    start = value.get("start") if isinstance(value, dict) else None
    return start if isinstance(start, str) else None


def _finite(value: Any) -> float | None:
    """A JSON number as a finite float; NaN, infinities and bools are no number."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except OverflowError:  # an integer beyond any float
        return None
    return number if math.isfinite(number) else None


def _ids(value: Any) -> list[str]:
    return [v["id"] for v in _list(value) if isinstance(v, dict) and isinstance(v.get("id"), str)]


def plain(prop: Mapping[str, Any]) -> Any:
    """A page property as a plain value.

    title/rich_text → str; number → float; select/status → option name;
    multi_select → list of names; date → ISO start; people → user ids;
    relation → page ids; checkbox → bool; url → str; unique_id → "PREFIX-N";
    formula/rollup → their computed value (a rollup array → list of plain values).
    """
    if not isinstance(prop, Mapping):
        return None
    kind = prop.get("type")
    value = prop.get(kind) if isinstance(kind, str) else None
    if kind in ("title", "rich_text"):
        return _text(value)
    if kind == "number":
        return _finite(value)
    if kind in ("select", "status"):
        name = value.get("name") if isinstance(value, dict) else None
        return name if isinstance(name, str) else None
    if kind == "multi_select":
        return [str(o["name"]) for o in _list(value) if isinstance(o, dict) and o.get("name")]
    if kind == "date":
        return _date(value)
    if kind in ("people", "relation"):
        return _ids(value)
    if kind == "checkbox":
        return value if isinstance(value, bool) else None
    if kind in ("url", "email", "phone_number", "created_time", "last_edited_time"):
        return value if isinstance(value, str) else None
    if kind == "unique_id" and isinstance(value, dict):
        number, prefix = value.get("number"), value.get("prefix")
        if not isinstance(number, int) or isinstance(number, bool):
            return None
        return f"{prefix}-{number}" if isinstance(prefix, str) and prefix else str(number)
    if kind in ("formula", "rollup") and isinstance(value, dict):
        inner = value.get("type")
        if inner == "array":
            return [plain(item) for item in _list(value.get("array")) if isinstance(item, dict)]
        if inner in ("incomplete", "unsupported"):
            return None
        result = value.get(inner) if isinstance(inner, str) else None
        if inner == "date":
            return _date(result)
        if inner == "number":
            return _finite(result)
        return result if isinstance(result, str | bool) else None
    return None


def number(prop: Mapping[str, Any]) -> float | None:
    """A number, from a number, formula or rollup property (or a numeric text).

    A "show original" rollup over one related row is an array of one number: that
    number. Over several rows it has no single value (summing would be a guess).
    """
    value = plain(prop)
    if isinstance(value, list):  # only a rollup or formula array; never people or a relation
        one = len(value) == 1 and prop.get("type") in ("rollup", "formula")
        value = value[0] if one else None
    if isinstance(value, str):
        try:
            value = float(value.replace(",", "").rstrip("%"))
        except ValueError:
            return None
    return _finite(value)  # "NaN" or "1e999" in a text is no number either


def to_date(value: Any) -> dt.date | None:
    """The date part of an ISO date or date-time."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError:
        return None


def date_range(prop: Mapping[str, Any] | None) -> tuple[dt.date | None, dt.date | None]:
    """Start and end of a date property, or of a formula or rollup giving a date.

    A single date is the end of the period (a due date).
    """
    if not prop:
        return None, None
    value = prop.get("date")
    if prop.get("type") in ("formula", "rollup"):
        inner = prop.get(str(prop.get("type"))) or {}
        value = (
            inner.get("date") if isinstance(inner, dict) and inner.get("type") == "date" else None
        )
    elif prop.get("type") != "date":
        return None, None
    if not isinstance(value, dict):
        return None, None
    start, end = to_date(value.get("start")), to_date(value.get("end"))
    return (start, end) if end else (None, start)


def write_value(kind: str, value: Any, *, database: str, name: str) -> dict[str, Any]:
    """The PATCH body of one property.

    Raises:
        SourceError: the property's type cannot be written.
    """
    if kind == "number":
        return {"number": value}
    if kind in ("status", "select"):
        return {kind: {"name": value} if value is not None else None}
    if kind == "date":
        return {"date": {"start": value} if value else None}
    if kind in ("rich_text", "title"):
        return {kind: [{"type": "text", "text": {"content": str(value)}}] if value else []}
    if kind in ("checkbox", "url"):
        return {kind: value}
    raise SourceError(
        database, f"property {name!r} is a {kind} property, which okr-sync cannot write"
    )
