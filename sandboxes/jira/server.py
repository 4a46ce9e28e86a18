"""The sandbox's HTTP side: a ThreadingHTTPServer on loopback.

It counts, delays, faults, authenticates and routes every request, then runs its
handler.

Pipeline per request: count (``requests``) → request hooks → latency → scheduled
fault (status, slow, reset) → auth (401) → route (404/405) → handler under the
store lock → answer faults (malformed or truncated body, reset after the effect).
Nothing is logged, so credentials never leave the process.
"""

from __future__ import annotations

import base64
import hmac
from collections import Counter

from sandboxes.jira.context import ApiContext
from sandboxes.jira.faults import FaultPlan, status_response
from sandboxes.jira.http import (
    ApiError,
    ApiRequest,
    ApiResponse,
    SiteConfig,
    error_body,
)
from sandboxes.jira.page_tokens import PageTokens
from sandboxes.jira.render import Renderer
from sandboxes.jira.routes import Resolved, resolve
from sandboxes.jira.store import JiraStore
from sandboxes.loopback import LoopbackServer, damage
from sandboxes.messages import HttpRequest

CLOUD_UNAUTHORIZED = b"Client must be authenticated to access this resource."
DC_UNAUTHORIZED = "You are not authenticated. Authentication required to perform this operation."


class SandboxServer(LoopbackServer[FaultPlan]):
    """Serves one ``JiraStore`` over HTTP (used through ``JiraSandbox``)."""

    server_name = "JiraSandbox"

    def __init__(
        self, site: SiteConfig, store: JiraStore, faults: FaultPlan, requests: Counter[str]
    ) -> None:
        super().__init__(faults, requests)
        self.site = site
        self.store = store
        self.tokens = PageTokens()
        basic = base64.b64encode(f"{site.email}:{site.api_token}".encode()).decode()
        self._expected = f"Basic {basic}" if site.cloud else f"Bearer {site.pat}"

    # -- requests ------------------------------------------------------------------

    def context(self) -> ApiContext:
        """The handler context for this site."""
        return ApiContext(self.site, self.store, self.faults, self.tokens, self.url, self.renderer)

    def renderer(self, version: str) -> Renderer:
        """A renderer for one REST version."""
        return Renderer(self.store, self.url, version, self.site.email)

    def handle(self, request: HttpRequest) -> ApiResponse:
        """Answer one request (see the module docstring for the order of steps)."""
        target = resolve(request.method, request.path, self.site.mode)
        fault = self.admit(request.method, target.template)
        if fault is not None and fault.kind == "status":
            return status_response(fault, self.store.now(), self.unauthorized())
        authorization = request.headers.get("Authorization")
        if authorization is None or not hmac.compare_digest(authorization, self._expected):
            return self.unauthorized()
        resp = self._route(request, target)
        if fault is not None:
            resp = damage(fault, resp, b'{"errorMessages":["')
        return resp

    def _route(self, request: HttpRequest, target: Resolved) -> ApiResponse:
        if not target.route_found:
            return ApiResponse(
                404, {"message": f"null for uri: {self.url}{request.path}", "status-code": 404}
            )
        if target.handler is None:
            return ApiResponse(405, raw=b"", headers={"Allow": "GET, POST, PUT, DELETE"})
        req = ApiRequest(request.method, request.path, request.query, request.body, target.args)
        # A read leaves the store's version alone, so the search cache stays valid.
        read = request.method == "GET" or any(
            part in target.template for part in ("/search", "/issue/bulkfetch")
        )
        lock = self.store.lock.reading() if read else self.store.lock
        try:
            with lock:
                return target.handler(self.context(), req)
        except ApiError as exc:
            return exc.response()
        except Exception:
            # A sandbox bug: answer like Jira's 500 and keep the trace for the tests.
            self.record_bug()
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
