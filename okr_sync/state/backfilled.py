"""Backfilled snapshots: KR and objective values rebuilt for past days (``okr-sync backfill``).

Kept apart from synced snapshots (table ``backfilled``, migration
``0007_backfilled_snapshots``), one row per KR or objective and UTC day, never
replaced: a rerun inserts only the days still missing (``ON CONFLICT DO
NOTHING``), so an interrupted backfill continues where it stopped and never
duplicates a day. A day that has a synced snapshot of a KR is not backfilled for
it, and :meth:`~okr_sync.state.queries.StateQueries.history` shows a synced
snapshot over a backfilled one of the same day.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from typing import Any

from okr_sync.core.evaluate import KrSnapshot
from okr_sync.models import ObjectiveResult
from okr_sync.state.database import Database
from okr_sync.state.schema import provenance_key
from okr_sync.state.snapshots import COVERS

_COLUMNS = (
    "kind", "id", "day", "at", "title", "measure", "progress", "expected", "current", "done",
    "total", "status", "stale", "error", "provenance", "computed_at",
)  # fmt: skip


class BackfillRecords:
    """Reading and recording backfilled days; the store provides ``_db`` and ``transaction``."""

    _db: Database
    redact: Callable[[str], str]
    transaction: Callable[[], AbstractContextManager[Database]]

    def backfilled_days(self, kind: str = "kr") -> dict[str, set[dt.date]]:
        """Per id, the days already backfilled."""
        rows = self._db.execute("SELECT id, day FROM backfilled WHERE kind = ?", (kind,))
        out: dict[str, set[dt.date]] = {}
        for ident, day in rows:
            out.setdefault(ident, set()).add(dt.date.fromisoformat(day))
        return out

    def synced_days(self, kind: str = "kr") -> dict[str, set[dt.date]]:
        """Per id, the (UTC) days on which a sync recorded a snapshot of it."""
        rows = self._db.execute(
            f"SELECT s.id, r.started_at FROM snapshots s JOIN runs r ON {COVERS} WHERE s.kind = ?",
            (kind,),
        )
        out: dict[str, set[dt.date]] = {}
        for ident, started in rows:
            moment = dt.datetime.fromisoformat(started).astimezone(dt.UTC)
            out.setdefault(ident, set()).add(moment.date())
        return out

    def record_backfilled_day(
        self,
        day: dt.date,
        at: dt.datetime,
        snapshots: Iterable[KrSnapshot],
        objectives: Iterable[ObjectiveResult] = (),
    ) -> int:
        """Record one day's values (one transaction); returns the rows added.

        A row already there (the same id and day) is kept as it is.
        """
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        stamp = at.astimezone(dt.UTC).isoformat()
        rows: list[tuple[Any, ...]] = []
        texts: dict[str, str] = {}
        for s in snapshots:
            r = s.result
            text = r.provenance.model_dump_json()
            texts[provenance_key(text)] = text
            rows.append((
                "kr", r.kr_id, day.isoformat(), stamp, r.title, r.measure, r.progress, r.expected,
                r.current, r.done, r.total, r.status, int(r.stale),
                self.redact(r.error) if r.error else None, provenance_key(text), now,
            ))  # fmt: skip
        for o in objectives:
            rows.append((
                "objective", o.objective_id, day.isoformat(), stamp, o.title, None, o.progress,
                o.expected, None, None, None, o.status, int(o.stale),
                self.redact(o.error) if o.error else None, None, now,
            ))  # fmt: skip
        with self.transaction() as db:
            db.executemany(
                "INSERT INTO provenances (key, json) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
                list(texts.items()),
            )
            before = self._count(db)
            db.executemany(
                f"INSERT INTO backfilled ({', '.join(_COLUMNS)}) "
                f"VALUES ({', '.join('?' for _ in _COLUMNS)}) "
                "ON CONFLICT (kind, id, day) DO NOTHING",
                rows,
            )
            return self._count(db) - before

    @staticmethod
    def _count(db: Database) -> int:
        row = db.execute("SELECT COUNT(*) FROM backfilled").fetchone()
        return int(row[0]) if row else 0

    def backfilled_rows(self, kind: str = "kr", ident: str | None = None) -> list[dict[str, Any]]:
        """Backfilled rows shaped like ``history`` rows (``origin: backfilled``), by day."""
        return backfilled_rows(self._db, kind, ident)


def backfilled_rows(
    db: Database, kind: str = "kr", ident: str | None = None
) -> list[dict[str, Any]]:
    """Backfilled rows shaped like ``history`` rows (``origin: backfilled``, ``run_id`` None)."""
    sql = (
        "SELECT b.at, b.id, b.title, b.progress, b.expected, b.current, b.done, b.total, "
        "b.status, b.stale, b.error, b.measure, p.json, b.day FROM backfilled b "
        "LEFT JOIN provenances p ON p.key = b.provenance WHERE b.kind = ?"
    )
    args: list[Any] = [kind]
    if ident is not None:
        sql += " AND b.id = ?"
        args.append(ident)
    keys = ("at", "id", "title", "progress", "expected", "current", "done", "total",
            "status", "stale", "error", "measure", "provenance", "day")  # fmt: skip
    out = []
    for row in db.execute(sql + " ORDER BY b.day, b.id", args):
        entry = dict(zip(keys, row, strict=True))
        entry.update(run_id=None, origin="backfilled")
        out.append(entry)
    return out
