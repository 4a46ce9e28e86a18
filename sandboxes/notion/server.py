"""The Notion sandbox's HTTP side: counting, faults, version, auth, rate limit, routing.

Pipeline per request: count (``requests``) → request hooks → latency → scheduled
fault (status, slow, reset) → ``Notion-Version`` (400 ``missing_version``) → bearer
token (401) → token bucket (429 with an integer ``Retry-After``) → route (400
``invalid_request_url``) → handler under the store lock → answer faults (malformed
or truncated body, reset after the effect). Every answer carries
``request_id`` in its JSON body and the ``x-notion-request-id`` header. Nothing is
logged, so the token never leaves the process.
"""

from __future__ import annotations

import hmac
import math
import threading
import time
import uuid
from collections import Counter
from typing import Any

from sandboxes.loopback import LoopbackServer, damage
from sandboxes.messages import ApiResponse, HttpRequest
from sandboxes.notion.context import NotionContext
from sandboxes.notion.faults import NotionFaultPlan, fault_response
from sandboxes.notion.http import (
    NOTION_JSON,
    VERSIONS,
    NotionError,
    NotionRequest,
    invalid_url,
)
from sandboxes.notion.render import NotionRenderer
from sandboxes.notion.routes import resolve
from sandboxes.notion.store import NotionStore


class TokenBucket:
    """``rate`` requests per second on average, bursts of up to ``burst``."""

    def __init__(self, rate: float, burst: int) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate_limit must be > 0 and burst >= 1")
        self.rate = rate
        self.burst = burst
        self._tokens = float(burst)
        self._stamp = time.monotonic()
        self._lock = threading.Lock()

    def take(self) -> float:
        """Take a token: 0.0 when granted, else the seconds until one is free."""
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            if self._tokens >= 1:
                self._tokens -= 1
                return 0.0
            return (1 - self._tokens) / self.rate


class NotionServer(LoopbackServer[NotionFaultPlan]):
    """Serves one ``NotionStore`` over HTTP (used through ``NotionSandbox``)."""

    server_name = "NotionSandbox"

    def __init__(
        self,
        store: NotionStore,
        faults: NotionFaultPlan,
        requests: Counter[str],
        *,
        token: str,
        bucket: TokenBucket | None,
        capabilities: set[str],
        max_page_size: int = 100,
    ) -> None:
        super().__init__(faults, requests)
        self.store = store
        self.bucket = bucket
        self.capabilities = capabilities
        self.max_page_size = max_page_size
        self._expected = f"Bearer {token}"

    def renderer(self, version: str) -> NotionRenderer:
        """A renderer for one API version."""
        return NotionRenderer(self.store, version)

    def handle(self, request: HttpRequest) -> ApiResponse:
        """Answer one request (see the module docstring for the order of steps)."""
        request_id = str(uuid.uuid4())
        resp = self._answer(request, request_id)
        if isinstance(resp.body, dict) and resp.raw is None:
            resp.body["request_id"] = request_id
        resp.headers.setdefault("x-notion-request-id", request_id)
        return resp

    def _answer(self, request: HttpRequest, request_id: str) -> ApiResponse:
        method, headers = request.method, request.headers
        target = resolve(request.path)
        fault = self.admit(method, target.template)
        if fault is not None and fault.kind == "status":
            return fault_response(fault, request_id)
        try:
            version = self._version(headers.get("Notion-Version"))
            auth = headers.get("Authorization")
            if auth is None or not hmac.compare_digest(auth.encode(), self._expected.encode()):
                raise NotionError(401, "unauthorized", "API token is invalid.")
            self._throttle()
            handler = target.handler(method, version)
            if handler is None:
                raise invalid_url()
            req = NotionRequest(
                method, request.path, request.query, request.body, version, target.args
            )
            with self.store.lock:
                resp = handler(self._context(), req)
        except NotionError as exc:
            resp = self._error(exc, request_id)
        except Exception:
            # A sandbox bug: answer like Notion's 500 and keep the trace for the tests.
            self.record_bug()
            resp = self._error(
                NotionError(500, "internal_server_error", "Unexpected error occurred."),
                request_id,
            )
        if fault is not None:
            if isinstance(resp.body, dict):
                resp.body["request_id"] = request_id
            return damage(fault, resp, b'{"object":"list","results":[')
        return resp

    def _context(self) -> NotionContext:
        return NotionContext(
            self.store, self.url, self.capabilities, self.renderer, self.faults, self.max_page_size
        )

    @staticmethod
    def _version(value: str | None) -> str:
        if value is None:
            raise NotionError(
                400,
                "missing_version",
                "Notion-Version header failed validation: Notion-Version header should be "
                "defined, instead was undefined.",
            )
        if value not in VERSIONS:
            raise NotionError(
                400,
                "validation_error",
                f"Notion-Version header failed validation: Notion-Version header should be "
                f'one of {", ".join(VERSIONS)}, instead was `"{value}"`.',
            )
        return value

    def _throttle(self) -> None:
        if self.bucket is None:
            return
        wait = self.bucket.take()
        if wait > 0:
            raise _RateLimited(max(1, math.ceil(wait)))

    @staticmethod
    def _error(exc: NotionError, request_id: str) -> ApiResponse:
        resp = ApiResponse(exc.status, exc.body(request_id), content_type=NOTION_JSON)
        if isinstance(exc, _RateLimited):
            resp.headers["Retry-After"] = str(exc.retry_after)
        return resp


class _RateLimited(NotionError):
    def __init__(self, retry_after: int) -> None:
        extra: dict[str, Any] = {"rate_limit_reason": "public_api_request_rate_limit"}
        super().__init__(
            429,
            "rate_limited",
            "You have been rate limited. Please try again in a few minutes.",
            extra,
        )
        self.retry_after = retry_after
