"""The run lock: one sync per state store, named holders, recovery after a crash."""

from __future__ import annotations

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

import pytest

from okr_sync.errors import EXIT_LOCKED, LockHeld
from okr_sync.state.lock import RunLock

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
