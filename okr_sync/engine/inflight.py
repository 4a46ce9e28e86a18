"""Writes in flight: a target's requests overlap, the state store sees them one by one, in order.

A target that says it may (:class:`~okr_sync.interfaces.ConcurrentTarget`) has up to
``write_slots()`` writes running on threads of their own, so a service that answers in
half a second is still written at the rate its limit allows (the connector's own
throttle keeps that rate; more threads only hide the latency). Everything else
stays on the calling thread: the intent of each write is noted in the state store
before its request is handed to a thread, and its result is recorded on the
calling thread once it is back — in the plan's order, whatever order the answers
come in — so a run killed at any moment leaves at most ``write_slots()`` pending
intents per target, each of which the next run reconciles like any other. Two
writes in flight never touch the same record (a plan has one write per record),
so a record's own sequence (a check-in comment, then its PATCH) is unchanged.
A target with one slot is written on the calling thread, as before.

The threads are daemons: a run that stops on an error or a second Ctrl-C does not
wait for its writes in flight (their intents are noted; the next run finds out
whether they landed, as after a crash), and they end with the process. Pool
threads would be joined at interpreter exit, after the run lock is freed: a write
could then land after the next run's own, and look like a human's edit there.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass
from typing import Any

from okr_sync.interfaces import ConcurrentTarget
from okr_sync.models import FieldChange, FieldValue, RecordRef

log = logging.getLogger(__name__)

#: Never more threads per target than this, whatever a target asks for.
MAX_SLOTS = 16


@dataclass
class Entry:
    """One record of the plan on its way: written (or not) and waiting to be recorded."""

    number: int
    name: str
    ref: RecordRef
    changes: list[FieldChange]
    future: Future[None] | None = None
    error: Exception | None = None  # from a write made on the calling thread
    wrote: bool = True  # False: nothing to write (its changes were already recorded)


class InFlight:
    """The writes of one apply: started through :meth:`start`, recorded by ``record``."""

    def __init__(self, connectors: Mapping[str, Any], record: Callable[[Entry], None]) -> None:
        self.connectors = connectors
        self.record = record
        self.queue: deque[Entry] = deque()
        self._slots: dict[str, int] = {}

    def slots(self, name: str) -> int:
        """The writes the target may have in flight (asked once per apply)."""
        if name not in self._slots:
            target = self.connectors[name]
            wanted = target.write_slots() if isinstance(target, ConcurrentTarget) else 1
            self._slots[name] = max(1, min(MAX_SLOTS, int(wanted)))
        return self._slots[name]

    def start(self, entry: Entry, values: Mapping[str, FieldValue]) -> None:
        """Send one write (its intent already noted): on a thread of its own, or here."""
        slots = self.slots(entry.name)
        write = self.connectors[entry.name].write_record
        if slots == 1:
            try:
                write(entry.ref, values)
            except Exception as exc:  # recorded in order, as a threaded one would be
                entry.error = exc
        else:
            self._wait_for_slot(entry.name, slots)
            entry.future = _on_daemon_thread(
                f"okr-sync-write-{entry.name}", write, entry.ref, dict(values)
            )
        self.queue.append(entry)
        self.settle()

    def add(self, entry: Entry) -> None:
        """A record with nothing (left) to write: recorded in its turn."""
        entry.wrote = False
        self.queue.append(entry)
        self.settle()

    def _wait_for_slot(self, name: str, slots: int) -> None:
        while True:
            running = [e.future for e in self.queue if e.name == name and e.future is not None
                       and not e.future.done()]  # fmt: skip
            if len(running) < slots:
                return
            wait(running, return_when=FIRST_COMPLETED)
            self.settle()

    def settle(self) -> None:
        """Record the finished writes at the head of the queue (the plan's order)."""
        while self.queue and (self.queue[0].future is None or self.queue[0].future.done()):
            self.record(self._resolved(self.queue.popleft()))

    def drain(self) -> None:
        """Wait for every write in flight and record each."""
        while self.queue:
            entry = self.queue.popleft()
            if entry.future is not None:
                wait([entry.future])
            self.record(self._resolved(entry))
        self.close()

    def abandon(self) -> None:
        """On the way out of an error or a second Ctrl-C: wait for nothing, record nothing.

        The requests in flight end on their threads (a request cannot be called
        back); each one's intent was noted before it went out, so the next run
        finds out whether it landed, as after a crash.
        """
        self.queue.clear()

    def close(self) -> None:
        """Nothing is left running once drained (each write's thread ends with it)."""
        self.queue.clear()

    @staticmethod
    def _resolved(entry: Entry) -> Entry:
        if entry.future is not None:
            exc = entry.future.exception()
            if exc is not None and not isinstance(exc, Exception):
                raise exc  # not a failed write: something the run must stop on
            entry.error = exc
            entry.future = None
        return entry


def _on_daemon_thread(name: str, write: Callable[..., None], *args: Any) -> Future[None]:
    """Run one write on a daemon thread of its own; its outcome in the returned future."""
    future: Future[None] = Future()
    future.set_running_or_notify_cancel()

    def run() -> None:
        try:
            write(*args)
        except BaseException as exc:  # handed to the calling thread, which decides
            future.set_exception(exc)
        else:
            future.set_result(None)

    threading.Thread(target=run, name=name, daemon=True).start()
    return future
