"""Fault injection for the Jira sandbox: error statuses, broken bodies, paging quirks.

Faults are scheduled by endpoint template, written the way ``JiraSandbox.requests``
counts them: ``"GET /rest/api/3/search/jql"`` (one method), ``"/rest/api/2/issue/{key}"``
(any method), ``"*"`` (every request); shell-style wildcards work too
(``"PUT /rest/api/*/issue/{key}/properties/{prop}"``). Each scheduled fault fires on
the next ``times`` matching requests, oldest schedule first.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from typing import Literal

# Re-exported: ScheduledFault used to live here.
from sandboxes.fault_plan import BaseFaultPlan, ScheduledFault
from sandboxes.jira.http import ApiResponse, error_body

_GATEWAY_PAGE = b"<html><head><title>%d %s</title></head><body><h1>%d %s</h1></body></html>"


class FaultPlan(BaseFaultPlan):
    """What to break, and when. Thread-safe; change it while the server runs.

    ``latency`` (seconds) delays every request, faulted or not.
    """

    retry_after_rule = "retry_after must be whole seconds (the jira client int()s it)"

    def __init__(self, latency: float = 0.0) -> None:
        super().__init__(latency)
        self._search: dict[str, int] = {"repeat_token": 0, "empty_page": 0}

    def add(
        self,
        endpoint: str,
        status: int,
        *,
        times: int = 1,
        retry_after: int | None = None,
        body: str | None = None,
        headers: Mapping[str, str | None] | None = None,
    ) -> None:
        """Answer ``status`` (429, 5xx, 401, ...) on the next ``times`` matching requests.

        A 429 always carries ``Retry-After`` (integer seconds, default 1) with
        ``RateLimit-Reason`` and ``X-RateLimit-*`` headers and an empty body; other
        statuses carry ``Retry-After`` only when ``retry_after`` is given. ``body``
        replaces the default body; in ``headers`` a value of None removes a header.
        """
        self._add_status(endpoint, status, times, retry_after, body, headers)

    def repeat_token(self, times: int = 1) -> None:
        """Repeat the request's token as ``nextPageToken`` on the next ``times`` pages.

        Applies to search/jql pages asked for with a token (a stale-token loop).
        """
        with self._lock:
            self._search["repeat_token"] += times

    def empty_page_with_token(self, times: int = 1) -> None:
        """Make the next ``times`` search/jql pages empty but still carry a valid token."""
        with self._lock:
            self._search["empty_page"] += times

    def clear(self) -> None:
        """Drop everything scheduled (latency stays)."""
        super().clear()
        with self._lock:
            self._search = dict.fromkeys(self._search, 0)

    @property
    def pending(self) -> int:
        """How many faults are still to fire."""
        with self._lock:
            searches = sum(self._search.values())
        return super().pending + searches

    def take_search(self, kind: Literal["repeat_token", "empty_page"]) -> bool:
        """Consume one search fault of ``kind``; True when it should fire."""
        with self._lock:
            if self._search[kind] > 0:
                self._search[kind] -= 1
                return True
        return False


def status_response(fault: ScheduledFault, now: datetime, unauthorized: ApiResponse) -> ApiResponse:
    """The response for a scheduled status fault."""
    status = fault.status
    phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    if status == 401:
        resp = ApiResponse(401, unauthorized.body, unauthorized.raw, unauthorized.content_type)
        resp.headers.update(unauthorized.headers)
    elif status == 429:
        resp = ApiResponse(429, raw=b"")
        wait = 1 if fault.retry_after is None else fault.retry_after
        reset = (now + timedelta(seconds=wait)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        resp.headers.update(
            {
                "Retry-After": str(wait),
                "RateLimit-Reason": "jira-burst-based",
                "X-RateLimit-Limit": "100",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": reset,
                "X-RateLimit-NearLimit": "true",
            }
        )
    elif status in (502, 504):
        page = _GATEWAY_PAGE % (status, phrase.encode(), status, phrase.encode())
        resp = ApiResponse(status, raw=page, content_type="text/html;charset=UTF-8")
    else:
        resp = ApiResponse(status, error_body([phrase]))
    return fault.finish(resp, fault.retry_after)
