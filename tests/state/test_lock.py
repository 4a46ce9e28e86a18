"""The run lock: one sync per state store, named holders, recovery after a crash.

On SQLite a lock file next to the store; on PostgreSQL advisory locks per namespace.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from okr_sync.errors import EXIT_LOCKED, LockHeld
from okr_sync.state.location import PostgresLocation
from okr_sync.state.lock import RunLock
from tests.backends import PASSWORD_VAR

if TYPE_CHECKING:
    from tests.postgres import PgTarget

HOLDER = """
import sys, time
from pathlib import Path
from okr_sync.state.lock import RunLock

RunLock(Path(sys.argv[1])).acquire()
Path(sys.argv[2]).write_text("ready")
time.sleep(60)
"""


def _wait_for(ready: Path, proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not ready.exists():
        if proc.poll() is not None:
            raise AssertionError(f"holder exited early: {proc.stderr.read()!r}")  # type: ignore[union-attr]
        if time.monotonic() > deadline:
            raise AssertionError("holder did not take the lock in time")
        time.sleep(0.01)


@pytest.fixture
def lock_path(tmp_path: Path) -> Path:
    return tmp_path / ".okr-sync" / "state.db.lock"


@pytest.fixture
def holder(lock_path: Path, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Another process holding the lock (until the test kills it)."""
    ready = tmp_path / "holder-ready"
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(lock_path), str(ready)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_for(ready, proc)
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        if proc.stderr:
            proc.stderr.close()


def test_second_acquire_while_held_names_holder_and_path(
    holder: subprocess.Popen[bytes], lock_path: Path
) -> None:
    with pytest.raises(LockHeld) as info:
        RunLock(lock_path).acquire()
    assert info.value.exit_code == EXIT_LOCKED == 3
    message = str(info.value)
    assert f"pid {holder.pid}" in message
    assert socket.gethostname() in message
    assert str(lock_path) in message
    # A refused attempt leaves the holder's record alone.
    assert json.loads(lock_path.read_text())["pid"] == holder.pid


def test_lock_of_a_killed_holder_is_recovered(
    holder: subprocess.Popen[bytes], lock_path: Path
) -> None:
    dead_pid = holder.pid
    holder.send_signal(signal.SIGKILL)
    holder.wait()

    lock = RunLock(lock_path).acquire()
    try:
        assert lock.recovered_from is not None
        assert lock.recovered_from["pid"] == dead_pid
        assert lock.recovered_from["host"] == socket.gethostname()
        assert json.loads(lock_path.read_text())["pid"] == os.getpid()
    finally:
        lock.release()

    # Released properly: the next run has nothing to recover.
    assert lock_path.read_text() == ""
    with RunLock(lock_path) as again:
        assert again.recovered_from is None


def test_release_lets_the_next_run_in(lock_path: Path) -> None:
    with RunLock(lock_path) as first:
        assert first.recovered_from is None
        assert json.loads(lock_path.read_text())["pid"] == os.getpid()
        with pytest.raises(LockHeld, match=f"pid {os.getpid()}"):
            RunLock(lock_path).acquire()
    second = RunLock(lock_path).acquire()
    try:
        assert second.recovered_from is None
    finally:
        second.release()
    second.release()  # releasing twice is harmless


def test_lock_file_is_private(lock_path: Path) -> None:
    with RunLock(lock_path):
        assert stat.S_IMODE(lock_path.stat().st_mode) == 0o600
        assert stat.S_IMODE(lock_path.parent.stat().st_mode) == 0o700


# --- PostgreSQL: advisory locks per namespace --------------------------------------------

PG_HOLDER = """
import sys, time
from pathlib import Path
from okr_sync.state.location import PostgresLocation

location = PostgresLocation(sys.argv[1], sys.argv[2], "${OKR_STATE_PASSWORD}")
if sys.argv[4] == "run":
    lock = location.run_lock()
else:
    lock = location.schedule_lock(holder="another okr-sync schedule", advice="stop it first",
                                  details={"cron": "*/15 * * * *"})
lock.acquire()  # kept referenced: the lock lives as long as its connection
Path(sys.argv[3]).write_text("ready")
time.sleep(60)
"""


class PgHolders:
    """Processes that take a lock of a namespace and hold it until killed."""

    def __init__(self, target: PgTarget, folder: Path) -> None:
        self.target = target
        self.folder = folder
        self.procs: list[subprocess.Popen[bytes]] = []

    def location(self, namespace: str = "team_a") -> PostgresLocation:
        return PostgresLocation(self.target.url, namespace, f"${{{PASSWORD_VAR}}}")

    def start(self, namespace: str = "team_a", kind: str = "run") -> subprocess.Popen[bytes]:
        ready = self.folder / f"ready-{len(self.procs)}"
        proc = subprocess.Popen(
            [sys.executable, "-c", PG_HOLDER, self.target.url, namespace, str(ready), kind],
            env={**os.environ, PASSWORD_VAR: self.target.password},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self.procs.append(proc)
        _wait_for(ready, proc, timeout=30)
        return proc

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            if proc.stderr:
                proc.stderr.close()


@pytest.fixture
def pg(
    postgres_db: PgTarget, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[PgHolders]:
    monkeypatch.setenv(PASSWORD_VAR, postgres_db.password)
    holders = PgHolders(postgres_db, tmp_path)
    yield holders
    holders.close()


def _since(record: dict[str, object] | None) -> dt.datetime:
    assert record is not None
    return dt.datetime.fromisoformat(str(record["since"]))


def test_pg_second_acquire_while_held_names_holder_and_store(pg: PgHolders) -> None:
    holder = pg.start()
    location = pg.location()
    record = location.holder("run")  # while it is held, the holder is shown
    assert record is not None
    assert (record["pid"], record["host"]) == (holder.pid, socket.gethostname())
    assert abs(dt.datetime.now(dt.UTC) - _since(record)) < dt.timedelta(minutes=1)
    with pytest.raises(LockHeld) as info:
        location.run_lock().acquire()
    assert info.value.exit_code == EXIT_LOCKED == 3
    message = str(info.value)
    assert f"another okr-sync run (pid {holder.pid} on {socket.gethostname()}, " in message
    assert f"started {record['since']})" in message
    assert f"holds the lock of the state store {location}; wait for it to finish" in message
    assert pg.target.password not in message
    assert location.holder("run") == record  # a refused attempt leaves the record alone


def test_pg_lock_of_a_killed_holder_is_free_at_once_and_recovered(pg: PgHolders) -> None:
    holder = pg.start()
    location = pg.location()
    dead_pid = holder.pid
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    # The server ends the dead client's session, and its lock with it: no stale lock.
    # It notices the closed socket at once; allow it a moment to finish the session.
    killed = time.monotonic()
    while location.holder("run") is not None:
        assert time.monotonic() - killed < 2.0, "the lock outlived its dead holder"
        time.sleep(0.005)
    lock = location.run_lock()
    lock.acquire()
    try:
        assert lock.recovered_from is not None
        assert (lock.recovered_from["pid"], lock.recovered_from["host"]) == (
            dead_pid, socket.gethostname(),
        )  # fmt: skip
        record = location.holder("run")
        assert record is not None and record["pid"] == os.getpid()
    finally:
        lock.release()
    # Released properly: nobody holds it, and the next run has nothing to recover.
    assert location.holder("run") is None
    with location.run_lock() as again:
        assert again.recovered_from is None


def test_pg_release_lets_the_next_run_in(pg: PgHolders) -> None:
    location = pg.location()
    with location.run_lock() as first:
        assert first.recovered_from is None
        with pytest.raises(LockHeld, match=f"pid {os.getpid()}"):
            location.run_lock().acquire()
    assert location.holder("run") is None
    second = location.run_lock()
    second.acquire()
    try:
        assert second.recovered_from is None
    finally:
        second.release()
    second.release()  # releasing twice is harmless


def test_pg_namespaces_lock_independently(pg: PgHolders) -> None:
    holder = pg.start("team_a")
    other = pg.location("team_b")
    with other.run_lock() as lock:  # held at the same time as team_a's
        assert lock.recovered_from is None
        held_a, held_b = pg.location("team_a").holder("run"), other.holder("run")
        assert held_a is not None and held_a["pid"] == holder.pid
        assert held_b is not None and held_b["pid"] == os.getpid()
        with pytest.raises(LockHeld, match=f"pid {holder.pid} "):
            pg.location("team_a").run_lock().acquire()
    assert other.holder("run") is None
    assert pg.location("team_a").holder("run") is not None  # untouched by team_b's release


def test_pg_schedule_lock_is_separate_from_the_run_lock(pg: PgHolders) -> None:
    scheduler = pg.start(kind="schedule")
    location = pg.location()
    record = location.holder("schedule")
    assert record is not None and record["pid"] == scheduler.pid
    assert record["cron"] == "*/15 * * * *"  # the details join the record
    assert location.holder("run") is None
    with location.run_lock() as run:  # a run of the schedule's own kind still gets in
        assert run.recovered_from is None
        assert location.holder("run") is not None
    with pytest.raises(LockHeld) as info:
        location.schedule_lock(holder="another okr-sync schedule", advice="stop it first",
                               details={}).acquire()  # fmt: skip
    assert str(info.value).startswith(f"another okr-sync schedule (pid {scheduler.pid} on ")
    assert str(info.value).endswith("; stop it first")
    # And the other way round: a run holding its lock does not keep a scheduler out.
    scheduler.kill()
    scheduler.wait()
    runner = pg.start(kind="run")
    deadline = time.monotonic() + 2.0
    while location.holder("schedule") is not None:
        assert time.monotonic() < deadline
        time.sleep(0.005)
    lock = location.schedule_lock(holder="another okr-sync schedule", advice="", details={})
    lock.acquire()
    try:
        assert lock.recovered_from is not None and lock.recovered_from["pid"] == scheduler.pid
        held = location.holder("run")
        assert held is not None and held["pid"] == runner.pid
    finally:
        lock.release()
