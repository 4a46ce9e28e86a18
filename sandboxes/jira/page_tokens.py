"""Cloud's ``nextPageToken``: opaque tokens that resume a search after its last issue."""

from __future__ import annotations

import secrets
from collections import OrderedDict
from typing import Any

#: Where a Cloud page ends: the sort values of its last issue, and that issue's id.
Mark = tuple[tuple[Any, ...], int]


class PageTokens:
    """Opaque ``nextPageToken`` values, each bound to the JQL it pages through.

    A token holds the sort values of the last issue of its page (real Cloud
    tokens carry them, e.g. ``#String&<project>%Int&<number>`` under the default
    ``key DESC``): the next page starts after that point in the live result, so
    an issue deleted or changed meanwhile never shifts the pages (search after,
    not an offset). ``None`` marks the start of the result.
    """

    def __init__(self, limit: int = 100_000) -> None:
        self._limit = limit
        self._tokens: OrderedDict[str, tuple[str, Mark | None]] = OrderedDict()

    def issue(self, jql: str, after: Mark | None) -> str:
        """A fresh token for the page that follows ``after``; old tokens expire FIFO."""
        token = secrets.token_urlsafe(24)
        self._tokens[token] = (jql, after)
        while len(self._tokens) > self._limit:
            self._tokens.popitem(last=False)
        return token

    def resolve(self, token: str) -> tuple[str, Mark | None] | None:
        """``(jql, mark)`` for a token, or None when unknown or expired."""
        return self._tokens.get(token)
