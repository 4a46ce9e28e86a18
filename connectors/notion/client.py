"""The Notion connection: ``notion-client`` with a throttle, one retry layer, errors, paging.

``notion-client`` is built with ``retry=False``: its own layer would retry
429s on comment POSTs and nothing on 502/504/timeouts. okr-sync's layer
(:mod:`connectors._retry`), the only one, retries reads and property PATCHes
(idempotent: they set values) on 409/429/5xx/529, timeouts and connection
errors, reads also on a body that is not valid JSON (a PATCH whose answer was
cut may have landed: it is reported, as before), and comments only on 429/529,
always honouring ``Retry-After``. A token bucket (thread-safe: page writes
run a few at a time, see :meth:`NotionCaller.slots`) keeps a run under Notion's
average of 3 requests per second, so a normal run meets no 429 at all.
"""

from __future__ import annotations

import functools
import json
import math
import os
import ssl
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx

from connectors._retry import Caller
from connectors._throttle import TokenBucket
from okr_sync.errors import AuthError, OkrSyncError, SourceError, WriteError

TRANSIENT = frozenset({409, 429, 500, 502, 503, 504, 529})
SHARE_HINT = (
    "share it with the integration: open the database in Notion, choose ••• → Connections, "
    "and add the integration whose token okr-sync uses"
)


def shared_tls_context() -> ssl.SSLContext:
    """The TLS context of the Notion clients in this process, built once per CA bundle.

    httpx builds one per client by default and loads the whole CA bundle each time
    (about 20 ms of CPU); a scheduler or a test run that builds a client per sync paid
    that every run. The defaults are ``httpx.Client()``'s own: ``SSL_CERT_FILE`` or
    ``SSL_CERT_DIR`` when set, else certifi's bundle. A new context is built when those
    variables or the named file or folder's modification time change, so a long-running
    scheduler picks up a rotated bundle at its next run. A context is safe to share
    between clients and threads.
    """
    file, folder = os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR")
    return _tls_context(file, folder, _modified(file or folder))


def _modified(path: str | None) -> int | None:
    if not path:
        return None
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None  # httpx reports the missing bundle when it loads it


@functools.lru_cache(maxsize=4)
def _tls_context(file: str | None, folder: str | None, modified: int | None) -> ssl.SSLContext:
    """One context per bundle: the arguments are the cache key (httpx reads the variables)."""
    return httpx.create_ssl_context()


#: A 200 whose body is not JSON (cut short by a proxy): httpx's ``json()`` raises these.
_MALFORMED = (json.JSONDecodeError, UnicodeDecodeError)


def _code(exc: BaseException) -> str:
    raw = getattr(exc, "code", "") or ""
    return str(getattr(raw, "value", raw))  # APIErrorCode is a str enum: str() gives its name


class NotionCaller(Caller):
    """Throttled calls with retries and Notion's error codes turned into advice."""

    def __init__(self, source: str, *, rate: float, max_retries: int, max_wait: float,
                 sleep: Callable[[float], None] = time.sleep) -> None:  # fmt: skip
        super().__init__(source, max_retries=max_retries, max_wait=max_wait, sleep=sleep)
        self.bucket = TokenBucket(rate, burst=3, sleep=sleep)
        #: Seconds an answered request took, smoothed (None before the first answer).
        self.latency: float | None = None

    def slots(self) -> int:
        """Requests in flight that keep the throttle busy: rate × latency, plus one (at most 8).

        One request at a time reaches only ``1 / latency`` per second (2 at 0.5 s);
        the bucket, not the number of threads, keeps the rate at ``requests_per_second``.
        """
        return max(1, min(8, math.ceil(self.bucket.rate * (self.latency or 0.0)) + 1))

    def status(self, exc: BaseException) -> int | None:
        """The HTTP status of a notion-client error."""
        status = getattr(exc, "status", None)
        return status if isinstance(status, int) else None

    def retry_after(self, exc: BaseException) -> float | None:
        """``Retry-After`` (integer seconds) of the response."""
        headers = getattr(exc, "headers", None)
        value = headers.get("retry-after") if headers is not None else None
        try:
            return max(0.0, float(value)) if value is not None else None
        except ValueError:
            return None

    def transient(self, exc: BaseException) -> bool:
        """Conflicts, rate limits, 5xx, timeouts and connection errors."""
        if isinstance(exc, httpx.TransportError) or _code(exc) == "notionhq_client_request_timeout":
            return True
        return self.status(exc) in TRANSIENT

    def read_transient(self, exc: BaseException) -> bool:
        """A body that is not valid JSON (reads only; 500s are transient for every idempotent call)."""
        return isinstance(exc, _MALFORMED)

    def refused(self, exc: BaseException) -> bool:
        """429 and 529 are refusals before any work."""
        return self.status(exc) in (429, 529)

    def call(self, what: str, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Like :meth:`Caller.call`, every attempt waiting for a throttle token first."""

        def throttled(*a: Any, **k: Any) -> Any:
            self.bucket.acquire()
            started = time.monotonic()
            answer = func(*a, **k)
            took = time.monotonic() - started
            # Answered requests only: a timeout says nothing about the usual latency.
            self.latency = took if self.latency is None else 0.8 * self.latency + 0.2 * took
            return answer

        return super().call(what, throttled, *args, **kwargs)

    def translate(self, exc: BaseException, what: str, *, selector: str | None, write: bool,
                  retries: int) -> OkrSyncError:  # fmt: skip
        """Notion's error codes in the user's terms; never a token."""
        code = _code(exc)
        status = self.status(exc)
        message = str(exc) if hasattr(exc, "code") else type(exc).__name__
        if code == "unauthorized" or status == 401:
            return AuthError(self.source, f"{what}: Notion refused the token (unauthorized); check "
                             "that the integration token in the environment is current")  # fmt: skip
        if code in ("restricted_resource", "object_not_found"):
            text = f"{what}: Notion says {code} ({message}); if the database exists, {SHARE_HINT}"
        elif code == "validation_error":
            text = f"{what}: Notion rejected the request: {message}"
        elif isinstance(exc, httpx.TransportError) or code == "notionhq_client_request_timeout":
            text = f"{what}: cannot reach Notion ({type(exc).__name__})"
        elif status in TRANSIENT:
            text = f"{what}: Notion answered {status} {code}; gave up after {retries} retries"
        elif isinstance(exc, ValueError):  # the _MALFORMED ones, and any other unparsable body
            text = f"{what}: malformed response from Notion (not valid JSON)" + (
                f"; gave up after {retries} retries" if retries else ""
            )
        else:
            text = f"{what}: {message}"
        if write:
            return WriteError(self.source, text)
        return SourceError(self.source, text, retriable=status in TRANSIENT, selector=selector)


def query_pages(caller: NotionCaller, client: Any, data_source: str, *, what: str,
                selector: str | None = None, **body: Any) -> Iterator[dict[str, Any]]:  # fmt: skip
    """Every page of a data-source query, 100 at a time; cursor loops and cut-offs are errors."""
    cursor: str | None = None
    seen: set[str] = set()
    while True:
        kwargs = {**body, "page_size": 100, **({"start_cursor": cursor} if cursor else {})}
        page = caller.call(
            what, client.data_sources.query, data_source, selector=selector, **kwargs
        )
        results = page.get("results") if isinstance(page, dict) else None
        if not isinstance(results, list):
            raise SourceError(
                caller.source, f"{what}: malformed page (no results)", selector=selector
            )
        status = page.get("request_status") or {}
        if isinstance(status, dict) and status.get("type") == "incomplete":
            raise SourceError(caller.source, f"{what}: Notion cut the result short "
                              f"({status.get('incomplete_reason')}); narrow the filter", selector=selector)  # fmt: skip
        yield from (r for r in results if isinstance(r, dict))
        cursor = page.get("next_cursor") if page.get("has_more") else None
        if not cursor:
            return
        if cursor in seen:
            raise SourceError(caller.source, f"{what}: Notion repeated a cursor", selector=selector)
        seen.add(cursor)


def property_items(caller: NotionCaller, client: Any, page_id: str, property_id: str,
                   *, what: str) -> list[dict[str, Any]]:  # fmt: skip
    """All items of a paginated page property (relations beyond the 25 a page object holds)."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    seen: set[str] = set()
    while True:
        kwargs = {"page_size": 100, **({"start_cursor": cursor} if cursor else {})}
        page = caller.call(what, client.pages.properties.retrieve, page_id, property_id, **kwargs)
        if not isinstance(page, dict) or page.get("object") != "list":
            raise SourceError(caller.source, f"{what}: malformed property list")
        items += [r for r in page.get("results") or () if isinstance(r, dict)]
        cursor = page.get("next_cursor") if page.get("has_more") else None
        if not cursor:
            return items
        if cursor in seen:
            raise SourceError(caller.source, f"{what}: Notion repeated a cursor")
        seen.add(cursor)
