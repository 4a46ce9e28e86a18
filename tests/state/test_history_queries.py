"""The queries a long history makes, on both backends: same answers, no pass over it all.

``previous()`` walks the KR ids along an index instead of grouping every snapshot
ever taken; ``history(provenance=False)`` (``okr-sync history``) reads only the
provenance it shows; migration 0006 indexes the change log by run (each logged
write replaces its own ``started`` row; ``status`` reads each run's changes) and
runs by outcome (a run's start looks for runs left running).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator

import pytest

from okr_sync.core.evaluate import KrSnapshot
from okr_sync.models import (
    FieldChange,
    KrResult,
    Provenance,
    RecordRef,
    RunSummary,
    Status,
)
from okr_sync.state.store import StateStore
from tests.backends import Backend

T0 = dt.datetime(2026, 11, 1, 9, tzinfo=dt.UTC)


@pytest.fixture
def store(backend: Backend) -> Iterator[StateStore]:
    opened = backend.location.open()
    yield opened
    opened.close()


def snap(
    kr: str,
    progress: float | None,
    *,
    stale: bool = False,
    error: str | None = None,
    note: str = "",
    items: int = 2,
) -> KrSnapshot:
    result = KrResult(
        kr_id=kr, title=f"title of {kr}", measure="issues_done", progress=progress,
        status=Status.ON_TRACK if progress is not None else None, stale=stale, error=error,
        provenance=Provenance(notes=(note,) if note else ()),
    )  # fmt: skip
    return KrSnapshot(result, items, f"fp-{kr}-{progress}", frozenset({"work"}))


def run(store: StateStore, hours: int, snapshots: list[KrSnapshot]) -> int:
    started = T0 + dt.timedelta(hours=hours)
    run_id = store.start_run(started)
    summary = RunSummary(run_id=run_id, started_at=started, finished_at=started)
    store.finish_run(summary, "ok", snapshots, [], {})
    return run_id


def test_previous_is_each_krs_latest_snapshot_with_a_number(store: StateStore) -> None:
    assert store.previous() == {}
    run(store, 0, [snap("KR-1", 0.1), snap("KR-3", 0.3, items=7), snap("KR-2", None, error="x")])
    run(store, 1, [snap("KR-1", 0.2), snap("KR-3", None, note="nothing linked yet")])
    run(store, 2, [snap("KR-1", None, stale=True), snap("KR-10", 0.9), snap("KR-2", None, stale=True)])  # fmt: skip
    run(store, 3, [snap("KR-1", None, error="failed")])
    previous = store.previous()
    # KR-2 never had a number; every other KR its latest one, whatever came after it.
    assert {kr: (p.progress, p.item_count) for kr, p in previous.items()} == {
        "KR-1": (0.2, 2),
        "KR-3": (0.3, 7),
        "KR-10": (0.9, 2),
    }
    assert previous["KR-1"].fingerprint == "fp-KR-1-0.2"
    assert previous["KR-3"].sources == frozenset({"work"})


def test_history_without_provenance_keeps_only_the_notes_it_shows(store: StateStore) -> None:
    run(store, 0, [snap("KR-1", 0.1), snap("KR-2", None, note="nothing linked yet")])
    run(store, 1, [snap("KR-1", None, stale=True, error="source down")])
    full = store.history("kr")
    light = store.history("kr", provenance=False)
    assert [r["provenance"] is not None for r in full] == [True, True, True]
    # Only the snapshot left alone (no number, nothing failed) keeps it: its note says why.
    assert [(r["id"], r["provenance"] is not None) for r in light] == [
        ("KR-1", False),
        ("KR-2", True),
        ("KR-1", False),
    ]
    assert "nothing linked yet" in light[1]["provenance"]
    assert [{**r, "provenance": None} for r in light] == [{**r, "provenance": None} for r in full]


def test_a_runs_changes_and_logged_writes_are_looked_up_by_index(
    store: StateStore, backend: Backend
) -> None:
    ref = RecordRef(kind="key_result", id="KR-1")
    first = run(store, 0, [snap("KR-1", 0.1)])
    change = FieldChange(target="report", ref=ref, owner="KR-1", field="progress", after=0.1)
    store.record_intent(first, [change])
    store.record_changes(first, [change], "applied")
    assert [c["result"] for c in store.run_changes(first)] == ["applied"]  # its started row went
    db = store.database
    if backend.name == "sqlite":
        queries = {
            "a logged write": "DELETE FROM changes WHERE run_id=? AND target=? AND kind=? "
            "AND record=? AND field=? AND result='started'",
            "status": "SELECT owner FROM changes WHERE run_id = ? ORDER BY rowid",
            "a run's start": "UPDATE runs SET outcome='interrupted' WHERE outcome='running'",
        }
        for what, sql in queries.items():
            args = (1, "report", "key_result", "KR-1", "progress")[: sql.count("?")]
            plan = " | ".join(str(r[-1]) for r in db.execute(f"EXPLAIN QUERY PLAN {sql}", args))
            assert "USING INDEX" in plan or "USING COVERING INDEX" in plan, (what, plan)
    else:
        rows = db.execute(
            "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()"
        ).fetchall()
        assert {"changes_by_run", "runs_by_outcome", "changes_by_rowid"} <= {r[0] for r in rows}


def work(store: StateStore, query: Callable[[], object]) -> int:
    """How much work SQLite's engine does for a query (its virtual machine's steps / 100)."""
    connection = store.database.connection  # type: ignore[attr-defined]
    steps = [0]

    def tick() -> int:
        steps[0] += 1
        return 0  # go on

    connection.set_progress_handler(tick, 100)
    try:
        query()
    finally:
        connection.set_progress_handler(None, 100)
    return steps[0]


def test_previous_does_not_read_the_whole_history() -> None:
    store = StateStore.in_memory()
    krs = [f"KR-{i}" for i in range(20)]
    for hour in range(5):
        run(store, hour, [snap(kr, 0.1 * (hour % 3)) for kr in krs])
    early = work(store, store.previous)
    for hour in range(5, 300):
        run(store, hour, [snap(kr, 0.1 * (hour % 3)) for kr in krs])
    late = work(store, store.previous)
    # 60 times the snapshots; the answer is as long as before, and so is the work.
    assert len(store.previous()) == 20
    assert late < 2 * early + 10, (early, late)
