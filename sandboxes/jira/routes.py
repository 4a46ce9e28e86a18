"""The sandbox's route table: path templates, methods, handlers, Cloud-only flags.

A template such as ``/rest/api/{v}/issue/{key}/properties/{prop}`` becomes the
counting key ``PUT /rest/api/2/issue/{key}/properties/{prop}``: the REST version is
spelled out, the other arguments stay templated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import unquote

from sandboxes.jira import boards, changelog, issue_api, search
from sandboxes.jira import meta_api as meta
from sandboxes.jira.catalog import Mode
from sandboxes.jira.context import Handler

_ARG = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class Route:
    """One path template and the handler per HTTP method."""

    pattern: str
    methods: dict[str, Handler]
    cloud_only: bool = False
    regex: re.Pattern[str] = field(init=False, compare=False)

    def __post_init__(self) -> None:
        def group(m: re.Match[str]) -> str:
            return r"(?P<v>2|3|latest)" if m.group(1) == "v" else f"(?P<{m.group(1)}>[^/]+)"

        object.__setattr__(self, "regex", re.compile("^" + _ARG.sub(group, self.pattern) + "/?$"))

    def match(self, path: str, mode: Mode) -> dict[str, str] | None:
        """Path arguments when ``path`` is served by this route in ``mode``."""
        if self.cloud_only and mode != "cloud":
            return None
        m = self.regex.match(path)
        if m is None:
            return None
        args = {k: unquote(v) for k, v in m.groupdict().items()}
        # Data Center has only REST v2 (and latest); v3 and ADF are Cloud-only.
        if mode != "cloud" and args.get("v") == "3":
            return None
        return args

    def template(self, args: dict[str, str]) -> str:
        """The counting template, with the version spelled out."""
        return self.pattern.replace("{v}", args["v"]) if "v" in args else self.pattern


_ISSUE = "/rest/api/{v}/issue/{key}"

ROUTES: tuple[Route, ...] = (
    Route("/rest/api/{v}/serverInfo", {"GET": meta.server_info}),
    Route("/rest/api/{v}/myself", {"GET": meta.myself}),
    Route("/rest/api/{v}/field", {"GET": meta.fields}),
    Route("/rest/api/{v}/statuscategory", {"GET": meta.status_categories}),
    Route("/rest/api/{v}/project", {"GET": meta.projects}),
    Route("/rest/api/{v}/project/{project}", {"GET": meta.project}),
    Route("/rest/api/{v}/search/jql", {"GET": search.search_jql, "POST": search.search_jql}, True),
    Route("/rest/api/{v}/search/approximate-count", {"POST": search.approximate_count}, True),
    Route("/rest/api/{v}/search", {"GET": search.search_legacy, "POST": search.search_legacy}),
    Route("/rest/api/{v}/issue/bulkfetch", {"POST": search.bulk_fetch}, True),
    Route("/rest/api/{v}/changelog/bulkfetch", {"POST": changelog.bulk_changelog}, True),
    Route("/rest/api/{v}/status", {"GET": changelog.statuses}),
    Route(_ISSUE, {"GET": issue_api.get_issue, "PUT": issue_api.edit_issue}),
    Route(f"{_ISSUE}/changelog", {"GET": changelog.issue_changelog}, True),
    Route(f"{_ISSUE}/properties", {"GET": issue_api.list_properties}),
    Route(
        f"{_ISSUE}/properties/{{prop}}",
        {
            "GET": issue_api.get_property,
            "PUT": issue_api.put_property,
            "DELETE": issue_api.delete_property,
        },
    ),
    Route(f"{_ISSUE}/comment", {"GET": issue_api.list_comments, "POST": issue_api.add_comment}),
    Route(f"{_ISSUE}/comment/{{commentId}}", {"GET": issue_api.get_comment}),
    Route(
        f"{_ISSUE}/remotelink",
        {"GET": issue_api.list_links, "POST": issue_api.add_link, "DELETE": issue_api.delete_links},
    ),
    Route(
        f"{_ISSUE}/remotelink/{{linkId}}",
        {"GET": issue_api.get_link, "PUT": issue_api.put_link, "DELETE": issue_api.delete_link},
    ),
    Route("/rest/applinks/latest/listApplicationlinks", {"GET": meta.application_links}),
    Route("/rest/agile/1.0/board", {"GET": boards.list_boards}),
    Route("/rest/agile/1.0/board/{boardId}/configuration", {"GET": boards.board_configuration}),
)


@dataclass(frozen=True)
class Resolved:
    """Where a request goes: its counting template, handler (None: 404/405) and args."""

    template: str
    handler: Handler | None
    args: dict[str, str]
    route_found: bool


def resolve(method: str, path: str, mode: Mode) -> Resolved:
    """Route ``method path``; unknown paths count under their raw path."""
    for route in ROUTES:
        args = route.match(path, mode)
        if args is not None:
            return Resolved(route.template(args), route.methods.get(method), args, True)
    return Resolved(path, None, {}, False)
