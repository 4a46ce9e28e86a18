"""Value helpers: rich text runs, dates, and the seeding shorthand for page values.

Seeding (``NotionSandbox.add_page``/``update_page``) takes plain Python values per
property type, turned into the store's internal form by ``seed_value``:
title/rich_text ``str`` (or a list of ``str``, one run each), number ``float``,
select/status ``str`` (option name), multi_select ``list[str]``, relation
``list[str]`` (page ids), people ``list[str]`` (user ids), checkbox ``bool``,
url/email/phone_number ``str``, date ``date``/``datetime``/ISO ``str`` or a
``(start, end)`` pair. ``None`` clears.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sandboxes.notion.model import (
    DateValue,
    Option,
    PropertyDef,
    iso_date_value,
    normalize_id,
)

MAX_TEXT = 2000
ANNOTATIONS = {
    "bold": False,
    "italic": False,
    "strikethrough": False,
    "underline": False,
    "code": False,
    "color": "default",
}


def text_run(
    content: str, link: str | None = None, annotations: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A full rich-text object of type ``text``, as the API returns it."""
    return {
        "type": "text",
        "text": {"content": content, "link": {"url": link} if link else None},
        "annotations": {**ANNOTATIONS, **(annotations or {})},
        "plain_text": content,
        "href": link,
    }


def plain_text(runs: Sequence[dict[str, Any]]) -> str:
    """The concatenated ``plain_text`` of rich-text runs."""
    return "".join(str(run.get("plain_text", "")) for run in runs)


def text_runs(value: str | Sequence[Any]) -> list[dict[str, Any]]:
    """Rich text from a ``str`` (split at 2000 characters) or a list of ``str``/runs."""
    if isinstance(value, str):
        if not value:
            return []
        return [text_run(value[i : i + MAX_TEXT]) for i in range(0, len(value), MAX_TEXT)]
    runs: list[dict[str, Any]] = []
    for item in value:
        if isinstance(item, str):
            runs.append(text_run(item))
        elif isinstance(item, dict) and "plain_text" in item:
            runs.append(dict(item))
        else:
            raise ValueError(f"rich text items must be str or rich-text objects, not {item!r}")
    return runs


def parse_date(text: str, time_zone: str | None = None) -> date | datetime:
    """An ISO date (``2026-07-01``) or datetime; naive times are in ``time_zone`` or UTC."""
    if len(text) == 10:
        return date.fromisoformat(text)
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        zone: Any = UTC
        if time_zone:
            try:
                zone = ZoneInfo(time_zone)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown time zone {time_zone!r}") from None
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(UTC)


def date_point(value: Any) -> date | datetime:
    """One end of a seeded date."""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        return parse_date(value)
    raise ValueError(f"not a date: {value!r}")


def render_date(value: DateValue | None) -> dict[str, Any] | None:
    """A date property value: ``{"start", "end", "time_zone"}`` or None."""
    if value is None:
        return None
    return {
        "start": iso_date_value(value.start),
        "end": None if value.end is None else iso_date_value(value.end),
        "time_zone": None,
    }


def number_out(value: Any) -> Any:
    """Integral floats as ints, so 2.0 is sent as ``2`` like Notion does."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


# -- seeding -------------------------------------------------------------------------------


def seed_value(
    prop: PropertyDef,
    value: Any,
    *,
    option: Callable[[PropertyDef, str, bool], Option],
    user_exists: Callable[[str], bool],
    page_in: Callable[[str, str], bool],
) -> Any:
    """The internal value for a seeded ``value`` of ``prop`` (ValueError when invalid).

    ``option(prop, name, create)`` finds (or creates) an option; ``page_in(ds, id)``
    tells whether page ``id`` lives in data source ``ds``.
    """
    kind = prop.type
    if kind in ("formula", "rollup", "unique_id", "button") or kind.startswith(
        ("created_", "last_")
    ):
        raise ValueError(f"{prop.name!r} is a {kind} property; its value is computed")
    if value is None:
        return (
            []
            if kind in ("title", "rich_text", "multi_select", "people", "relation", "files")
            else None
        )
    if kind in ("title", "rich_text"):
        return text_runs(value)
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{prop.name!r} needs a number, not {value!r}")
        return value
    if kind in ("select", "status"):
        # Seeding plays a human in the UI: new select options appear, status ones do not.
        return option(prop, _text(prop, value), kind == "select").id
    if kind == "multi_select":
        return [option(prop, _text(prop, v), True).id for v in _items(prop, value)]
    if kind == "checkbox":
        if not isinstance(value, bool):
            raise ValueError(f"{prop.name!r} needs a bool, not {value!r}")
        return value
    if kind in ("url", "email", "phone_number"):
        return _text(prop, value)
    if kind == "date":
        if isinstance(value, tuple | list):
            start, end = value
            return DateValue(date_point(start), None if end is None else date_point(end))
        return DateValue(date_point(value))
    if kind == "people":
        ids = [_uuid(prop, v) for v in _items(prop, value)]
        for user_id in ids:
            if not user_exists(user_id):
                raise ValueError(f"{prop.name!r}: no user {user_id}")
        return ids
    if kind == "relation":
        target = str(prop.config["data_source_id"])
        ids = [_uuid(prop, v) for v in _items(prop, value)]
        for page_id in ids:
            if not page_in(target, page_id):
                raise ValueError(f"{prop.name!r}: page {page_id} is not in the related data source")
        return list(dict.fromkeys(ids))
    if kind == "files":
        return list(_items(prop, value))
    raise ValueError(f"cannot seed {prop.name!r} of type {kind}")


def _text(prop: PropertyDef, value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{prop.name!r} needs a str, not {value!r}")
    return value


def _items(prop: PropertyDef, value: Any) -> list[Any]:
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise ValueError(f"{prop.name!r} needs a list, not {value!r}")
    return list(value)


def _uuid(prop: PropertyDef, value: Any) -> str:
    found = normalize_id(value) if isinstance(value, str) else None
    if found is None:
        raise ValueError(f"{prop.name!r}: {value!r} is not an id")
    return found
