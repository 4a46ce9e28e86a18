"""The state store: private files, named migrations, read-only access, atomic commits."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

import okr_sync.state.store as state_module
from connectors.memory import MemoryConnector
from okr_sync.config.loading import load_config
from okr_sync.engine.engine import Engine
from okr_sync.errors import StateError
from okr_sync.models import (
    FieldChange,
    ItemKind,
    ItemRef,
    KeyResult,
    KrResult,
    Objective,
    ObjectiveResult,
    OkrTree,
    RecordRef,
    RunSummary,
    Status,
    StatusCategory,
    WorkItem,
)
from okr_sync.state.store import MIGRATIONS, CacheUpdate, CursorState, KrSnapshot, StateStore

T0 = dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.UTC)
KR1 = RecordRef(kind="key_result", id="KR-1")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def snapshot(kr_id: str, progress: float | None, *, stale: bool = False) -> KrSnapshot:
    result = KrResult(
        kr_id=kr_id,
        title=f"title of {kr_id}",
        measure="issues_done",
        progress=progress,
        expected=0.5,
        status=None if stale else Status.ON_TRACK,
        stale=stale,
    )
    return KrSnapshot(result, item_count=2, fingerprint=f"fp-{kr_id}", sources=frozenset({"work"}))


def item(key: str, status: StatusCategory = StatusCategory.TODO) -> WorkItem:
    return WorkItem(source="work", key=key, title=key, status_category=status)


def change(after: float, *, field: str = "progress", before: float | None = None) -> FieldChange:
    return FieldChange(
        target="report", ref=KR1, owner="KR-1", field=field, before=before, after=after
    )


def run(
    store: StateStore,
    started: dt.datetime,
    *,
    snapshots: list[KrSnapshot] | None = None,
    cursors: dict[str, CursorState] | None = None,
    caches: dict[str, CacheUpdate] | None = None,
) -> int:
    """One complete run, as Engine.run records it."""
    run_id = store.start_run(started)
    summary = RunSummary(run_id=run_id, started_at=started, finished_at=started)
    objectives = [ObjectiveResult(objective_id="O-1", title="Objective", progress=0.5)]
    store.finish_run(summary, "ok", snapshots or [], objectives, cursors or {}, caches)
    return run_id


def migrations_of(path: Path) -> list[tuple[str, str]]:
    db = sqlite3.connect(path)
    try:
        return list(db.execute("SELECT name, applied_at FROM schema_migrations ORDER BY rowid"))
    finally:
        db.close()


def tables_of(path: Path) -> set[str]:
    db = sqlite3.connect(path)
    try:
        return {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    finally:
        db.close()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "home" / ".okr-sync" / "state.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[StateStore]:
    s = StateStore.open(db_path)
    yield s
    s.close()


# --- files and permissions ---------------------------------------------------------------


def test_open_creates_private_file_in_private_folder(db_path: Path) -> None:
    store = StateStore.open(db_path)
    try:
        store.start_run(T0)
        assert db_path.is_file()
        assert mode(db_path) == 0o600
        assert mode(db_path.parent) == 0o700
        # SQLite's side files (WAL, shared memory) are just as private.
        for side in db_path.parent.iterdir():
            assert mode(side) == 0o600, side
        assert store.database.where == str(db_path)
        assert not store.readonly
    finally:
        store.close()


def test_open_tightens_a_too_open_existing_file(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    db_path.touch()
    db_path.chmod(0o644)
    StateStore.open(db_path).close()
    assert mode(db_path) == 0o600


def test_open_on_an_unusable_path_raises_state_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(StateError, match="cannot open the state store"):
        StateStore.open(blocker / "state.db")


# --- migrations ----------------------------------------------------------------------------


def test_migrations_are_recorded_by_name_and_applied_once(db_path: Path) -> None:
    StateStore.open(db_path).close()
    applied = migrations_of(db_path)
    assert [name for name, _ in applied] == [name for name, _ in MIGRATIONS]
    assert {"runs", "snapshots", "changes", "written", "cursors", "items"} <= tables_of(db_path)

    store = StateStore.open(db_path)
    try:
        assert store.pending_migrations() == []
        assert store.migrate() == []
    finally:
        store.close()
    assert migrations_of(db_path) == applied  # same rows, same applied_at


def test_new_migration_runs_once_on_an_existing_store(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    StateStore.open(db_path).close()
    calls: list[str] = []

    def m0002(db: sqlite3.Connection) -> None:
        calls.append("0002")
        db.execute("CREATE TABLE extra (x TEXT)")

    monkeypatch.setattr(state_module, "MIGRATIONS", [*MIGRATIONS, ("0099_extra", m0002)])
    StateStore.open(db_path).close()
    StateStore.open(db_path).close()
    assert calls == ["0002"]
    assert [name for name, _ in migrations_of(db_path)] == [
        *(n for n, _ in MIGRATIONS),
        "0099_extra",
    ]
    assert "extra" in tables_of(db_path)


def test_provenance_is_kept_once_and_old_stores_are_converted(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A store written before 0003 holds the provenance text in every snapshot.
    monkeypatch.setattr(state_module, "MIGRATIONS", MIGRATIONS[:2])
    store = StateStore.open(db_path)
    run_id = store.start_run(T0)
    store.close()
    old = snapshot("KR-1", 0.5).result.provenance.model_dump_json()
    db = sqlite3.connect(db_path)
    db.execute(
        "INSERT INTO snapshots (run_id, kind, id, title, stale, provenance) "
        "VALUES (?, 'kr', 'KR-1', 'KR one', 0, ?)",
        (run_id, old),
    )
    db.commit()
    db.close()
    monkeypatch.setattr(state_module, "MIGRATIONS", MIGRATIONS)
    store = StateStore.open(db_path)
    run(store, T0 + dt.timedelta(hours=1), snapshots=[snapshot("KR-1", 0.6)])
    history = store.history("kr", "KR-1")
    store.close()
    assert [h["provenance"] for h in history] == [old, old]  # the same text, read back
    db = sqlite3.connect(db_path)
    assert db.execute("SELECT count(*) FROM provenances").fetchone()[0] == 1  # kept once
    assert {r[0] for r in db.execute("SELECT provenance FROM snapshots WHERE kind = 'kr'")} == {
        state_module.provenance_key(old)
    }
    db.close()


def test_readonly_open_refuses_a_store_needing_migrations(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    StateStore.open(db_path).close()
    monkeypatch.setattr(state_module, "MIGRATIONS", [*MIGRATIONS, ("0099_extra", lambda db: None)])
    with pytest.raises(StateError, match=r"needs migrations \(0099_extra\)"):
        StateStore.open_readonly(db_path)


def _mark_as_newer(path: Path) -> None:
    db = sqlite3.connect(path)
    db.execute("INSERT INTO schema_migrations VALUES ('9999_from_the_future', '2030-01-01')")
    db.commit()
    db.close()


def test_readonly_open_refuses_a_store_from_a_newer_version(db_path: Path) -> None:
    StateStore.open(db_path).close()
    _mark_as_newer(db_path)
    with pytest.raises(StateError, match="newer okr-sync") as info:
        StateStore.open_readonly(db_path)
    assert "9999_from_the_future" in str(info.value)


def test_open_refuses_a_store_from_a_newer_version(db_path: Path) -> None:
    StateStore.open(db_path).close()
    _mark_as_newer(db_path)
    before = migrations_of(db_path)
    with pytest.raises(StateError, match="newer okr-sync") as info:
        StateStore.open(db_path).close()
    assert "upgrade okr-sync" in str(info.value)
    assert migrations_of(db_path) == before


def test_failing_migration_leaves_no_half_applied_schema(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(db: sqlite3.Connection) -> None:
        db.execute("CREATE TABLE half_done (x TEXT)")
        db.execute("INSERT INTO half_done VALUES ('partial')")
        raise RuntimeError("migration exploded")

    monkeypatch.setattr(state_module, "MIGRATIONS", [*MIGRATIONS, ("0099_broken", broken)])
    with pytest.raises((RuntimeError, StateError)):
        StateStore.open(db_path)

    assert "half_done" not in tables_of(db_path)
    assert [name for name, _ in migrations_of(db_path)] == [n for n, _ in MIGRATIONS]

    # Once the migration is fixed, the store opens and is up to date.
    monkeypatch.setattr(state_module, "MIGRATIONS", list(MIGRATIONS))
    store = StateStore.open(db_path)
    try:
        assert store.pending_migrations() == []
    finally:
        store.close()


# --- read-only access ----------------------------------------------------------------------


def test_open_readonly_on_a_missing_file_is_empty_and_creates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "nothing" / "state.db"
    store = StateStore.open_readonly(path)
    try:
        assert store.runs() == []
        assert store.previous() == {}
        assert store.history() == []
        assert store.cursor("work") is None
        assert store.cached_items("work") == []
        assert store.last_written("report") == {}
    finally:
        store.close()
    assert not path.exists()
    assert not path.parent.exists()


def test_open_readonly_never_writes(db_path: Path) -> None:
    store = StateStore.open(db_path)
    run_id = run(
        store,
        T0,
        snapshots=[snapshot("KR-1", 0.4)],
        cursors={"work": CursorState(cursor="c1", fingerprint="f", full_at=T0.isoformat())},
        caches={"work": CacheUpdate((item("A-1"),), True)},
    )
    store.record_changes(run_id, [change(0.4)], "applied")
    store.close()
    before = (db_path.read_bytes(), db_path.stat().st_mtime_ns)

    ro = StateStore.open_readonly(db_path)
    try:
        assert ro.readonly
        assert [r["id"] for r in ro.runs()] == [run_id]
        assert [h["id"] for h in ro.history()] == ["KR-1"]
        assert set(ro.previous()) == {"KR-1"}
        assert ro.last_written("report") == {(KR1, "progress"): (0.4,)}
        assert ro.cursor("work") == CursorState(
            cursor="c1", fingerprint="f", full_at=T0.isoformat()
        )
        assert [i.key for i in ro.cached_items("work")] == ["A-1"]
        assert len(ro.changes_for("KR-1")) == 1
        with pytest.raises(StateError, match="read-only"), ro.transaction():
            pass
        with pytest.raises(StateError, match="read-only"):
            ro.start_run(T0)
        with pytest.raises(StateError, match="read-only"):
            ro.record_changes(run_id, [change(0.9)], "applied")
    finally:
        ro.close()

    assert (db_path.read_bytes(), db_path.stat().st_mtime_ns) == before
    store = StateStore.open(db_path)
    try:
        assert store.last_written("report") == {(KR1, "progress"): (0.4,)}
    finally:
        store.close()


# --- changes and last written values ------------------------------------------------------


def test_only_applied_changes_become_last_written(store: StateStore) -> None:
    run_id = store.start_run(T0)
    store.record_changes(run_id, [change(0.5, before=0.1)], "applied")
    assert store.last_written("report") == {(KR1, "progress"): (0.5,)}

    store.record_changes(run_id, [change(0.7, before=0.5)], "failed", "HTTP 500")
    store.record_changes(run_id, [change(0.8, before=0.5)], "skipped")
    assert store.last_written("report") == {(KR1, "progress"): (0.5,)}
    assert store.last_written("other") == {}

    logged = store.changes_for("KR-1")
    assert [(c["after"], c["result"], c["error"]) for c in logged] == [
        (0.8, "skipped", None),
        (0.7, "failed", "HTTP 500"),
        (0.5, "applied", None),
    ]
    assert logged[-1]["before"] == 0.1  # the replaced value stays recoverable


def test_a_write_begun_but_never_confirmed_keeps_the_human_value(db_path: Path) -> None:
    store = StateStore.open(db_path)
    run_id = store.start_run(T0)
    human = FieldChange(target="report", ref=KR1, owner="KR-1", field="progress",
                        before=0.8, after=0.5, last_written=0.4, conflict=True)  # fmt: skip
    store.record_intent(run_id, [human])
    store.close()  # the process dies here: the write may or may not have landed
    store = StateStore.open(db_path)
    (logged,) = store.changes_for("KR-1")
    assert (logged["before"], logged["result"], logged["conflict"]) == (0.8, "started", 1)
    assert store.last_written("report") == {(KR1, "progress"): (0.5,)}  # pending: ours
    run2 = store.start_run(T0)
    store.record_intent(run2, [human])
    store.record_changes(run2, [human], "applied")
    results = [(c["run_id"], c["result"]) for c in store.changes_for("KR-1")]
    assert results == [(run2, "applied"), (run_id, "started")]  # one row per change and run
    store.close()


def test_adopt_remembers_values_as_last_written(store: StateStore) -> None:
    run_id = store.start_run(T0)
    store.adopt("report", run_id, [(KR1, "status", "On track"), (KR1, "progress", 0.25)])
    assert store.last_written("report") == {
        (KR1, "status"): ("On track",),
        (KR1, "progress"): (0.25,),
    }
    assert store.changes_for("KR-1") == []


# --- cursors and the item cache are committed with the run --------------------------------------


def test_cursor_and_cache_change_only_when_the_run_is_committed(db_path: Path) -> None:
    store = StateStore.open(db_path)
    cursor1 = CursorState(cursor="c1", fingerprint="f", full_at=T0.isoformat())
    run(
        store,
        T0,
        cursors={"work": cursor1},
        caches={"work": CacheUpdate((item("A-1"), item("A-2")), True)},
    )

    # A run that dies after one confirmed write, before finish_run: what Engine.run
    # records up to that point.
    run_id = store.start_run(T0 + dt.timedelta(hours=1))
    store.record_changes(run_id, [change(0.9)], "applied")
    store.close()

    store = StateStore.open(db_path)
    try:
        assert store.cursor("work") == cursor1
        assert sorted(i.key for i in store.cached_items("work")) == ["A-1", "A-2"]
        assert store.runs()[0]["outcome"] == "running"
        assert store.last_written("report") == {(KR1, "progress"): (0.9,)}  # the write is kept
    finally:
        store.close()


def test_finish_run_commits_all_or_nothing(store: StateStore) -> None:
    cursor1 = CursorState(cursor="c1", fingerprint="f", full_at=T0.isoformat())
    run(
        store,
        T0,
        snapshots=[snapshot("KR-1", 0.2)],
        cursors={"work": cursor1},
        caches={"work": CacheUpdate((item("A-1"), item("A-2")), True)},
    )

    def exploding_items() -> Iterator[WorkItem]:
        yield item("B-1")
        raise RuntimeError("disk full")

    started = T0 + dt.timedelta(days=1)
    run_id = store.start_run(started)
    summary = RunSummary(run_id=run_id, started_at=started, finished_at=started)
    with pytest.raises(RuntimeError, match="disk full"):
        store.finish_run(
            summary,
            "ok",
            [snapshot("KR-1", 0.9)],
            [],
            {"work": CursorState(cursor="c2", fingerprint="f", full_at=started.isoformat())},
            {"work": CacheUpdate(exploding_items(), True)},
        )

    assert store.cursor("work") == cursor1
    assert sorted(i.key for i in store.cached_items("work")) == ["A-1", "A-2"]
    assert [h["run_id"] for h in store.history()] == [1]
    assert store.previous()["KR-1"].progress == 0.2
    latest = store.runs()[0]
    assert (latest["id"], latest["outcome"], latest["summary"]) == (run_id, "running", None)


def test_cache_merge_and_replace(store: StateStore) -> None:
    cur = CursorState(cursor="c", fingerprint="f", full_at=None)
    run(
        store,
        T0,
        cursors={"work": cur},
        caches={"work": CacheUpdate((item("A-1"), item("A-2")), True)},
    )
    run(
        store,
        T0 + dt.timedelta(hours=1),
        caches={"work": CacheUpdate((item("A-2", StatusCategory.DONE), item("A-3")), False)},
    )
    cached = {i.key: i.status_category for i in store.cached_items("work")}
    assert cached == {
        "A-1": StatusCategory.TODO,
        "A-2": StatusCategory.DONE,
        "A-3": StatusCategory.TODO,
    }
    run(store, T0 + dt.timedelta(hours=2), caches={"work": CacheUpdate((item("A-9"),), True)})
    assert [i.key for i in store.cached_items("work")] == ["A-9"]
    assert store.cursor("work") == cur  # a run without a cursor for it leaves it alone


class _Interrupting(MemoryConnector):
    """A memory connector whose n-th write is interrupted (Ctrl-C mid-run)."""

    interrupt_at: int | None = None

    def write_record(self, ref: RecordRef, values: dict[str, object]) -> None:  # type: ignore[override]
        if self.interrupt_at is not None and len(self.writes) + 1 >= self.interrupt_at:
            raise KeyboardInterrupt
        super().write_record(ref, values)


ENGINE_CONFIG = """\
version: 1
connections:
  mem:
    type: memory
okrs: mem
items: [mem]
cycle: {start: 2026-10-01, end: 2026-12-31}
write:
  mem:
    key_results: [progress]
"""


def test_engine_interrupted_before_commit_keeps_cursor_and_cache(tmp_path: Path) -> None:
    """Engine-level: a run that dies while writing never commits its cursor or cache."""
    config = tmp_path / "okr-sync.yaml"
    config.write_text(ENGINE_CONFIG, encoding="utf-8")
    loaded = load_config(config)
    at = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    tree = OkrTree(
        objectives=(Objective(id="O-1", title="o"),),
        key_results=(
            KeyResult(id="KR-1", title="a", objective_id="O-1", links=(ItemRef(key="E-1"),)),
            KeyResult(id="KR-2", title="b", objective_id="O-1", links=(ItemRef(key="E-2"),)),
        ),
    )
    mem = _Interrupting("mem", tree=tree)
    for key, parent in (("E-1", None), ("I-1", "E-1"), ("E-2", None), ("I-2", "E-2")):
        kind = ItemKind.EPIC if parent is None else ItemKind.ISSUE
        mem.put(WorkItem(source="mem", key=key, kind=kind, parent_key=parent, updated=at))

    store = StateStore.open(loaded.state_path)
    now = dt.datetime(2026, 11, 15, tzinfo=dt.UTC)
    first = Engine(loaded, {"mem": mem}, store, now=lambda: now).run(apply=True)
    assert first.writes == 2
    cursor = store.cursor("mem")
    assert cursor is not None
    cache = {i.key: i.status_category for i in store.cached_items("mem")}
    assert cache["I-1"] == StatusCategory.TODO

    later = at + dt.timedelta(days=5)
    for key, parent in (("I-1", "E-1"), ("I-2", "E-2")):
        mem.put(
            WorkItem(
                source="mem",
                key=key,
                parent_key=parent,
                status_category=StatusCategory.DONE,
                updated=later,
            )
        )
    mem.interrupt_at = len(mem.writes) + 2  # the second write of the next run
    with pytest.raises(KeyboardInterrupt):
        Engine(loaded, {"mem": mem}, store, now=lambda: now).run(apply=True)
    store.close()

    ro = StateStore.open_readonly(loaded.state_path)
    try:
        assert ro.cursor("mem") == cursor
        assert {i.key: i.status_category for i in ro.cached_items("mem")} == cache
        assert [r["outcome"] for r in ro.runs()] == ["running", "ok"]
        assert {h["run_id"] for h in ro.history()} == {first.run_id}
        # The one write that did happen is remembered, so the next run sees no conflict;
        # the interrupted one is remembered as pending (it may or may not have landed).
        written = ro.last_written("mem")
        assert sorted(v for v in written.values()) == [(0.0, 1.0), (1.0,)]
    finally:
        ro.close()


# --- history and previous --------------------------------------------------------------------


def test_history_is_oldest_first(store: StateStore) -> None:
    # Several runs, several KRs: oldest run first, then by id.
    r1 = run(store, T0, snapshots=[snapshot("KR-2", 0.1), snapshot("KR-1", 0.1)])
    r2 = run(store, T0 + dt.timedelta(days=1), snapshots=[snapshot("KR-1", 0.3)])
    r3 = run(store, T0 + dt.timedelta(days=2), snapshots=[snapshot("KR-1", None, stale=True)])

    history = store.history("kr", "KR-1")
    assert [(h["run_id"], h["progress"], h["stale"]) for h in history] == [
        (r1, 0.1, 0),
        (r2, 0.3, 0),
        (r3, None, 1),
    ]
    assert [h["at"] for h in history] == sorted(h["at"] for h in history)
    assert history[0]["title"] == "title of KR-1"
    assert history[0]["measure"] == "issues_done"

    everything = store.history()
    assert [(h["run_id"], h["id"]) for h in everything] == [
        (r1, "KR-1"),
        (r1, "KR-2"),
        (r2, "KR-1"),
        (r3, "KR-1"),
    ]
    objectives = store.history("objective", "O-1")
    assert [h["run_id"] for h in objectives] == [r1, r2, r3]


def test_previous_is_the_latest_usable_snapshot(store: StateStore) -> None:
    run(store, T0, snapshots=[snapshot("KR-1", 0.1), snapshot("KR-2", 0.2)])
    run(store, T0 + dt.timedelta(days=1), snapshots=[snapshot("KR-1", 0.3)])
    run(store, T0 + dt.timedelta(days=2), snapshots=[snapshot("KR-1", None, stale=True)])
    previous = store.previous()
    assert previous["KR-1"].progress == 0.3  # the stale run is ignored
    assert previous["KR-2"].progress == 0.2
    assert previous["KR-1"].item_count == 2
    assert previous["KR-1"].fingerprint == "fp-KR-1"
    assert previous["KR-1"].sources == frozenset({"work"})


def test_runs_newest_first(store: StateStore) -> None:
    ids = [run(store, T0 + dt.timedelta(hours=h)) for h in range(3)]
    assert [r["id"] for r in store.runs()] == ids[::-1]
    assert [r["id"] for r in store.runs(limit=2)] == ids[:0:-1]
    assert all(r["outcome"] == "ok" for r in store.runs())


def test_state_dir_stays_private_with_a_permissive_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        path = tmp_path / "open" / "state.db"
        StateStore.open(path).close()
    finally:
        os.umask(old)
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700
