"""Plumbing shared by the sandboxes: a loopback HTTP server and a fault schedule.

``LoopbackServer`` binds a ``ThreadingHTTPServer`` on loopback, serves it from a
daemon thread and hands every request to ``handle``; subclasses (the Jira and the
Notion sandbox servers) decide what to answer, after ``admit`` has counted the
request, run its hooks, waited out the latency and taken its scheduled fault
(see :mod:`sandboxes.fault_plan`); transport faults (a reset connection,
a truncated body) are carried out here, below the HTTP layer the handlers see.
``LoopbackSandbox`` is the public lifecycle both sandboxes share (``url``,
``latency``, ``server_errors``, ``start``/``stop``, ``wait_idle``, context manager).
"""

from __future__ import annotations

import contextlib
import socket
import struct
import sys
import threading
import time
import traceback
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Generic, Self, TypeVar
from urllib.parse import parse_qs, urlsplit

from sandboxes.fault_plan import BaseFaultPlan, ConnectionDropped, ScheduledFault
from sandboxes.messages import ApiResponse, HttpRequest

# -- faults -----------------------------------------------------------------------------


def cut_in_half(resp: ApiResponse, fallback: bytes) -> ApiResponse:
    """``resp`` as a 200 whose body stops half-way (a malformed-body fault)."""
    full = resp.payload() or fallback
    return ApiResponse(200, raw=full[: max(1, len(full) // 2)], content_type=resp.content_type)


def damage(fault: ScheduledFault, resp: ApiResponse, fallback: bytes) -> ApiResponse:
    """The answer of a request that took effect under ``fault`` (malformed, truncated, reset)."""
    if fault.kind == "malformed":
        return cut_in_half(resp, fallback)
    if fault.kind == "truncated" or (fault.kind == "reset" and fault.after):
        resp.transport = "truncated" if fault.kind == "truncated" else "reset"
    return resp


# -- the HTTP server --------------------------------------------------------------------


PlanT = TypeVar("PlanT", bound=BaseFaultPlan)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    app: LoopbackServer[Any]

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (a timeout) or a connection we reset on purpose is
        # not a sandbox bug: stay quiet about it.
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)


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
        app = self.server.app
        app.busy(+1)
        try:
            self._answer()
        except OSError:  # the client went away (e.g. it timed out): nobody to answer
            self.close_connection = True
        finally:
            app.busy(-1)

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        parts = urlsplit(self.path)
        query = parse_qs(parts.query, keep_blank_values=True)
        request = HttpRequest(self.command, parts.path, query, body, self.headers)
        try:
            resp = self.server.app.handle(request)
        except ConnectionDropped:
            self._reset()
            return
        if resp.transport == "reset":
            self._reset()
            return
        payload = resp.payload()
        self.send_response(resp.status)
        if resp.status != 204:
            self.send_header("Content-Type", resp.content_type)
            self.send_header("Content-Length", str(len(payload)))
        for name, value in resp.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if resp.transport == "truncated":
            # The announced length never arrives: the connection ends mid-body.
            self.wfile.write(payload[: len(payload) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        if payload and resp.status != 204:
            self.wfile.write(payload)

    def _reset(self) -> None:
        """Abort the connection: linger 0 makes the close send a TCP RST, no answer, no FIN."""
        self.close_connection = True
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        # The real close happens once the handler's files are closed (in ``finish``),
        # before socketserver's own shutdown, which would send a FIN first.
        self.connection.close()

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
        self._busy = 0
        self._idle = threading.Condition()

    def handle(self, request: HttpRequest) -> ApiResponse:
        """Answer one request."""
        raise NotImplementedError

    def admit(self, method: str, template: str) -> ScheduledFault | None:
        """Count a request, run its hooks, wait out the latency; its fault, if one is due.

        A ``slow`` fault is waited out here and a ``reset`` before handling raises
        :class:`ConnectionDropped`; the servers answer the other kinds.
        """
        with self._count_lock:
            self.requests[f"{method} {template}"] += 1
        self.faults.run_hooks(method, template)
        if self.faults.latency > 0:
            time.sleep(self.faults.latency)
        fault = self.faults.take(method, template)
        if fault is not None and fault.kind == "slow":
            time.sleep(fault.seconds)
            return None
        if fault is not None and fault.kind == "reset" and not fault.after:
            raise ConnectionDropped
        return fault

    def busy(self, delta: int) -> None:
        """Count requests being handled (for ``wait_idle``)."""
        with self._idle:
            self._busy += delta
            if self._busy == 0:
                self._idle.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no request is being handled; False if still busy after ``timeout``."""
        with self._idle:
            return self._idle.wait_for(lambda: self._busy == 0, timeout)

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

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Wait until no request is being handled; False if some still are after ``timeout``.

        A slow answer a client gave up on still takes effect: wait for it before
        looking at what the sandbox holds.
        """
        return self._server.wait_idle(timeout)

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
