"""Fault injection for the Notion sandbox: error answers, broken bodies, latency, paging.

Endpoints are written the way ``NotionSandbox.requests`` counts them:
``"PATCH /v1/pages/{id}"`` (one method), ``"/v1/pages/{id}"`` (any method) or
``"*"``; shell-style wildcards work too (``"* /v1/data_sources/*"``). Each fault
fires on the next ``times`` matching requests, oldest schedule first.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from sandboxes.fault_plan import BaseFaultPlan, ScheduledFault
from sandboxes.messages import ApiResponse
from sandboxes.notion.http import NOTION_JSON, NotionError

# Default code and message per status (Notion's status-codes page).
DEFAULTS: dict[int, tuple[str, str]] = {
    400: ("validation_error", "body failed validation."),
    401: ("unauthorized", "API token is invalid."),
    403: ("restricted_resource", "API token does not have access to this resource."),
    404: ("object_not_found", "Could not find the requested object."),
    409: ("conflict_error", "Conflict occurred while saving. Please try again."),
    429: ("rate_limited", "You have been rate limited. Please try again in a few minutes."),
    500: ("internal_server_error", "Unexpected error occurred."),
    502: ("bad_gateway", "Bad Gateway"),
    503: ("service_unavailable", "Notion is unavailable. Please try again later."),
    504: ("gateway_timeout", "Gateway Timeout"),
    529: ("service_overload", "Notion is currently overloaded. Please try again later."),
}
_BAD_GATEWAY = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>cloudflare</center>\r\n"
    b"</body>\r\n</html>\r\n"
)


class NotionFaultPlan(BaseFaultPlan):
    """What to break, and when. Thread-safe; change it while the server runs.

    ``latency`` (seconds) delays every request, faulted or not.
    """

    retry_after_rule = "retry_after must be whole seconds, as Notion sends it"

    def __init__(self, latency: float = 0.0) -> None:
        super().__init__(latency)
        self._query: dict[str, int] = {"empty_page": 0, "repeat_cursor": 0}

    def empty_page(self, times: int = 1) -> None:
        """Make the next ``times`` query pages empty, with ``has_more: true`` and a cursor.

        Notion may answer fewer rows than ``page_size``, none at all when a filter
        matches little; the cursor resumes where the page would have started.
        Applies to data source (and 2022 database) queries with rows still to come.
        """
        self._bump("empty_page", times)

    def repeat_cursor(self, times: int = 1) -> None:
        """Answer the next ``times`` paged lists asked with a ``start_cursor`` with that cursor.

        Data source queries and comment lists: the page comes with ``has_more:
        true`` and its own ``start_cursor`` as ``next_cursor``; a pager that
        trusts it loops.
        """
        self._bump("repeat_cursor", times)

    def _bump(self, kind: str, times: int) -> None:
        if times < 1:
            raise ValueError("times must be >= 1")
        with self._lock:
            self._query[kind] += times

    def take_query(self, kind: Literal["empty_page", "repeat_cursor"]) -> bool:
        """Consume one query fault of ``kind``; True when it should fire."""
        with self._lock:
            if self._query[kind] > 0:
                self._query[kind] -= 1
                return True
        return False

    def clear(self) -> None:
        """Drop everything scheduled (latency stays)."""
        super().clear()
        with self._lock:
            self._query = dict.fromkeys(self._query, 0)

    @property
    def pending(self) -> int:
        """How many faults are still to fire."""
        with self._lock:
            queries = sum(self._query.values())
        return super().pending + queries

    def add(
        self,
        endpoint: str,
        status: int,
        *,
        code: str | None = None,
        times: int = 1,
        retry_after: int | None = None,
        body: str | None = None,
        headers: Mapping[str, str | None] | None = None,
    ) -> None:
        """Answer ``status`` with Notion's error object on the next ``times`` matches.

        ``code`` defaults by status (409 ``conflict_error``, 429 ``rate_limited``,
        500 ``internal_server_error``, 503 ``service_unavailable``, 504
        ``gateway_timeout``, 529 ``service_overload``...). A 429 always carries an
        integer ``Retry-After`` (default 1) and ``additional_data.rate_limit_reason``;
        other statuses carry ``Retry-After`` only when ``retry_after`` is given. A 502
        answers Cloudflare's HTML page. ``body`` replaces the body; in ``headers`` a
        value of None removes a header.
        """
        self._add_status(endpoint, status, times, retry_after, body, headers, code)


def fault_response(fault: ScheduledFault, request_id: str) -> ApiResponse:
    """The answer for a scheduled status fault."""
    status = fault.status
    code, message = DEFAULTS.get(status, ("internal_server_error", "Unexpected error occurred."))
    code = fault.code or code
    retry_after = fault.retry_after
    if status == 502 and fault.code is None:
        resp = ApiResponse(status, raw=_BAD_GATEWAY, content_type="text/html")
    else:
        extra: dict[str, Any] | None = None
        if code == "rate_limited":
            extra = {"rate_limit_reason": "public_api_request_rate_limit"}
            retry_after = 1 if retry_after is None else retry_after
        body = NotionError(status, code, message, extra).body(request_id)
        resp = ApiResponse(status, body, content_type=NOTION_JSON)
    return fault.finish(resp, retry_after)
