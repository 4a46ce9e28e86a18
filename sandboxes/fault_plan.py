"""The fault schedule both sandboxes consult before they answer a request.

A :class:`BaseFaultPlan` holds faults, oldest first, each firing on the next
``times`` requests that match its endpoint pattern, and request hooks
(:meth:`BaseFaultPlan.on_request`) that run a callable when the Nth matching
request arrives (a row trashed between two pages of one pull, say).

Every fault is something the real service or the network in front of it does:

- ``status``: an error answer (429 with ``Retry-After``, 5xx...), worded by each
  sandbox the way its service words it;
- ``malformed``: a complete 200 whose JSON stops half-way (a proxy that cut it);
- ``truncated``: the real headers (full ``Content-Length``), half the body, then
  the connection closes (a connection lost mid-response);
- ``reset``: the connection is reset (TCP RST) without an answer, before the
  request is handled or, with ``after=True``, once it took effect;
- ``slow``: the answer comes ``seconds`` late; a client that gives up first
  still finds the request done, as with a real slow server.

``malformed``, ``truncated`` and ``reset(after=True)`` requests take effect: only
the answer is lost.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, ClassVar, Literal

if TYPE_CHECKING:
    from sandboxes.messages import ApiResponse

FaultKind = Literal["status", "malformed", "truncated", "reset", "slow"]


class ConnectionDropped(Exception):
    """Raised while admitting a request whose connection is reset before any answer."""


def _matches(pattern: str, method: str, template: str) -> bool:
    if pattern == "*":
        return True
    if " " in pattern:
        return fnmatchcase(f"{method} {template}", pattern)
    return fnmatchcase(template, pattern)


@dataclass
class ScheduledFault:
    """One entry of a fault plan (internal; the plans build them)."""

    pattern: str
    kind: FaultKind
    remaining: int
    status: int = 200
    retry_after: int | None = None
    body: str | None = None
    headers: dict[str, str | None] = field(default_factory=dict)
    code: str | None = None
    seconds: float = 0.0  # slow: how late the answer comes
    after: bool = False  # reset: once the request took effect

    def matches(self, method: str, template: str) -> bool:
        """Whether this fault applies to ``method`` on ``template``."""
        return _matches(self.pattern, method, template)

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


@dataclass
class _Hook:
    pattern: str
    callback: Callable[[], object]
    nth: int
    seen: int = 0


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
        self._hooks: list[_Hook] = []

    # What ``add`` says when ``retry_after`` is not whole seconds.
    retry_after_rule: ClassVar[str] = "retry_after must be whole seconds"

    def _schedule(self, fault: ScheduledFault) -> None:
        if fault.remaining < 1:
            raise ValueError("times must be >= 1")
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

        The request still takes effect, as when a proxy cuts the answer short.
        """
        self._schedule(ScheduledFault(endpoint, "malformed", times))

    def truncated(self, endpoint: str, times: int = 1) -> None:
        """Send the real headers and half the body, then close the connection.

        The ``Content-Length`` announces the whole body, so clients see a connection
        lost mid-response. The request still takes effect.
        """
        self._schedule(ScheduledFault(endpoint, "truncated", times))

    def reset(self, endpoint: str, times: int = 1, *, after: bool = False) -> None:
        """Reset the connection (TCP RST) without answering, ``times`` times.

        By default the request is dropped unhandled; with ``after=True`` it takes
        effect first and only its answer is lost.
        """
        self._schedule(ScheduledFault(endpoint, "reset", times, after=after))

    def slow(self, endpoint: str, seconds: float, times: int = 1) -> None:
        """Answer ``seconds`` late (on top of ``latency``), ``times`` times.

        Longer than a client's timeout, it is a timeout; the request is handled
        after the delay even if the client has given up, as a real server does.
        """
        if seconds <= 0:
            raise ValueError("seconds must be > 0")
        self._schedule(ScheduledFault(endpoint, "slow", times, seconds=seconds))

    def on_request(self, endpoint: str, callback: Callable[[], object], *, nth: int = 1) -> None:
        """Run ``callback`` when the ``nth`` matching request arrives, before it is handled.

        It runs once, on the server thread, outside the store lock, so it may change
        the sandbox (delete an issue, trash a row, schedule a fault for this very
        request). Counting starts now.
        """
        if nth < 1:
            raise ValueError("nth must be >= 1")
        with self._lock:
            self._hooks.append(_Hook(endpoint, callback, nth))

    def run_hooks(self, method: str, template: str) -> None:
        """Count this request for every matching hook and run the hooks now due."""
        due: list[_Hook] = []
        with self._lock:
            for hook in list(self._hooks):
                if _matches(hook.pattern, method, template):
                    hook.seen += 1
                    if hook.seen >= hook.nth:
                        self._hooks.remove(hook)
                        due.append(hook)
        for hook in due:
            hook.callback()

    def clear(self) -> None:
        """Drop everything scheduled, hooks included (latency stays)."""
        with self._lock:
            self._faults.clear()
            self._hooks.clear()

    @property
    def pending(self) -> int:
        """How many faults are still to fire (hooks not counted)."""
        with self._lock:
            return sum(f.remaining for f in self._faults)

    @property
    def pending_hooks(self) -> int:
        """How many request hooks have not run yet."""
        with self._lock:
            return len(self._hooks)

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
