"""Copy a whole state store to another location (``okr-sync state copy``).

Both stores carry the same named migrations, so a copy is row for row: every run
(with its id), snapshot, provenance, logged change (in its order), last-written
and pending value, acceptance, cursor, cached item and the store's identity.
After a copy, ``history``, ``explain`` and the next ``plan`` read the same on both.

The destination must be empty (never written, or migrated with no row in any
table but, at most, the same OKR source's identity): a copy never merges two
histories. A destination file that is something else (the config, another
program's database) is refused before it is opened (:func:`refuse_foreign_file`). The whole copy is one transaction on the destination,
so an interrupted copy leaves it empty.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from okr_sync.errors import StateError
from okr_sync.state.database import Database
from okr_sync.state.store import StateStore

#: Every table a store keeps, in an order that respects references, with its columns.
#: ``changes`` carries its ``rowid``: the change log's order is part of the history.
TABLES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("runs", (
        "id", "started_at", "finished_at", "dry_run", "outcome", "summary", "reason", "paces",
    )),
    ("provenances", ("key", "json")),
    ("snapshots", (
        "run_id", "kind", "id", "title", "measure", "progress", "expected", "current", "done",
        "total", "status", "stale", "error", "item_count", "fingerprint", "sources",
        "provenance", "start", "target", "period_start", "period_end", "closed",
        "forecast_p10", "forecast_p50", "forecast_p90", "last_run", "seq", "detail", "pace",
    )),
    ("changes", (
        "rowid", "run_id", "target", "kind", "record", "owner", "field", "before", "after",
        "last_written", "conflict", "action", "result", "error",
    )),
    ("written", ("target", "kind", "record", "field", "value", "run_id", "written_at")),
    ("pending", ("target", "kind", "record", "field", "value", "prior")),
    ("accepted", (
        "target", "kind", "record", "field", "owner", "value", "run_id", "accepted_at",
    )),
    ("cursors", ("source", "cursor", "fingerprint", "full_at", "updated_at")),
    ("items", ("source", "key", "data")),
    ("store_identity", ("name", "value", "recorded_at")),
    ("closed_krs", (
        "id", "period_end", "final_run", "final_at", "progress", "current", "status", "expected",
        "start", "target", "closed_run", "closed_at",
    )),
    ("target_changes", (
        "kr_id", "field", "before", "after", "previous_run", "previous_at", "run_id", "seen_at",
    )),
    ("backfilled", (
        "kind", "id", "day", "at", "title", "measure", "progress", "expected", "current", "done",
        "total", "status", "stale", "error", "provenance", "computed_at",
    )),
)  # fmt: skip
_BATCH = 2000
_SQLITE_HEADER = b"SQLite format 3\x00"


@dataclass(frozen=True)
class CopyResult:
    """Rows copied per table."""

    rows: dict[str, int]

    @property
    def total(self) -> int:
        """All rows copied."""
        return sum(self.rows.values())


def _order(table: str, columns: tuple[str, ...]) -> str:
    if table == "changes":
        return "rowid"
    if table == "runs":
        return "id"
    return ", ".join(c for c in columns if c in ("run_id", "kind", "id", "key", "source",
                                                  "target", "record", "field", "name",
                                                  "day", "kr_id"))  # fmt: skip


def copy_store(source: StateStore, destination: StateStore) -> CopyResult:
    """Copy every row of ``source`` into the empty ``destination``.

    Both must be at the same migration (a writable destination is migrated on
    opening; the source is refused if it needs a migration this okr-sync lacks).

    Raises:
        StateError: the destination already holds a history, or the stores differ in
            schema.
    """
    mine = source.pending_migrations()
    theirs = destination.pending_migrations()
    if mine or theirs:
        raise StateError(
            "both state stores must be up to date before a copy; run 'okr-sync sync' once "
            f"on {source.database.where if mine else destination.database.where}"
        )
    dst = destination.database
    _refuse_non_empty(source, destination)
    counts: dict[str, int] = {}
    with destination.transaction():
        for table, columns in TABLES:
            counts[table] = _copy_table(source.database, dst, table, columns)
        if dst.dialect == "postgresql":  # the next run and change get the next numbers
            for table, column in (("runs", "id"), ("changes", "rowid")):
                dst.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), "
                    f"COALESCE((SELECT MAX({column}) FROM {table}), 0) + 1, false)"
                )
    return CopyResult(rows=counts)


def _refuse_non_empty(source: StateStore, destination: StateStore) -> None:
    """Refuse a destination that holds anything: runs, or rows a run left without one."""
    dst = destination.database
    if dst.execute("SELECT 1 FROM runs LIMIT 1").fetchone() is not None:
        raise StateError(
            f"the destination {dst.where} already holds runs; a copy goes only into an "
            "empty store (choose another namespace or file)"
        )
    theirs = destination.source_identity()
    if theirs is not None and theirs != source.source_identity():
        raise StateError(
            f"the destination {dst.where} is claimed by another OKR source ({theirs}); "
            "a copy goes only into an empty store (choose another namespace or file)"
        )
    for table, _ in TABLES:  # e.g. cursors of a run that died before it was recorded
        if table != "store_identity" and dst.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone():
            raise StateError(
                f"the destination {dst.where} is not empty (its table {table} holds rows); "
                "a copy goes only into an empty store (choose another namespace or file)"
            )


def refuse_foreign_file(path: Path) -> None:
    """Refuse a destination file that exists but is no okr-sync store, without touching it.

    Opening it as a store would change its mode and add tables to it: a mistyped
    ``--to`` (the config file, another program's database) must stay as it is.

    Raises:
        StateError: the file holds something else.
    """
    try:
        with path.open("rb") as file:
            header = file.read(len(_SQLITE_HEADER))
    except FileNotFoundError:
        return
    except OSError as exc:
        raise StateError(f"cannot read {path}: {exc}") from exc
    if not header:
        return  # an empty file: a store never written
    ours = False
    if header == _SQLITE_HEADER:
        try:
            db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
            try:
                found = db.execute(
                    "SELECT 1 FROM sqlite_master WHERE type='table' AND name='schema_migrations'"
                ).fetchone()
            finally:
                db.close()
            ours = found is not None
        except sqlite3.Error:
            ours = False
    if not ours:
        raise StateError(
            f"{path} is not an okr-sync state store; give a new file (or an empty one) as --to"
        )


def _copy_table(src: Database, dst: Database, table: str, columns: tuple[str, ...]) -> int:
    names = ", ".join(columns)
    select = f"SELECT {names} FROM {table} ORDER BY {_order(table, columns)}"
    insert = f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' for _ in columns)})"
    if table == "store_identity":  # a migrated destination may hold none; never two
        insert += " ON CONFLICT (name) DO NOTHING"
    rows = src.execute(select).fetchall()
    for start in range(0, len(rows), _BATCH):
        dst.executemany(insert, [tuple(row) for row in rows[start : start + _BATCH]])
    return len(rows)
