"""Read-only queries of the state store: a mixin that ``StateStore`` inherits.

Runs, snapshots (history and the latest per KR), the change log, the values
okr-sync last wrote, cursors and the item cache. Everything here only reads,
so it works the same on a store opened with
:meth:`~okr_sync.state.store.StateStore.open_readonly`; opening, migrating and
writing stay in :mod:`okr_sync.state.store`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from okr_sync.core.progress import Previous
from okr_sync.models import WORK_ITEM, FieldValue, RecordRef, WorkItem
from okr_sync.state.backfilled import backfilled_rows
from okr_sync.state.database import Database
from okr_sync.state.snapshots import COVERS, expected, whole_summary


@dataclass(frozen=True)
class CursorState:
    """A source's cursor, the fingerprint of the request it belongs to, the last full pull."""

    cursor: str | None
    fingerprint: str
    full_at: str | None


@dataclass(frozen=True)
class CacheUpdate:
    """How one source's item cache changes at the end of a run.

    ``items`` are the items pulled; ``replace`` says they are the whole cache (a full
    pull); ``removed`` lists the keys of cached items that left the source's selection
    (an incremental pull's membership check) and are dropped.
    """

    items: Iterable[WorkItem]
    replace: bool
    removed: frozenset[str] = frozenset()


def _utc_day(at: str) -> str:
    return dt.datetime.fromisoformat(at).astimezone(dt.UTC).date().isoformat()


def _load(text: str | None) -> FieldValue:
    return None if text is None else json.loads(text)


class StateQueries:
    """The read-only queries of a state store; the store provides ``_db``."""

    _db: Database

    # --- runs ----------------------------------------------------------------
    def runs(self, limit: int = 20) -> list[dict[str, Any]]:
        """The latest runs, newest first."""
        rows = self._db.execute(
            "SELECT id, started_at, finished_at, dry_run, outcome, summary, reason FROM runs "
            "ORDER BY id DESC LIMIT ?",
            (limit,),
        )
        keys = ("id", "started_at", "finished_at", "dry_run", "outcome", "summary", "reason")
        return [dict(zip(keys, row, strict=True)) for row in rows]

    def run_summary(self, run_id: int) -> dict[str, Any] | None:
        """The summary a run recorded (KRs' inputs, objectives' roll-up parts), or None."""
        row = self._db.execute("SELECT summary FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None or row[0] is None:
            return None
        return whole_summary(self._db, run_id, row[0])

    # --- snapshots -------------------------------------------------------------
    def previous(self) -> dict[str, Previous]:
        """For each KR, its latest snapshot with a number (item count, link fingerprint).

        Stale, failed and skipped snapshots (no progress: nothing linked yet) are
        passed over, so a run that could compute nothing for a KR never hides the
        last progress its objective falls back on, nor the item count the drop
        guard compares with.
        """
        # One index seek per KR, not a pass over every snapshot ever taken: the KR ids
        # are walked one by one along snapshots_by_id (a loose index scan, which neither
        # database does by itself), and each KR's snapshots newest first until one has
        # a number (usually the first).
        rows = self._db.execute(
            "WITH RECURSIVE ids(id) AS ("
            "  SELECT (SELECT id FROM snapshots WHERE kind = 'kr' ORDER BY id LIMIT 1)"
            "  UNION ALL"
            "  SELECT (SELECT n.id FROM snapshots n WHERE n.kind = 'kr' AND n.id > ids.id "
            "          ORDER BY n.id LIMIT 1) FROM ids WHERE ids.id IS NOT NULL) "
            "SELECT s.id, s.item_count, s.fingerprint, s.progress, s.sources "
            "FROM ids JOIN snapshots s ON s.kind = 'kr' AND s.id = ids.id AND s.run_id = ("
            "  SELECT t.run_id FROM snapshots t WHERE t.kind = 'kr' AND t.id = ids.id "
            "  AND t.stale = 0 AND t.error IS NULL AND t.progress IS NOT NULL "
            "  ORDER BY t.run_id DESC LIMIT 1)"
        )
        return {
            r[0]: Previous(
                item_count=r[1] or 0,
                fingerprint=r[2] or "",
                progress=r[3],
                sources=frozenset(filter(None, (r[4] or "").split(","))),
            )
            for r in rows
        }

    def history(
        self,
        kind: str = "kr",
        ident: str | None = None,
        *,
        provenance: bool = True,
        since: str | None = None,
    ) -> list[dict[str, Any]]:
        """Snapshots over time (oldest first), for one id or all of a kind.

        Each row has ``origin``: ``synced`` (a run's snapshot) or ``backfilled``
        (rebuilt from history, ``run_id`` None); a backfilled day that also has a
        synced snapshot of the same id is left out: the synced one stands.

        A KR's rows also carry the ``start`` and ``target`` it was computed against
        (a target changed mid-period shows from that run on; earlier rows keep
        theirs), its ``period_start``/``period_end`` (ISO dates), and ``closed``
        (its period had ended: the numbers are the final ones) with ``closed_reason``.

        ``since`` (an ISO date) leaves out what was recorded before that day: the
        forecast reads only the current periods, not the store's whole past.

        ``provenance=False`` leaves ``provenance`` None on each synced row with a
        number: most of a snapshot's size, not needed to draw a trend (``okr-sync
        report``, the forecast) nor for ``okr-sync history``. A row left without a
        number although nothing failed keeps it: its notes say why.

        Each synced row's ``forecast`` is ``[p10, p50, p90]`` as recorded, or None (a
        backfilled day has none).
        """
        unnumbered = (
            "" if provenance else " AND s.progress IS NULL AND s.stale = 0 AND s.error IS NULL"
        )
        sql = (
            "SELECT r.started_at, s.id, s.title, s.progress, s.expected, s.current, s.done, "
            "s.total, s.status, s.stale, s.error, r.id, s.measure, p.json, "
            "s.start, s.target, s.period_start, s.period_end, s.closed, "
            "s.forecast_p10, s.forecast_p50, s.forecast_p90, s.pace, r.paces "
            f"FROM snapshots s JOIN runs r ON {COVERS} "
            f"LEFT JOIN provenances p ON p.key = s.provenance{unnumbered} WHERE s.kind = ?"
        )
        args: list[Any] = [kind]
        if ident is not None:
            sql += " AND s.id = ?"
            args.append(ident)
        if since is not None:  # ISO timestamps in UTC order as text
            sql += " AND r.started_at >= ?"
            args.append(since)
        keys = (
            "at",
            "id",
            "title",
            "progress",
            "expected",
            "current",
            "done",
            "total",
            "status",
            "stale",
            "error",
            "run_id",
            "measure",
            "provenance",
            "start",
            "target",
            "period_start",
            "period_end",
            "closed_reason",
        )
        synced = []
        for row in self._db.execute(sql + " ORDER BY r.id, s.id", args):
            entry = {**dict(zip(keys, row[: len(keys)], strict=True)), "origin": "synced"}
            p10, p50, p90, pace, paces = row[len(keys) :]
            entry["expected"] = expected(entry["expected"], pace, paces)
            entry["forecast"] = None if p50 is None else [p10, p50, p90]
            # A closed KR: its period ended, the numbers are its final ones.
            entry["closed"] = entry["closed_reason"] is not None
            synced.append(entry)
        days = {(r["id"], _utc_day(r["at"])) for r in synced}
        backfilled = [
            r
            for r in backfilled_rows(self._db, kind, ident)
            if (r["id"], r["day"]) not in days and (since is None or r["day"] >= since)
        ]
        if not backfilled:
            return synced
        for r in backfilled:
            del r["day"]
            # A backfilled day records no target of its own, nor a closure or forecast.
            for key in ("start", "target", "period_start", "period_end", "closed_reason",
                        "forecast"):  # fmt: skip
                r.setdefault(key, None)
            r.setdefault("closed", False)
        merged = synced + backfilled
        # Stable: synced rows keep their run order within one moment.
        merged.sort(key=lambda r: dt.datetime.fromisoformat(r["at"]).astimezone(dt.UTC))
        return merged

    def snapshot_provenances(self, run_id: int, kind: str = "kr") -> dict[str, str]:
        """The provenance (JSON text) of every snapshot of one run, by KR or objective id."""
        rows = self._db.execute(
            "SELECT s.id, p.json FROM snapshots s JOIN provenances p ON p.key = s.provenance "
            f"JOIN runs r ON r.id = ? AND {COVERS} "
            "WHERE s.last_run >= ? AND s.run_id <= ? AND s.kind = ?",
            (run_id, run_id, run_id, kind),
        )
        return {r[0]: r[1] for r in rows}

    # --- changes and written values -------------------------------------------
    def last_written(self, target: str) -> dict[tuple[RecordRef, str], tuple[FieldValue, ...]]:
        """Values okr-sync wrote to each field of a target.

        The last confirmed value comes first, then a value whose write was
        started but never confirmed (a crash in between, or a write that failed),
        if any, and then the value the field held when that write was planned (unless
        a human had put it there): a field still holding it was left untouched (the
        write never landed), which is no human edit either.
        """
        out: dict[tuple[RecordRef, str], tuple[FieldValue, ...]] = {}
        for k, rec, f, v in self._db.execute(
            "SELECT kind, record, field, value FROM written WHERE target = ?", (target,)
        ):
            out[(RecordRef(kind=k, id=rec), f)] = (_load(v),)
        for k, rec, f, v, prior in self._db.execute(
            "SELECT kind, record, field, value, prior FROM pending WHERE target = ?", (target,)
        ):
            key = (RecordRef(kind=k, id=rec), f)
            known = (*out.get(key, ()), _load(v))
            held = None if prior is None else _load(prior)
            out[key] = known if prior is None or held in known else (*known, held)
        return out

    def pending_fields(self, target: str) -> set[tuple[RecordRef, str]]:
        """Fields of a target whose write was started but never confirmed (a crash)."""
        rows = self._db.execute(
            "SELECT kind, record, field FROM pending WHERE target = ?", (target,)
        )
        return {(RecordRef(kind=k, id=rec), f) for k, rec, f in rows}

    def changes_for(self, owner: str, limit: int = 50) -> list[dict[str, Any]]:
        """Logged changes of one KR or objective, newest first (human values included)."""
        keys = (
            "run_id",
            "target",
            "kind",
            "record",
            "field",
            "before",
            "after",
            "last_written",
            "conflict",
            "action",
            "result",
            "error",
        )
        rows = self._db.execute(
            f"SELECT {', '.join(keys)} FROM changes WHERE owner = ? ORDER BY rowid DESC LIMIT ?",
            (owner, limit),
        )
        out = []
        for row in rows:
            entry = dict(zip(keys, row, strict=True))
            for k in ("before", "after", "last_written"):
                entry[k] = _load(entry[k])
            out.append(entry)
        return out

    def run_changes(self, run_id: int) -> list[dict[str, Any]]:
        """The changes logged by one run: owner, target, record, field, conflict, result, error."""
        keys = (
            "owner",
            "target",
            "kind",
            "record",
            "field",
            "conflict",
            "action",
            "result",
            "error",
        )
        rows = self._db.execute(
            f"SELECT {', '.join(keys)} FROM changes WHERE run_id = ? ORDER BY rowid", (run_id,)
        )
        return [dict(zip(keys, row, strict=True)) for row in rows]

    # --- cursors and item cache -------------------------------------------------
    def cursor(self, source: str) -> CursorState | None:
        """The committed cursor of a source, or None if never pulled."""
        row = self._db.execute(
            "SELECT cursor, fingerprint, full_at FROM cursors WHERE source = ?", (source,)
        ).fetchone()
        return (
            None if row is None else CursorState(cursor=row[0], fingerprint=row[1], full_at=row[2])
        )

    def cached_items(self, source: str) -> list[WorkItem]:
        """The item cache of one source."""
        rows = self._db.execute("SELECT data FROM items WHERE source = ?", (source,))
        return [WORK_ITEM.validate_json(r[0]) for r in rows]
