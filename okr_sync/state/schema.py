"""The state store's schema: its named migrations, in the order they apply.

:class:`~okr_sync.state.store.StateStore` runs each pending migration inside its
own transaction and records its name once applied. Never change what a
released migration does, nor reorder them: add a new one at the end of
:data:`MIGRATIONS`. The store reads this list through :mod:`okr_sync.state.store`,
which imports it.

The same migrations build a SQLite file and a PostgreSQL namespace: column
types that differ are written ``{id}``, ``{real}`` and ``{rowid}`` and filled in by
:meth:`~okr_sync.state.database.Database.ddl`; everything else is SQL both speak.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence

from okr_sync.state import snapshots
from okr_sync.state.database import Database


def upsert(table: str, columns: Sequence[str], key: Sequence[str]) -> str:
    """``INSERT … ON CONFLICT (key) DO UPDATE`` of every other column (both databases)."""
    others = [c for c in columns if c not in key]
    action = (
        "DO UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in others)
        if others
        else "DO NOTHING"
    )
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)}) "
        f"ON CONFLICT ({', '.join(key)}) {action}"
    )


def _m0001_initial(db: Database) -> None:
    statements = [
        """CREATE TABLE runs (
            id {id}, started_at TEXT NOT NULL, finished_at TEXT,
            dry_run INTEGER NOT NULL DEFAULT 0, outcome TEXT NOT NULL DEFAULT 'running',
            summary TEXT)""",
        """CREATE TABLE snapshots (
            run_id INTEGER NOT NULL REFERENCES runs(id), kind TEXT NOT NULL, id TEXT NOT NULL,
            title TEXT, measure TEXT, progress {real}, expected {real}, current {real},
            done {real}, total {real}, status TEXT, stale INTEGER NOT NULL, error TEXT, item_count INTEGER,
            fingerprint TEXT, sources TEXT, provenance TEXT, PRIMARY KEY (run_id, kind, id))""",
        "CREATE INDEX snapshots_by_id ON snapshots(kind, id, run_id)",
        """CREATE TABLE changes (
            run_id INTEGER NOT NULL REFERENCES runs(id), target TEXT NOT NULL,
            kind TEXT NOT NULL, record TEXT NOT NULL, owner TEXT NOT NULL, field TEXT NOT NULL,
            before TEXT, after TEXT, last_written TEXT, conflict INTEGER NOT NULL,
            action TEXT NOT NULL, result TEXT NOT NULL, error TEXT{rowid})""",
        "CREATE INDEX changes_by_owner ON changes(owner, run_id)",
        """CREATE TABLE written (
            target TEXT NOT NULL, kind TEXT NOT NULL, record TEXT NOT NULL, field TEXT NOT NULL,
            value TEXT, run_id INTEGER, written_at TEXT NOT NULL,
            PRIMARY KEY (target, kind, record, field))""",
        """CREATE TABLE cursors (
            source TEXT PRIMARY KEY, cursor TEXT, fingerprint TEXT NOT NULL, full_at TEXT,
            updated_at TEXT NOT NULL)""",
        """CREATE TABLE items (
            source TEXT NOT NULL, key TEXT NOT NULL, data TEXT NOT NULL,
            PRIMARY KEY (source, key))""",
    ]
    for statement in statements:
        db.execute(db.ddl(statement))


def _m0002_pending_writes(db: Database) -> None:
    # A value being written: a kill between the write and its record must not make
    # okr-sync's own value look like a human edit on the next run.
    db.execute(
        """CREATE TABLE pending (
            target TEXT NOT NULL, kind TEXT NOT NULL, record TEXT NOT NULL, field TEXT NOT NULL,
            value TEXT, PRIMARY KEY (target, kind, record, field))"""
    )


def provenance_key(text: str) -> str:
    """The key a provenance text is kept under (a digest of the text)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def _m0003_shared_provenance(db: Database) -> None:
    # A KR's provenance (every item counted and excluded) is most of a snapshot and is
    # mostly the same as the run before: keep each distinct text once, by digest.
    db.execute("CREATE TABLE provenances (key TEXT PRIMARY KEY, json TEXT NOT NULL)")
    rows = db.execute(
        "SELECT run_id, kind, id, provenance FROM snapshots WHERE provenance IS NOT NULL"
    )
    for run_id, kind, ident, text in rows.fetchall():
        key = provenance_key(text)
        db.execute(upsert("provenances", ("key", "json"), ("key",)), (key, text))
        db.execute(
            "UPDATE snapshots SET provenance = ? WHERE run_id = ? AND kind = ? AND id = ?",
            (key, run_id, kind, ident),
        )


def _m0004_run_reasons_and_acceptances(db: Database) -> None:
    # A run that failed before it computed anything has no summary: its reason is kept
    # beside it, so `status` can say why. Acceptances: a human value a person declared
    # right (`okr-sync accept`); okr-sync keeps it, and reports no conflict, until the
    # field holds something else. okr-sync's own last written value stays in `written`.
    db.execute("ALTER TABLE runs ADD COLUMN reason TEXT")
    db.execute(
        """CREATE TABLE accepted (
            target TEXT NOT NULL, kind TEXT NOT NULL, record TEXT NOT NULL, field TEXT NOT NULL,
            owner TEXT NOT NULL, value TEXT, run_id INTEGER, accepted_at TEXT NOT NULL,
            PRIMARY KEY (target, kind, record, field))"""
    )
    db.execute("CREATE INDEX accepted_by_owner ON accepted(owner)")


def _m0005_store_identity(db: Database) -> None:
    # What the store serves (the OKR source's identity): a second config with another
    # OKR source pointed at the same store (or namespace) is refused, not mixed in.
    db.execute(
        "CREATE TABLE store_identity (name TEXT PRIMARY KEY, value TEXT NOT NULL, "
        "recorded_at TEXT NOT NULL)"
    )


def _m0006_history_indexes(db: Database) -> None:
    # After a thousand runs the change log holds a few hundred thousand rows. Every
    # logged write replaces its own "started" row, and `status` reads each run's
    # changes: both look a run up, which without an index scanned the whole log.
    # A run's start looks for runs left running. PostgreSQL's rowid is a plain
    # column (SQLite's is the table's key): `accept` and `explain` join on it.
    db.execute("CREATE INDEX changes_by_run ON changes(run_id, target, kind, record, field)")
    db.execute("CREATE INDEX runs_by_outcome ON runs(outcome)")
    if db.dialect == "postgresql":
        db.execute("CREATE INDEX changes_by_rowid ON changes(rowid)")


def _m0007_backfilled_snapshots(db: Database) -> None:
    # Values rebuilt for past days from the items' change history (okr-sync backfill):
    # apart from synced snapshots, one row per KR or objective and UTC day, never replaced.
    db.execute(
        db.ddl(
            """CREATE TABLE backfilled (
            kind TEXT NOT NULL, id TEXT NOT NULL, day TEXT NOT NULL, at TEXT NOT NULL,
            title TEXT, measure TEXT, progress {real}, expected {real}, current {real},
            done {real}, total {real}, status TEXT, stale INTEGER NOT NULL, error TEXT,
            provenance TEXT, computed_at TEXT NOT NULL, PRIMARY KEY (kind, id, day))"""
        )
    )


def _m0008_closed_krs_and_target_changes(db: Database) -> None:
    # Each snapshot keeps the start and target it was computed against, the KR's period,
    # and why it was closed (its period ended): a target changed mid-period moves the
    # target line from that run on instead of rewriting the past.
    for column, kind in (
        ("start", "{real}"), ("target", "{real}"), ("period_start", "TEXT"),
        ("period_end", "TEXT"), ("closed", "TEXT"),
    ):  # fmt: skip
        db.execute(db.ddl(f"ALTER TABLE snapshots ADD COLUMN {column} {kind}"))
    # Runs recorded before kept each KR's start and target in their summary only.
    runs = db.execute("SELECT id, summary FROM runs WHERE summary IS NOT NULL").fetchall()
    for run_id, text in runs:
        try:
            krs = json.loads(text).get("key_results") or []
        except (ValueError, AttributeError):  # a summary okr-sync cannot read: left unknown
            continue
        db.executemany(
            "UPDATE snapshots SET start = ?, target = ? WHERE run_id = ? AND kind = 'kr' AND id = ?",
            [(k.get("start"), k.get("target"), run_id, k.get("kr_id")) for k in krs],
        )
    # A closed KR: its period's end and its final value (the last recorded within the
    # period, or the value a --reopen run wrote), so every later run keeps that value.
    db.execute(
        db.ddl(
            """CREATE TABLE closed_krs (
            id TEXT PRIMARY KEY, period_end TEXT NOT NULL, final_run INTEGER, final_at TEXT,
            progress {real}, current {real}, status TEXT, expected {real}, start {real},
            target {real}, closed_run INTEGER, closed_at TEXT NOT NULL)"""
        )
    )
    # A start or target changed between two runs: after previous_at, seen by seen_at.
    db.execute(
        db.ddl(
            """CREATE TABLE target_changes (
            kr_id TEXT NOT NULL, field TEXT NOT NULL, before {real}, after {real},
            previous_run INTEGER, previous_at TEXT NOT NULL, run_id INTEGER NOT NULL,
            seen_at TEXT NOT NULL, PRIMARY KEY (kr_id, field, run_id))"""
        )
    )


def _m0009_forecasts(db: Database) -> None:
    # Each run's forecast of a KR (P10/P50/P90 of its progress at period end), so that
    # `history` shows how the forecast moved; NULL where there was none.
    for column in ("forecast_p10", "forecast_p50", "forecast_p90"):
        db.execute(db.ddl(f"ALTER TABLE snapshots ADD COLUMN {column} {{real}}"))


def _m0010_snapshot_spans(db: Database) -> None:
    # A snapshot is kept once per value, for the span of runs that held it (run_id to
    # last_run), and a run's summary no longer repeats its KRs' and objectives' numbers:
    # they are rebuilt from the rows (okr_sync.state.snapshots), which keep what the
    # summary held beyond their columns (detail) and the entries' order (seq).
    # Expected progress moves with every run although nothing else does: each run keeps
    # its distinct values once (runs.paces) and a row names its place there (pace).
    for column, kind in (
        ("last_run", "INTEGER"), ("seq", "INTEGER"), ("detail", "TEXT"), ("pace", "INTEGER"),
    ):  # fmt: skip
        db.execute(f"ALTER TABLE snapshots ADD COLUMN {column} {kind}")
    db.execute("ALTER TABLE runs ADD COLUMN paces TEXT")
    db.execute("UPDATE snapshots SET last_run = run_id")
    # The rows a run holds (a summary rebuilt, the next run's comparison) by their span's end.
    db.execute("CREATE INDEX snapshots_by_last_run ON snapshots(last_run)")
    snapshots.convert(db)


def _m0011_pending_prior(db: Database) -> None:
    # What the field held when a write still pending was planned (JSON; NULL: unknown, or
    # a human's value the write was overwriting, which stays a conflict).
    # A write that failed for good leaves its value pending; the field still holding the
    # value it held before is no human edit (nothing was written, nobody changed it), and
    # without this the next run saw a false conflict (with `skip`, never wrote it at all).
    db.execute("ALTER TABLE pending ADD COLUMN prior TEXT")
    db.execute(
        "UPDATE pending SET prior = (SELECT CASE WHEN c.conflict = 0 THEN c.before END "
        "FROM changes c WHERE c.target = pending.target AND c.kind = pending.kind AND "
        "c.record = pending.record AND c.field = pending.field AND c.result IN "
        "('started', 'failed') ORDER BY c.run_id DESC LIMIT 1)"
    )


#: Named migrations, applied in order; never edit or reorder a released one.
MIGRATIONS: list[tuple[str, Callable[[Database], None]]] = [
    ("0001_initial", _m0001_initial),
    ("0002_pending_writes", _m0002_pending_writes),
    ("0003_shared_provenance", _m0003_shared_provenance),
    ("0004_run_reasons_and_acceptances", _m0004_run_reasons_and_acceptances),
    ("0005_store_identity", _m0005_store_identity),
    ("0006_history_indexes", _m0006_history_indexes),
    ("0007_backfilled_snapshots", _m0007_backfilled_snapshots),
    ("0008_closed_krs_and_target_changes", _m0008_closed_krs_and_target_changes),
    ("0009_forecasts", _m0009_forecasts),
    ("0010_snapshot_spans", _m0010_snapshot_spans),
    ("0011_pending_prior", _m0011_pending_prior),
]
