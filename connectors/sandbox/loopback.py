"""Plumbing shared by the sandboxes: a loopback HTTP server and a fault schedule.

``LoopbackServer`` binds a ``ThreadingHTTPServer`` on loopback, serves it from a
daemon thread and hands every request to ``handle``; subclasses (the Jira and the
Notion sandbox servers) decide what to answer, after ``admit`` has counted the
request, waited out the latency and taken its scheduled fault. ``BaseFaultPlan``
keeps the list of scheduled faults both sandboxes consult before they route a
request. ``LoopbackSandbox`` is the public lifecycle both sandboxes share (``url``,
``latency``, ``server_errors``, ``start``/``stop``, context manager).
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
import traceback
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import Message
from fnmatch import fnmatchcase
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, ClassVar, Generic, Literal, Self, TypeVar
from urllib.parse import parse_qs, urlsplit

JSON_TYPE = "application/json;charset=UTF-8"


@dataclass
class ApiResponse:
    """What a handler answers: a JSON ``body``, or ``raw`` bytes, or nothing (204)."""

    status: int = 200
    body: Any = None
    raw: bytes | None = None
    content_type: str = JSON_TYPE
    headers: dict[str, str] = field(default_factory=dict)

    def payload(self) -> bytes:
        """The encoded body."""
        if self.raw is not None:
            return self.raw
        if self.body is None:
            return b""
        return json.dumps(self.body, separators=(",", ":")).encode()


@dataclass(frozen=True)
class HttpRequest:
    """One request as the HTTP server read it; ``path`` is still percent-encoded."""

    method: str
    path: str
    query: dict[str, list[str]]
    body: bytes
    headers: Message


# -- faults -----------------------------------------------------------------------------


@dataclass
class ScheduledFault:
    """One entry of a fault plan (internal; the plans build them)."""

    pattern: str
    kind: Literal["status", "malformed"]
    remaining: int
    status: int = 200
    retry_after: int | None = None
    body: str | None = None
    headers: dict[str, str | None] = field(default_factory=dict)
    code: str | None = None

    def matches(self, method: str, template: str) -> bool:
        """Whether this fault applies to ``method`` on ``template``."""
        if self.pattern == "*":
            return True
        if " " in self.pattern:
            return fnmatchcase(f"{method} {template}", self.pattern)
        return fnmatchcase(template, self.pattern)

    def finish(self, resp: ApiResponse, retry_after: int | None) -> ApiResponse:
        """``resp`` with ``Retry-After`` (when given), then this fault's body and headers.

        In ``headers`` a value of None removes that header.
        """
        if retry_after is not None:
            resp.headers["Retry-After"] = str(retry_after)
        if self.body is not None:
            resp.raw, resp.body = self.body.encode(), None
        for name, value in self.headers.items():
            resp.headers.pop(name, None)
            if value is not None:
                resp.headers[name] = value
        return resp


class BaseFaultPlan:
    """Scheduled faults, oldest first, plus a per-request ``latency`` (seconds).

    Thread-safe; change it while the server runs. Endpoints are written the way the
    sandbox counts requests: ``"METHOD template"`` (one method), ``"template"`` (any
    method) or ``"*"``; shell-style wildcards work too.
    """

    def __init__(self, latency: float = 0.0) -> None:
        self.latency = latency
        self._lock = threading.Lock()
        self._faults: list[ScheduledFault] = []

    # What ``add`` says when ``retry_after`` is not whole seconds.
    retry_after_rule: ClassVar[str] = "retry_after must be whole seconds"

    def _schedule(self, fault: ScheduledFault) -> None:
        with self._lock:
            self._faults.append(fault)

    def _add_status(
        self,
        endpoint: str,
        status: int,
        times: int,
        retry_after: int | None,
        body: str | None,
        headers: Mapping[str, str | None] | None,
        code: str | None = None,
    ) -> None:
        """Check and schedule a status fault (what the plans' ``add`` does)."""
        if status < 400 or times < 1:
            raise ValueError("status must be an error (>= 400) and times >= 1")
        if retry_after is not None and (not isinstance(retry_after, int) or retry_after < 0):
            raise ValueError(self.retry_after_rule)
        headers = dict(headers or {})
        self._schedule(
            ScheduledFault(endpoint, "status", times, status, retry_after, body, headers, code)
        )

    def malformed(self, endpoint: str, times: int = 1) -> None:
        """Answer 200 with the real body cut in half (invalid JSON) ``times`` times.

        The request still takes effect, as when a connection drops mid-response.
        """
        if times < 1:
            raise ValueError("times must be >= 1")
        self._schedule(ScheduledFault(endpoint, "malformed", times))

    def clear(self) -> None:
        """Drop everything scheduled (latency stays)."""
        with self._lock:
            self._faults.clear()

    @property
    def pending(self) -> int:
        """How many faults are still to fire."""
        with self._lock:
            return sum(f.remaining for f in self._faults)

    def take(self, method: str, template: str) -> ScheduledFault | None:
        """Consume and return the fault for this request, if one is due."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, template):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    return fault
        return None


def cut_in_half(resp: ApiResponse, fallback: bytes) -> ApiResponse:
    """``resp`` as a 200 whose body stops half-way (a malformed-body fault)."""
    full = resp.payload() or fallback
    return ApiResponse(200, raw=full[: max(1, len(full) // 2)], content_type=resp.content_type)


# -- the HTTP server --------------------------------------------------------------------


PlanT = TypeVar("PlanT", bound=BaseFaultPlan)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    app: LoopbackServer[Any]


class _Handler(BaseHTTPRequestHandler):
    # Keep-alive, so the clients' pooled connections are reused.
    protocol_version = "HTTP/1.1"
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

    def version_string(self) -> str:
        return self.server.app.server_name

    def log_message(self, format: str, *args: object) -> None:
        """Stay silent: tests stay quiet and nothing about requests is printed."""

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        parts = urlsplit(self.path)
        query = parse_qs(parts.query, keep_blank_values=True)
        request = HttpRequest(self.command, parts.path, query, body, self.headers)
        resp = self.server.app.handle(request)
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


class LoopbackServer(Generic[PlanT]):
    """Serves ``handle`` over HTTP on loopback from a daemon thread.

    Subclasses implement ``handle``; ``server_name`` is sent as the ``Server`` header.
    ``requests`` counts requests by ``"METHOD template"``; ``errors`` keeps the
    tracebacks of sandbox bugs answered as 500.
    """

    server_name = "Sandbox"

    def __init__(self, faults: PlanT, requests: Counter[str]) -> None:
        self.url = ""
        self.faults = faults
        self.requests = requests
        self.errors: list[str] = []
        self._count_lock = threading.Lock()
        self._conn_lock = threading.Lock()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()

    def handle(self, request: HttpRequest) -> ApiResponse:
        """Answer one request."""
        raise NotImplementedError

    def admit(self, method: str, template: str) -> ScheduledFault | None:
        """Count a request, wait out the latency; its scheduled fault, if one is due."""
        with self._count_lock:
            self.requests[f"{method} {template}"] += 1
        if self.faults.latency > 0:
            time.sleep(self.faults.latency)
        return self.faults.take(method, template)

    def record_bug(self) -> None:
        """Keep the traceback of the exception being handled (a sandbox bug)."""
        self.errors.append(traceback.format_exc())

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
            name=f"{self.server_name}-http",
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
        with self._conn_lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):  # already closed by the client
                conn.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def track(self, conn: socket.socket, *, add: bool) -> None:
        """Remember open connections so ``stop`` can close idle keep-alives."""
        with self._conn_lock:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)


class LoopbackSandbox:
    """What both sandboxes share: serving their ``LoopbackServer`` and its lifecycle.

    Subclasses set ``_server`` in ``__init__``.
    """

    _server: LoopbackServer[Any]

    @property
    def url(self) -> str:
        """Base URL once started (``http://127.0.0.1:PORT``), else ``""``."""
        return self._server.url

    @property
    def latency(self) -> float:
        """Seconds added to every request (same as ``faults.latency``)."""
        faults: BaseFaultPlan = self._server.faults
        return faults.latency

    @latency.setter
    def latency(self, seconds: float) -> None:
        self._server.faults.latency = seconds

    @property
    def server_errors(self) -> list[str]:
        """Tracebacks of sandbox bugs answered as 500 (should stay empty)."""
        return self._server.errors

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on ``host:port`` (0 = any free port) in a daemon thread; returns the URL."""
        return self._server.start(host, port)

    def stop(self) -> None:
        """Stop serving; the data stays, so ``start`` again serves it on a new port."""
        self._server.stop()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
