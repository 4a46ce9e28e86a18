"""Applying a plan: record by record, re-checking what humans changed since the read.

A plan is made from values read at the start of the run; on a large target the
last write goes out minutes later. A human who edits a field in between must not
be overwritten unseen: before writing, a target that can tell what changed since
its read (:class:`~okr_sync.interfaces.RefreshableTarget`) is asked again — right
before the first write and then at most every ``refresh_seconds`` — and every
record it reports is planned afresh against its new values. A human value found
this way is a conflict like any other: the policy decides, and the value is
logged before the write replaces it.

What no API lets okr-sync close is the last window between that re-check and
the write itself (Notion and Jira have no conditional update); it is at most
``refresh_seconds`` long, and Notion's page history still holds the value.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from okr_sync.core.plan import ConflictPolicy, plan_target
from okr_sync.engine.inflight import Entry, InFlight
from okr_sync.errors import OkrSyncError
from okr_sync.interfaces import RefreshableTarget
from okr_sync.models import (
    ChangeAction,
    FieldChange,
    FieldValue,
    Plan,
    Record,
    RecordRef,
    WriteFailure,
)
from okr_sync.state.store import StateStore

log = logging.getLogger(__name__)

Group = tuple[str, RecordRef]


def _error_text(exc: Exception) -> str:
    """Our own errors speak for themselves; anything else is named as unexpected."""
    return str(exc) if isinstance(exc, OkrSyncError) else f"unexpected {type(exc).__name__}: {exc}"


def log_conflict(change: FieldChange, late: bool = False) -> None:
    """The ``conflict`` log line (one per conflicting field)."""
    when = "while the run was under way" if late else "since okr-sync last wrote it"
    log.warning(
        "conflict on %s %s.%s: a human changed it %s (%s)",
        change.target, change.ref.id, change.field, when, change.action.value,
        extra={"event": "conflict", "target": change.target, "record": change.ref.id,
               "field": change.field, "action": change.action.value},
    )  # fmt: skip


@dataclass
class Applied:
    """What applying did: writes, failures, writes not started, and the plan as carried out."""

    writes: int = 0
    failures: list[WriteFailure] = field(default_factory=list)
    left: int = 0
    plan: Plan = field(default_factory=Plan)


class Applier:
    """Writes one run's plan (see the module docstring)."""

    def __init__(
        self,
        connectors: Mapping[str, Any],
        state: StateStore,
        policy: ConflictPolicy,
        *,
        refresh_seconds: float = 20.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.connectors = connectors
        self.state = state
        self.policy = policy
        self.refresh_seconds = refresh_seconds
        self.monotonic = monotonic
        self._checked_at: dict[str, float] = {}
        self._fresh: dict[Group, dict[str, FieldValue]] = {}
        self._unchecked: dict[str, str] = {}  # target → why its re-check failed

    def _refresh(self, name: str, order: list[Group], start: int) -> str | None:
        """Re-read what humans changed; the error when that failed (None when done or not due).

        The records still to write (``order[start:]`` of this target) are listed
        only when a re-check is due, not before every write.
        """
        target = self.connectors[name]
        if not isinstance(target, RefreshableTarget) or name in self._unchecked:
            return self._unchecked.get(name)
        last = self._checked_at.get(name)
        if last is not None and self.monotonic() - last < self.refresh_seconds:
            return None
        self._checked_at[name] = self.monotonic()
        try:
            fresh = target.refresh_records([r for (n, r) in order[start:] if n == name])
        except Exception as exc:  # a target that cannot be re-checked is not written
            self._unchecked[name] = _error_text(exc)
            return self._unchecked[name]
        for ref, values in fresh.items():
            self._fresh[(name, ref)] = values
        return None

    def _recheck(self, name: str, ref: RecordRef, changes: list[FieldChange]) -> list[FieldChange]:
        """The record's changes planned again against what the target holds now."""
        now = self._fresh.pop((name, ref), None)
        if now is None:
            return changes
        record = Record(ref=ref, fields={c.field: c.after for c in changes}, owner=changes[0].owner)
        last = self.state.last_written(name)
        again = list(plan_target(name, [record], {ref: now}, last, self.policy).changes)
        known = {c.field for c in changes if c.conflict}
        for change in again:
            if change.conflict and change.field not in known:
                log_conflict(change, late=True)
        return again

    def apply(
        self,
        run_id: int,
        plan: Plan,
        failures: list[WriteFailure],
        on_write: Callable[[int, int], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> Applied:
        """Write the plan record by record; one failing record never stops the others.

        A target that allows it has a few writes in flight at once
        (:mod:`okr_sync.engine.inflight`); every state-store call stays on this
        thread, each intent noted before its request goes out and each result
        recorded, in the plan's order, once it is back.
        """
        done = Applied(failures=failures)
        skipped = [c for c in plan.changes if c.action is ChangeAction.SKIP]
        if skipped:
            self.state.record_changes(run_id, skipped, "skipped")
        groups = plan.writes()
        carried: list[FieldChange] = list(skipped)
        order = list(groups)

        def record(entry: Entry) -> None:
            if entry.wrote:
                self._recorded(run_id, entry, done)
            if on_write:
                on_write(entry.number, len(groups))

        flight = InFlight(self.connectors, record)
        try:
            for number, (name, ref) in enumerate(order, start=1):
                if should_stop is not None and should_stop():
                    # Checked before the intent is noted: a write never begun leaves
                    # nothing pending, so the next run sees no human edit in it. The
                    # writes already in flight end and are recorded below.
                    done.left = len(groups) - number + 1
                    log.warning(
                        "stop requested: %d of %d write(s) not started, left for the next run",
                        done.left, len(groups),
                        extra={"event": "stopped", "left": done.left, "run_id": run_id},
                    )  # fmt: skip
                    carried += [c for key in order[number - 1 :] for c in groups[key]]
                    break
                unchecked = self._refresh(name, order, number - 1)
                if unchecked is not None:
                    # A human edit since the read could not be ruled out: writing now might
                    # overwrite it unseen, so the record waits for the next run.
                    carried += groups[(name, ref)]
                    error = (
                        f"not written: re-reading what changed since the read failed: {unchecked}"
                    )
                    flight.add(Entry(number, name, ref, groups[(name, ref)]))
                    self._failed(run_id, name, ref, groups[(name, ref)], error, done)
                    continue
                changes = self._recheck(name, ref, groups[(name, ref)])
                carried += changes
                late_skips = [c for c in changes if c.action is ChangeAction.SKIP]
                if late_skips:
                    self.state.record_changes(run_id, late_skips, "skipped")
                to_write = [c for c in changes if c.action is not ChangeAction.SKIP]
                if not to_write:
                    flight.add(Entry(number, name, ref, []))
                    continue
                # The intent is noted before the request goes out (a kill between the
                # two must not make okr-sync's own value look like a human's next time).
                self.state.record_intent(run_id, to_write)
                flight.start(
                    Entry(number, name, ref, to_write), {c.field: c.after for c in to_write}
                )
        except BaseException:
            flight.abandon()
            raise
        flight.drain()
        done.plan = Plan(changes=tuple(carried))
        return done

    def _recorded(self, run_id: int, entry: Entry, done: Applied) -> None:
        """A write's result, once it is back: applied, or failed with its reason."""
        name, ref, changes = entry.name, entry.ref, entry.changes
        if entry.error is not None:  # one failing record never stops the others
            self._failed(run_id, name, ref, changes, _error_text(entry.error), done)
            return
        done.writes += 1
        self.state.record_changes(run_id, changes, "applied")
        fields = [c.field for c in changes]
        log.info(
            "wrote %s %s: %s", name, ref.id, ", ".join(fields),
            extra={"event": "write", "target": name, "record": ref.id, "fields": sorted(fields)},
        )  # fmt: skip

    def _failed(
        self, run_id: int, name: str, ref: RecordRef, changes: list[FieldChange], error: str,
        done: Applied,
    ) -> None:  # fmt: skip
        done.failures.append(
            WriteFailure(target=name, ref=ref, owner=changes[0].owner, error=error)
        )
        self.state.record_changes(run_id, changes, "failed", error)
        log.error(
            "write to %s %s failed: %s", name, ref.id, error,
            extra={"event": "failure", "target": name, "record": ref.id, "error": error},
        )  # fmt: skip
