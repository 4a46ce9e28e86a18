"""Objectives, key results and work items from Notion pages. Pure: pages in, models out."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from connectors._notion_values import date_range, number, plain
from okr_sync.errors import SourceError
from okr_sync.models import ItemKind, ItemRef, KeyResult, Objective, StatusCategory, WorkItem

#: Which property types each logical property accepts.
KR_TYPES: dict[str, frozenset[str]] = {
    "title": frozenset({"title"}),
    "id": frozenset({"unique_id", "rich_text", "title", "formula"}),
    "objective": frozenset({"relation"}),
    "start": frozenset({"number", "formula", "rollup"}),
    "target": frozenset({"number", "formula", "rollup"}),
    "current": frozenset({"number", "formula", "rollup"}),
    "progress": frozenset({"number", "formula", "rollup"}),
    "status": frozenset({"status", "select"}),
    "period": frozenset({"date", "formula", "rollup"}),
    "last_synced": frozenset({"date"}),
    "epics": frozenset({"rich_text", "title", "multi_select"}),
    "initiatives": frozenset({"relation"}),
    "measure": frozenset({"select", "rich_text", "status"}),
    "unit": frozenset({"select", "rich_text"}),
    "weight": frozenset({"number", "formula"}),
    "parent": frozenset({"relation"}),
    "owner": frozenset({"people", "rich_text", "select"}),
}
REQUIRED = frozenset({"title"})


@dataclass(frozen=True)
class Schema:
    """A data source's properties, with the logical names resolved to property objects."""

    database: str
    properties: Mapping[str, Mapping[str, Any]]
    resolved: Mapping[str, str]  # logical name → property name

    def kind(self, logical: str) -> str | None:
        """The Notion type of a logical property, if the database has it."""
        name = self.resolved.get(logical)
        return str(self.properties[name]["type"]) if name else None

    def options(self, logical: str) -> list[str]:
        """Option names of a status or select property."""
        name = self.resolved.get(logical)
        if not name:
            return []
        prop = self.properties[name]
        return [str(o.get("name")) for o in (prop.get(prop["type"]) or {}).get("options") or ()]


@dataclass(frozen=True)
class PropertyProblem:
    """A configured property that is missing, or of a type okr-sync cannot use for its role."""

    logical: str
    name: str
    found: str | None  # the property's type, None when missing
    choices: tuple[str, ...]  # the data source's property names

    def __str__(self) -> str:
        if self.found is None:
            return (f"has no property {self.name!r} ({self.logical}); set {self.logical} to one of: "
                    f"{', '.join(self.choices)}")  # fmt: skip
        return (f"property {self.name!r} is a {self.found}, but {self.logical} must be one of "
                f"{', '.join(sorted(KR_TYPES[self.logical]))}")  # fmt: skip


def check_properties(
    properties: Mapping[str, Mapping[str, Any]], names: BaseModel
) -> tuple[dict[str, str], list[PropertyProblem]]:
    """Configured property names against a data source's schema: resolved names and problems.

    A property named explicitly in the config (or a required one) that is
    missing, or any property of a type okr-sync cannot read for its role, is a
    problem. A default name the database does not have is simply not used.
    """
    resolved: dict[str, str] = {}
    problems: list[PropertyProblem] = []
    explicit = names.model_fields_set
    choices = tuple(sorted(properties))
    for logical, name in names.model_dump().items():
        if not isinstance(name, str) or logical not in KR_TYPES:
            continue
        prop = properties.get(name)
        if prop is None:
            if logical in REQUIRED or logical in explicit:
                problems.append(PropertyProblem(logical, name, None, choices))
            continue
        if prop.get("type") not in KR_TYPES[logical]:
            problems.append(PropertyProblem(logical, name, str(prop.get("type")), choices))
            continue
        resolved[logical] = name
    if "id" not in resolved and "id" not in explicit:
        unique = [n for n, p in properties.items() if p.get("type") == "unique_id"]
        if unique:
            resolved["id"] = unique[0]
    return resolved, problems


def resolve_schema(
    database: str, properties: Mapping[str, Mapping[str, Any]], names: BaseModel
) -> Schema:
    """Check the configured property names against a data source's schema.

    Raises:
        SourceError: naming the database and every problem (see :func:`check_properties`).
    """
    resolved, problems = check_properties(properties, names)
    if problems:
        raise SourceError(database, f"database {database!r} " + "; ".join(map(str, problems)))
    return Schema(database, properties, resolved)


def source_title(raw: Mapping[str, Any], default: str) -> str:
    """A data source's title as plain text (``default`` when it has none)."""
    return "".join(t.get("plain_text", "") for t in raw.get("title") or ()) or default


def value(page: Mapping[str, Any], schema: Schema, logical: str) -> Any:
    """A logical property's plain value on a page (None when not configured)."""
    name = schema.resolved.get(logical)
    return plain(page["properties"].get(name) or {}) if name else None


def numeric(page: Mapping[str, Any], schema: Schema, logical: str) -> float | None:
    """A logical property as a number."""
    name = schema.resolved.get(logical)
    return number(page["properties"].get(name) or {}) if name else None


def period(page: Mapping[str, Any], schema: Schema) -> tuple[dt.date | None, dt.date | None]:
    """A page's period from its date property (a single date is its end)."""
    name = schema.resolved.get("period")
    return date_range(page["properties"].get(name)) if name else (None, None)


def record_id(page: Mapping[str, Any], schema: Schema) -> str:
    """The id okr-sync uses: the id property's text, else the page id."""
    text = value(page, schema, "id")
    return str(text) if text else str(page["id"])


def build_objectives(pages: Sequence[Mapping[str, Any]], schema: Schema) -> list[Objective]:
    """Objectives; the parent relation is turned from page ids into objective ids."""
    ids = {str(p["id"]): record_id(p, schema) for p in pages}
    out = []
    for page in pages:
        parents = value(page, schema, "parent") or []
        owner = value(page, schema, "owner")
        start, end = period(page, schema)
        out.append(Objective(
            id=ids[str(page["id"])], title=str(value(page, schema, "title") or ""),
            owner=", ".join(owner) if isinstance(owner, list) else owner,
            parent_id=ids.get(parents[0]) if parents else None,
            period_start=start, period_end=end,
            weight=numeric(page, schema, "weight") if numeric(page, schema, "weight") is not None else 1.0,
            url=page.get("url"),
        ))  # fmt: skip
    return out


_KEY = re.compile(r"[A-Z][A-Z0-9_]+-\d+")


def build_key_results(
    pages: Sequence[Mapping[str, Any]], schema: Schema, objective_ids: Mapping[str, str],
    relations: Mapping[tuple[str, str], list[str]], *, source: str, epics_source: str | None,
) -> list[KeyResult]:  # fmt: skip
    """Key results; ``relations`` holds full relation lists fetched beyond the first 25."""
    out = []
    for page in pages:
        pid = str(page["id"])
        epics = value(page, schema, "epics")
        keys = epics if isinstance(epics, list) else _KEY.findall(str(epics or ""))
        initiatives = (
            relations.get((pid, "initiatives")) or value(page, schema, "initiatives") or []
        )
        objective = value(page, schema, "objective") or []
        start, end = period(page, schema)
        fields: dict[str, Any] = {
            "id": record_id(page, schema),
            "title": str(value(page, schema, "title") or ""),
            "objective_id": objective_ids.get(objective[0]) if objective else None,
            "current": numeric(page, schema, "current"),
            "period_start": start,
            "period_end": end,
            "links": tuple(
                [ItemRef(key=k, source=epics_source) for k in keys]
                + [ItemRef(key=i, source=source) for i in initiatives]
            ),
            "url": page.get("url"),
        }
        for logical in ("start", "target", "weight"):
            found = numeric(page, schema, logical)
            if found is not None:
                fields[logical] = found
        for logical in ("measure", "unit"):
            text = value(page, schema, logical)
            if text:
                fields[logical] = str(text)
        out.append(KeyResult(**fields))
    return out


def to_item(page: Mapping[str, Any], spec: Any, source: str, kr_ids: Mapping[str, str]) -> WorkItem:
    """A database row as a work item (kind ``row``, key = page id)."""
    props = page["properties"]

    def get(name: str | None) -> Any:
        return plain(props.get(name) or {}) if name else None

    raw_status = get(spec.status)
    if isinstance(raw_status, bool):
        category = StatusCategory.DONE if raw_status else StatusCategory.TODO
    elif raw_status in spec.done:
        category = StatusCategory.DONE
    elif raw_status in spec.in_progress:
        category = StatusCategory.IN_PROGRESS
    else:
        category = StatusCategory.TODO
    labels = get(spec.labels)
    refs = get(spec.key_results) or []
    edited = page.get("last_edited_time")
    return WorkItem(
        source=source, key=str(page["id"]), title=str(get(spec.title) or ""), kind=ItemKind.ROW,
        status_category=category,
        fields={name: number(props.get(prop) or {}) for name, prop in spec.numbers.items()},
        labels=tuple(labels) if isinstance(labels, list) else ((labels,) if labels else ()),
        kr_refs=tuple(kr_ids.get(r, r) for r in refs),
        updated=dt.datetime.fromisoformat(edited.replace("Z", "+00:00")) if isinstance(edited, str) else None,
        url=page.get("url"),
    )  # fmt: skip
