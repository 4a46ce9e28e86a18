"""Closed KRs and moving targets in the state store: a mixin of the store.

:class:`~okr_sync.state.store.StateStore` inherits :class:`PeriodRecords`, which
provides ``_db``. What it keeps (migration ``0008_closed_krs_and_target_changes``):

- ``closed_krs``: per KR whose period has ended, the end and its *final value* —
  the last value recorded within the period, or the value a ``sync --reopen``
  run wrote — so every later run keeps that value instead of computing one from
  items that moved after the period;
- ``target_changes``: a start or target that changed between two runs, with the
  run that last saw the old value and the run that first saw the new one;
- on each snapshot, the start, target and period it was computed against, so a
  target changed mid-period moves the target line from that run on and the past
  keeps its own.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from okr_sync.core.periods import FinalValue, LastInputs, PeriodEvents
from okr_sync.state.database import Database
from okr_sync.state.snapshots import COVERS, expected

__all__ = ["PeriodEvents", "PeriodRecords"]

_CLOSED_COLUMNS = (
    "id", "period_end", "final_run", "final_at", "progress", "current", "status", "expected",
    "start", "target", "closed_run", "closed_at",
)  # fmt: skip
_CHANGE_COLUMNS = (
    "kr_id", "field", "before", "after", "previous_run", "previous_at", "run_id", "seen_at",
)  # fmt: skip


def _upsert(table: str, columns: tuple[str, ...], key: tuple[str, ...]) -> str:
    others = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in key)
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)}) "
        f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {others}"
    )


class PeriodRecords:
    """Closed KRs, final values and target changes; the store provides ``_db``."""

    _db: Database

    def final_values(self, ended: Mapping[str, dt.date]) -> dict[str, FinalValue]:
        """The final value of each KR whose period ended (KR id → end date).

        A closure recorded for the same end date gives it (it may hold a value a
        ``--reopen`` run wrote); otherwise the latest snapshot with a number from a
        run that started on or before the end day. KRs with neither are left out.
        """
        if not ended:
            return {}
        out: dict[str, FinalValue] = {}
        if self._db.table_exists("closed_krs"):
            rows = self._db.execute(
                f"SELECT {', '.join(_CLOSED_COLUMNS)} FROM closed_krs"
            ).fetchall()
            for row in rows:
                rec = dict(zip(_CLOSED_COLUMNS, row, strict=True))
                end = ended.get(rec["id"])
                if end and rec["period_end"] == end.isoformat() and rec["final_run"] is not None:
                    out[rec["id"]] = _final(rec, "final_run", "final_at")
        missing = [k for k in ended if k not in out]
        for kr_id in missing:
            after_end = (ended[kr_id] + dt.timedelta(days=1)).isoformat()
            row = self._db.execute(
                "SELECT r.id, r.started_at, s.progress, s.current, s.status, s.expected, "
                f"s.start, s.target, s.pace, r.paces FROM snapshots s JOIN runs r ON {COVERS} "
                "WHERE s.kind = 'kr' AND s.id = ? AND s.stale = 0 AND s.error IS NULL "
                "AND s.progress IS NOT NULL AND r.started_at < ? "
                "ORDER BY r.id DESC LIMIT 1",
                (kr_id, after_end),
            ).fetchone()
            if row is not None:
                keys = ("run", "at", "progress", "current", "status", "expected", "start", "target")
                rec = dict(zip(keys, row, strict=False))
                rec["expected"] = expected(rec["expected"], row[-2], row[-1])
                out[kr_id] = _final(rec, "run", "at")
        return out

    def closures(self) -> dict[str, dict[str, Any]]:
        """Every recorded closure: KR id → its period end, final value and when it closed."""
        if not self._db.table_exists("closed_krs"):
            return {}
        rows = self._db.execute(f"SELECT {', '.join(_CLOSED_COLUMNS)} FROM closed_krs")
        return {r[0]: dict(zip(_CLOSED_COLUMNS, r, strict=True)) for r in rows}

    def last_inputs(self) -> dict[str, LastInputs]:
        """For each KR, the start and target its latest snapshot was computed against."""
        rows = self._db.execute(
            # A row's span ends at the latest run that held its values.
            "SELECT s.id, s.last_run, r.started_at, s.start, s.target FROM snapshots s "
            "JOIN runs r ON r.id = s.last_run "
            "JOIN (SELECT id, MAX(run_id) AS run_id FROM snapshots WHERE kind = 'kr' "
            "      GROUP BY id) latest ON s.id = latest.id AND s.run_id = latest.run_id "
            "WHERE s.kind = 'kr'"
        )
        return {r[0]: LastInputs(r[1], r[2], r[3], r[4]) for r in rows}

    def target_changes(self, kr_id: str | None = None) -> list[dict[str, Any]]:
        """Recorded start/target changes (oldest first), for one KR or all."""
        sql = f"SELECT {', '.join(_CHANGE_COLUMNS)} FROM target_changes"
        args: list[Any] = []
        if kr_id is not None:
            sql += " WHERE kr_id = ?"
            args.append(kr_id)
        rows = self._db.execute(sql + " ORDER BY run_id, kr_id, field", args)
        return [dict(zip(_CHANGE_COLUMNS, r, strict=True)) for r in rows]

    def _record_periods(self, db: Database, run_id: int, at: str, events: PeriodEvents) -> None:
        """Write one run's closures and target changes (inside the run's transaction)."""
        rows: list[tuple[Any, ...]] = []
        for kr_id, (end, final) in events.closed.items():
            f = final or FinalValue(run_id=0, at="", progress=None)
            rows.append((
                kr_id, end.isoformat(), final.run_id if final else None,
                final.at if final else None, f.progress, f.current, f.status, f.expected,
                f.start, f.target, run_id, at,
            ))  # fmt: skip
        for kr_id, (end, res) in events.reopened.items():
            if res.writable:  # the value written by this run is the KR's final value now
                rows.append((
                    kr_id, end.isoformat(), run_id, at, res.progress, res.current,
                    res.status.value if res.status else None, res.expected, res.start,
                    res.target, run_id, at,
                ))  # fmt: skip
        db.executemany(_upsert("closed_krs", _CLOSED_COLUMNS, ("id",)), rows)
        db.executemany(
            _upsert("target_changes", _CHANGE_COLUMNS, ("kr_id", "field", "run_id")),
            [
                (c.kr_id, c.field, c.before, c.after, c.previous_run, c.previous_at, run_id,
                 c.seen_at)
                for c in events.changes
            ],
        )  # fmt: skip


def _final(rec: Mapping[str, Any], run_key: str, at_key: str) -> FinalValue:
    return FinalValue(
        run_id=int(rec[run_key]),
        at=str(rec[at_key]),
        progress=rec["progress"],
        current=rec["current"],
        status=rec["status"],
        expected=rec["expected"],
        start=rec["start"],
        target=rec["target"],
    )
