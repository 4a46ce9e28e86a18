"""The Notion sandbox's route table: path templates, methods, handlers, API versions.

A request is counted as ``"METHOD template"``, e.g. ``"POST
/v1/data_sources/{id}/query"``. Routes limited to some API versions answer 400
``invalid_request_url`` to the others, as Notion does for ``/v1/data_sources`` under
2022-06-28 (and, in the sandbox, for the deprecated database query under
2025-09-03+).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import unquote

from sandboxes.notion import api, comments, query
from sandboxes.notion.context import NotionHandler
from sandboxes.notion.http import V2022, V2025, V2026

_ARG = re.compile(r"\{(\w+)\}")
_MODERN = frozenset({V2025, V2026})
_LEGACY = frozenset({V2022})


@dataclass(frozen=True)
class Route:
    """One path template, its handler per method, and the versions that serve it."""

    pattern: str
    methods: dict[str, NotionHandler]
    versions: frozenset[str] | None = None
    regex: re.Pattern[str] = field(init=False, compare=False)

    def __post_init__(self) -> None:
        body = _ARG.sub(lambda m: f"(?P<{m.group(1)}>[^/]+)", self.pattern)
        object.__setattr__(self, "regex", re.compile("^" + body + "/?$"))

    def match(self, path: str) -> dict[str, str] | None:
        """Path arguments (percent-decoded once) when ``path`` fits this route."""
        m = self.regex.match(path)
        return None if m is None else {k: unquote(v) for k, v in m.groupdict().items()}


ROUTES: tuple[Route, ...] = (
    Route("/v1/users/me", {"GET": api.users_me}),
    Route("/v1/users", {"GET": api.list_users}),
    Route("/v1/users/{id}", {"GET": api.get_user}),
    Route("/v1/databases/{id}", {"GET": api.get_database}),
    Route("/v1/databases/{id}/query", {"POST": query.query_database}, _LEGACY),
    Route("/v1/data_sources/{id}", {"GET": api.get_data_source}, _MODERN),
    Route("/v1/data_sources/{id}/query", {"POST": query.query_data_source}, _MODERN),
    Route("/v1/pages", {"POST": api.create_page}),
    Route("/v1/pages/{id}", {"GET": api.get_page, "PATCH": api.update_page}),
    Route("/v1/pages/{id}/properties/{property_id}", {"GET": api.get_page_property}),
    Route("/v1/comments", {"GET": comments.list_comments, "POST": comments.create_comment}),
)


@dataclass(frozen=True)
class Resolved:
    """Where a request goes: its counting template, route (None: unknown) and args."""

    template: str
    route: Route | None
    args: dict[str, str]

    def handler(self, method: str, version: str) -> NotionHandler | None:
        """The handler for ``method`` under ``version``; None → ``invalid_request_url``."""
        if self.route is None:
            return None
        if self.route.versions is not None and version not in self.route.versions:
            return None
        return self.route.methods.get(method)


def resolve(path: str) -> Resolved:
    """Route ``path``; unknown paths count under their raw path."""
    for route in ROUTES:
        args = route.match(path)
        if args is not None:
            return Resolved(route.pattern, route, args)
    return Resolved(path, None, {})
