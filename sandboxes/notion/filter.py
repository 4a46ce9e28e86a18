"""Query filters of ``POST /v1/data_sources/{id}/query`` (and the 2022 database query).

Filters: property filters keyed by type (``title``, ``rich_text``, ``url``,
``email``, ``phone_number``, ``number``, ``unique_id``, ``select``, ``status``,
``multi_select``, ``date``, ``checkbox``, ``relation``, ``people``, ``files``,
``created_time``, ``last_edited_time``, ``created_by``, ``last_edited_by``,
``formula`` with a ``string``/``number``/``checkbox``/``date`` condition, ``rollup``
with ``any``/``every``/``none`` or ``number``/``date``), timestamp filters
(``{"timestamp": "last_edited_time", "last_edited_time": {...}}``) and ``and``/``or``
compounds nested at most two levels deep. Date conditions: ``equals``, ``before``,
``after``, ``on_or_before``, ``on_or_after`` (ISO date or datetime, or ``today``,
``tomorrow``, ``yesterday``, ``one_week_ago``, ``one_week_from_now``,
``one_month_ago``, ``one_month_from_now``), ``past_week``, ``past_month``,
``past_year``, ``this_week``, ``next_week``, ``next_month``, ``next_year``,
``is_empty``, ``is_not_empty``. A bare date compares whole days (UTC).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sandboxes.notion.compute import Computer
from sandboxes.notion.formula import FormulaValue
from sandboxes.notion.http import shown, validation
from sandboxes.notion.model import (
    DataSource,
    DateValue,
    Page,
    PropertyDef,
    as_datetime,
    floor_minute,
)
from sandboxes.notion.values import parse_date

Predicate = Callable[[Page], bool]
_TEXT = ("equals", "does_not_equal", "contains", "does_not_contain", "starts_with", "ends_with")
_NUMBER = (
    "equals",
    "does_not_equal",
    "greater_than",
    "less_than",
    "greater_than_or_equal_to",
    "less_than_or_equal_to",
)
_DATE_CMP = ("equals", "before", "after", "on_or_before", "on_or_after")
_DATE_SPANS = {
    "past_week": -7,
    "past_month": -30,
    "past_year": -365,
    "next_week": 7,
    "next_month": 30,
    "next_year": 365,
}
_RELATIVE = {
    "today": 0,
    "tomorrow": 1,
    "yesterday": -1,
    "one_week_ago": -7,
    "one_week_from_now": 7,
    "one_month_ago": -30,
    "one_month_from_now": 30,
}
# Filter key → the value class its conditions compare.
_CLASS = {
    "title": "text",
    "rich_text": "text",
    "url": "text",
    "email": "text",
    "phone_number": "text",
    "number": "number",
    "unique_id": "number",
    "select": "option",
    "status": "option",
    "multi_select": "list",
    "relation": "ids",
    "people": "ids",
    "created_by": "ids",
    "last_edited_by": "ids",
    "date": "date",
    "created_time": "date",
    "last_edited_time": "date",
    "checkbox": "checkbox",
    "files": "files",
}


class FilterCompiler:
    """Turns filter objects into predicates over the pages of one data source."""

    def __init__(self, ds: DataSource, compute: Computer, now: datetime, bot_id: str) -> None:
        self.ds = ds
        self.compute = compute
        self.now = now
        self.bot_id = bot_id

    # -- filters ----------------------------------------------------------------------

    def compile(self, spec: Any, path: str = "body.filter", depth: int = 0) -> Predicate:
        """A predicate for a filter object (400 ``validation_error`` when invalid)."""
        if not isinstance(spec, dict):
            raise validation(
                f"body failed validation: {path} should be an object, instead was {shown(spec)}."
            )
        for word in ("and", "or"):
            if word in spec:
                items = spec[word]
                if depth >= 2:
                    raise validation(
                        f"body failed validation: {path}.{word} should be not present, nesting "
                        "is supported up to two levels deep."
                    )
                if not isinstance(items, list) or len(items) > 100:
                    raise validation(
                        f"body failed validation: {path}.{word} should be an array of at most 100 filters."
                    )
                parts = [
                    self.compile(p, f"{path}.{word}[{i}]", depth + 1) for i, p in enumerate(items)
                ]
                if word == "and":
                    return lambda page: all(p(page) for p in parts)
                return lambda page: any(p(page) for p in parts)
        if "timestamp" in spec:
            return self._timestamp(spec, path)
        if "property" not in spec:
            raise validation(
                f"body failed validation: {path}.property should be defined, instead was `undefined`."
            )
        prop = self.ds.find(str(spec["property"]))
        if prop is None:
            raise validation(f"Could not find property with name or id: {spec['property']}")
        keys = [k for k in spec if k not in ("property", "type")]
        if len(keys) != 1:
            raise validation(
                f"body failed validation: {path} should have exactly one condition type."
            )
        key = keys[0]
        return self._property(prop, key, spec[key], f"{path}.{key}")

    def _timestamp(self, spec: dict[str, Any], path: str) -> Predicate:
        kind = spec["timestamp"]
        if kind not in ("created_time", "last_edited_time") or kind not in spec:
            raise validation(
                f'body failed validation: {path}.timestamp should be `"created_time"` or '
                f'`"last_edited_time"` with a matching condition, instead was {shown(kind)}.'
            )
        if "property" in spec:
            raise validation(f"body failed validation: {path}.property should be not present.")
        test = self._date_test(spec[kind], f"{path}.{kind}")
        # Notion keeps page timestamps floored to the minute, and filters on that value.
        return lambda page: test(
            DateValue(floor_minute(page.created if kind == "created_time" else page.edited))
        )

    def _property(self, prop: PropertyDef, key: str, cond: Any, path: str) -> Predicate:
        expected = prop.type
        if key != expected and not (key == "rich_text" and expected == "title"):
            raise validation(
                f"body failed validation: {path} should be not present. Property "
                f'"{prop.name}" is of type {expected}, so filter it with "{expected}".'
            )
        if expected == "formula":
            return self._nested(prop, cond, path, ("string", "number", "checkbox", "date"))
        if expected == "rollup":
            return self._rollup(prop, cond, path)
        test = self._test(_CLASS[expected], cond, path)
        if expected == "relation":
            return lambda page: test(list(page.values.get(prop.id, [])))
        return lambda page: test(self._scalar(page, prop))

    def _scalar(self, page: Page, prop: PropertyDef) -> FormulaValue:
        return self.compute.scalar(page, prop)

    def _nested(
        self, prop: PropertyDef, cond: Any, path: str, allowed: tuple[str, ...]
    ) -> Predicate:
        if not isinstance(cond, dict) or len(cond) != 1 or next(iter(cond)) not in allowed:
            raise validation(
                f"body failed validation: {path} should have one of {', '.join(allowed)}."
            )
        ((sub, inner),) = cond.items()
        test = self._test(
            {"string": "text", "checkbox": "checkbox"}.get(str(sub), str(sub)),
            inner,
            f"{path}.{sub}",
        )
        return lambda page: test(self.compute.scalar(page, prop))

    def _rollup(self, prop: PropertyDef, cond: Any, path: str) -> Predicate:
        if (
            isinstance(cond, dict)
            and len(cond) == 1
            and next(iter(cond)) in ("any", "every", "none")
        ):
            ((mode, inner),) = cond.items()
            if not isinstance(inner, dict) or len(inner) != 1 or next(iter(inner)) not in _CLASS:
                raise validation(
                    f"body failed validation: {path}.{mode} should hold one typed condition."
                )
            ((sub, subcond),) = inner.items()
            test = self._test(_CLASS[sub], subcond, f"{path}.{mode}.{sub}")

            def check(page: Page) -> bool:
                value = self.compute.scalar(page, prop)
                items = value if isinstance(value, list) else [value]
                hits = [test(v) for v in items]
                if mode == "any":
                    return any(hits)
                return all(hits) if mode == "every" else not any(hits)

            return check
        return self._nested(prop, cond, path, ("number", "date"))

    # -- conditions -----------------------------------------------------------------------

    def _test(self, kind: str, cond: Any, path: str) -> Callable[[Any], bool]:
        if not isinstance(cond, dict) or len(cond) != 1:
            raise validation(
                f"body failed validation: {path} should be an object with one condition."
            )
        ((op, arg),) = cond.items()
        if op in ("is_empty", "is_not_empty"):
            if arg is not True:
                raise validation(
                    f"body failed validation: {path}.{op} should be `true`, instead was {shown(arg)}."
                )
            return (lambda v: _empty(v)) if op == "is_empty" else (lambda v: not _empty(v))
        if kind == "text" and op in _TEXT and isinstance(arg, str):
            return _text_test(op, arg)
        if kind == "number" and op in _NUMBER and _is_number(arg):
            return _number_test(op, float(arg))
        if kind == "option" and op in ("equals", "does_not_equal"):
            names = [arg] if isinstance(arg, str) else arg
            if isinstance(names, list) and all(isinstance(n, str) for n in names):
                hit = op == "equals"
                return lambda v: (v in names) == hit
        if (
            kind in ("list", "ids")
            and op in ("contains", "does_not_contain")
            and isinstance(arg, str)
        ):
            wanted = self.bot_id if arg == "me" else arg
            hit = op == "contains"
            return lambda v: ((wanted in (v or [])) if isinstance(v, list) else v == wanted) == hit
        if kind == "checkbox" and op in ("equals", "does_not_equal") and isinstance(arg, bool):
            return lambda v: (bool(v) == arg) == (op == "equals")
        if kind == "date" and (op in _DATE_CMP or op in _DATE_SPANS or op == "this_week"):
            return self._date_test(cond, path)
        raise validation(
            f"body failed validation: {path}.{op} is not a valid condition, or {shown(arg)} is not a valid value for it."
        )

    def _date_test(self, cond: Any, path: str) -> Callable[[Any], bool]:
        if not isinstance(cond, dict) or len(cond) != 1:
            raise validation(
                f"body failed validation: {path} should be an object with one condition."
            )
        ((op, arg),) = cond.items()
        if op in ("is_empty", "is_not_empty"):
            return self._test("number", cond, path)
        if op in _DATE_SPANS or op == "this_week":
            low, high = self._span(op)
            return lambda v: isinstance(v, DateValue) and low <= as_datetime(v.start) <= high
        if op not in _DATE_CMP:
            raise validation(f"body failed validation: {path}.{op} is not a valid date condition.")
        target = self._date_arg(arg, f"{path}.{op}")
        return lambda v: isinstance(v, DateValue) and _compare_date(op, v.start, target)

    def _date_arg(self, arg: Any, path: str) -> date | datetime:
        if isinstance(arg, str) and arg in _RELATIVE:
            return (self.now + timedelta(days=_RELATIVE[arg])).date()
        try:
            if not isinstance(arg, str):
                raise ValueError(arg)
            return parse_date(arg)
        except ValueError:
            raise validation(
                f"body failed validation: {path} should be a valid ISO 8601 date string, instead was {shown(arg)}."
            ) from None

    def _span(self, op: str) -> tuple[datetime, datetime]:
        now = self.now.astimezone(UTC)
        if op == "this_week":
            monday = datetime(now.year, now.month, now.day, tzinfo=UTC) - timedelta(
                days=now.weekday()
            )
            return monday, monday + timedelta(days=7) - timedelta(microseconds=1)
        days = _DATE_SPANS[op]
        other = now + timedelta(days=days)
        return (other, now) if days < 0 else (now, other)


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == []


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _text_test(op: str, arg: str) -> Callable[[Any], bool]:
    folded = arg.casefold()

    def test(value: Any) -> bool:
        text = "" if value is None else str(value)
        low = text.casefold()
        return {
            "equals": text == arg,
            "does_not_equal": text != arg,
            "contains": folded in low,
            "does_not_contain": folded not in low,
            "starts_with": low.startswith(folded),
            "ends_with": low.endswith(folded),
        }[op]

    return test


def _number_test(op: str, arg: float) -> Callable[[Any], bool]:
    def test(value: Any) -> bool:
        if not _is_number(value):
            return op == "does_not_equal"
        return bool(
            {
                "equals": value == arg,
                "does_not_equal": value != arg,
                "greater_than": value > arg,
                "less_than": value < arg,
                "greater_than_or_equal_to": value >= arg,
                "less_than_or_equal_to": value <= arg,
            }[op]
        )

    return test


def _compare_date(op: str, value: date | datetime, target: date | datetime) -> bool:
    if isinstance(target, datetime):
        left: Any = as_datetime(value)
        right: Any = target
    else:
        left = value.astimezone(UTC).date() if isinstance(value, datetime) else value
        right = target
    return bool(
        {
            "equals": left == right,
            "before": left < right,
            "after": left > right,
            "on_or_before": left <= right,
            "on_or_after": left >= right,
        }[op]
    )
