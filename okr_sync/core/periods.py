"""Periods that end and targets that move: pure functions, no I/O.

- **Periods.** A KR's period is its own dates, else its objective's, else the
  config's cycle (:func:`kr_period`); the end date counts as a whole day (UTC),
  as for expected progress.
- **Closed KRs.** Once a KR's period has ended it is final: okr-sync writes
  nothing more to it. Its final value is the last value recorded *within* the
  period (a run that started on or before the end day, or the value a
  ``--reopen`` run wrote), never a value computed afterwards from items that
  kept moving. A KR with no value recorded within its period has no final value,
  and that is said (:func:`closed_result`).
- **Periods that do not nest.** A KR whose own dates fall outside its objective's
  period (or the cycle's, when the objective sets none) is reported
  (:func:`period_problems`): it is still counted, but never silently.
- **Targets that move.** A start or target that differs from the one the KR's
  last snapshot was computed against is a change, dated between the run that last
  saw the old value and the run that sees the new one (:func:`input_changes`).
  Past snapshots keep the target they were computed against.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

from okr_sync.models import KeyResult, KrResult, Objective, OkrTree, Provenance, Status

Period = tuple[dt.date | None, dt.date | None]


def kr_period(kr: KeyResult, objective: Objective | None, cycle: Period) -> Period:
    """A KR's period: its own dates, else its objective's, else the cycle's."""
    start = kr.period_start or (objective.period_start if objective else None) or cycle[0]
    end = kr.period_end or (objective.period_end if objective else None) or cycle[1]
    return start, end


def objective_period(objective: Objective | None, cycle: Period) -> Period:
    """An objective's period: its own dates, else the cycle's."""
    if objective is None:
        return cycle
    return objective.period_start or cycle[0], objective.period_end or cycle[1]


def has_ended(end: dt.date | None, now: dt.datetime) -> bool:
    """Whether a period ending on ``end`` (inclusive, UTC) is over at ``now``."""
    if end is None:
        return False
    moment = now if now.tzinfo else now.replace(tzinfo=dt.UTC)
    return moment >= dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)


def ended_krs(tree: OkrTree, cycle: Period, now: dt.datetime) -> dict[str, dt.date]:
    """KR id → the end of its period, for every KR whose period is over at ``now``."""
    objectives = {o.id: o for o in tree.objectives}
    out: dict[str, dt.date] = {}
    for kr in tree.key_results:
        _, end = kr_period(kr, objectives.get(kr.objective_id or ""), cycle)
        if end is not None and has_ended(end, now):
            out[kr.id] = end
    return out


@dataclass(frozen=True)
class FinalValue:
    """A closed KR's final value: the last one recorded within its period.

    ``run_id`` and ``at`` name the run that computed it (``at``: its start, ISO).
    ``start`` and ``target`` are those it was computed against.
    """

    run_id: int
    at: str
    progress: float | None
    current: float | None = None
    status: str | None = None
    expected: float | None = None
    start: float | None = None
    target: float | None = None


def _pct(value: float) -> str:
    return f"{value * 100:.2f}".rstrip("0").rstrip(".") + " %"


def closed_result(
    kr: KeyResult, measure: str, period: Period, final: FinalValue | None
) -> KrResult:
    """The result of a KR whose period has ended: its final value, never written again.

    ``closed`` says why nothing is written; the numbers are the final ones (or
    none when no value was recorded within the period), so ``history`` and the
    objectives above it keep the value the KR ended on.
    """
    end = period[1]
    assert end is not None
    again = f"okr-sync sync --reopen {kr.id} computes and writes it again"
    if final is None or final.progress is None:
        reason = (
            f"period ended {end.isoformat()}; no value was recorded within it, so none is "
            f"final and nothing is written ({again})"
        )
        return KrResult(
            kr_id=kr.id, title=kr.title, measure=measure, start=kr.start, target=kr.target,
            unit=kr.unit, closed=reason, provenance=Provenance(notes=(reason,)),
            period_start=period[0], period_end=end,
        )  # fmt: skip
    reason = (
        f"period ended {end.isoformat()}: final value {_pct(final.progress)} as of "
        f"{final.at[:10]} (run {final.run_id}); nothing more is written ({again})"
    )
    return KrResult(
        kr_id=kr.id,
        title=kr.title,
        measure=measure,
        start=final.start,
        target=final.target,
        unit=kr.unit,
        current=final.current,
        progress=final.progress,
        expected=final.expected,
        status=Status(final.status) if final.status else None,
        closed=reason,
        provenance=Provenance(notes=(reason,)),
        period_start=period[0],
        period_end=end,
    )


# --- periods that do not nest ------------------------------------------------------------


@dataclass(frozen=True)
class PeriodProblem:
    """A KR whose own period lies (partly) outside its objective's or the cycle's."""

    kr_id: str
    kr_period: Period
    outer: str  # "objective O-1" or "the cycle"
    outer_period: Period

    def __str__(self) -> str:
        return (
            f"key result {self.kr_id}'s period {show_period(self.kr_period)} lies outside "
            f"{self.outer}'s period {show_period(self.outer_period)}"
        )


def show_period(period: Period) -> str:
    """``2026-10-01..2026-12-31`` (an open side as ``…``)."""
    start, end = period
    return f"{start.isoformat() if start else '…'}..{end.isoformat() if end else '…'}"


def period_problems(tree: OkrTree, cycle: Period) -> list[PeriodProblem]:
    """KRs whose own dates fall outside their objective's period (else the cycle's).

    Only a KR that sets a date of its own can stick out: one that inherits its
    dates lies inside by construction. A side the outer period leaves open never
    conflicts.
    """
    objectives = {o.id: o for o in tree.objectives}
    out: list[PeriodProblem] = []
    for kr in tree.key_results:
        if kr.period_start is None and kr.period_end is None:
            continue
        objective = objectives.get(kr.objective_id or "")
        own = kr_period(kr, objective, cycle)
        outer = objective_period(objective, cycle)
        starts_before = own[0] is not None and outer[0] is not None and own[0] < outer[0]
        ends_after = own[1] is not None and outer[1] is not None and own[1] > outer[1]
        if starts_before or ends_after:
            sets_own = objective is not None and (objective.period_start or objective.period_end)
            name = f"objective {objective.id}" if objective and sets_own else "the cycle"
            out.append(PeriodProblem(kr.id, own, name, outer))
    return out


# --- targets that move ---------------------------------------------------------------------


@dataclass(frozen=True)
class LastInputs:
    """The start and target a KR's latest snapshot was computed against, and when."""

    run_id: int
    at: str
    start: float | None
    target: float | None


@dataclass(frozen=True)
class InputChange:
    """A KR's start or target that changed between two runs.

    It changed after ``previous_at`` (the last run that saw ``before``) and by
    ``seen_at`` (the run that first sees ``after``): okr-sync cannot know the
    minute a human edited it, so it records both ends.
    """

    kr_id: str
    field: str  # "start" or "target"
    before: float | None
    after: float | None
    previous_run: int
    previous_at: str
    seen_at: str

    def __str__(self) -> str:
        return (
            f"{self.kr_id}: {self.field} moved {_num(self.before)} → {_num(self.after)} "
            f"(changed after {self.previous_at[:10]}, run {self.previous_run}, "
            f"seen {self.seen_at[:10]}); earlier snapshots keep {_num(self.before)}"
        )


def _num(value: float | None) -> str:
    return "unset" if value is None else f"{value:g}"


def input_changes(
    tree: OkrTree,
    last: Mapping[str, LastInputs],
    now: dt.datetime,
    skip: frozenset[str] | set[str] = frozenset(),
) -> list[InputChange]:
    """Starts and targets that differ from those of each KR's latest snapshot.

    ``skip``: KRs not computed this run (closed ones), whose change is seen once
    they are computed again.
    """
    out: list[InputChange] = []
    for kr in tree.key_results:
        before = last.get(kr.id)
        if before is None or kr.id in skip:
            continue
        for name, was, now_value in (
            ("start", before.start, kr.start),
            ("target", before.target, kr.target),
        ):
            if was != now_value:
                out.append(
                    InputChange(
                        kr.id, name, was, now_value, before.run_id, before.at, now.isoformat()
                    )
                )
    return out


# --- what a run records ------------------------------------------------------------------


@dataclass(frozen=True)
class PeriodEvents:
    """What one run adds about periods and targets, committed with the run.

    ``closed``: KR id → (period end, final value or None): KRs this run left
    closed whose closure is not recorded as it stands. ``reopened``: KR id →
    (period end, result): KRs whose period has ended that a ``--reopen`` run
    computed; a writable result becomes their final value.
    """

    closed: Mapping[str, tuple[dt.date, FinalValue | None]] = field(default_factory=dict)
    reopened: Mapping[str, tuple[dt.date, KrResult]] = field(default_factory=dict)
    changes: tuple[InputChange, ...] = ()


def period_events(
    tree: OkrTree,
    results: Mapping[str, KrResult],
    ended: Mapping[str, dt.date],
    finals: Mapping[str, FinalValue],
    recorded: Mapping[str, Mapping[str, object]],
    last: Mapping[str, LastInputs],
    reopen: frozenset[str],
    cycle: Period,
    now: dt.datetime,
) -> tuple[PeriodEvents, list[str]]:
    """What a run records about periods and targets, and the notes its summary shows.

    ``recorded``: the closures the store holds (KR id → ``period_end``, ``final_run``…);
    ``last``: the inputs of each KR's latest snapshot.
    """
    closed: dict[str, tuple[dt.date, FinalValue | None]] = {}
    for kr_id, end in ended.items():
        if not results[kr_id].closed:
            continue
        final = finals.get(kr_id)
        rec = recorded.get(kr_id)
        final_run = final.run_id if final else None
        if (
            rec is None
            or rec.get("period_end") != end.isoformat()
            or rec.get("final_run") != final_run
        ):
            closed[kr_id] = (end, final)
    reopened = {k: (end, results[k]) for k, end in ended.items() if k in reopen}
    skip = {k for k in ended if k not in reopened}
    changes = input_changes(tree, last, now, skip=skip)
    notes = [f"reopened: {k}: computed and written although its period ended" for k in reopened]
    notes += [f"target line: {c}" for c in changes]
    notes += [
        f"{p}: it is counted in its objective's roll-up as it stands"
        for p in period_problems(tree, cycle)
    ]
    return PeriodEvents(closed=closed, reopened=reopened, changes=tuple(changes)), notes
