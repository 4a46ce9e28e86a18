"""Data source schemas: seeded property specs become ``PropertyDef`` objects.

A spec is Notion's own schema object keyed by type, e.g. ``{"number": {"format":
"percent"}}``, ``{"status": {"options": [{"name": "On track"}]}}``, ``{"relation":
{"data_source_id": ds, "type": "single_property", "single_property": {}}}``,
``{"rollup": {"relation_property_name": "Initiatives", "rollup_property_name":
"Done", "function": "percent_checked"}}`` or ``{"formula": {"expression":
'prop("Current") / prop("Target")'}}``.

Status options may carry a sandbox-only ``"group"`` (``To-do``, ``In progress``,
``Complete``), as a human would arrange them in the UI. Without it, names such as
Done/Complete/Closed/Achieved go to Complete, Not started/Backlog/To do to To-do,
and the rest to In progress.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from typing import Any

from sandboxes.notion.formula import FormulaError, parse_formula, referenced_properties
from sandboxes.notion.model import (
    COLORS,
    SUPPORTED_TYPES,
    DataSource,
    Option,
    PropertyDef,
    new_id,
    new_property_id,
)

STATUS_GROUPS = ("To-do", "In progress", "Complete")
DEFAULT_STATUS = ({"name": "Not started"}, {"name": "In progress"}, {"name": "Done"})
_GROUP_COLORS = {"To-do": "gray", "In progress": "blue", "Complete": "green"}
_DONE_WORDS = {"done", "complete", "completed", "closed", "achieved", "shipped", "finished"}
_TODO_WORDS = {"not started", "backlog", "to do", "to-do", "todo", "new", "open"}
ROLLUP_FUNCTIONS = frozenset(
    {
        "count",
        "count_values",
        "empty",
        "not_empty",
        "unique",
        "show_unique",
        "percent_empty",
        "percent_not_empty",
        "sum",
        "average",
        "median",
        "min",
        "max",
        "range",
        "earliest_date",
        "latest_date",
        "date_range",
        "checked",
        "unchecked",
        "percent_checked",
        "percent_unchecked",
        "show_original",
    }
)
# Computed types are built after the others, so they may refer to any sibling.
COMPUTED = frozenset({"formula", "rollup"})


def spec_type(name: str, spec: Mapping[str, Any]) -> str:
    """The type key of a schema spec (``{"number": {...}}`` → ``number``)."""
    keys = [k for k in spec if k not in ("type", "name", "description", "id")]
    kind = spec.get("type") or (keys[0] if len(keys) == 1 else None)
    if not isinstance(kind, str) or kind not in SUPPORTED_TYPES:
        raise ValueError(f"property {name!r}: unsupported or ambiguous schema {dict(spec)!r}")
    return kind


def build_property(
    name: str,
    spec: Mapping[str, Any],
    ds: DataSource,
    rng: random.Random,
    find_ds: Callable[[str], DataSource | None],
) -> PropertyDef:
    """A new property of ``ds`` (not yet added to it); ValueError on a bad spec."""
    kind = spec_type(name, spec)
    config = dict(spec.get(kind) or {})
    if kind == "title":
        if any(p.type == "title" for p in ds.properties.values()):
            raise ValueError(f"property {name!r}: a data source has exactly one title")
        prop_id = "title"
    else:
        prop_id = new_property_id(rng, {p.id for p in ds.properties.values()})
    prop = PropertyDef(prop_id, name, kind)
    if kind in ("select", "multi_select", "status"):
        raw_options = config.get("options")
        if kind == "status":
            prop.config = {"group_ids": {g: new_id(rng) for g in STATUS_GROUPS}}
            raw_options = raw_options or DEFAULT_STATUS
        for raw in raw_options or ():
            add_option(prop, rng, str(raw["name"]), raw.get("color"), raw.get("group"))
    elif kind == "number":
        prop.config = {"format": str(config.get("format", "number"))}
    elif kind == "unique_id":
        prop.config = {"prefix": config.get("prefix")}
    elif kind == "relation":
        prop.config = _relation(name, config, find_ds)
    elif kind == "rollup":
        prop.config = _rollup(name, config, ds, find_ds)
    elif kind == "formula":
        prop.config = _formula(name, config)
    return prop


def add_option(
    prop: PropertyDef,
    rng: random.Random,
    name: str,
    color: str | None = None,
    group: str | None = None,
) -> Option:
    """Append an option (status options also join a group)."""
    if not name or ("," in name and prop.type != "status"):
        raise ValueError(f"invalid option name {name!r} for {prop.name!r}")
    option = Option(new_id(rng), name, color or rng.choice(COLORS))
    prop.options.append(option)
    if prop.type == "status":
        chosen = group or _guess_group(name)
        if chosen not in STATUS_GROUPS:
            raise ValueError(f"status group must be one of {STATUS_GROUPS}, not {chosen!r}")
        for each in STATUS_GROUPS:
            prop.groups.setdefault(each, [])
        prop.groups[chosen].append(option.id)
        if color is None:
            option.color = "default" if chosen == "To-do" else _GROUP_COLORS[chosen]
    return option


def _guess_group(name: str) -> str:
    folded = name.casefold()
    if folded in _DONE_WORDS:
        return "Complete"
    if folded in _TODO_WORDS:
        return "To-do"
    return "In progress"


def status_groups(prop: PropertyDef) -> list[dict[str, Any]]:
    """The ``groups`` of a status schema, in Notion's fixed order."""
    return [
        {
            "id": prop.config["group_ids"][name],
            "name": name,
            "color": _GROUP_COLORS[name],
            "option_ids": list(prop.groups.get(name, [])),
        }
        for name in STATUS_GROUPS
    ]


def _relation(
    name: str, config: dict[str, Any], find_ds: Callable[[str], DataSource | None]
) -> dict[str, Any]:
    ref = config.get("data_source_id") or config.get("database_id")
    target = find_ds(str(ref)) if ref else None
    if target is None:
        raise ValueError(f"relation {name!r}: unknown data_source_id/database_id {ref!r}")
    kind = config.get("type", "single_property")
    if kind not in ("single_property", "dual_property"):
        raise ValueError(f"relation {name!r}: type must be single_property or dual_property")
    out: dict[str, Any] = {
        "database_id": target.database_id,
        "data_source_id": target.id,
        "type": kind,
    }
    out[kind] = dict(config.get(kind) or {})
    return out


def _rollup(
    name: str,
    config: dict[str, Any],
    ds: DataSource,
    find_ds: Callable[[str], DataSource | None],
) -> dict[str, Any]:
    relation = ds.find(
        str(config.get("relation_property_name") or config.get("relation_property_id"))
    )
    if relation is None or relation.type != "relation":
        raise ValueError(f"rollup {name!r}: relation_property_name must name a relation")
    target = find_ds(str(relation.config["data_source_id"]))
    assert target is not None  # relations are checked when they are made
    rolled = target.find(
        str(config.get("rollup_property_name") or config.get("rollup_property_id"))
    )
    if rolled is None:
        raise ValueError(f"rollup {name!r}: no such property in {target.title!r}")
    function = config.get("function")
    if function not in ROLLUP_FUNCTIONS:
        raise ValueError(f"rollup {name!r}: unsupported function {function!r}")
    return {
        "relation_property_id": relation.id,
        "rollup_property_id": rolled.id,
        "function": function,
    }


def _formula(name: str, config: dict[str, Any]) -> dict[str, Any]:
    expression = config.get("expression")
    if not isinstance(expression, str):
        raise ValueError(f"formula {name!r}: expression must be a string")
    try:
        node = parse_formula(expression)
    except FormulaError as exc:
        raise ValueError(f"formula {name!r}: {exc}") from None
    for ref in referenced_properties(node):
        if ref == name:
            raise ValueError(f"formula {name!r} refers to itself")
    return {"expression": expression}


def check_formulas(ds: DataSource) -> None:
    """ValueError when a formula of ``ds`` reads a property ``ds`` does not have."""
    for prop in ds.properties.values():
        if prop.type == "formula":
            for ref in referenced_properties(parse_formula(prop.config["expression"])):
                if ds.find(ref) is None:
                    raise ValueError(f"formula {prop.name!r}: no property {ref!r}")
