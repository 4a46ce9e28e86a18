"""The sandbox's HTTP side: a ThreadingHTTPServer on loopback.

It counts, delays, faults, authenticates and routes every request, then runs its
handler.

Pipeline per request: count (``requests``) → latency → scheduled status fault →
auth (401) → route (404/405) → handler under the store lock → malformed-body fault.
Nothing is logged, so credentials never leave the process.
"""

from __future__ import annotations

import base64
import hmac
import threading
import time
import traceback
from collections import Counter
from email.message import Message

from connectors.sandbox.jira_faults import FaultPlan, status_response
from connectors.sandbox.jira_http import (
    ApiContext,
    ApiError,
    ApiRequest,
    ApiResponse,
    SiteConfig,
    error_body,
)
from connectors.sandbox.jira_render import Renderer
from connectors.sandbox.jira_routes import Resolved, resolve
from connectors.sandbox.jira_search import PageTokens
from connectors.sandbox.jira_store import JiraStore
from connectors.sandbox.loopback import LoopbackServer

CLOUD_UNAUTHORIZED = b"Client must be authenticated to access this resource."
DC_UNAUTHORIZED = "You are not authenticated. Authentication required to perform this operation."


class SandboxServer(LoopbackServer):
    """Serves one ``JiraStore`` over HTTP (used through ``JiraSandbox``)."""

    server_name = "JiraSandbox"

    def __init__(
        self, site: SiteConfig, store: JiraStore, faults: FaultPlan, requests: Counter[str]
    ) -> None:
        super().__init__()
        self.site = site
        self.store = store
        self.faults = faults
        self.requests = requests
        self.tokens = PageTokens()
        self.errors: list[str] = []
        self._count_lock = threading.Lock()
        basic = base64.b64encode(f"{site.email}:{site.api_token}".encode()).decode()
        self._expected = f"Basic {basic}" if site.cloud else f"Bearer {site.pat}"

    # -- requests ------------------------------------------------------------------

    def context(self) -> ApiContext:
        """The handler context for this site."""
        return ApiContext(self.site, self.store, self.faults, self.tokens, self.url, self.renderer)

    def renderer(self, version: str) -> Renderer:
        """A renderer for one REST version."""
        return Renderer(self.store, self.url, version, self.site.email)

    def handle(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        body: bytes,
        headers: Message,
    ) -> ApiResponse:
        """Answer one request from the HTTP server."""
        return self.dispatch(method, path, query, body, headers.get("Authorization"))

    def dispatch(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        body: bytes,
        authorization: str | None,
    ) -> ApiResponse:
        """Answer one request (see the module docstring for the order of steps)."""
        target = resolve(method, path, self.site.mode)
        with self._count_lock:
            self.requests[f"{method} {target.template}"] += 1
        if self.faults.latency > 0:
            time.sleep(self.faults.latency)
        fault = self.faults.take(method, target.template)
        if fault is not None and fault.kind == "status":
            return status_response(fault, self.store.now(), self.unauthorized())
        if authorization is None or not hmac.compare_digest(authorization, self._expected):
            return self.unauthorized()
        resp = self._route(method, path, query, body, target)
        if fault is not None:
            full = resp.payload() or b'{"errorMessages":["'
            resp = ApiResponse(200, raw=full[: max(1, len(full) // 2)])
        return resp

    def _route(
        self, method: str, path: str, query: dict[str, list[str]], body: bytes, target: Resolved
    ) -> ApiResponse:
        if not target.route_found:
            return ApiResponse(
                404, {"message": f"null for uri: {self.url}{path}", "status-code": 404}
            )
        if target.handler is None:
            return ApiResponse(405, raw=b"", headers={"Allow": "GET, POST, PUT, DELETE"})
        req = ApiRequest(method, path, query, body, target.args)
        try:
            with self.store.lock:
                return target.handler(self.context(), req)
        except ApiError as exc:
            return exc.response()
        except Exception:
            # A sandbox bug: answer like Jira's 500 and keep the trace for the tests.
            self.errors.append(traceback.format_exc())
            return ApiResponse(500, error_body(["Internal server error"]))

    def unauthorized(self) -> ApiResponse:
        """The 401 this deployment sends for missing or wrong credentials."""
        if self.site.cloud:
            return ApiResponse(401, raw=CLOUD_UNAUTHORIZED, content_type="text/plain;charset=UTF-8")
        return ApiResponse(
            401,
            error_body([DC_UNAUTHORIZED]),
            headers={"X-Seraph-LoginReason": "AUTHENTICATED_FAILED"},
        )
