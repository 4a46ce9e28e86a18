"""Backfilled snapshots in the state store (both backends): recorded once per day, kept
apart from synced ones, and never shown over a synced snapshot of the same day."""

from __future__ import annotations

import datetime as dt

from okr_sync.core.evaluate import KrSnapshot
from okr_sync.models import KrResult, Provenance, RunSummary, Status
from okr_sync.state.store import StateStore
from tests.backends import Backend

DAY = dt.date(2026, 10, 5)


def snap(progress: float, kr: str = "KR-1") -> KrSnapshot:
    result = KrResult(kr_id=kr, title="T", measure="issues_done", progress=progress,
                      status=Status.ON_TRACK, done=1, total=2, provenance=Provenance())  # fmt: skip
    return KrSnapshot(result, 2, "fp", frozenset({"jira"}))


def at(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(23, 59, 59), tzinfo=dt.UTC)


def test_a_day_is_recorded_once_and_history_marks_its_origin(backend: Backend) -> None:
    store = backend.location.open()
    try:
        assert store.record_backfilled_day(DAY, at(DAY), [snap(0.5)]) == 1
        assert store.record_backfilled_day(DAY, at(DAY), [snap(0.9)]) == 0  # kept as it was
        nxt = DAY + dt.timedelta(days=1)
        store.record_backfilled_day(nxt, at(nxt), [snap(0.6)])
        # A sync on the next day: it stands, the backfilled value of that day is not shown.
        started = dt.datetime.combine(nxt, dt.time(9), tzinfo=dt.UTC)
        run_id = store.start_run(started)
        summary = RunSummary(run_id=run_id, started_at=started, finished_at=started)
        store.finish_run(summary, "ok", [snap(0.7)], [], {})
        rows = store.history("kr", "KR-1")
        assert [(r["origin"], r["progress"], r["run_id"]) for r in rows] == [
            ("backfilled", 0.5, None),
            ("synced", 0.7, run_id),
        ]
        assert store.backfilled_days() == {"KR-1": {DAY, nxt}}
        assert store.synced_days() == {"KR-1": {nxt}}
        assert set(rows[0]) >= {"at", "id", "title", "progress", "expected", "current", "done",
                                "total", "status", "stale", "error", "run_id", "measure",
                                "provenance", "origin"}  # fmt: skip
        # A store opened read-only reads them the same.
        readonly = backend.location.open_readonly()
        try:
            assert [r["origin"] for r in readonly.history("kr")] == ["backfilled", "synced"]
        finally:
            readonly.close()
    finally:
        store.close()


def test_migration_is_named_and_applied(backend: Backend) -> None:
    store: StateStore = backend.location.open()
    try:
        assert "0007_backfilled_snapshots" in store._applied()
        assert store.pending_migrations() == []
    finally:
        store.close()
