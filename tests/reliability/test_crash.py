"""Crash safety: `okr-sync sync` killed with SIGKILL anywhere, then rerun.

Each sync is a real process (python -m okr_sync sync) against the Jira and
Notion sandboxes holding the demo organisation. A kill point is "after N
requests reached the sandboxes, plus a few milliseconds": before the first pull,
between pages, between a write's request and its record in the state store,
between a check-in comment and the status it announces, during the final commit.
The guarantee: after one clean rerun, both services hold exactly what a run that
was never interrupted leaves, no comment is posted twice, the state store opens
and checks clean, the lock is taken over, and the value a human had typed over
okr-sync's is still in the history.

``OKR_SYNC_CRASH_EXAMPLES`` raises the number of Hypothesis examples (default 10).
"""

from __future__ import annotations

import functools
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.reliability.crash_world import CrashWorld

#: Faults active during the killed run (cleared before the rerun): (service, endpoint, status).
FAULTS: list[tuple[str, str, int] | None] = [
    None,
    ("notion", "PATCH /v1/pages/{id}", 503),
    ("notion", "POST /v1/comments", 500),
    ("jira", "PUT /rest/api/3/issue/{key}/properties/{prop}", 502),
    ("jira", "POST /rest/api/3/search/jql", 503),
]
EXAMPLES = int(os.environ.get("OKR_SYNC_CRASH_EXAMPLES", "10"))


@functools.cache
def reference() -> dict[str, Any]:
    """What two uninterrupted syncs a week apart leave in both services."""
    world = CrashWorld(Path(tempfile.mkdtemp(prefix="okr-sync-ref-")))
    try:
        assert world.sync()[0] == 0
        world.week()
        assert world.sync()[0] == 0
        return world.snapshot()
    finally:
        world.close()


@pytest.fixture
def world(tmp_path: Path) -> Iterator[CrashWorld]:
    w = CrashWorld(tmp_path)
    yield w
    w.close()


def assert_converged(world: CrashWorld) -> None:
    snap, ref = world.snapshot(), reference()
    diff = {k: (snap.get(k), v) for k, v in ref.items() if snap.get(k) != v}
    assert not diff, diff
    check, outcomes = world.integrity()
    assert check == "ok"
    assert outcomes[-1] == "ok" and "running" not in outcomes
    assert set(outcomes) <= {"ok", "interrupted"}
    # The Current a human typed over okr-sync's value on KR-1 stays recoverable.
    assert "80.0" in world.human_values_in_history("KR-1", "current")


def _inject(world: CrashWorld, fault: tuple[str, str, int] | None) -> None:
    if fault is None:
        return
    service, endpoint, status = fault
    plan = world.notion.faults if service == "notion" else world.jira.faults
    plan.add(endpoint, status, times=1)


#: Kill points at a write: (service, method, nth such request, answered?).
WRITES = st.tuples(
    st.sampled_from([("notion", "PATCH"), ("notion", "POST"), ("jira", "PUT"), ("jira", "POST")]),
    st.integers(min_value=1, max_value=10),
    st.booleans(),
).map(lambda t: (*t[0], t[1], t[2]))
#: Kill points in time: after N requests (+ a few ms), anywhere in the run.
MOMENTS = st.tuples(st.integers(min_value=0, max_value=48), st.integers(min_value=0, max_value=8))


@settings(
    max_examples=EXAMPLES, deadline=None, derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)  # fmt: skip
@given(
    phase=st.sampled_from(["first sync", "second sync"]),
    point=st.one_of(WRITES, MOMENTS),
    fault=st.sampled_from(FAULTS),
)
def test_a_sync_killed_anywhere_then_rerun_ends_as_if_never_interrupted(
    phase: str, point: tuple[Any, ...], fault: tuple[str, str, int] | None
) -> None:
    with tempfile.TemporaryDirectory(prefix="okr-sync-crash-") as folder:
        world = CrashWorld(Path(folder))
        try:
            if phase == "second sync":
                assert world.sync()[0] == 0
                world.week()
            _inject(world, fault)
            if len(point) == 2:
                world.sync_killed(*point)
            else:
                service, method, nth, answered = point
                world.sync_killed_on(service, method, nth, answered=answered)
            world.jira.faults.clear()
            world.notion.faults.clear()
            code, output = world.sync()
            assert code == 0, output
            if phase == "first sync":
                world.week()
                assert world.sync()[0] == 0
            assert_converged(world)
        finally:
            world.close()


@pytest.mark.parametrize("nth", range(1, 11))
def test_killed_after_each_page_write_landed_but_before_the_answer(
    world: CrashWorld, nth: int
) -> None:
    """The second sync writes 10 Notion pages (KR-1 carries the human's edit)."""
    assert world.sync()[0] == 0
    world.week()
    assert world.sync_killed_on("notion", "PATCH", nth, answered=True)
    code, output = world.sync()
    assert code == 0, output
    assert_converged(world)


def test_many_kills_in_a_row_then_one_clean_run(world: CrashWorld) -> None:
    """Each run is killed a little later than the one before, until one finishes."""
    assert world.sync()[0] == 0
    world.week()
    after = 1
    while world.sync_killed(after, extra_ms=after % 5):
        after += 1
    assert world.kills >= 20  # every request of the run was a kill point once
    code, output = world.sync()  # nothing left to do, or the rest
    assert code == 0, output
    assert_converged(world)
    assert "wrote 0 record(s)" in world.sync()[1]  # and a further run writes nothing


def test_a_killed_run_leaves_the_lock_to_the_next(world: CrashWorld) -> None:
    assert world.sync_killed(5, 0)
    lock = world.state.with_name("state.db.lock")
    assert lock.exists() and lock.stat().st_mode & 0o077 == 0
    code, output = world.sync()
    assert code == 0 and "wrote 14 record(s)" in output
