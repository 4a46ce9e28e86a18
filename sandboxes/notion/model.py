"""The Notion sandbox's data model: users, databases, data sources, pages, comments.

Pages keep their property values by property id in a compact internal form (option
ids, page ids, user ids, parsed dates...); ``render`` turns them into API
objects. Ids, timestamps and property ids follow Notion's formats.
"""

from __future__ import annotations

import random
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import quote, unquote

UUID_RE = re.compile(
    r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$"
)

# Property types whose values the API computes; a PATCH may not set them.
READ_ONLY_TYPES = frozenset(
    {
        "formula",
        "rollup",
        "unique_id",
        "created_time",
        "created_by",
        "last_edited_time",
        "last_edited_by",
        "button",
        "verification",
    }
)
# Types a page PATCH may write, in the order Notion lists them in "Fix one" errors.
WRITABLE_TYPES = (
    "title",
    "rich_text",
    "number",
    "url",
    "select",
    "multi_select",
    "people",
    "email",
    "phone_number",
    "date",
    "checkbox",
    "relation",
    "files",
    "status",
)
SUPPORTED_TYPES = frozenset(WRITABLE_TYPES) | READ_ONLY_TYPES - {"verification"}
COLORS = ("default", "gray", "brown", "orange", "yellow", "green", "blue", "purple", "pink", "red")

# Characters real property ids use (raw form); "/", "%", "#" and "." are left out so a
# decoded id is still one path segment the clients accept.
_ID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789:;<=>?@[]^_`{|}~"


def new_id(rng: random.Random) -> str:
    """A dashed UUID (version 4), as every Notion object id."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def normalize_id(text: str) -> str | None:
    """``text`` as a dashed lower-case UUID, or None when it is not one."""
    if not UUID_RE.match(text):
        return None
    return str(uuid.UUID(text.replace("-", "")))


def new_property_id(rng: random.Random, taken: set[str]) -> str:
    """A short opaque property id such as ``?B:W`` (raw form), unique within ``taken``."""
    while True:
        candidate = "".join(rng.choice(_ID_CHARS) for _ in range(4))
        if candidate not in taken and candidate != "title":
            return candidate


def encode_property_id(raw: str) -> str:
    """The URL-encoded form Notion shows in ``id`` fields (``?B:W`` → ``%3FB%3AW``)."""
    return quote(raw, safe="-_.!~*'()")


def decode_property_id(text: str) -> str:
    """The raw form of an encoded or raw property id."""
    return unquote(text)


def floor_minute(moment: datetime) -> datetime:
    """Notion floors page and data source timestamps to the minute."""
    return moment.astimezone(UTC).replace(second=0, microsecond=0)


def iso_minute(moment: datetime) -> str:
    """A page timestamp: ``2026-07-04T09:09:00.000Z``."""
    return floor_minute(moment).strftime("%Y-%m-%dT%H:%M:00.000Z")


def iso_millis(moment: datetime) -> str:
    """A database timestamp: ``2026-07-04T09:08:57.778+00:00``."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}+00:00"


def iso_date_value(value: date | datetime) -> str:
    """A date property value: ``2023-02-07`` or ``2024-11-25T14:08:00.000+00:00``."""
    if isinstance(value, datetime):
        return iso_millis(value)
    return value.isoformat()


def notion_url(page_id: str, title: str = "") -> str:
    """The ``url`` of a page or database: ``https://www.notion.so/Title-<hex>``."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", title).strip("-")
    hexid = page_id.replace("-", "")
    return f"https://www.notion.so/{slug}-{hexid}" if slug else f"https://www.notion.so/{hexid}"


@dataclass
class User:
    """A workspace member (``person``) or the integration itself (``bot``)."""

    id: str
    name: str
    type: str = "person"
    email: str | None = None


@dataclass
class Option:
    """A select, multi_select or status option."""

    id: str
    name: str
    color: str
    description: str | None = None


@dataclass
class PropertyDef:
    """One column of a data source. ``id`` is the raw (decoded) property id."""

    id: str
    name: str
    type: str
    config: dict[str, Any] = field(default_factory=dict)
    options: list[Option] = field(default_factory=list)
    # status only: group name → option ids.
    groups: dict[str, list[str]] = field(default_factory=dict)

    @property
    def encoded_id(self) -> str:
        """The id as shown in API objects."""
        return encode_property_id(self.id)

    def option_by_name(self, name: str) -> Option | None:
        """The option called ``name`` (exact match, as Notion matches)."""
        return next((o for o in self.options if o.name == name), None)

    def option_by_id(self, option_id: str) -> Option | None:
        """The option with id ``option_id``."""
        return next((o for o in self.options if o.id == option_id), None)


@dataclass
class DataSource:
    """A table of pages with a schema; one database holds one or more of them."""

    id: str
    database_id: str
    title: str
    created: datetime
    edited: datetime
    created_by: str
    properties: dict[str, PropertyDef] = field(default_factory=dict)  # by name
    next_unique: int = 1

    def find(self, ref: str) -> PropertyDef | None:
        """A property by name, raw id or URL-encoded id."""
        if ref in self.properties:
            return self.properties[ref]
        raw = decode_property_id(ref)
        for prop in self.properties.values():
            if prop.id in (ref, raw):
                return prop
        return None

    def ordered(self) -> list[PropertyDef]:
        """Properties in Notion's order: by raw id, the title last."""
        return sorted(self.properties.values(), key=lambda p: (p.type == "title", p.id))

    def title_property(self) -> PropertyDef:
        """The one ``title`` property."""
        return next(p for p in self.properties.values() if p.type == "title")


@dataclass
class Database:
    """A database: a container of data sources, shared with the integration or not."""

    id: str
    title: str
    parent_page_id: str
    created: datetime
    edited: datetime
    created_by: str
    shared: bool = True
    data_sources: list[str] = field(default_factory=list)


@dataclass
class Page:
    """A row of a data source. ``values`` maps raw property ids to internal values."""

    id: str
    data_source_id: str
    seq: int
    created: datetime
    edited: datetime
    created_by: str
    edited_by: str
    values: dict[str, Any] = field(default_factory=dict)
    in_trash: bool = False
    is_locked: bool = False
    icon: Any = None
    cover: Any = None


@dataclass
class Comment:
    """An un-resolved comment on a page."""

    id: str
    page_id: str
    discussion_id: str
    created: datetime
    created_by: str
    rich_text: list[dict[str, Any]]
    display_name: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DateValue:
    """A stored date property value (``end`` and ``time_zone`` optional)."""

    start: date | datetime
    end: date | datetime | None = None

    def sort_key(self) -> datetime:
        """``start`` as an aware datetime (a bare date is midnight UTC)."""
        return as_datetime(self.start)


def as_datetime(value: date | datetime) -> datetime:
    """A date or datetime as an aware UTC datetime."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime(value.year, value.month, value.day, tzinfo=UTC)
