"""Request, response and error types shared by the sandbox's endpoint handlers.

Handlers are plain functions ``(ApiContext, ApiRequest) -> ApiResponse`` (the context
is in :mod:`sandboxes.jira.context`); they never touch sockets, so the routing and
fault layers stay in :mod:`sandboxes.jira.server`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

# Re-exported: the Jira handlers import them from here.
from sandboxes.messages import JSON_TYPE as JSON_TYPE
from sandboxes.messages import ApiResponse as ApiResponse

if TYPE_CHECKING:
    from sandboxes.jira.catalog import Mode

ISSUE_NOT_FOUND = "Issue does not exist or you do not have permission to see it."


def error_body(
    messages: Sequence[str] = (), errors: dict[str, str] | None = None
) -> dict[str, Any]:
    """Jira's ``ErrorCollection``."""
    return {"errorMessages": list(messages), "errors": dict(errors or {})}


class ApiError(Exception):
    """An error answer: ``ApiError(404, ["..."])`` or ``ApiError(400, errors={...})``."""

    def __init__(
        self, status: int, messages: Sequence[str] = (), errors: dict[str, str] | None = None
    ) -> None:
        super().__init__(f"{status}: {list(messages)} {errors or {}}")
        self.status = status
        self.body = error_body(messages, errors)

    def response(self) -> ApiResponse:
        """The error as a response."""
        return ApiResponse(self.status, self.body)


@dataclass
class ApiRequest:
    """A parsed request; ``args`` holds path arguments such as ``v`` and ``key``."""

    method: str
    path: str
    query: dict[str, list[str]]
    body: bytes
    args: dict[str, str] = field(default_factory=dict)

    @property
    def version(self) -> str:
        """REST version: ``"2"`` or ``"3"`` (``latest`` is 2, as in Jira)."""
        return "3" if self.args.get("v") == "3" else "2"

    def param(self, name: str) -> str | None:
        """The first value of a query parameter."""
        values = self.query.get(name)
        return values[0] if values else None

    def multi(self, name: str) -> list[str]:
        """All values of a repeatable, comma-separated query parameter."""
        return split_list(self.query.get(name, []))

    def json(self) -> Any:
        """The decoded JSON body; 400 as Jira answers when it does not parse."""
        if not self.body.strip():
            return None
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ApiError(400, [f"Unexpected character in JSON body: {exc}"]) from None

    def int_param(self, name: str, default: int, raw: Any = None) -> int:
        """An integer parameter from the query (or ``raw``); 400 when not a number."""
        value = raw if raw is not None else self.param(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            raise ApiError(400, [f"The '{name}' parameter must be an integer."])
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ApiError(400, [f"The '{name}' parameter must be an integer."]) from None


def split_list(values: Any) -> list[str]:
    """Flatten ``["a,b", "c"]``, ``"a,b"`` or None into ``["a", "b", "c"]``."""
    if values is None:
        return []
    if isinstance(values, str):
        values = [values]
    out: list[str] = []
    for value in values:
        out.extend(part.strip() for part in str(value).split(",") if part.strip())
    return out


@dataclass
class SiteConfig:
    """The fixed settings of one sandbox site."""

    mode: Mode
    email: str
    api_token: str
    pat: str
    #: Issues per search page when fields are asked for (Cloud: 100; Data Center:
    #: jira.search.views.default.max, 1000 unless an admin changed it).
    max_page_size: int
    #: Issues per search/jql page when only ``id`` or ``key`` is asked for (Cloud: 5000).
    max_key_page_size: int = 5000

    @property
    def cloud(self) -> bool:
        """Whether the site plays Jira Cloud."""
        return self.mode == "cloud"
