"""Ctrl-C during `okr-sync sync`: the write under way finishes, no other starts, exit 130.

Each sync is a real `python -m okr_sync sync` process on the demo organisation
(Jira and Notion sandboxes, 14 record writes in a full sync). SIGINT is sent to
it from inside the Notion sandbox while one page PATCH is in flight — the
moment a user presses Ctrl-C during a slow write — or while it is still pulling.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.reliability.crash_world import CrashWorld
from tests.reliability.sandbox_hooks import around_request


@pytest.fixture
def world(tmp_path: Path) -> Iterator[CrashWorld]:
    w = CrashWorld(tmp_path)
    yield w
    w.close()


def sync_interrupted(
    world: CrashWorld, service: str, method: str, nth: int, presses: int = 1
) -> tuple[int, str, str]:
    """A sync that gets ``presses`` Ctrl-C while its ``nth`` ``method`` request is in flight."""
    proc = world._spawn("sync")
    sandbox = world.notion if service == "notion" else world.jira

    def ctrl_c() -> None:
        for press in range(presses):
            if press:
                time.sleep(0.5)  # the first one handled: two at once would count as one
            os.kill(proc.pid, signal.SIGINT)
        time.sleep(0.2)  # the write is slow: the signals arrive while it is in flight

    remove = around_request(sandbox, method, ctrl_c, nth=nth)
    try:
        out, err = proc.communicate(timeout=120)
    finally:
        remove()
    return proc.returncode, out, err


def runs(world: CrashWorld) -> list[tuple[str, ...]]:
    with sqlite3.connect(world.state) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        return db.execute("SELECT outcome FROM runs ORDER BY id").fetchall()


def pending(world: CrashWorld) -> int:
    with sqlite3.connect(world.state) as db:
        return int(db.execute("SELECT COUNT(*) FROM pending").fetchone()[0])


def test_ctrl_c_during_a_write_finishes_it_starts_no_other_and_exits_130(
    world: CrashWorld,
) -> None:
    code, out, err = sync_interrupted(world, "notion", "PATCH", nth=3)
    assert code == 130, err
    assert "Aborted!" not in err
    assert "stopping: the writes under way finish and no other starts" in err
    head = next(line for line in err.splitlines() if line.startswith("stopped by Ctrl-C"))
    written = [line for line in err.splitlines() if line.startswith("  written: ")]
    made = int(head.split("after writing ")[1].split()[0])
    assert made == len(written) and made >= 3  # the third page write finished
    assert "the next `okr-sync sync`, which completes the rest" in head
    assert f"wrote {made} record(s)" in out
    assert (
        f"note: stopped early: {14 - made} of 14 write(s) not started; the next run makes them"
        in out
    )
    # Every page write sent was one of those under way (a few run at once): each finished
    # and is recorded; none started after the stop.
    assert world.notion.requests["PATCH /v1/pages/{id}"] == made
    assert runs(world) == [("stopped",)] and pending(world) == 0

    # The next run makes the rest, as ordinary changes (no conflict), and then nothing is left.
    code, output = world.sync()
    assert code == 0 and f"wrote {14 - made} record(s); 0 conflict(s)" in output
    assert "wrote 0 record(s); 0 conflict(s)" in world.sync()[1]
    assert runs(world) == [("stopped",), ("ok",), ("ok",)]


def test_a_second_ctrl_c_aborts_at_once_and_the_next_run_completes(world: CrashWorld) -> None:
    code, _, err = sync_interrupted(world, "notion", "PATCH", nth=2, presses=2)
    assert code == 130, err
    assert "aborted by a second Ctrl-C after writing" in err
    assert "  under way (it may or may not have landed; the next sync finds out): notion " in err
    assert world.notion._server.wait_idle(10)
    # The ones in flight (the second, and any sent beside it) still landed.
    assert world.notion.requests["PATCH /v1/pages/{id}"] >= 2
    assert runs(world) == [("running",)]  # died mid-run; the next run marks it

    code, output = world.sync()
    assert code == 0 and "0 conflict(s)" in output  # its own landed write is no human edit
    assert runs(world) == [("interrupted",), ("ok",)]
    assert "wrote 0 record(s); 0 conflict(s)" in world.sync()[1]


def test_ctrl_c_while_pulling_stops_at_once_with_nothing_written(world: CrashWorld) -> None:
    code, out, err = sync_interrupted(world, "jira", "GET", nth=4)  # the first search page
    assert code == 130 and out == ""
    assert "interrupted by Ctrl-C before any write: nothing was written" in err
    assert "Traceback" not in err
    assert "PATCH /v1/pages/{id}" not in world.notion.requests
    assert not world.state.exists() or runs(world) == []
    code, output = world.sync()
    assert code == 0 and "wrote 14 record(s); 0 conflict(s)" in output
