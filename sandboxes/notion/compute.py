"""Server-side values: formulas, rollups, and every property as formulas see it.

``limit`` mimics Notion: page objects (and query results) compute formulas and
rollups from the first 25 related pages only, while the page-property endpoint
computes from all of them. Pass ``limit=None`` for the full value.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from sandboxes.notion.formula import (
    FormulaValue,
    Node,
    evaluate,
    parse_formula,
    result_type,
)
from sandboxes.notion.model import DataSource, DateValue, Page, PropertyDef, floor_minute
from sandboxes.notion.store import NotionStore
from sandboxes.notion.values import plain_text

PAGE_LIMIT = 25
_DATE_FUNCTIONS = frozenset({"earliest_date", "latest_date", "date_range"})
_ARRAY_FUNCTIONS = frozenset({"show_original", "show_unique"})


@lru_cache(maxsize=256)
def parsed(expression: str) -> Node:
    """A formula's parse tree (expressions were checked when the schema was built)."""
    return parse_formula(expression)


@dataclass
class RollupResult:
    """A computed rollup: ``type`` is number, date or array (then ``items`` are set)."""

    type: str
    function: str
    value: Any = None
    items: list[Page] = field(default_factory=list)
    rolled: PropertyDef | None = None


class Computer:
    """Computes formula and rollup values of pages in one store."""

    def __init__(self, store: NotionStore, limit: int | None = PAGE_LIMIT) -> None:
        self.store = store
        self.limit = limit
        self._active: set[tuple[str, str]] = set()

    # -- any property, as a formula or filter sees it ---------------------------------

    def scalar(self, page: Page, prop: PropertyDef) -> FormulaValue:
        """The plain value: text, number, option name, bool, DateValue, list or None."""
        kind = prop.type
        raw = page.values.get(prop.id)
        if kind in ("title", "rich_text"):
            return plain_text(raw or [])
        if kind in ("select", "status"):
            option = prop.option_by_id(raw) if raw else None
            return option.name if option else None
        if kind == "multi_select":
            return [o.name for i in raw or [] if (o := prop.option_by_id(i))]
        if kind in ("relation", "people"):
            ids = list(raw or [])
            return ids[: self.limit] if kind == "relation" and self.limit else ids
        if kind == "created_time":
            return DateValue(floor_minute(page.created))
        if kind == "last_edited_time":
            return DateValue(floor_minute(page.edited))
        if kind == "created_by":
            return page.created_by
        if kind == "last_edited_by":
            return page.edited_by
        if kind == "formula":
            return self.formula(page, prop)[1]
        if kind == "rollup":
            result = self.rollup(page, prop)
            if result.type == "array":
                return (
                    [self.scalar(p, result.rolled) for p in result.items] if result.rolled else []
                )
            value: FormulaValue = result.value
            return value
        if kind == "checkbox":
            return bool(raw)
        if kind == "files":
            return list(raw or [])
        return raw

    def formula_type(self, ds: DataSource, prop: PropertyDef) -> str:
        """The formula type a property reads as: number, string, boolean or date."""
        kind = prop.type
        if kind in ("number", "unique_id"):
            return "number"
        if kind == "checkbox":
            return "boolean"
        if kind in ("date", "created_time", "last_edited_time"):
            return "date"
        if kind == "rollup":
            function = prop.config["function"]
            if function in _DATE_FUNCTIONS:
                return "date"
            return "string" if function in _ARRAY_FUNCTIONS else "number"
        if kind == "formula":
            key = (ds.id, prop.id)
            if key in self._active:
                return "number"
            self._active.add(key)
            try:
                return result_type(
                    parsed(prop.config["expression"]),
                    lambda name: self.formula_type(ds, ds.find(name) or prop),
                )
            finally:
                self._active.discard(key)
        return "string"

    # -- formulas -------------------------------------------------------------------------

    def formula(self, page: Page, prop: PropertyDef) -> tuple[str, FormulaValue]:
        """``(type, value)`` of a formula property on ``page``."""
        ds = self.store.ds_of(page)
        kind = self.formula_type(ds, prop)
        key = (page.id, prop.id)
        if key in self._active:  # a cycle through other formulas: Notion shows nothing
            return kind, None
        self._active.add(key)
        try:

            def read(name: str) -> FormulaValue:
                other = ds.find(name)
                return None if other is None else self.scalar(page, other)

            value = evaluate(parsed(prop.config["expression"]), read)
        finally:
            self._active.discard(key)
        return kind, _coerce(kind, value)

    # -- rollups --------------------------------------------------------------------------

    def related(self, page: Page, relation: PropertyDef) -> list[Page]:
        """Related pages that exist, are not trashed and are shared (capped at ``limit``)."""
        ids = list(page.values.get(relation.id, []))
        if self.limit:
            ids = ids[: self.limit]
        target = self.store.data_sources[relation.config["data_source_id"]]
        if not self.store.db_of(target).shared:
            return []
        pages = (self.store.pages.get(i) for i in ids)
        return [p for p in pages if p is not None and not p.in_trash]

    def rollup(self, page: Page, prop: PropertyDef) -> RollupResult:
        """The rollup of ``prop`` on ``page``."""
        ds = self.store.ds_of(page)
        function = str(prop.config["function"])
        relation = ds.find(prop.config["relation_property_id"])
        key = (page.id, prop.id)
        if relation is None or key in self._active:
            return RollupResult("number", function)
        target = self.store.data_sources[relation.config["data_source_id"]]
        rolled = target.find(prop.config["rollup_property_id"])
        self._active.add(key)
        try:
            items = self.related(page, relation)
            values = [self.scalar(p, rolled) for p in items] if rolled else []
        finally:
            self._active.discard(key)
        if function in _ARRAY_FUNCTIONS:
            if function == "show_unique":
                seen: list[Any] = []
                kept = []
                for item, value in zip(items, values, strict=True):
                    if value not in seen:
                        seen.append(value)
                        kept.append(item)
                items = kept
            return RollupResult("array", function, None, items, rolled)
        if function in _DATE_FUNCTIONS:
            return RollupResult("date", function, _date_rollup(function, values))
        return RollupResult("number", function, _number_rollup(function, values, len(items)))


def _coerce(kind: str, value: FormulaValue) -> FormulaValue:
    if value is None:
        return None
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        return value if value == value and abs(value) != float("inf") else None
    if kind == "boolean":
        return bool(value)
    if kind == "date":
        return value if isinstance(value, DateValue) else None
    if isinstance(value, str):
        return value
    return None if value == [] else str(value)


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value is False


def _flatten(values: list[Any]) -> list[Any]:
    out: list[Any] = []
    for value in values:
        out.extend(value if isinstance(value, list) else [value])
    return out


def _number_rollup(function: str, values: list[Any], count: int) -> float | int | None:
    if function == "count":
        return count
    flat = _flatten(values)
    present = [v for v in flat if not _empty(v)]
    numbers = [v for v in flat if isinstance(v, int | float) and not isinstance(v, bool)]
    checks = [v is True for v in values]
    ratio = {
        "percent_empty": (count - len([v for v in values if not _empty(v)]), count),
        "percent_not_empty": (len([v for v in values if not _empty(v)]), count),
        "percent_checked": (sum(checks), len(checks)),
        "percent_unchecked": (len(checks) - sum(checks), len(checks)),
    }
    if function in ratio:
        part, whole = ratio[function]
        return part / whole if whole else 0
    simple: dict[str, int | float] = {
        "count_values": len(present),
        "empty": count - len([v for v in values if not _empty(v)]),
        "not_empty": len([v for v in values if not _empty(v)]),
        "unique": len({repr(v) for v in present}),
        "checked": sum(checks),
        "unchecked": len(checks) - sum(checks),
        "sum": sum(numbers),
    }
    if function in simple:
        return simple[function]
    if not numbers:
        return None
    if function == "average":
        return statistics.fmean(numbers)
    if function == "median":
        return statistics.median(numbers)
    if function == "min":
        return min(numbers)
    if function == "max":
        return max(numbers)
    return max(numbers) - min(numbers)


def _date_rollup(function: str, values: list[Any]) -> DateValue | None:
    dates = [v for v in _flatten(values) if isinstance(v, DateValue)]
    if not dates:
        return None
    ordered = sorted(dates, key=lambda d: d.sort_key())
    if function == "earliest_date":
        return ordered[0]
    if function == "latest_date":
        return ordered[-1]
    return DateValue(ordered[0].start, ordered[-1].start)
