"""One run at a time, and one scheduler: advisory locks per state store.

A lock is ``fcntl.flock`` on a file next to the state store: ``<state>.lock``
for a run (``okr-sync sync`` and each tick of a schedule), and
``<state>.schedule.lock`` for the whole life of an ``okr-sync schedule``
process (see :func:`schedule_lock_path`). The kernel drops a lock when its
holder dies, so a lock left by a killed process is never a real obstacle: the
next taker gets it and reports that it recovered it. The file records the
holder (pid, host, start time) so a refused process can name it.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import socket
from pathlib import Path
from types import TracebackType

from okr_sync.errors import LockHeld, StateError


def schedule_lock_path(state_path: Path) -> Path:
    """The scheduler's lock file of a state store: ``<state>.schedule.lock`` next to it."""
    return state_path.with_name(state_path.name + ".schedule.lock")


def read_holder(path: Path) -> dict[str, object] | None:
    """The holder record in a lock file, without taking the lock (None if none).

    A record is left behind only by a holder that is running or died holding it.
    """
    try:
        raw = path.read_text(encoding="utf-8")
    except OSError:
        return None
    try:
        data = json.loads(raw) if raw.strip() else None
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


class RunLock:
    """Exclusive, non-blocking lock; use as a context manager.

    ``holder`` and ``advice`` word the refusal: who holds such a lock (``another
    okr-sync run``) and what to do about it. ``details`` are added to the holder
    record (never a secret: the file is readable by whoever can read the folder).
    """

    def __init__(
        self,
        path: Path,
        *,
        holder: str = "another okr-sync run",
        advice: str = "wait for it to finish",
        details: dict[str, str] | None = None,
    ) -> None:
        self.path = path
        self.details = dict(details or {})
        self.holder = holder
        self.advice = advice
        self._fd: int | None = None
        #: The holder recorded by a process that died holding the lock, if any.
        self.recovered_from: dict[str, object] | None = None

    def _read_holder(self, fd: int) -> dict[str, object] | None:
        os.lseek(fd, 0, os.SEEK_SET)
        raw = os.read(fd, 4096)
        try:
            data = json.loads(raw) if raw.strip() else None
        except ValueError:
            return None
        return data if isinstance(data, dict) else None

    def acquire(self) -> RunLock:
        """Take the lock.

        Raises:
            LockHeld: another live process holds it (the message names it).
        """
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise StateError(f"cannot create the lock file {self.path}: {exc}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = self._read_holder(fd) or {}
            os.close(fd)
            who = f"pid {holder.get('pid', '?')} on {holder.get('host', '?')}"
            since = holder.get("since", "?")
            raise LockHeld(
                f"{self.holder} ({who}, started {since}) holds the lock {self.path}; {self.advice}"
            ) from None
        previous = self._read_holder(fd)
        if previous and previous.get("pid") is not None:
            self.recovered_from = previous  # its holder died without releasing it
        record: dict[str, object] = {
            **self.details,
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "since": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(record).encode(), 0)
        os.fsync(fd)
        self._fd = fd
        return self

    def release(self) -> None:
        """Release the lock and clear the holder record."""
        if self._fd is None:
            return
        os.ftruncate(self._fd, 0)
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()
