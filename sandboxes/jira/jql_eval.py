"""Evaluate parsed JQL against a ``JiraStore``: validation, filtering and ORDER BY.

Semantics follow Jira where the subset reaches:

* ``!=`` and ``NOT IN`` never match an empty field (``labels != x`` skips
  unlabelled issues), while ``NOT clause`` is the plain complement.
* Date literals (``"yyyy/MM/dd HH:mm"``, ``"yyyy-MM-dd HH:mm"``, ``"yyyy/MM/dd"``,
  ``"yyyy-MM-dd"``) are read in the API user's time zone; relative periods
  (``"-15m"``, ``"-2h"``, ``"-1d"``, ``"-1w"``, ``"4w 2d"``) count from the sandbox
  clock; an unquoted number is epoch milliseconds.
* ``key``/``parent`` values that name no issue: Cloud ignores them, Data Center
  answers 400 "An issue with key 'X' does not exist for field 'key'.".
* ``parent`` on Data Center finds sub-tasks only; epic children need ``"Epic Link"``.
* ``~`` is word based and case-insensitive, with a trailing ``*`` wildcard and light
  plural stemming; a quoted phrase inside the value matches as a phrase.
* Empty values sort last ascending and first descending. Without ORDER BY the order
  is ``key DESC``; ties break by id so paging is stable.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sandboxes.jira.catalog import CATEGORIES, EPIC_LINK, ISSUE_TYPES, STATUSES
from sandboxes.jira.jql import (
    And,
    Clause,
    JqlError,
    Node,
    Not,
    Or,
    Query,
    SortKey,
    Value,
    parse_jql,
)
from sandboxes.jira.jql_values import adf_text, parse_date_literal, text_matches
from sandboxes.jira.model import StoredIssue, issue_key_parts
from sandboxes.jira.store import JiraStore

Predicate = Callable[[StoredIssue], bool]
_ORDERED = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}
_EQUALITY = ("=", "!=", "in", "not in")
_EMPTINESS = ("is", "is not")
_CATEGORY_ORDER = {"undefined": 0, "new": 1, "indeterminate": 2, "done": 3}
_IGNORE = object()  # a value Cloud silently drops (a key that names no issue)


@dataclass(frozen=True)
class CompiledQuery:
    """A validated query, ready to run over the store's issues."""

    query: Query
    predicate: Predicate
    sorts: tuple[tuple[Callable[[StoredIssue], Any], bool], ...]

    @property
    def bounded(self) -> bool:
        """Whether the query restricts the result (Cloud's search requires it)."""
        return self.query.where is not None

    def run(self, issues: Iterable[StoredIssue]) -> list[StoredIssue]:
        """Matching issues in query order."""
        found = sorted((i for i in issues if self.predicate(i)), key=lambda i: i.id)
        for key, descending in reversed(self.sorts):
            found.sort(key=nulls_last_key(key), reverse=descending)
        return found


def nulls_last_key(key: Callable[[StoredIssue], Any]) -> Callable[[StoredIssue], tuple[int, Any]]:
    """``key`` with empty values greatest: last ascending, first descending (as Jira)."""

    def wrapped(issue: StoredIssue) -> tuple[int, Any]:
        value = key(issue)
        return (1, 0) if value is None else (0, value)

    return wrapped


class JqlEvaluator:
    """Compiles JQL for one store; Cloud or Data Center rules come from ``store.mode``."""

    def __init__(self, store: JiraStore) -> None:
        self.store = store
        self.cloud = store.mode == "cloud"
        #: Whether a compiled query read the clock (a relative date): set by :meth:`compile`.
        self.uses_clock = False

    def search(self, jql: str) -> list[StoredIssue]:
        """Parse, validate and run ``jql``; raises ``JqlError`` like Jira's 400."""
        return self.compile(jql).run(list(self.store.issues.values()))

    def compile(self, jql: str) -> CompiledQuery:
        """Parse and validate ``jql`` without running it."""
        query = parse_jql(jql)
        predicate = self._node(query.where) if query.where is not None else (lambda _i: True)
        sorts = [(self._sort_key(k), k.descending) for k in query.order_by]
        if not sorts:
            sorts = [(lambda i: (i.project, i.number), True)]
        return CompiledQuery(query, predicate, tuple(sorts))

    # -- boolean structure ------------------------------------------------------

    def _node(self, node: Node) -> Predicate:
        if isinstance(node, And):
            parts = [self._node(n) for n in node.items]
            return lambda i: all(p(i) for p in parts)
        if isinstance(node, Or):
            parts = [self._node(n) for n in node.items]
            return lambda i: any(p(i) for p in parts)
        if isinstance(node, Not):
            inner = self._node(node.item)
            return lambda i: not inner(i)
        return self._clause(node)

    # -- clauses ------------------------------------------------------------------

    def _clause(self, c: Clause) -> Predicate:
        name = c.field.casefold()
        s = self.store
        if name in ("summary", "description", "comment", "text"):
            return self._text(c, name)
        if name == "project":
            self._ops(c, _EQUALITY)
            return _scalar(c, lambda i: i.project, self._project_value)
        if name in ("key", "issuekey", "id", "issue"):
            return self._key(c)
        if name in ("issuetype", "type"):
            self._ops(c, _EQUALITY)
            return _scalar(c, lambda i: i.issuetype, lambda v: self._named(v, c, _type_name))
        if name == "hierarchylevel" and self.cloud:
            self._ops(c, (*_EQUALITY, *_ORDERED))
            return _scalar(c, lambda i: i.type.level, lambda v: int(_number(v, c)))
        if name == "parent":
            self._ops(c, _EQUALITY)
            return _scalar(c, lambda i: _id(s.structural_parent(i)), lambda v: self._issue_id(v, c))
        epic = s.field(c.field)
        if epic is not None and epic.id == EPIC_LINK:
            self._ops(c, (*_EQUALITY, *_EMPTINESS))
            return _scalar(c, lambda i: _id(s.epic_of(i)), lambda v: self._issue_id(v, c))
        if name == "labels":
            self._ops(c, (*_EQUALITY, *_EMPTINESS))
            return _multi(
                c, lambda i: {x.casefold() for x in i.labels}, lambda v: v.text.casefold()
            )
        if name == "status":
            self._ops(c, _EQUALITY)
            return _scalar(c, lambda i: i.status, lambda v: self._named(v, c, _status_name))
        if name in ("statuscategory", "category"):
            self._ops(c, _EQUALITY)
            return _scalar(c, lambda i: i.category, lambda v: self._named(v, c, _category_key))
        if name == "resolution":
            self._ops(c, (*_EQUALITY, *_EMPTINESS))
            return _scalar(c, lambda i: i.resolution, self._resolution)
        date_getter = self._date_getter(name)
        if date_getter is not None:
            self._ops(c, (*_EQUALITY, *_ORDERED, *_EMPTINESS))
            return _scalar(c, date_getter, lambda v: self._date(v, c))
        f = s.field(c.field)
        if f is not None and f.custom and f.is_number and c.field != f.id:
            self._ops(c, (*_EQUALITY, *_ORDERED, *_EMPTINESS))
            return _scalar(c, lambda i: i.custom.get(f.id), lambda v: _number(v, c))
        raise _no_field(c.field)

    def _ops(self, c: Clause, allowed: Iterable[str]) -> None:
        if c.op not in allowed:
            raise JqlError(f"The operator '{c.op}' is not supported by the '{c.field}' field.")

    def _key(self, c: Clause) -> Predicate:
        self._ops(c, (*_EQUALITY, *_ORDERED))
        if c.op in _ORDERED:
            parts = issue_key_parts(c.values[0].text)
            if parts is None:
                raise _bad_key(c.values[0].text, c.field)
            compare = _ORDERED[c.op]
            return lambda i: i.project == parts[0] and compare(i.number, parts[1])
        return _scalar(c, lambda i: i.id, lambda v: self._issue_id(v, c))

    def _issue_id(self, v: Value, c: Clause) -> Any:
        issue = self.store.get(v.text)
        if issue is not None:
            return issue.id
        if not v.text.strip().isdigit() and issue_key_parts(v.text) is None:
            raise _bad_key(v.text, c.field)
        if self.cloud:
            return _IGNORE
        raise JqlError(f"An issue with key '{v.text}' does not exist for field '{c.field}'.")

    def _project_value(self, v: Value) -> str:
        proj = self.store.project(v.text)
        if proj is None:
            raise JqlError(f"The value '{v.text}' does not exist for the field 'project'.")
        return proj.key

    def _named(self, v: Value, c: Clause, lookup: Callable[[str], str | None]) -> str:
        found = lookup(v.text)
        if found is None:
            raise JqlError(f"The value '{v.text}' does not exist for the field '{c.field}'.")
        return found

    def _resolution(self, v: Value) -> Any:
        if v.text.casefold() == "unresolved":
            return None
        if v.text.casefold() == "done":
            return "Done"
        raise JqlError(f"The value '{v.text}' does not exist for the field 'resolution'.")

    def _date_getter(self, name: str) -> Callable[[StoredIssue], datetime | None] | None:
        if name in ("created", "createddate"):
            return lambda i: i.created
        if name in ("updated", "updateddate"):
            return lambda i: i.updated
        if name in ("resolutiondate", "resolved"):
            return lambda i: i.resolutiondate
        if name == "statuscategorychangeddate" and self.cloud:
            return lambda i: i.status_changed
        return None

    def _date(self, v: Value, c: Clause) -> datetime:
        now = self.store.now()
        found = parse_date_literal(v, c.field, now, self.store.user_zone)
        # A period ("-15m") moves with the clock: its results cannot be cached for later.
        later = now + timedelta(microseconds=1)
        if parse_date_literal(v, c.field, later, self.store.user_zone) != found:
            self.uses_clock = True
        return found

    def _text(self, c: Clause, name: str) -> Predicate:
        self._ops(c, ("~", "!~"))
        wanted = c.values[0].text
        if not wanted.strip():
            raise JqlError(f"The field '{c.field}' does not support searching for an empty string.")

        def haystack(i: StoredIssue) -> str:
            parts: list[str] = []
            if name in ("summary", "text"):
                parts.append(i.summary)
            if name in ("description", "text"):
                parts.append(adf_text(i.description))
            if name in ("comment", "text"):
                parts.extend(adf_text(cm.body) for cm in i.comments)
            return "\n".join(parts)

        if c.op == "~":
            return lambda i: text_matches(wanted, haystack(i))
        return lambda i: not text_matches(wanted, haystack(i))

    # -- ORDER BY -----------------------------------------------------------------

    def _sort_key(self, k: SortKey) -> Callable[[StoredIssue], Any]:
        name = k.field.casefold()
        s = self.store
        keyed: dict[str, Callable[[StoredIssue], Any]] = {
            "key": lambda i: (i.project, i.number),
            "issuekey": lambda i: (i.project, i.number),
            "id": lambda i: i.id,
            "summary": lambda i: i.summary.casefold(),
            "status": lambda i: (_CATEGORY_ORDER[i.category], i.status),
            "statuscategory": lambda i: _CATEGORY_ORDER[i.category],
            "issuetype": lambda i: i.issuetype,
            "type": lambda i: i.issuetype,
            "project": lambda i: s.projects[i.project].name.casefold(),
            "priority": lambda _i: 0,
            "resolution": lambda i: i.resolution,
        }
        if self.cloud:
            keyed["hierarchylevel"] = lambda i: i.type.level
        if name in keyed:
            return keyed[name]
        getter = self._date_getter(name)
        if getter is not None:
            return getter
        f = s.field(k.field)
        if f is not None and f.custom and f.is_number:
            return lambda i: i.custom.get(f.id)
        if f is not None or name in ("text", "parent", "hierarchylevel"):
            raise JqlError(f"Field '{k.field}' does not support sorting.")
        raise _no_field(k.field)


# -- value matching -------------------------------------------------------------


def _scalar(
    c: Clause, get: Callable[[StoredIssue], Any], resolve: Callable[[Value], Any]
) -> Predicate:
    """A single-valued field: EMPTY means None; != and NOT IN skip empty fields."""
    want_empty = any(v.empty for v in c.values)
    wanted = {r for r in (resolve(v) for v in c.values if not v.empty) if r is not _IGNORE}
    op = c.op
    if op in _ORDERED:
        if want_empty:
            raise JqlError(
                f"The operator '{op}' is not supported by the '{c.field}' field for EMPTY."
            )
        compare, (limit,) = _ORDERED[op], (wanted or {None})
        if limit is None:
            return lambda _i: False
        return lambda i: (val := get(i)) is not None and compare(val, limit)
    if op in ("is", "is not"):
        return (lambda i: get(i) is None) if op == "is" else (lambda i: get(i) is not None)
    if op in ("=", "in"):
        return lambda i: (val := get(i)) in wanted or (want_empty and val is None)
    return lambda i: (val := get(i)) is not None and val not in wanted


def _multi(
    c: Clause, get: Callable[[StoredIssue], set[str]], resolve: Callable[[Value], str]
) -> Predicate:
    """A multi-valued field such as labels."""
    want_empty = any(v.empty for v in c.values)
    wanted = {resolve(v) for v in c.values if not v.empty}
    if c.op in ("is", "is not"):
        return (lambda i: not get(i)) if c.op == "is" else (lambda i: bool(get(i)))
    if c.op in ("=", "in"):
        return lambda i: bool(get(i) & wanted) or (want_empty and not get(i))
    return lambda i: bool(vals := get(i)) and not vals & wanted


def _id(issue: StoredIssue | None) -> int | None:
    return issue.id if issue else None


def _number(v: Value, c: Clause) -> float:
    try:
        return float(v.text)
    except ValueError:
        raise JqlError(f"The value '{v.text}' is not valid for the field '{c.field}'.") from None


def _type_name(text: str) -> str | None:
    return next(
        (t.name for t in ISSUE_TYPES.values() if text.casefold() in (t.name.casefold(), t.id)), None
    )


def _status_name(text: str) -> str | None:
    return next(
        (n for n, (sid, _c) in STATUSES.items() if text.casefold() in (n.casefold(), sid)), None
    )


def _category_key(text: str) -> str | None:
    folded = text.casefold()
    for key, cat in CATEGORIES.items():
        if folded in (key, cat["name"].casefold(), str(cat["id"])):
            return key
    return None


def _no_field(name: str) -> JqlError:
    return JqlError(f"Field '{name}' does not exist or you do not have permission to view it.")


def _bad_key(text: str, field: str) -> JqlError:
    return JqlError(f"The issue key '{text}' for field '{field}' is invalid.")
