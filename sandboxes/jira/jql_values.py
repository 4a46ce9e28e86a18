"""JQL literal helpers: date values, ``~`` text matching, and ADF-to-text."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from sandboxes.jira.jql import JqlError, Value

_DATE_FORMATS = ("%Y/%m/%d %H:%M", "%Y-%m-%d %H:%M", "%Y/%m/%d", "%Y-%m-%d")
_PERIOD = re.compile(r"^([+-])?\s*((?:\d+\s*[wdhm]\s*)+)$")
_PERIOD_PART = re.compile(r"(\d+)\s*([wdhm])")
_UNITS = {
    "w": timedelta(weeks=1),
    "d": timedelta(days=1),
    "h": timedelta(hours=1),
    "m": timedelta(minutes=1),
}


def parse_date_literal(v: Value, field: str, now: datetime, zone: tzinfo) -> datetime:
    """A JQL date value as an aware datetime.

    ``"yyyy/MM/dd HH:mm"``, ``"yyyy-MM-dd HH:mm"``, ``"yyyy/MM/dd"`` and ``"yyyy-MM-dd"``
    are wall-clock times in ``zone`` (the API user's zone, minute precision, midnight
    when no time is given); ``"-15m"``, ``"-2h"``, ``"-1d"``, ``"-1w"``, ``"4w 2d"`` are
    periods from ``now`` (a leading ``-`` goes back); an unquoted number is epoch ms.
    """
    text = v.text.strip()
    if not v.quoted and text.isdigit():
        return datetime.fromtimestamp(int(text) / 1000, UTC)
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=zone)
        except ValueError:
            continue
    period = _PERIOD.match(text)
    if period:
        delta = sum(
            (int(n) * _UNITS[u] for n, u in _PERIOD_PART.findall(period.group(2))), timedelta()
        )
        return now - delta if period.group(1) == "-" else now + delta
    raise JqlError(
        f"Date value '{v.text}' for field '{field}' is invalid. Valid formats include: "
        "'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd', or a period "
        "format e.g. '-5d', '4w 2d'."
    )


# -- text search -------------------------------------------------------------------

_WORD = re.compile(r"\w+")


def _stem(word: str) -> str:
    for suffix in ("ies", "es", "s"):
        if word.endswith(suffix) and len(word) > len(suffix) + 2:
            return word[: -len(suffix)] + ("y" if suffix == "ies" else "")
    return word


def text_matches(query: str, text: str) -> bool:
    """Jira-like ``~``: every term must occur as a word (``*`` suffix = prefix match)."""
    haystack = [_stem(w) for w in _WORD.findall(text.casefold())]
    phrases = re.findall(r'"([^"]+)"', query)
    for phrase in phrases:
        words = [_stem(w) for w in _WORD.findall(phrase.casefold())]
        if words and not any(haystack[i : i + len(words)] == words for i in range(len(haystack))):
            return False
    rest = re.sub(r'"[^"]*"', " ", query).casefold()
    for term in re.findall(r"[\w*]+", rest):
        if term.endswith("*"):
            prefix = term.rstrip("*")
            if not any(w.startswith(prefix) for w in _WORD.findall(text.casefold())):
                return False
        elif _stem(term) not in haystack:
            return False
    return bool(phrases) or bool(re.findall(r"[\w*]+", rest))


def adf_text(body: Any) -> str:
    """Plain text of a string or an Atlassian Document Format node."""
    if body is None:
        return ""
    if isinstance(body, str):
        return body
    if isinstance(body, dict):
        if body.get("type") == "text":
            return str(body.get("text", ""))
        joiner = "\n" if body.get("type") == "doc" else ""
        return joiner.join(adf_text(child) for child in body.get("content", []))
    if isinstance(body, list):
        return "".join(adf_text(child) for child in body)
    return ""
