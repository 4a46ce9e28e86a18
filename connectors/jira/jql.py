r"""The JQL okr-sync writes: quoted literals, batched ``in (…)`` clauses, a rule without its ORDER BY.

Pure functions; no requests are made here.

Literals follow Jira's own encoder (``JqlStringSupportImpl.encodeAsQuotedString``, whose
unit test Atlassian ships with Jira's sources, ``TestJqlStringSupportImpl``): every value
okr-sync puts in a query is double-quoted, with ``"`` and ``\`` escaped by a backslash,
tab, newline and carriage return written ``\t``, ``\n``, ``\r``, and the other JQL
control characters (U+0000–U+001F, U+007F–U+009F, U+FDD0–U+FDEF, U+FFFE–U+FFFF) as
``\uXXXX``. Quoting always is what makes a label such as ``empty``, ``null`` or a reserved
word (``update``, ``select``, ``order``: the list is hard-coded in Jira, see the JQL
"Restricted words and characters" documentation) a plain value instead of a keyword or a
syntax error, and keeps spaces and reserved characters (``+ . , ; ? | * / % ^ $ # @ [ ]``)
inside the value. A quoted issue key or label matches exactly what the bare one would.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

#: Keep each JQL statement well below URL and server limits; long ones go by POST.
MAX_JQL_CHARS = 6000
#: A statement okr-sync sends by POST when one statement lets it prove a whole selection
#: with one count (see :mod:`connectors.jira.pull`). No limit on a POSTed JQL's length is
#: documented; a 400 on such a statement makes okr-sync send the short ones instead.
LONG_JQL_CHARS = 60_000
#: Values in one ``in (…)`` list: Atlassian caps what a JQL function may return at 1,000
#: because larger ``IN`` lists slow query planning; okr-sync keeps its own lists as short.
MAX_IN_VALUES = 1000
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"}
_ORDER_BY = re.compile(r"order\s+by\b", re.IGNORECASE)


def _control(ch: str) -> bool:
    """A JQL control character (``JqlStringSupportImpl.isJqlControlCharacter``)."""
    code = ord(ch)
    return (
        code <= 0x1F or 0x7F <= code <= 0x9F or 0xFDD0 <= code <= 0xFDEF or code in (0xFFFE, 0xFFFF)
    )


def jql_value(value: str) -> str:
    """A JQL string literal: always double-quoted, escaped as Jira's own encoder does."""
    out = []
    for ch in value:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif _control(ch):
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def in_clauses(field_name: str, values: Iterable[str], budget: int = MAX_JQL_CHARS) -> list[str]:
    """``field in ("a", "b", …)`` clauses, each under ``budget`` characters (batches, not one per value)."""
    clauses: list[str] = []
    current: list[str] = []
    size = 0
    for value in sorted(set(values)):
        literal = jql_value(value)
        if current and (size + len(literal) + 2 > budget or len(current) >= MAX_IN_VALUES):
            clauses.append(f"{field_name} in ({', '.join(current)})")
            current, size = [], 0
        current.append(literal)
        size += len(literal) + 2
    if current:
        clauses.append(f"{field_name} in ({', '.join(current)})")
    return clauses


def or_groups(clauses: Sequence[str], budget: int = MAX_JQL_CHARS) -> list[str]:
    """Clauses OR-ed together into as few statements as fit the budget."""
    groups: list[str] = []
    current: list[str] = []
    for clause in clauses:
        if current and sum(len(c) + 4 for c in current) + len(clause) > budget:
            groups.append(" OR ".join(current))
            current = []
        current.append(clause)
    if current:
        groups.append(" OR ".join(current))
    return groups


def _unquoted_spans(jql: str) -> Iterable[tuple[int, int]]:
    """Start and end of each stretch of ``jql`` outside a quoted string (``"…"`` or ``'…'``).

    Inside a string a backslash escapes the next character, as in Jira's lexer.
    """
    start, i, quote = 0, 0, ""
    while i < len(jql):
        ch = jql[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote, start = "", i + 1
        elif ch in "\"'":
            yield start, i
            quote = ch
        i += 1
    if not quote:
        yield start, len(jql)


def strip_order_by(jql: str) -> str:
    """A user's JQL without its ORDER BY, so that it can be combined with other clauses.

    ``ORDER BY`` is found outside quoted strings only: ``summary ~ "sort order by date"``
    keeps its value. ``order`` is a reserved JQL word, so unquoted it can only start the
    ORDER BY clause.
    """
    for start, end in _unquoted_spans(jql):
        found = _ORDER_BY.search(jql, start, end)
        if found and (found.start() == 0 or not jql[found.start() - 1].isalnum()):
            return jql[: found.start()].strip()
    return jql.strip()
