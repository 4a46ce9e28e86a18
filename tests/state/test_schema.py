"""The schema the migrations build: unchanged on SQLite, the same on PostgreSQL.

The SQLite schema must stay what okr-sync built before the migrations learnt to
fill in column types per database (``{id}``, ``{real}``, ``{rowid}``): the SQL
below was recorded from a store made by that version, plus the one table added
since (``store_identity``, migration 0005; the history indexes, 0006; ``closed_krs``,
``target_changes`` and the snapshots' start, target, period and closure, migration 0008;
the snapshots' span, order, detail and pace and the runs' paces, 0010). A PostgreSQL namespace must hold the
same tables, columns (types by family), primary keys, defaults, references and
indexes, with ``changes.rowid`` as a real column where SQLite has an implicit one.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

import okr_sync.state.store as state_module
from okr_sync.state.database import Database
from okr_sync.state.schema import MIGRATIONS
from okr_sync.state.store import StateStore
from tests.backends import Backend, sqlite_backend
from tests.state.raw import migrations_of, raw

#: ``sqlite_master`` of a store built by every migration (whitespace collapsed).
SQLITE_SCHEMA = {
    "accepted": "CREATE TABLE accepted ( target TEXT NOT NULL, kind TEXT NOT NULL, record TEXT "
    "NOT NULL, field TEXT NOT NULL, owner TEXT NOT NULL, value TEXT, run_id INTEGER, accepted_at "
    "TEXT NOT NULL, PRIMARY KEY (target, kind, record, field))",
    "changes": "CREATE TABLE changes ( run_id INTEGER NOT NULL REFERENCES runs(id), target TEXT "
    "NOT NULL, kind TEXT NOT NULL, record TEXT NOT NULL, owner TEXT NOT NULL, field TEXT NOT "
    "NULL, before TEXT, after TEXT, last_written TEXT, conflict INTEGER NOT NULL, action TEXT NOT "
    "NULL, result TEXT NOT NULL, error TEXT)",
    "cursors": "CREATE TABLE cursors ( source TEXT PRIMARY KEY, cursor TEXT, fingerprint TEXT "
    "NOT NULL, full_at TEXT, updated_at TEXT NOT NULL)",
    "items": "CREATE TABLE items ( source TEXT NOT NULL, key TEXT NOT NULL, data TEXT NOT NULL, "
    "PRIMARY KEY (source, key))",
    "pending": "CREATE TABLE pending ( target TEXT NOT NULL, kind TEXT NOT NULL, record TEXT NOT "
    "NULL, field TEXT NOT NULL, value TEXT, prior TEXT, PRIMARY KEY (target, kind, record, field))",
    "provenances": "CREATE TABLE provenances (key TEXT PRIMARY KEY, json TEXT NOT NULL)",
    "runs": "CREATE TABLE runs ( id INTEGER PRIMARY KEY, started_at TEXT NOT NULL, finished_at "
    "TEXT, dry_run INTEGER NOT NULL DEFAULT 0, outcome TEXT NOT NULL DEFAULT 'running', summary "
    "TEXT, reason TEXT, paces TEXT)",
    "schema_migrations": "CREATE TABLE schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT)",
    "snapshots": "CREATE TABLE snapshots ( run_id INTEGER NOT NULL REFERENCES runs(id), kind TEXT "
    "NOT NULL, id TEXT NOT NULL, title TEXT, measure TEXT, progress REAL, expected REAL, current "
    "REAL, done REAL, total REAL, status TEXT, stale INTEGER NOT NULL, error TEXT, item_count "
    "INTEGER, fingerprint TEXT, sources TEXT, provenance TEXT, start REAL, target REAL, "
    "period_start TEXT, period_end TEXT, closed TEXT, forecast_p10 REAL, forecast_p50 REAL, "
    "forecast_p90 REAL, last_run INTEGER, seq INTEGER, detail TEXT, pace INTEGER, "
    "PRIMARY KEY (run_id, kind, id))",
    # 0007_backfilled_snapshots: values rebuilt for past days (okr-sync backfill).
    "backfilled": "CREATE TABLE backfilled ( kind TEXT NOT NULL, id TEXT NOT NULL, day TEXT NOT "
    "NULL, at TEXT NOT NULL, title TEXT, measure TEXT, progress REAL, expected REAL, current REAL, "
    "done REAL, total REAL, status TEXT, stale INTEGER NOT NULL, error TEXT, provenance TEXT, "
    "computed_at TEXT NOT NULL, PRIMARY KEY (kind, id, day))",
    "closed_krs": "CREATE TABLE closed_krs ( id TEXT PRIMARY KEY, period_end TEXT NOT NULL, "
    "final_run INTEGER, final_at TEXT, progress REAL, current REAL, status TEXT, expected REAL, "
    "start REAL, target REAL, closed_run INTEGER, closed_at TEXT NOT NULL)",
    "target_changes": "CREATE TABLE target_changes ( kr_id TEXT NOT NULL, field TEXT NOT NULL, "
    "before REAL, after REAL, previous_run INTEGER, previous_at TEXT NOT NULL, run_id INTEGER "
    "NOT NULL, seen_at TEXT NOT NULL, PRIMARY KEY (kr_id, field, run_id))",
    "store_identity": "CREATE TABLE store_identity (name TEXT PRIMARY KEY, value TEXT NOT NULL, "
    "recorded_at TEXT NOT NULL)",
    "written": "CREATE TABLE written ( target TEXT NOT NULL, kind TEXT NOT NULL, record TEXT NOT "
    "NULL, field TEXT NOT NULL, value TEXT, run_id INTEGER, written_at TEXT NOT NULL, PRIMARY KEY "
    "(target, kind, record, field))",
    "accepted_by_owner": "CREATE INDEX accepted_by_owner ON accepted(owner)",
    "changes_by_owner": "CREATE INDEX changes_by_owner ON changes(owner, run_id)",
    "snapshots_by_id": "CREATE INDEX snapshots_by_id ON snapshots(kind, id, run_id)",
    # 0010_snapshot_spans: a snapshot kept once for the runs that held it, found by its end.
    "snapshots_by_last_run": "CREATE INDEX snapshots_by_last_run ON snapshots(last_run)",
    # 0006_history_indexes: a run's changes and runs left running, looked up by index.
    "changes_by_run": "CREATE INDEX changes_by_run ON changes(run_id, target, kind, record, field)",
    "runs_by_outcome": "CREATE INDEX runs_by_outcome ON runs(outcome)",
}

#: Declared type (SQLite) or data type (PostgreSQL) -> family. PostgreSQL's ``real`` is
#: single precision: a float column must be ``double precision``, as SQLite's REAL is.
FAMILY = {
    "INTEGER": "integer", "REAL": "float", "TEXT": "text",
    "integer": "integer", "bigint": "integer", "double precision": "float", "text": "text",
}  # fmt: skip


def _sqlite_schema(db: Database) -> dict[str, Any]:
    tables = [r[0] for r in db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]  # fmt: skip
    columns, keys, refs, indexes = {}, {}, set(), set()
    for table in tables:
        info = db.execute(f"PRAGMA table_info({table})").fetchall()
        pk = {row[1] for row in info if row[5]}
        columns[table] = {
            # A primary key's column is never null, whatever SQLite reports for it.
            name: (FAMILY[kind], bool(notnull) or name in pk, None if dflt is None else str(dflt))
            for _, name, kind, notnull, dflt, _ in info
        }
        keys[table] = [row[1] for row in sorted(info, key=lambda r: r[5]) if row[5]]
        for ref in db.execute(f"PRAGMA foreign_key_list({table})"):
            refs.add((table, ref[3], ref[2], ref[4]))
        for index in db.execute(f"PRAGMA index_list({table})"):
            if index[3] == "c":  # made by CREATE INDEX (not a key's own)
                cols = [r[2] for r in db.execute(f"PRAGMA index_info({index[1]})")]
                indexes.add((index[1], table, tuple(cols)))
    return {"columns": columns, "keys": keys, "refs": refs, "indexes": indexes}


def _pg_schema(db: Database) -> dict[str, Any]:
    columns: dict[str, dict[str, Any]] = {}
    for table, name, kind, nullable, default in db.execute(
        "SELECT table_name, column_name, data_type, is_nullable, column_default "
        "FROM information_schema.columns WHERE table_schema = current_schema() "
        "ORDER BY table_name, ordinal_position"
    ):
        if default is not None:
            default = re.sub(r"::\w+$", "", default)
        columns.setdefault(table, {})[name] = (FAMILY.get(kind, kind), nullable == "NO", default)
    keys: dict[str, list[str]] = {table: [] for table in columns}
    for table, name in db.execute(
        "SELECT tc.table_name, k.column_name FROM information_schema.table_constraints tc "
        "JOIN information_schema.key_column_usage k ON k.constraint_name = tc.constraint_name "
        "AND k.table_schema = tc.table_schema AND k.table_name = tc.table_name "
        "WHERE tc.constraint_type = 'PRIMARY KEY' AND tc.table_schema = current_schema() "
        "ORDER BY tc.table_name, k.ordinal_position"
    ):
        keys[table].append(name)
    refs = set()
    for table, definition in db.execute(
        "SELECT conrelid::regclass::text, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE contype = 'f' AND connamespace = current_schema()::regnamespace"
    ):
        found = re.fullmatch(r"FOREIGN KEY \((\w+)\) REFERENCES (\w+)\((\w+)\)", definition)
        assert found, definition
        refs.add((table.split(".")[-1], *found.groups()))
    indexes = set()
    for name, table, definition in db.execute(
        "SELECT indexname, tablename, indexdef FROM pg_indexes "
        "WHERE schemaname = current_schema() "
        "AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE contype = 'p')"
    ):
        cols = re.search(r"\(([^)]*)\)$", definition)
        assert cols, definition
        indexes.add((name, table, tuple(c.strip() for c in cols.group(1).split(","))))
    return {"columns": columns, "keys": keys, "refs": refs, "indexes": indexes}


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_the_sqlite_schema_is_what_it_was_before_postgresql(backend: Backend) -> None:
    backend.location.open().close()
    with raw(backend) as db:
        built = {
            name: " ".join(sql.split())
            for name, sql in db.execute("SELECT name, sql FROM sqlite_master WHERE sql NOT NULL")
        }
        # Every key is enforced by an index of SQLite's own (no table lost its key).
        auto = {r[0] for r in db.execute("SELECT tbl_name FROM sqlite_master WHERE sql IS NULL")}
    assert built == SQLITE_SCHEMA
    assert auto == set(SQLITE_SCHEMA) - {"runs", "changes"} - {
        n for n in SQLITE_SCHEMA if SQLITE_SCHEMA[n].startswith("CREATE INDEX")
    }


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_store_made_before_postgresql_gains_only_the_identity_table(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(state_module, "MIGRATIONS", MIGRATIONS[:4])
    backend.location.open().close()
    monkeypatch.setattr(state_module, "MIGRATIONS", MIGRATIONS)
    store = backend.location.open()
    store.close()
    assert [n for n, _ in migrations_of(backend)] == [n for n, _ in MIGRATIONS]
    with raw(backend) as db:
        names = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE sql NOT NULL")}
    assert names == set(SQLITE_SCHEMA)


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_a_postgresql_namespace_has_the_sqlite_schema(backend: Backend, tmp_path: Path) -> None:
    sqlite = sqlite_backend(tmp_path / "sqlite")
    for each in (sqlite, backend):
        each.location.open().close()
    with raw(sqlite) as db:
        lite = _sqlite_schema(db)
    with raw(backend) as db:
        pg = _pg_schema(db)

    assert set(pg["columns"]) == set(lite["columns"])  # the same tables
    for table, cols in lite["columns"].items():
        mine = dict(pg["columns"][table])
        if table == "changes":  # the change log's order: SQLite's implicit rowid, made real
            assert mine.pop("rowid")[0] == "integer"
        assert list(mine) == list(cols), table  # names, in order
        for name, (family, notnull, default) in cols.items():
            assert mine[name][:2] == (family, notnull), (table, name, mine[name])
            if default is not None:
                assert mine[name][2] == default, (table, name)
    assert pg["keys"] == lite["keys"]
    assert pg["refs"] == lite["refs"] == {
        ("snapshots", "run_id", "runs", "id"), ("changes", "run_id", "runs", "id"),
    }  # fmt: skip
    # PostgreSQL's rowid is a plain column: indexed there (SQLite's is the table's key).
    assert pg["indexes"] == lite["indexes"] | {("changes_by_rowid", "changes", ("rowid",))}
    assert migrations_of(backend) and [n for n, _ in migrations_of(backend)] == [
        n for n, _ in migrations_of(sqlite)
    ] == [n for n, _ in MIGRATIONS]


def test_state_copy_names_every_table_and_column_of_the_schema(tmp_path: Path) -> None:
    """A table or column the copy does not name would be lost by ``okr-sync state copy``."""
    from okr_sync.state.copy import TABLES

    store = StateStore.open(tmp_path / "state.db")
    try:
        db = store.database
        tables = {
            r[0]
            for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
        } - {"schema_migrations"}
        schema = {
            t: [r[1] for r in db.execute(f"PRAGMA table_info({t})").fetchall()] for t in tables
        }
    finally:
        store.close()
    copied = {table: [c for c in columns if c != "rowid"] for table, columns in TABLES}
    assert copied.keys() == schema.keys()
    for table, columns in schema.items():
        assert sorted(copied[table]) == sorted(columns), table
