"""Migration 0008 on both backends: snapshots recorded before it get their start and target.

Runs recorded before the migration kept each KR's start and target only in their
summary; the migration copies them onto the snapshots, so the first run after an
upgrade compares a KR's target with the one its last snapshot was computed
against, and records no change where there was none.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

import okr_sync.state.store as state_module
from okr_sync.core.evaluate import KrSnapshot
from okr_sync.core.periods import FinalValue, InputChange, PeriodEvents
from okr_sync.models import KrResult, RunSummary, Status
from okr_sync.state.copy import copy_store
from okr_sync.state.schema import MIGRATIONS
from tests.backends import Backend, sqlite_backend

DAY = dt.datetime(2026, 11, 10, 12, tzinfo=dt.UTC)


def _record(
    store: state_module.StateStore,
    at: dt.datetime,
    target: float,
    periods: PeriodEvents | None = None,
) -> int:
    run_id = store.start_run(at)
    result = KrResult(
        kr_id="KR-1", title="t", measure="manual", start=0, target=target, current=5,
        progress=5 / target, status=Status.ON_TRACK,
    )  # fmt: skip
    summary = RunSummary(run_id=run_id, started_at=at, finished_at=at, key_results=(result,))
    snap = KrSnapshot(result, 0, "", frozenset(), (dt.date(2026, 10, 1), dt.date(2026, 12, 31)))
    store.finish_run(summary, "ok", [snap], [], {}, periods=periods)
    return run_id


def test_snapshots_before_0008_get_the_start_and_target_of_their_summary(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = [name for name, _ in MIGRATIONS]
    old = MIGRATIONS[: names.index("0008_closed_krs_and_target_changes")]
    monkeypatch.setattr(state_module, "MIGRATIONS", old)
    store = backend.location.open()
    run_id = store.start_run(DAY)
    result = KrResult(kr_id="KR-1", title="t", measure="manual", start=0, target=40, progress=0.5)
    summary = RunSummary(run_id=run_id, started_at=DAY, finished_at=DAY, key_results=(result,))
    # An older store's finish_run wrote the 17 columns it knew.
    with store.transaction() as db:
        db.execute(
            "INSERT INTO snapshots (run_id, kind, id, title, measure, progress, stale) "
            "VALUES (?, 'kr', 'KR-1', 't', 'manual', 0.5, 0)",
            (run_id,),
        )
        db.execute(
            "UPDATE runs SET summary = ?, outcome = 'ok' WHERE id = ?",
            (summary.model_dump_json(), run_id),
        )
    store.close()
    monkeypatch.setattr(state_module, "MIGRATIONS", MIGRATIONS)
    store = backend.location.open()
    try:
        (row,) = store.history("kr", "KR-1")
        assert (row["start"], row["target"], row["closed"]) == (0, 40, False)
        assert store.last_inputs()["KR-1"].target == 40
    finally:
        store.close()


def test_closures_and_target_changes_are_kept_with_the_run(backend: Backend) -> None:
    store = backend.location.open()
    try:
        first = _record(store, DAY, 40)
        change = InputChange("KR-1", "target", 40, 50, first, DAY.isoformat(), DAY.isoformat())
        final = FinalValue(run_id=first, at=DAY.isoformat(), progress=0.125, target=40, start=0)
        later = DAY + dt.timedelta(days=60)
        _record(
            store, later, 50,
            periods=PeriodEvents(closed={"KR-1": (dt.date(2026, 12, 31), final)},
                                 changes=(change,)),
        )  # fmt: skip
        assert [(c["before"], c["after"], c["previous_run"]) for c in store.target_changes()] == [
            (40, 50, first)
        ]
        assert store.closures()["KR-1"]["final_run"] == first
        # The final value comes from the closure while the period end is the same …
        got = store.final_values({"KR-1": dt.date(2026, 12, 31)})["KR-1"]
        assert (got.run_id, got.progress, got.target) == (first, 0.125, 40)
        # … and from the last snapshot within the period when the end moved.
        got = store.final_values({"KR-1": dt.date(2026, 11, 9)})
        assert got == {}
        got = store.final_values({"KR-1": dt.date(2026, 11, 10)})
        assert got["KR-1"].run_id == first
    finally:
        store.close()


def test_state_copy_keeps_closures_target_changes_and_each_snapshots_target(
    backend: Backend, tmp_path: Path
) -> None:
    source = sqlite_backend(tmp_path / "source").location.open()
    destination = backend.location.open()
    try:
        first = _record(source, DAY, 40)
        change = InputChange("KR-1", "target", 40, 50, first, DAY.isoformat(), DAY.isoformat())
        final = FinalValue(run_id=first, at=DAY.isoformat(), progress=0.125)
        events = PeriodEvents(closed={"KR-1": (dt.date(2026, 12, 31), final)}, changes=(change,))
        _record(source, DAY + dt.timedelta(days=1), 50, periods=events)
        copy_store(source, destination)
        assert [r["target"] for r in destination.history("kr", "KR-1")] == [40, 50]
        assert destination.target_changes() == source.target_changes()
        assert destination.closures() == source.closures()
    finally:
        source.close()
        destination.close()
