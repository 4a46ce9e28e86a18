"""Notion property values: read any type into a plain value, write the writable ones. Pure."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from okr_sync.errors import SourceError

#: Types okr-sync may write; formulas, rollups, ids and timestamps are Notion's own.
WRITABLE = frozenset(
    {"number", "status", "select", "date", "rich_text", "title", "checkbox", "url"}
)
READ_ONLY = frozenset({"formula", "rollup", "unique_id", "created_time", "last_edited_time",
                       "created_by", "last_edited_by"})  # fmt: skip


def _text(parts: Any) -> str:
    return "".join(str(p.get("plain_text", "")) for p in parts or () if isinstance(p, dict))


def _date(value: Any) -> str | None:
    return value.get("start") if isinstance(value, dict) else None


def plain(prop: Mapping[str, Any]) -> Any:
    """A page property as a plain value.

    title/rich_text → str; number → float; select/status → option name;
    multi_select → list of names; date → ISO start; people → user ids;
    relation → page ids; checkbox → bool; url → str; unique_id → "PREFIX-N";
    formula/rollup → their computed value (a rollup array → list of plain values).
    """
    kind = prop.get("type")
    value = prop.get(kind) if isinstance(kind, str) else None
    if kind in ("title", "rich_text"):
        return _text(value)
    if kind == "number":
        return (
            float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
        )
    if kind in ("select", "status"):
        return value.get("name") if isinstance(value, dict) else None
    if kind == "multi_select":
        return [str(o.get("name")) for o in value or () if isinstance(o, dict)]
    if kind == "date":
        return _date(value)
    if kind == "people":
        return [str(u.get("id")) for u in value or () if isinstance(u, dict)]
    if kind == "relation":
        return [str(r.get("id")) for r in value or () if isinstance(r, dict)]
    if kind in ("checkbox", "url", "email", "phone_number", "created_time", "last_edited_time"):
        return value
    if kind == "unique_id" and isinstance(value, dict):
        number, prefix = value.get("number"), value.get("prefix")
        return f"{prefix}-{number}" if prefix else (str(number) if number is not None else None)
    if kind in ("formula", "rollup") and isinstance(value, dict):
        inner = value.get("type")
        if inner == "array":
            return [plain(item) for item in value.get("array") or () if isinstance(item, dict)]
        if inner in ("incomplete", "unsupported"):
            return None
        result = value.get(inner) if isinstance(inner, str) else None
        if inner == "date":
            return _date(result)
        if inner == "number" and isinstance(result, int | float) and not isinstance(result, bool):
            return float(result)
        return result
    return None


def number(prop: Mapping[str, Any]) -> float | None:
    """A number, from a number, formula or rollup property (or a numeric text)."""
    value = plain(prop)
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.replace(",", "").rstrip("%"))
        except ValueError:
            return None
    return None


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
