"""Objectives and key results from Notion pages. Pure: pages in, models out.

**Properties a KR cannot be computed without.** The Key Results database's
``start``, ``target``, ``current``, ``initiatives``, ``epics``, ``measure`` and
``direction`` properties (:data:`PER_KR`) are inputs of each KR's number. When one
is named in the config but missing, or has a type its role cannot use (a
``Target`` turned into text, a default-named ``Initiatives`` that is no longer a
relation), every KR of the database gets a :attr:`~okr_sync.models.KeyResult.problem`
naming the database and the property: the engine reports those KRs failed, with
that reason, and writes nothing for them, while the objectives and the rest of
the tree are still read. A problem with any other property (title, id,
objective, period, the written ones) fails the whole OKR pull, as the tree
itself cannot be trusted. A default name the database simply lacks is not used
(its values read as empty: no start, no target — never 0 or 100); but a
*vanished* link property is looked for (:func:`unread_links`): a relation into a
configured item database that okr-sync would not read (the ``Initiatives``
relation renamed), or ``epics_source`` set while the epics property is gone,
is a problem of every KR too — reading the KRs as unlinked would be a plausible 0 %.

**Values.** Empty Start and Target read as None (the engine fails a KR whose
measure needs them). ``measure``: a select, status or text naming one of
okr-sync's measures (``issues_done``, ``count:done``, ``sum:arr``…; case and
spaces are forgiven: "Issues done"); an option okr-sync does not know is the
KR's problem, never a silent default. ``direction``: a select, status or text
with ``Increase`` or ``Decrease`` (any case; also "Higher is better" / "Lower is
better"), or a checkbox meaning *lower is better* when checked; empty reads as
no direction, anything else is the KR's problem.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from connectors.notion.choices import direction_of, measure_name
from connectors.notion.values import date_range, number, plain
from okr_sync.errors import SourceError
from okr_sync.models import Direction, ItemRef, KeyResult, Objective

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
    "forecast": frozenset({"number"}),
    "forecast_range": frozenset({"rich_text"}),
    "epics": frozenset({"rich_text", "title", "multi_select"}),
    "initiatives": frozenset({"relation"}),
    "measure": frozenset({"select", "rich_text", "status"}),
    "direction": frozenset({"select", "status", "rich_text", "checkbox"}),
    "unit": frozenset({"select", "rich_text"}),
    "weight": frozenset({"number", "formula"}),
    "parent": frozenset({"relation"}),
    "owner": frozenset({"people", "rich_text", "select"}),
}
REQUIRED = frozenset({"title"})
#: KR properties whose problem fails each KR (with the reason) rather than the whole pull.
PER_KR = frozenset({"start", "target", "current", "initiatives", "epics", "measure", "direction"})


@dataclass(frozen=True)
class Schema:
    """A data source's properties, with the logical names resolved to property objects."""

    database: str
    properties: Mapping[str, Mapping[str, Any]]
    resolved: Mapping[str, str]  # logical name → property name
    #: Problems that fail every record of the database, not the pull (see :data:`PER_KR`).
    problems: tuple[str, ...] = ()

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
    problem. A default name the database does not have is not resolved (what
    that means for a KR: see the module docstring and :func:`unread_links`).
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
    database: str, properties: Mapping[str, Mapping[str, Any]], names: BaseModel,
    *, per_record: frozenset[str] = frozenset(),
) -> Schema:  # fmt: skip
    """Check the configured property names against a data source's schema.

    Problems with a property in ``per_record`` are kept on the schema (each record
    read from it carries them); any other problem fails.

    Raises:
        SourceError: naming the database and every problem (see :func:`check_properties`).
    """
    resolved, problems = check_properties(properties, names)
    fatal = [p for p in problems if p.logical not in per_record]
    if fatal:
        raise SourceError(database, f"database {database!r} " + "; ".join(map(str, fatal)))
    kept = tuple(f"the {database} database {p}" for p in problems if p.logical in per_record)
    return Schema(database, properties, resolved, kept)


def unread_links(
    schema: Schema, names: BaseModel, item_sources: Mapping[str, str | None],
    epics_source: str | None,
) -> list[str]:  # fmt: skip
    """Link properties a KR database seems to have lost (renamed): each a problem of every KR.

    ``item_sources`` maps the data source id of each configured item database to
    its ``key_results`` property (the row-side relation, whose two-way twin on the
    KR database carries the same links and is read from the rows).
    """
    out: list[str] = []
    explicit = names.model_fields_set
    if "initiatives" not in schema.resolved and "initiatives" not in explicit:
        wanted = getattr(names, "initiatives", None) or "Initiatives"
        unread = []
        for name, prop in schema.properties.items():
            relation = prop.get("relation") if prop.get("type") == "relation" else None
            if not isinstance(relation, Mapping):
                continue
            target = str(relation.get("data_source_id"))
            twin = (relation.get("dual_property") or {}).get("synced_property_name")
            if target in item_sources and not (twin and twin == item_sources[target]):
                unread.append(name)
        if unread:
            out.append(
                f"the {schema.database} database has no relation {wanted!r} (initiatives), but "
                f"{', '.join(map(repr, sorted(unread)))} relates KRs to rows of an item database; "
                "set key_result_properties.initiatives to it (or to null if it links nothing to count)"
            )
    if epics_source and "epics" not in schema.resolved and "epics" not in explicit:
        wanted = getattr(names, "epics", None) or "Jira epics"
        out.append(
            f"the {schema.database} database has no property {wanted!r} (epics), but epics_source "
            f"says KRs list epics of {epics_source!r}; set key_result_properties.epics to the "
            "property that lists them (or remove epics_source)"
        )
    return out


def source_title(raw: Mapping[str, Any], default: str) -> str:
    """A data source's title as plain text (``default`` when it has none)."""
    return "".join(t.get("plain_text", "") for t in raw.get("title") or ()) or default


def _properties(page: Mapping[str, Any]) -> Mapping[str, Any]:
    props = page.get("properties")
    return props if isinstance(props, Mapping) else {}


def _prop(page: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    prop = _properties(page).get(name)
    return prop if isinstance(prop, Mapping) else {}


def value(page: Mapping[str, Any], schema: Schema, logical: str) -> Any:
    """A logical property's plain value on a page (None when not configured)."""
    name = schema.resolved.get(logical)
    return plain(_prop(page, name)) if name else None


def numeric(page: Mapping[str, Any], schema: Schema, logical: str) -> float | None:
    """A logical property as a finite number (None when unset or not a number)."""
    name = schema.resolved.get(logical)
    return number(_prop(page, name)) if name else None


def period(page: Mapping[str, Any], schema: Schema) -> tuple[dt.date | None, dt.date | None]:
    """A page's period from its date property (a single date is its end)."""
    name = schema.resolved.get("period")
    return date_range(_prop(page, name)) if name else (None, None)


def _invalid(database: str, page: Mapping[str, Any], what: str, exc: ValidationError,
             names: Mapping[str, str]) -> SourceError:  # fmt: skip
    """A page whose values the model rejects, naming the page and each property at fault."""
    problems = "; ".join(
        f"{names.get(str(e['loc'][0]), e['loc'][0]) if e['loc'] else what}: {e['msg']}"
        for e in exc.errors(include_url=False)
    )
    url = _url(page)
    where = f"{page.get('id')} ({url})" if url else str(page.get("id"))
    return SourceError(database, f"{what} page {where}: {problems}")


def _url(page: Mapping[str, Any]) -> str | None:
    url = page.get("url")
    return url if isinstance(url, str) else None


def record_id(page: Mapping[str, Any], schema: Schema) -> str:
    """The id okr-sync uses: the id property's text, else the page id."""
    text = value(page, schema, "id")
    return text if isinstance(text, str) and text else str(page["id"])


def strings(page: Mapping[str, Any], schema: Schema, logical: str) -> list[str]:
    """A list-valued property (relation, people, multi-select) as text; anything else is empty."""
    found = value(page, schema, logical)
    return [v for v in found if isinstance(v, str)] if isinstance(found, list) else []


def text(page: Mapping[str, Any], schema: Schema, logical: str) -> str | None:
    """A text-valued property (title, rich text, select); anything else is None."""
    found = value(page, schema, logical)
    return found if isinstance(found, str) else None


def build_objectives(pages: Sequence[Mapping[str, Any]], schema: Schema) -> list[Objective]:
    """Objectives; the parent relation is turned from page ids into objective ids."""
    ids = {str(p["id"]): record_id(p, schema) for p in pages}
    out = []
    for page in pages:
        parents = strings(page, schema, "parent")
        owner = value(page, schema, "owner")
        owner = ", ".join(strings(page, schema, "owner")) if isinstance(owner, list) else owner
        start, end = period(page, schema)
        weight = numeric(page, schema, "weight")
        try:
            out.append(Objective(
                id=ids[str(page["id"])], title=text(page, schema, "title") or "",
                owner=owner if isinstance(owner, str) else None,
                parent_id=ids.get(parents[0]) if parents else None,
                period_start=start, period_end=end,
                weight=weight if weight is not None else 1.0,
                url=_url(page),
            ))  # fmt: skip
        except ValidationError as exc:
            raise _invalid(schema.database, page, "objective", exc, _names(schema)) from None
    return out


def _names(schema: Schema) -> dict[str, str]:
    """Model field → the property it comes from, for error messages."""
    renames = {"objective_id": "objective", "parent_id": "parent", "period_start": "period",
               "period_end": "period", "links": "epics"}  # fmt: skip
    fields = {"id", "title", "owner", "start", "target", "current", "weight", "measure", "unit"}
    out = {f: schema.resolved[f] for f in fields if f in schema.resolved}
    return out | {f: schema.resolved[logical] for f, logical in renames.items()
                  if logical in schema.resolved}  # fmt: skip


_KEY = re.compile(r"[A-Z][A-Z0-9_]+-\d+")


def build_key_results(
    pages: Sequence[Mapping[str, Any]], schema: Schema, objective_ids: Mapping[str, str],
    relations: Mapping[tuple[str, str], list[str]], *, source: str, epics_source: str | None,
    extra_problems: Sequence[str] = (),
) -> list[KeyResult]:  # fmt: skip
    """Key results; ``relations`` holds full relation lists fetched beyond the first 25.

    ``extra_problems`` (from :func:`unread_links`) and the schema's own problems
    make every KR's :attr:`~okr_sync.models.KeyResult.problem`; an unknown measure
    or direction is one KR's.
    """
    out = []
    for page in pages:
        pid = str(page["id"])
        problems = list(schema.problems) + list(extra_problems)
        epics = value(page, schema, "epics")
        keys = (
            strings(page, schema, "epics")
            if isinstance(epics, list)
            else _KEY.findall(text(page, schema, "epics") or "")
        )
        initiatives = relations.get((pid, "initiatives")) or strings(page, schema, "initiatives")
        objective = strings(page, schema, "objective")
        start, end = period(page, schema)
        fields: dict[str, Any] = {
            "id": record_id(page, schema),
            "title": text(page, schema, "title") or "",
            "objective_id": objective_ids.get(objective[0]) if objective else None,
            "current": numeric(page, schema, "current"),
            "period_start": start,
            "period_end": end,
            "links": tuple(
                [ItemRef(key=k, source=epics_source) for k in keys]
                + [ItemRef(key=i, source=source) for i in initiatives]
            ),
            "url": _url(page),
        }
        # Empty Start/Target stay None: a default (0, 100) would be a plausible wrong number.
        fields["start"] = numeric(page, schema, "start")
        fields["target"] = numeric(page, schema, "target")
        weight = numeric(page, schema, "weight")
        if weight is not None:
            fields["weight"] = weight
        unit = text(page, schema, "unit")
        if unit:
            fields["unit"] = unit
        option = text(page, schema, "measure")
        if option and option.strip():
            # An option okr-sync does not know is passed on as it reads: the config's
            # ``measures:`` may override it, and if not, the KR fails naming it.
            fields["measure"] = measure_name(option) or option.strip()
        fields["direction"] = _direction(page, schema, problems)
        if problems:
            fields["problem"] = "; ".join(problems)
        try:
            out.append(KeyResult(**fields))
        except ValidationError as exc:
            raise _invalid(schema.database, page, "key result", exc, _names(schema)) from None
    return out


def _direction(page: Mapping[str, Any], schema: Schema, problems: list[str]) -> Direction | None:
    """A KR's direction (see :func:`connectors.notion.choices.direction_of`)."""
    found = value(page, schema, "direction")
    direction, readable = direction_of(found)
    if not readable:
        problems.append(
            f"its {schema.resolved['direction']!r} is {found!r}; okr-sync reads Increase or "
            "Decrease (or Higher is better / Lower is better)"
        )
    return direction
