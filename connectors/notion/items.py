"""Work items from the rows of Notion item databases. Pure: a schema and pages in, items out.

:func:`row_reader` checks an item database's schema against its config once per
pull and says how its rows are read; :func:`to_item` turns one row into a
:class:`~okr_sync.models.WorkItem`. A property the config names (or the default
``Status``) that the database lacks, or that has a type its role cannot use, is
a problem that fails the pull of the source, naming the database and the
property: reading every row as "not done" or "no ARR" would be a plausible
wrong number (a renamed ``Status`` turned every KR to 0 %). The same problems
are what ``okr-sync check`` reports for the database.

Done state, by the type of the ``status`` property:

- **status**: the options in Notion's *Complete* group are done and those in
  its *In progress* group are in progress, unless ``done:`` / ``in_progress:``
  name the options. A data source's status schema lists its ``groups``
  (``To-do``, ``In progress``, ``Complete``), each with the ``option_ids`` in it
  (real: ``search_data_sources_schemas_and_status_groups.json``). Options
  created through the API all land in *To-do* (the same recording; the API
  ignores group assignments), so a status whose Complete group is empty is a
  problem: ``done:`` must then say which options mean done. (A status schema
  without ``groups`` at all, which Notion never sends, is read like a select.)
- **select**: ``done:`` / ``in_progress:`` (defaults: Done, Complete, Completed /
  In progress, Doing, Started); a ``done:`` matching no option is a problem.
- **checkbox**: checked is done.
- ``status: null`` in the config: the rows have no status; none is done.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from connectors.notion.config import ItemDatabase
from connectors.notion.values import number, plain
from okr_sync.errors import SourceError
from okr_sync.models import ItemKind, StatusCategory, WorkItem

#: Types each item property may have.
ITEM_TYPES: dict[str, frozenset[str]] = {
    "title": frozenset({"title"}),
    "status": frozenset({"status", "select", "checkbox"}),
    "labels": frozenset({"multi_select", "select"}),
    "key_results": frozenset({"relation"}),
}
NUMBER_TYPES = frozenset({"number", "formula", "rollup"})
#: Notion's fixed status group names (compared case-insensitively).
COMPLETE, IN_PROGRESS = "complete", "in progress"


@dataclass(frozen=True)
class ItemProblem:
    """A property of an item database that okr-sync cannot read as configured."""

    name: str  # the property name (or the setting) at fault
    message: str
    hint: str


@dataclass(frozen=True)
class RowReader:
    """How the rows of one item database are read (property names already checked)."""

    title: str | None = None
    status: str | None = None
    done: frozenset[str] = frozenset()
    in_progress: frozenset[str] = frozenset()
    labels: str | None = None
    key_results: str | None = None
    numbers: Mapping[str, str] = field(default_factory=dict)


def _kinds(types: frozenset[str]) -> str:
    return " or ".join(sorted(types))


def fitting(properties: Mapping[str, Mapping[str, Any]], types: frozenset[str]) -> str:
    """The database's properties of a type in ``types``, for hints."""
    names = [n for n, p in properties.items() if isinstance(p, Mapping) and p.get("type") in types]
    return ", ".join(map(repr, sorted(names))) or "none yet"


def options(prop: Mapping[str, Any]) -> list[str]:
    """Option names of a status or select property."""
    config = prop.get(str(prop.get("type"))) or {}
    return [str(o.get("name")) for o in config.get("options") or () if isinstance(o, Mapping)]


def status_groups(prop: Mapping[str, Any]) -> dict[str, list[str]] | None:
    """A status property's groups (name folded → option names); None if the schema has none."""
    config = prop.get("status") or {}
    if not isinstance(config.get("groups"), list):
        return None
    names = {str(o.get("id")): str(o.get("name")) for o in config.get("options") or ()
             if isinstance(o, Mapping)}  # fmt: skip
    out: dict[str, list[str]] = {}
    for group in config.get("groups") or ():
        if isinstance(group, Mapping):
            ids = group.get("option_ids") or ()
            out[str(group.get("name")).casefold()] = [names[i] for i in ids if i in names]
    return out


def check_item_database(
    spec: ItemDatabase, index: int, properties: Mapping[str, Mapping[str, Any]]
) -> tuple[RowReader, list[ItemProblem]]:
    """The reader for an item database's rows, and every problem with its config."""
    explicit = spec.model_fields_set
    setting = f"items[{index}]"
    problems: list[ItemProblem] = []

    def find(logical: str, name: str, types: frozenset[str], extra: str = "") -> str | None:
        prop = properties.get(name)
        if prop is None:
            problems.append(ItemProblem(name, f"no such property ({logical})",
                                        f"set {setting}.{logical} to one of: {fitting(properties, types)}{extra}"))  # fmt: skip
            return None
        if prop.get("type") not in types:
            problems.append(ItemProblem(name, f"is a {prop.get('type')} property; {logical} must be a {_kinds(types)}",
                                        f"set {setting}.{logical} to one of: {fitting(properties, types)}{extra}"))  # fmt: skip
            return None
        return name

    # The title is only shown (never counted): a database has exactly one, so use it.
    title = spec.title if (properties.get(spec.title) or {}).get("type") == "title" else None
    title = title or next((n for n, p in properties.items() if p.get("type") == "title"), None)
    status: str | None = None
    done: frozenset[str] = frozenset()
    progress: frozenset[str] = frozenset()
    if spec.status is not None:
        status = find("status", spec.status, ITEM_TYPES["status"],
                      " (or null if its rows have no status)")  # fmt: skip
    if status is not None:
        prop = properties[status]
        kind = str(prop.get("type"))
        if kind != "checkbox":
            names = options(prop)
            # A status schema lists its groups; should one come without, read it as a select.
            groups = status_groups(prop) if kind == "status" else None
            if "done" in explicit or groups is None:
                done = frozenset(spec.done) & set(names)
                if not done:
                    problems.append(ItemProblem(status,
                        f"none of {', '.join(map(repr, spec.done))} is an option, so no row could count as done",
                        f"set {setting}.done to the options that mean done (it has: {', '.join(names) or 'none'})"))  # fmt: skip
            else:
                # Options made through the API all land in To-do (Notion ignores the group
                # sent), so an empty Complete group falls back to the default done names.
                done = frozenset(groups.get(COMPLETE, ())) or frozenset(spec.done) & set(names)
                if not done:
                    problems.append(ItemProblem(status,
                        "no option is in Notion's Complete group, and none is named "
                        f"{', '.join(map(repr, spec.done))}, so no row could count as done",
                        f"move the options that mean done to the Complete group in Notion, or set "
                        f"{setting}.done to them (it has: {', '.join(names) or 'none'})"))  # fmt: skip
            if "in_progress" in explicit or groups is None:
                progress = frozenset(spec.in_progress)
            else:
                progress = frozenset(groups.get(IN_PROGRESS, ())) or frozenset(spec.in_progress)
    labels = find("labels", spec.labels, ITEM_TYPES["labels"]) if spec.labels else None
    relation = (
        find("key_results", spec.key_results, ITEM_TYPES["key_results"])
        if spec.key_results
        else None
    )
    numbers = {}
    for key, name in spec.numbers.items():
        found = find(f"numbers.{key}", name, NUMBER_TYPES)
        if found:
            numbers[key] = found
    reader = RowReader(
        title=title, status=status, done=done, in_progress=progress,
        labels=labels, key_results=relation, numbers=numbers,
    )  # fmt: skip
    return reader, problems


def row_reader(
    spec: ItemDatabase, index: int, database: str, properties: Mapping[str, Mapping[str, Any]],
    *, source: str,
) -> RowReader:  # fmt: skip
    """The reader for an item database's rows.

    Raises:
        SourceError: naming the database and every property it cannot read as configured.
    """
    reader, problems = check_item_database(spec, index, properties)
    if problems:
        text = "; ".join(f"{p.name!r} {p.message} ({p.hint})" for p in problems)
        raise SourceError(source, f"items[{index}] database {database!r}: {text}")
    return reader


def _properties(page: Mapping[str, Any]) -> Mapping[str, Any]:
    props = page.get("properties")
    return props if isinstance(props, Mapping) else {}


def _get(page: Mapping[str, Any], name: str | None) -> Any:
    prop = _properties(page).get(name) if name else None
    return plain(prop) if isinstance(prop, Mapping) else None


def _category(reader: RowReader, raw: Any) -> StatusCategory:
    if isinstance(raw, bool):
        return StatusCategory.DONE if raw else StatusCategory.TODO
    if not isinstance(raw, str):  # empty, or a value of another type than the schema says
        return StatusCategory.TODO
    if raw in reader.done:
        return StatusCategory.DONE
    if raw in reader.in_progress:
        return StatusCategory.IN_PROGRESS
    return StatusCategory.TODO


def to_item(
    page: Mapping[str, Any], reader: RowReader, source: str, kr_ids: Mapping[str, str]
) -> WorkItem:
    """A database row as a work item (kind ``row``, key = page id)."""
    if page.get("id") is None:
        raise SourceError(source, f"a row without an id: {str(page)[:80]!r}")
    labels = _get(page, reader.labels)
    refs = _get(page, reader.key_results)
    props = _properties(page)
    try:
        return WorkItem(
            source=source, key=str(page["id"]), title=str(_get(page, reader.title) or ""), kind=ItemKind.ROW,
            status_category=_category(reader, _get(page, reader.status)),
            fields={key: number(props.get(name) or {}) for key, name in reader.numbers.items()},
            labels=tuple(labels) if isinstance(labels, list) else ((labels,) if isinstance(labels, str) and labels else ()),
            kr_refs=tuple(kr_ids.get(r, r) for r in refs if isinstance(r, str)) if isinstance(refs, list) else (),
            updated=_edited(page.get("last_edited_time")),
            url=page.get("url") if isinstance(page.get("url"), str) else None,
        )  # fmt: skip
    except ValidationError as exc:
        names = {"title": reader.title, "labels": reader.labels, "kr_refs": reader.key_results}
        problems = "; ".join(
            f"{names.get(str(e['loc'][0])) or e['loc'][0] if e['loc'] else 'row'}: {e['msg']}"
            for e in exc.errors(include_url=False)
        )
        raise SourceError(source, f"row page {page.get('id')}: {problems}") from None


def _edited(value: Any) -> dt.datetime | None:
    """Notion's ``last_edited_time`` (ISO, ``Z`` for UTC); anything else is unknown."""
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (AttributeError, ValueError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
