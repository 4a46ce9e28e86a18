"""The sandbox's HTTP side: a ThreadingHTTPServer on loopback.

It counts, delays, faults, authenticates and routes every request, then runs its
handler.

Pipeline per request: count (``requests``) → latency → scheduled status fault →
auth (401) → route (404/405) → handler under the store lock → malformed-body fault.
Nothing is logged, so credentials never leave the process.
"""

from __future__ import annotations

import base64
import contextlib
import hmac
import socket
import threading
import time
import traceback
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

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

CLOUD_UNAUTHORIZED = b"Client must be authenticated to access this resource."
DC_UNAUTHORIZED = "You are not authenticated. Authentication required to perform this operation."


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    app: SandboxServer


class _Handler(BaseHTTPRequestHandler):
    # Keep-alive, so the jira client's pooled connections are reused.
    protocol_version = "HTTP/1.1"
    server_version = "JiraSandbox"
    sys_version = ""
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Small responses on a kept-alive connection otherwise stall ~40 ms on Nagle.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.app.track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.app.track(self.connection, add=False)

    def log_message(self, format: str, *args: object) -> None:
        """Stay silent: tests stay quiet and nothing about requests is printed."""

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        parts = urlsplit(self.path)
        query = parse_qs(parts.query, keep_blank_values=True)
        resp = self.server.app.dispatch(
            self.command, parts.path, query, body, self.headers.get("Authorization")
        )
        payload = resp.payload()
        self.send_response(resp.status)
        if resp.status != 204:
            self.send_header("Content-Type", resp.content_type)
            self.send_header("Content-Length", str(len(payload)))
        for name, value in resp.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if payload and resp.status != 204:
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve


class SandboxServer:
    """Serves one ``JiraStore`` over HTTP (used through ``JiraSandbox``)."""

    def __init__(
        self, site: SiteConfig, store: JiraStore, faults: FaultPlan, requests: Counter[str]
    ) -> None:
        self.site = site
        self.store = store
        self.faults = faults
        self.requests = requests
        self.tokens = PageTokens()
        self.errors: list[str] = []
        self.url = ""
        self._count_lock = threading.Lock()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()
        basic = base64.b64encode(f"{site.email}:{site.api_token}".encode()).decode()
        self._expected = f"Basic {basic}" if site.cloud else f"Bearer {site.pat}"

    # -- lifecycle ---------------------------------------------------------------

    def start(self, host: str, port: int) -> str:
        """Bind and serve in a daemon thread; returns the base URL."""
        if self._httpd is not None:
            return self.url
        httpd = _Server((host, port), _Handler)
        httpd.app = self
        self._httpd = httpd
        self.url = f"http://{host}:{httpd.server_address[1]}"
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="jira-sandbox",
            daemon=True,
        )
        self._thread.start()
        return self.url

    def stop(self) -> None:
        """Stop serving and drop open keep-alive connections."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        with self._count_lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):  # already closed by the client
                conn.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def track(self, conn: socket.socket, *, add: bool) -> None:
        """Remember open connections so ``stop`` can close idle keep-alives."""
        with self._count_lock:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    # -- requests ------------------------------------------------------------------

    def context(self) -> ApiContext:
        """The handler context for this site."""
        return ApiContext(self.site, self.store, self.faults, self.tokens, self.url, self.renderer)

    def renderer(self, version: str) -> Renderer:
        """A renderer for one REST version."""
        return Renderer(self.store, self.url, version, self.site.email)

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
