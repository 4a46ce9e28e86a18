"""The state store: the only part of okr-sync that keeps anything between runs.

It keeps runs, each run's planned and applied changes (with the value a
change replaced, so a human's value is always recoverable), per-KR snapshots
with provenance (history, ``explain``), cursors and the item cache for
incremental pulls, and the last value okr-sync wrote to each target field.

It lives in a SQLite file or in a namespace of a PostgreSQL database
(:mod:`okr_sync.state.location` picks; :mod:`okr_sync.state.database` hides the
difference): the same tables, the same SQL and the same named migrations, each
run inside a transaction. A SQLite file is created with mode 0600 in a 0700
folder. Read-only commands open the store read-only and never write to it.

The migrations are in :mod:`okr_sync.state.schema`, the read-only queries
(history, the change log, cursors, the item cache) in
:mod:`okr_sync.state.queries`.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from okr_sync.core.evaluate import KrSnapshot
from okr_sync.core.periods import PeriodEvents
from okr_sync.errors import StateError
from okr_sync.models import (
    WORK_ITEM,
    FieldChange,
    FieldValue,
    KrResult,
    ObjectiveResult,
    RecordRef,
    RunSummary,
)
from okr_sync.state import snapshots as snapshot_rows
from okr_sync.state.backfilled import BackfillRecords
from okr_sync.state.database import Database, SqliteDatabase
from okr_sync.state.periods import PeriodRecords
from okr_sync.state.queries import CacheUpdate as CacheUpdate
from okr_sync.state.queries import CursorState as CursorState
from okr_sync.state.queries import StateQueries
from okr_sync.state.records import RunRecords
from okr_sync.state.schema import MIGRATIONS, provenance_key, upsert


def _dump(value: FieldValue) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _forecast_columns(result: KrResult) -> tuple[float | None, float | None, float | None]:
    made = result.forecast
    return (None, None, None) if made is None else (made.p10, made.p50, made.p90)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


_FIELD_KEY = ("target", "kind", "record", "field")
_WRITTEN_COLUMNS = (*_FIELD_KEY, "value", "run_id", "written_at")
_KR_COLUMNS = snapshot_rows.COMPUTED
_CHANGE_COLUMNS = (
    "run_id", "target", "kind", "record", "owner", "field", "before", "after", "last_written",
    "conflict", "action", "result", "error",
)  # fmt: skip


class StateStore(StateQueries, RunRecords, BackfillRecords, PeriodRecords):
    """Access to one state database. Use :meth:`open` or :meth:`open_readonly`."""

    def __init__(self, db: Database, readonly: bool) -> None:
        #: Applied to every error text and run summary before it is stored (secrets out).
        self.redact: Callable[[str], str] = lambda text: text
        self._db = db
        self.readonly = readonly

    @property
    def database(self) -> Database:
        """The connection layer (its ``dialect`` and ``statements`` count)."""
        return self._db

    @classmethod
    def on(cls, db: Database, *, readonly: bool) -> StateStore:
        """A store on an open connection: migrated when writable, checked when read-only."""
        store = cls(db, readonly=readonly)
        try:
            if readonly:
                pending = store.pending_migrations()
                if pending:
                    raise StateError(
                        f"the state store {db.where} needs migrations ({', '.join(pending)}); "
                        "run 'okr-sync sync' once to apply them"
                    )
            else:
                store.migrate()
        except BaseException:
            db.close()
            raise
        return store

    # --- opening -------------------------------------------------------------
    @classmethod
    def open(cls, path: Path) -> StateStore:
        """Open (creating if needed) the store for writing, and run pending migrations."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            if not path.exists():
                os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
            os.chmod(path, 0o600)
            db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA busy_timeout=5000")
        except (OSError, sqlite3.Error) as exc:
            raise StateError(f"cannot open the state store {path}: {exc}") from exc
        return cls.on(SqliteDatabase(db, str(path)), readonly=False)

    @classmethod
    def open_readonly(cls, path: Path) -> StateStore:
        """Open for reading only; a missing file gives an empty in-memory store."""
        if not path.exists():
            return cls.in_memory()
        try:
            db = sqlite3.connect(
                f"{path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None
            )
            db.execute("PRAGMA query_only=ON")
        except sqlite3.Error as exc:
            raise StateError(f"cannot read the state store {path}: {exc}") from exc
        return cls.on(SqliteDatabase(db, str(path)), readonly=True)

    @classmethod
    def in_memory(cls) -> StateStore:
        """An empty, throw-away store (tests; plans without any state yet)."""
        db = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        return cls.on(SqliteDatabase(db, "(in memory)"), readonly=False)

    def close(self) -> None:
        """Close the database connection."""
        self._db.close()

    # --- migrations ----------------------------------------------------------
    def _applied(self) -> set[str]:
        if not self._db.table_exists("schema_migrations"):
            return set()
        return {r[0] for r in self._db.execute("SELECT name FROM schema_migrations")}

    def has_runs_table(self) -> bool:
        """Whether any migration was ever applied here (a store exists)."""
        return self._db.table_exists("runs")

    def pending_migrations(self) -> list[str]:
        """Names of migrations not yet applied."""
        applied = self._applied()
        known = {name for name, _ in MIGRATIONS}
        unknown = applied - known
        if unknown:
            raise StateError(
                f"the state store {self._db.where} was written by a newer okr-sync (migrations "
                f"{', '.join(sorted(unknown))} are unknown to this one); upgrade okr-sync"
            )
        return [name for name, _ in MIGRATIONS if name not in applied]

    def migrate(self) -> list[str]:
        """Apply pending migrations, each in its own transaction; return their names."""
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT)"
        )
        self.pending_migrations()  # refuses a store written by a newer okr-sync
        done = []
        for name, apply in MIGRATIONS:
            with self.transaction():
                # Checked again inside the transaction: another process may have applied it.
                if name in self._applied():
                    continue
                apply(self._db)
                self._db.execute(
                    "INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)", (name, _now())
                )
            done.append(name)
        return done

    @contextmanager
    def transaction(self) -> Iterator[Database]:
        """One write transaction: committed on success, rolled back on any error."""
        if self.readonly:
            raise StateError("the state store is open read-only")
        with self._db.transaction() as db:
            yield db

    # --- runs ----------------------------------------------------------------
    def start_run(self, started_at: dt.datetime, dry_run: bool = False) -> int:
        """Record the start of a run; returns its id.

        Called under the run lock, so any run still marked running has died.
        """
        with self.transaction() as db:
            db.execute("UPDATE runs SET outcome='interrupted' WHERE outcome='running'")
            row = db.execute(
                "INSERT INTO runs (started_at, dry_run) VALUES (?, ?) RETURNING id",
                (started_at.isoformat(), int(dry_run)),
            ).fetchone()
        return int(row[0])

    def finish_run(
        self,
        summary: RunSummary,
        outcome: str,
        snapshots: Iterable[KrSnapshot],
        objectives: Iterable[ObjectiveResult],
        cursors: Mapping[str, CursorState],
        caches: Mapping[str, CacheUpdate] | None = None,
        periods: PeriodEvents | None = None,
    ) -> None:
        """Commit a run: summary, snapshots, cursors and item caches together, or none.

        ``caches`` maps a source to its :class:`CacheUpdate`: the items pulled,
        whether they replace that source's cache (a full pull) or merge into it,
        and the cached items that left the source's selection. ``periods``: the
        KRs this run closed or reopened and the starts and targets that moved.
        """
        assert summary.run_id is not None
        snapshots = list(snapshots)
        finished = (summary.finished_at or dt.datetime.now(dt.UTC)).isoformat()
        # The summary as it was always recorded (the KRs' provenance is kept with the
        # snapshots); its KR and objective entries are kept by the snapshot rows.
        full = json.loads(
            self.redact(
                summary.model_dump_json(
                    exclude={"plan": True, "key_results": {"__all__": {"provenance"}}}
                )
            )
        )
        texts = {s.result.kr_id: s.result.provenance.model_dump_json() for s in snapshots}
        rows = [
            dict(zip(_KR_COLUMNS, (
                "kr", s.result.kr_id, s.result.title, s.result.measure, s.result.progress,
                s.result.expected, s.result.current, s.result.done, s.result.total,
                s.result.status, int(s.result.stale), self._text(s.result.error), s.item_count,
                s.fingerprint, ",".join(sorted(s.sources)), provenance_key(texts[s.result.kr_id]),
                s.result.start, s.result.target,
                s.period[0].isoformat() if s.period[0] else None,
                s.period[1].isoformat() if s.period[1] else None,
                self._text(s.result.closed), *_forecast_columns(s.result),
            ), strict=True))
            for s in snapshots
        ] + [
            dict.fromkeys(_KR_COLUMNS) | {
                "kind": "objective", "id": o.objective_id, "title": o.title,
                "progress": o.progress, "expected": o.expected, "status": o.status,
                "stale": int(o.stale), "error": self._text(o.error),
            }
            for o in objectives
        ]  # fmt: skip
        with self.transaction() as db:
            db.executemany(
                "INSERT INTO provenances (key, json) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
                [(provenance_key(t), t) for t in texts.values()],
            )
            text, paces = snapshot_rows.record(db, summary.run_id, full, rows)
            db.execute(
                "UPDATE runs SET finished_at=?, outcome=?, summary=?, paces=? WHERE id=?",
                (finished, outcome, text, paces, summary.run_id),
            )
            db.executemany(
                upsert(
                    "cursors",
                    ("source", "cursor", "fingerprint", "full_at", "updated_at"),
                    ("source",),
                ),
                [(src, c.cursor, c.fingerprint, c.full_at, finished) for src, c in cursors.items()],
            )
            if periods is not None:
                self._record_periods(db, summary.run_id, summary.started_at.isoformat(), periods)
            for source, update in (caches or {}).items():
                if update.replace:
                    db.execute("DELETE FROM items WHERE source = ?", (source,))
                db.executemany(
                    "DELETE FROM items WHERE source = ? AND key = ?",
                    [(source, key) for key in sorted(update.removed)],
                )
                db.executemany(
                    upsert("items", ("source", "key", "data"), ("source", "key")),
                    [(source, i.key, WORK_ITEM.dump_json(i).decode()) for i in update.items],
                )

    # --- changes and written values -------------------------------------------
    def record_intent(self, run_id: int, changes: Sequence[FieldChange]) -> None:
        """Note values about to be written, before the request goes out.

        Besides the pending value (so okr-sync's own value never looks like a
        human edit after a crash) and the value the field held unless a human put it
        there (so neither does the untouched field after a write that failed), each change is logged as
        ``started`` with that value: if the process dies before the target confirms,
        a human's value that the write replaces is still in the history.
        """
        with self.transaction() as db:
            db.executemany(
                upsert("pending", (*_FIELD_KEY, "value", "prior"), _FIELD_KEY),
                [
                    (
                        c.target,
                        c.ref.kind,
                        c.ref.id,
                        c.field,
                        _dump(c.after),
                        # a human's value being overwritten stays a human's (a conflict again)
                        None if c.conflict else _dump(c.before),
                    )
                    for c in changes
                ],
            )
            self._log(db, run_id, changes, "started", None)

    def _text(self, text: str | None) -> str | None:
        return None if text is None else self.redact(text)

    def _log(
        self,
        db: Database,
        run_id: int,
        changes: Sequence[FieldChange],
        result: str,
        error: str | None,
    ) -> None:
        # One row per change and run: a final result replaces the ``started`` row.
        db.executemany(
            "DELETE FROM changes WHERE run_id=? AND target=? AND kind=? AND record=? "
            "AND field=? AND result='started'",
            [(run_id, c.target, c.ref.kind, c.ref.id, c.field) for c in changes],
        )
        db.executemany(
            f"INSERT INTO changes ({', '.join(_CHANGE_COLUMNS)}) "
            f"VALUES ({', '.join('?' for _ in _CHANGE_COLUMNS)})",
            [
                (
                    run_id, c.target, c.ref.kind, c.ref.id, c.owner, c.field, _dump(c.before),
                    _dump(c.after), _dump(c.last_written), int(c.conflict), c.action, result,
                    self._text(error),
                )
                for c in changes
            ],
        )  # fmt: skip

    def record_changes(
        self, run_id: int, changes: Sequence[FieldChange], result: str, error: str | None = None
    ) -> None:
        """Log changes; for applied ones also remember the value as last written.

        Called once per record write, right after the target confirmed it, so
        a crash between two writes loses nothing that was written. A change
        left ``started`` in the log is one whose outcome the run never learnt.
        """
        at = _now()
        with self.transaction() as db:
            self._log(db, run_id, changes, result, error)
            if result == "applied":
                db.executemany(
                    upsert("written", _WRITTEN_COLUMNS, _FIELD_KEY),
                    [
                        (c.target, c.ref.kind, c.ref.id, c.field, _dump(c.after), run_id, at)
                        for c in changes
                    ],
                )
                # okr-sync's own value stands there now: no acceptance left (one batch
                # per target, not one statement per field: a round trip each on PostgreSQL).
                fields: dict[str, list[tuple[str, str, str]]] = {}
                for c in changes:
                    fields.setdefault(c.target, []).append((c.ref.kind, c.ref.id, c.field))
                for target, ended in fields.items():
                    self._end_acceptances(db, target, ended)
            if result in ("applied", "refused"):  # the outcome is known: nothing is pending
                db.executemany(
                    "DELETE FROM pending WHERE target=? AND kind=? AND record=? AND field=?",
                    [(c.target, c.ref.kind, c.ref.id, c.field) for c in changes],
                )

    def adopt(
        self, target: str, run_id: int, values: Iterable[tuple[RecordRef, str, FieldValue]]
    ) -> None:
        """Remember values a target already holds as ours (they equal what we want)."""
        at = _now()
        rows = list(values)
        with self.transaction() as db:
            db.executemany(
                upsert("written", _WRITTEN_COLUMNS, _FIELD_KEY),
                [(target, ref.kind, ref.id, f, _dump(v), run_id, at) for ref, f, v in rows],
            )
            db.executemany(
                "DELETE FROM pending WHERE target=? AND kind=? AND record=? AND field=?",
                [(target, ref.kind, ref.id, f) for ref, f, _ in rows],
            )
            self._end_acceptances(db, target, [(ref.kind, ref.id, f) for ref, f, _ in rows])
