"""The state store: private files, named migrations, read-only access, atomic commits.

Everything about the store's behaviour holds on both backends (the ``backend``
fixture: a SQLite file, a PostgreSQL namespace); what is about SQLite files
(modes, side files, ``mode=ro``) is tested on SQLite alone, with a PostgreSQL
counterpart where one makes sense.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
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
from okr_sync.state.database import Database
from okr_sync.state.location import PostgresLocation, SqliteLocation, state_location
from okr_sync.state.store import MIGRATIONS, CacheUpdate, CursorState, KrSnapshot, StateStore
from tests.backends import Backend
from tests.state.raw import contents, migrations_of, namespace_exists, raw, tables_of

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


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """A SQLite file, for what is about SQLite files."""
    return tmp_path / "home" / ".okr-sync" / "state.db"


@pytest.fixture
def store(backend: Backend) -> Iterator[StateStore]:
    """A fresh writable store on each backend."""
    s = backend.location.open()
    yield s
    s.close()


def closed_port() -> int:
    """A local port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_open_creates_the_namespace_schema_and_names_the_store_without_password(
    backend: Backend,
) -> None:
    # The PostgreSQL counterpart: the namespace is a schema of its own, owned by the
    # role of the URL, and the store is named by its URL (never with a password).
    location = backend.location
    assert isinstance(location, PostgresLocation)
    assert not namespace_exists(backend)
    store = location.open()
    try:
        store.start_run(T0)
        assert store.database.where == f"{location.url} (namespace team_a)"
        assert backend.env["OKR_STATE_PASSWORD"] not in store.database.where
        assert not store.readonly
    finally:
        store.close()
    with raw(backend) as db:
        owner = db.execute(
            "SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = ?",
            ("okr_sync_team_a",),
        ).fetchone()
        assert db.execute("SELECT current_schema()").fetchone()[0] == "okr_sync_team_a"
    assert owner == ("okr",)
    assert location.exists()


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


def test_open_on_an_unreachable_server_raises_state_error() -> None:
    # The PostgreSQL counterpart: nothing listens where the URL points.
    port = closed_port()
    location = PostgresLocation(f"postgresql://okr@127.0.0.1:{port}/okr", "team_a")
    for opening in (location.open, location.open_readonly, location.exists):
        with pytest.raises(StateError) as info:
            opening()
        assert str(info.value).startswith(
            f"cannot connect to the state store postgresql://okr@127.0.0.1:{port}/okr "
            "(namespace team_a): "
        )
        assert "Connection refused" in str(info.value)


# --- migrations ----------------------------------------------------------------------------


def test_migrations_are_recorded_by_name_and_applied_once(backend: Backend) -> None:
    backend.location.open().close()
    applied = migrations_of(backend)
    assert [name for name, _ in applied] == [name for name, _ in MIGRATIONS]
    assert {"runs", "snapshots", "changes", "written", "cursors", "items"} <= tables_of(backend)

    store = backend.location.open()
    try:
        assert store.pending_migrations() == []
        assert store.migrate() == []
    finally:
        store.close()
    assert migrations_of(backend) == applied  # same rows, same applied_at


def test_new_migration_runs_once_on_an_existing_store(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend.location.open().close()
    calls: list[str] = []

    def m0002(db: Database) -> None:
        calls.append("0002")
        db.execute("CREATE TABLE extra (x TEXT)")

    monkeypatch.setattr(state_module, "MIGRATIONS", [*MIGRATIONS, ("0099_extra", m0002)])
    backend.location.open().close()
    backend.location.open().close()
    assert calls == ["0002"]
    assert [name for name, _ in migrations_of(backend)] == [
        *(n for n, _ in MIGRATIONS),
        "0099_extra",
    ]
    assert "extra" in tables_of(backend)


def test_provenance_is_kept_once_and_old_stores_are_converted(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A store written before 0003 holds the provenance text in every snapshot.
    monkeypatch.setattr(state_module, "MIGRATIONS", MIGRATIONS[:2])
    store = backend.location.open()
    run_id = store.start_run(T0)
    store.close()
    old = snapshot("KR-1", 0.5).result.provenance.model_dump_json()
    with raw(backend) as db:
        db.execute(
            "INSERT INTO snapshots (run_id, kind, id, title, stale, provenance) "
            "VALUES (?, 'kr', 'KR-1', 'KR one', 0, ?)",
            (run_id, old),
        )
    monkeypatch.setattr(state_module, "MIGRATIONS", MIGRATIONS)
    store = backend.location.open()
    run(store, T0 + dt.timedelta(hours=1), snapshots=[snapshot("KR-1", 0.6)])
    history = store.history("kr", "KR-1")
    store.close()
    assert [h["provenance"] for h in history] == [old, old]  # the same text, read back
    with raw(backend) as db:
        assert db.execute("SELECT count(*) FROM provenances").fetchone()[0] == 1  # kept once
        keys = {r[0] for r in db.execute("SELECT provenance FROM snapshots WHERE kind = 'kr'")}
    assert keys == {state_module.provenance_key(old)}


def test_readonly_open_refuses_a_store_needing_migrations(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend.location.open().close()
    monkeypatch.setattr(state_module, "MIGRATIONS", [*MIGRATIONS, ("0099_extra", lambda db: None)])
    with pytest.raises(StateError, match=r"needs migrations \(0099_extra\)"):
        backend.location.open_readonly()


def _mark_as_newer(backend: Backend) -> None:
    with raw(backend) as db:
        db.execute("INSERT INTO schema_migrations VALUES ('9999_from_the_future', '2030-01-01')")


def test_readonly_open_refuses_a_store_from_a_newer_version(backend: Backend) -> None:
    backend.location.open().close()
    _mark_as_newer(backend)
    with pytest.raises(StateError, match="newer okr-sync") as info:
        backend.location.open_readonly()
    assert "9999_from_the_future" in str(info.value)
    assert str(backend.location) in str(info.value)  # which store


def test_open_refuses_a_store_from_a_newer_version(backend: Backend) -> None:
    backend.location.open().close()
    _mark_as_newer(backend)
    before = migrations_of(backend)
    with pytest.raises(StateError, match="newer okr-sync") as info:
        backend.location.open().close()
    assert "upgrade okr-sync" in str(info.value)
    assert "9999_from_the_future" in str(info.value)
    assert migrations_of(backend) == before


def test_failing_migration_leaves_no_half_applied_schema(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(db: Database) -> None:
        db.execute("CREATE TABLE half_done (x TEXT)")
        db.execute("INSERT INTO half_done VALUES ('partial')")
        raise RuntimeError("migration exploded")

    monkeypatch.setattr(state_module, "MIGRATIONS", [*MIGRATIONS, ("0099_broken", broken)])
    with pytest.raises((RuntimeError, StateError)):
        backend.location.open()

    assert "half_done" not in tables_of(backend)
    assert [name for name, _ in migrations_of(backend)] == [n for n, _ in MIGRATIONS]

    # Once the migration is fixed, the store opens and is up to date.
    monkeypatch.setattr(state_module, "MIGRATIONS", list(MIGRATIONS))
    store = backend.location.open()
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


def test_open_readonly_on_a_namespace_never_written_is_empty_and_creates_nothing(
    backend: Backend,
) -> None:
    store = backend.location.open_readonly()
    try:
        assert store.runs() == []
        assert store.previous() == {}
        assert store.last_written("report") == {}
        assert store.source_identity() is None
    finally:
        store.close()
    assert not backend.location.exists()
    assert not namespace_exists(backend)  # no schema (PostgreSQL), no file (SQLite)


def test_open_readonly_never_writes(backend: Backend) -> None:
    store = backend.location.open()
    run_id = run(
        store,
        T0,
        snapshots=[snapshot("KR-1", 0.4)],
        cursors={"work": CursorState(cursor="c1", fingerprint="f", full_at=T0.isoformat())},
        caches={"work": CacheUpdate((item("A-1"),), True)},
    )
    store.record_changes(run_id, [change(0.4)], "applied")
    store.close()
    before = contents(backend)
    location = backend.location
    if isinstance(location, SqliteLocation):  # not a byte of the file changes
        file_before = (location.path.read_bytes(), location.path.stat().st_mtime_ns)

    ro = location.open_readonly()
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
        # Its very connection refuses writes too (query_only; a read-only PostgreSQL session).
        for sql in ("DELETE FROM written", "UPDATE runs SET outcome = 'x'"):
            with pytest.raises(StateError, match=r"read-?only"):
                ro.database.execute(sql)
    finally:
        ro.close()

    assert contents(backend) == before
    if isinstance(location, SqliteLocation):
        assert (location.path.read_bytes(), location.path.stat().st_mtime_ns) == file_before
    store = location.open()
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


def test_a_write_begun_but_never_confirmed_keeps_the_human_value(backend: Backend) -> None:
    store = backend.location.open()
    run_id = store.start_run(T0)
    human = FieldChange(target="report", ref=KR1, owner="KR-1", field="progress",
                        before=0.8, after=0.5, last_written=0.4, conflict=True)  # fmt: skip
    store.record_intent(run_id, [human])
    store.close()  # the process dies here: the write may or may not have landed
    store = backend.location.open()
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


def test_cursor_and_cache_change_only_when_the_run_is_committed(backend: Backend) -> None:
    store = backend.location.open()
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

    store = backend.location.open()
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


def test_engine_interrupted_before_commit_keeps_cursor_and_cache(
    backend: Backend, tmp_path: Path
) -> None:
    """Engine-level: a run that dies while writing never commits its cursor or cache."""
    config = tmp_path / "okr-sync.yaml"
    config.write_text(backend.config(ENGINE_CONFIG), encoding="utf-8")
    loaded = load_config(config)
    location = state_location(loaded.config.state, loaded.base_dir)
    assert location.backend == backend.name
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

    store = location.open()
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

    ro = location.open_readonly()
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


def test_history_since_a_day_leaves_out_what_was_recorded_before(store: StateStore) -> None:
    # The forecast reads only the current periods: a long past is not read every run.
    run(store, T0, snapshots=[snapshot("KR-1", 0.1)])
    r2 = run(store, T0 + dt.timedelta(days=1), snapshots=[snapshot("KR-1", 0.3)])
    r3 = run(store, T0 + dt.timedelta(days=2), snapshots=[snapshot("KR-1", 0.4)])
    since = (T0 + dt.timedelta(days=1)).date().isoformat()
    assert [h["run_id"] for h in store.history("kr", since=since)] == [r2, r3]
    assert len(store.history("kr")) == 3
