"""Writes in flight: a few at once, the state store touched only by the calling thread.

A fake target that allows three writes at a time takes a while to answer, and one
of its records fails. What a user relies on: every record's intent is in the store
before its request starts, every result after its request ended, in the plan's
order; no more than three are ever in flight (and more than one is, or the test
would show nothing); the failed record is reported and the others are applied.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import pytest

from okr_sync.engine.apply import Applier
from okr_sync.models import FieldChange, FieldValue, Plan, RecordRef
from okr_sync.state.store import StateStore

MAIN = threading.main_thread()


class SlowTarget:
    """Writes take 30 ms; one record is refused."""

    name = "slow"
    writable_fields: ClassVar[Mapping[str, frozenset[str]]] = {"key_result": frozenset({"status"})}

    def __init__(self, events: list[tuple[str, str]], slots: int, refuse: str | None) -> None:
        self.events = events
        self.slots = slots
        self.refuse = refuse
        self.lock = threading.Lock()
        self.in_flight = 0
        self.peak = 0
        self.threads: set[str] = set()

    def write_slots(self) -> int:
        return self.slots

    def desired_records(self, outcome: Any, spec: Any) -> list[Any]:
        return []

    def read_records(self, refs: Sequence[RecordRef]) -> dict[RecordRef, dict[str, FieldValue]]:
        return {}

    def write_record(self, ref: RecordRef, values: Mapping[str, FieldValue]) -> None:
        with self.lock:
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            self.threads.add(threading.current_thread().name)
        self.events.append(("start", ref.id))
        try:
            time.sleep(0.03)
            if ref.id == self.refuse:
                raise RuntimeError("refused by the service")
        finally:
            self.events.append(("end", ref.id))
            with self.lock:
                self.in_flight -= 1


class WatchedStore(StateStore):
    """The in-memory store, noting each intent and result, and the thread it came from."""

    events: list[tuple[str, str]]

    def record_intent(self, run_id: int, changes: Sequence[FieldChange]) -> None:
        assert threading.current_thread() is MAIN, "the store is not thread-safe"
        self.events.append(("intent", changes[0].ref.id))
        super().record_intent(run_id, changes)

    def record_changes(self, run_id: int, changes: Sequence[FieldChange], result: str,
                       error: str | None = None) -> None:  # fmt: skip
        assert threading.current_thread() is MAIN, "the store is not thread-safe"
        self.events.append((result, changes[0].ref.id))
        super().record_changes(run_id, changes, result, error)


def plan(n: int) -> Plan:
    return Plan(
        changes=tuple(
            FieldChange(
                target="slow",
                ref=RecordRef(kind="key_result", id=f"KR-{i}"),
                owner=f"KR-{i}",
                field="status",
                before="On track",
                after="At risk",
            )
            for i in range(1, n + 1)
        )
    )


def store(events: list[tuple[str, str]]) -> WatchedStore:
    base = StateStore.in_memory()
    watched = WatchedStore(base.database, readonly=False)
    watched.events = events
    return watched


@pytest.mark.parametrize("slots", [1, 3])
def test_writes_overlap_up_to_the_slots_and_the_store_sees_them_in_order(slots: int) -> None:
    events: list[tuple[str, str]] = []
    target = SlowTarget(events, slots=slots, refuse="KR-5")
    state = store(events)
    run_id = state.start_run(dt_now())
    progress: list[int] = []
    done = Applier({"slow": target}, state, "overwrite").apply(
        run_id, plan(12), [], on_write=lambda n, _total: progress.append(n)
    )

    assert target.peak == slots  # never more in flight than allowed, and as many as allowed
    if slots == 1:
        assert target.threads == {MAIN.name}  # a target without a pool: as before
    assert done.writes == 11
    assert [(f.owner, f.error) for f in done.failures] == [
        ("KR-5", "unexpected RuntimeError: refused by the service")
    ]
    # Results are recorded in the plan's order, whatever order the answers came in.
    results = [(kind, ref) for kind, ref in events if kind in ("applied", "failed")]
    assert results == [("failed" if i == 5 else "applied", f"KR-{i}") for i in range(1, 13)]
    assert progress == list(range(1, 13))
    for i in range(1, 13):
        ref = f"KR-{i}"
        intent = events.index(("intent", ref))
        start, end = events.index(("start", ref)), events.index(("end", ref))
        result = events.index(("failed" if i == 5 else "applied", ref))
        assert intent < start < end < result, (ref, events)
    # Every intent is settled but the failed one's: that write may have landed, and the
    # next run reconciles it (it must not read as a human's value).
    assert state.pending_fields("slow") == {(RecordRef(kind="key_result", id="KR-5"), "status")}
    logged = {c["record"]: c["result"] for c in state.run_changes(run_id)}
    assert logged == {f"KR-{i}": "failed" if i == 5 else "applied" for i in range(1, 13)}


def test_a_stop_lets_the_writes_in_flight_end_and_starts_no_other() -> None:
    events: list[tuple[str, str]] = []
    target = SlowTarget(events, slots=3, refuse=None)
    state = store(events)
    run_id = state.start_run(dt_now())
    asked = [0]

    def should_stop() -> bool:
        asked[0] += 1
        return asked[0] > 4  # four writes begun, then the user asks to stop

    done = Applier({"slow": target}, state, "overwrite").apply(
        run_id, plan(10), [], should_stop=should_stop
    )
    assert done.writes == 4 and done.left == 6
    assert [ref for kind, ref in events if kind == "start"] == ["KR-1", "KR-2", "KR-3", "KR-4"]
    assert state.pending_fields("slow") == set()  # the four in flight were recorded
    assert len(done.plan.changes) == 10  # the six left are carried, for the next run


def dt_now() -> dt.datetime:
    return dt.datetime(2026, 11, 2, 8, tzinfo=dt.UTC)


ABANDONED = """
import pathlib, sys, time
from okr_sync.engine.inflight import Entry, InFlight
from okr_sync.models import RecordRef

class Late:
    def write_slots(self): return 4
    def write_record(self, ref, values):
        time.sleep(1.0)
        pathlib.Path(sys.argv[1]).write_text("landed")

flight = InFlight({"late": Late()}, record=lambda entry: None)
ref = RecordRef(kind="key_result", id="KR-1")
flight.start(Entry(1, "late", ref, []), {"status": "On track"})
flight.abandon()  # an error or a second Ctrl-C: the run stops, its lock is freed
sys.exit(130)
"""


def test_a_write_abandoned_in_flight_ends_with_the_process(tmp_path: Any) -> None:
    # A write left in flight must not land after the process let go of the run lock (the
    # next run's write could come first, and this one then look like a human's edit).
    import subprocess
    import sys

    marker = tmp_path / "landed"
    done = subprocess.run([sys.executable, "-c", ABANDONED, str(marker)], check=False)
    assert done.returncode == 130
    time.sleep(1.5)  # longer than the write takes
    assert not marker.exists()
