"""Runs that failed as a whole, and human values accepted as right: a mixin of the store.

:class:`~okr_sync.state.store.StateStore` inherits :class:`RunRecords`, which
provides ``_db``, ``redact`` and ``transaction``.

- A run that fails before it has computed anything (the OKR source refused the
  token, a database id is wrong, the OKR file became invalid) is still a run: it
  is recorded with the outcome ``failed`` and its reason, so ``okr-sync status``
  never shows an older ``ok`` run as the latest.
- An *acceptance* (``okr-sync accept``) says that the value a human typed over a
  field okr-sync writes is right. The plan keeps such a field as it is, with no
  conflict, while the target holds that very value; once it holds anything else
  (someone edited it again), the ordinary conflict rules apply. okr-sync's own
  last written value stays in ``written``, so an edit after the acceptance is
  still told from okr-sync's own values. A write okr-sync makes to the field,
  or the field coming to hold the computed value, ends the acceptance.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from typing import Any

from okr_sync.errors import EXIT_CONFIG, StateError
from okr_sync.models import FieldValue, RecordRef
from okr_sync.state.database import Database


class StoreServesAnother(StateError):
    """The state store (or namespace) keeps the history of another OKR source."""

    exit_code = EXIT_CONFIG


#: The outcome of a run that ended on an error before finishing.
FAILED = "failed"


def _load(text: str | None) -> FieldValue:
    return None if text is None else json.loads(text)


class RunRecords:
    """Failed runs and acceptances; the store provides the connection and transactions."""

    _db: Database
    redact: Callable[[str], str]

    def transaction(self) -> AbstractContextManager[Database]:
        """One write transaction (provided by the store)."""
        raise NotImplementedError

    # --- runs that failed as a whole ---------------------------------------------
    def record_failed_run(
        self,
        started_at: dt.datetime,
        finished_at: dt.datetime,
        reason: str,
        run_id: int | None = None,
    ) -> int:
        """Record a run that ended on an error, with the reason (redacted); returns its id.

        ``run_id`` is the run when it was already started (an error while writing or
        recording); otherwise a new run is added. Called under the run lock, so a run
        still marked running has died, as in :meth:`StateStore.start_run`.
        """
        text = self.redact(reason)
        with self.transaction() as db:
            if run_id is not None:
                db.execute(
                    "UPDATE runs SET finished_at=?, outcome=?, reason=? WHERE id=?",
                    (finished_at.isoformat(), FAILED, text, run_id),
                )
                return run_id
            db.execute("UPDATE runs SET outcome='interrupted' WHERE outcome='running'")
            row = db.execute(
                "INSERT INTO runs (started_at, finished_at, outcome, reason) VALUES (?, ?, ?, ?) "
                "RETURNING id",
                (started_at.isoformat(), finished_at.isoformat(), FAILED, text),
            ).fetchone()
        return int(row[0])

    # --- acceptances ----------------------------------------------------------------
    def open_conflicts(self, owner: str) -> list[dict[str, Any]]:
        """The human values the last run found and kept (policy ``skip``) on a KR's fields.

        For each field of the KR (or objective) the latest logged change counts: a
        conflict skipped there is open; a later write, or an overwrite, closed it.
        Each entry has ``run_id``, ``target``, ``kind``, ``record``, ``field``,
        ``value`` (the human's) and ``last_written`` (okr-sync's own, as logged).
        """
        rows = self._db.execute(
            "SELECT c.run_id, c.target, c.kind, c.record, c.field, c.before, c.last_written, "
            "c.conflict, c.action FROM changes c JOIN ("
            "  SELECT MAX(rowid) AS last FROM changes WHERE owner = ? AND result != 'started' "
            "  GROUP BY target, kind, record, field) latest ON c.rowid = latest.last "
            "ORDER BY c.target, c.record, c.field",
            (owner,),
        )
        return [
            {
                "run_id": run_id, "target": target, "kind": kind, "record": record,
                "field": field, "value": _load(before), "last_written": _load(last),
            }
            for run_id, target, kind, record, field, before, last, conflict, action in rows
            if conflict and action == "skip"
        ]  # fmt: skip

    def accept(self, owner: str, conflicts: Iterable[dict[str, Any]], at: dt.datetime) -> None:
        """Record human values as accepted (entries as :meth:`open_conflicts` gives them)."""
        with self.transaction() as db:
            db.executemany(
                "INSERT INTO accepted (target, kind, record, field, owner, value, run_id, "
                "accepted_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT "
                "(target, kind, record, field) DO UPDATE SET owner = excluded.owner, "
                "value = excluded.value, run_id = excluded.run_id, "
                "accepted_at = excluded.accepted_at",
                [
                    (c["target"], c["kind"], c["record"], c["field"], owner,
                     json.dumps(c["value"], sort_keys=True, default=str), c["run_id"],
                     at.isoformat(timespec="seconds"))
                    for c in conflicts
                ],
            )  # fmt: skip

    def accepted(self, target: str) -> dict[tuple[RecordRef, str], FieldValue]:
        """The accepted human value of each field of a target that has one."""
        rows = self._db.execute(
            "SELECT kind, record, field, value FROM accepted WHERE target = ?", (target,)
        )
        return {(RecordRef(kind=k, id=r), f): _load(v) for k, r, f, v in rows}

    def acceptances(self, owner: str) -> list[dict[str, Any]]:
        """A KR's (or objective's) accepted human values: target, record, field, value, when."""
        keys = ("target", "kind", "record", "field", "value", "run_id", "accepted_at")
        rows = self._db.execute(
            f"SELECT {', '.join(keys)} FROM accepted WHERE owner = ? "
            "ORDER BY target, record, field",
            (owner,),
        )
        out = [dict(zip(keys, row, strict=True)) for row in rows]
        for entry in out:
            entry["value"] = _load(entry["value"])
        return out

    def _end_acceptances(
        self, db: Database, target: str, fields: Iterable[tuple[str, str, str]]
    ) -> None:
        """Drop acceptances of fields okr-sync wrote or found holding its value."""
        db.executemany(
            "DELETE FROM accepted WHERE target=? AND kind=? AND record=? AND field=?",
            [(target, kind, record, field) for kind, record, field in fields],
        )

    # --- what the store serves ------------------------------------------------------
    def source_identity(self) -> str | None:
        """The identity of the OKR source this store serves, once a run recorded it."""
        if not self._db.table_exists("store_identity"):
            return None
        row = self._db.execute(
            "SELECT value FROM store_identity WHERE name = 'okr_source'"
        ).fetchone()
        return None if row is None else str(row[0])

    def check_source(self, identity: str, *, claim: bool) -> None:
        """Refuse a store that serves another OKR source; with ``claim``, record this one.

        Raises:
            StoreServesAnother: the store (or namespace) keeps another OKR source's history.
        """
        recorded = self.source_identity()
        if recorded is not None and recorded != identity:
            raise StoreServesAnother(
                f"the state store {self._db.where} keeps the history of another OKR source "
                f"({recorded}), not of this config's ({identity}); give this config a state "
                "store of its own (another namespace or path) instead of mixing histories"
            )
        if claim and recorded is None:
            with self.transaction() as db:
                db.execute(
                    "INSERT INTO store_identity (name, value, recorded_at) "
                    "VALUES ('okr_source', ?, ?) ON CONFLICT (name) DO NOTHING",
                    (identity, dt.datetime.now(dt.UTC).isoformat(timespec="seconds")),
                )
