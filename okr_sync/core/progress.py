"""Progress and status maths: pure functions, no I/O.

Measures (the ``measure`` of a KR):

- ``issues_done``: done ÷ all of the *counted* items;
- ``points_done``: story points of done counted items ÷ all their points
  (unestimated items count zero points and are listed);
- ``initiatives_done``: done ÷ all of the *linked* items themselves (epics, rows);
- ``count`` / ``count:done``: the number of counted items (or of the done ones)
  becomes the current value;
- ``sum:<field>``: the sum of a numeric field over the counted items becomes
  the current value;
- ``manual``: humans set Current; okr-sync computes progress and status only.

Counting is in :mod:`okr_sync.core.counting`; what each measure needs from the
KR (start, target, direction) in :mod:`okr_sync.core.inputs`.

Ratio measures give progress directly, and their current value is put on the
KR's own scale (``start + progress × (target − start)``), so a Notion formula
``Current ÷ Target`` agrees with okr-sync. Value measures give progress as
``(current − start) ÷ (target − start)`` clamped to 0..1, which also serves
decreasing KRs (start 40, target 10). A KR whose start equals its target
*holds* a level in its direction ("keep P1 incidents at 0"): see
:func:`value_progress`.

Progress is rounded to the 4 decimal places okr-sync writes, and the status is
judged from that written value (:func:`written_progress`), never from the
unrounded one; a value short of 1 is never rounded up to 1: 0.999975 is written
as 0.9999 and is On track, never 1.0 next to a status that says otherwise.

Nothing linked means nothing to compute: such a KR (and a manual KR with no
Current yet) is *skipped* — no number, no status, nothing written.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from okr_sync.core.counting import ChildIndex, children_index, counted_items, tally
from okr_sync.core.inputs import input_problems, scale_problem
from okr_sync.models import (
    RATIO_MEASURES,
    VALUE_MEASURES,
    Direction,
    KeyResult,
    KrResult,
    Provenance,
    Status,
    WorkItem,
    measure_problem,
)

__all__ = [
    "RATIO_MEASURES",
    "VALUE_MEASURES",
    "ChildIndex",
    "KrInputs",
    "Previous",
    "Thresholds",
    "check_measure",
    "children_index",
    "clamp",
    "compute_kr",
    "counted_items",
    "expected_progress",
    "rounded_expected",
    "status_for",
    "value_progress",
    "written_progress",
]

#: Decimal places of a progress fraction as written to targets (0.01 percentage point).
DECIMALS = 4


def check_measure(name: str) -> str:
    """Validate a measure name; raises ValueError naming the allowed ones."""
    problem = measure_problem(name)
    if problem:
        raise ValueError(problem)
    return name


class Thresholds(BaseModel):
    """How far progress may lag expected progress before a KR is At risk or Off track.

    A KR is On track while ``expected − progress ≤ at_risk_gap``, At risk while
    the gap is at most ``off_track_gap``, Off track beyond. A KR with no progress
    is Not started until ``not_started_until`` of its period has elapsed.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    at_risk_gap: float = Field(default=0.10, ge=0, le=1)
    off_track_gap: float = Field(default=0.25, ge=0, le=1)
    not_started_until: float = Field(default=0.25, ge=0, le=1)

    @model_validator(mode="after")
    def _ordered(self) -> Thresholds:
        if self.at_risk_gap >= self.off_track_gap:
            raise ValueError(
                f"at_risk_gap ({self.at_risk_gap}) must be smaller than "
                f"off_track_gap ({self.off_track_gap})"
            )
        return self


def clamp(value: float) -> float:
    """Clamp to 0..1."""
    return 0.0 if value < 0 else 1.0 if value > 1 else value


def written_progress(value: float) -> float:
    """A 0..1 progress as written: rounded to :data:`DECIMALS` places, never up to 1.

    The status is then judged from this same value, so the two agree at every
    threshold. Only "Achieved" is a claim rounding must not make: a value short
    of 1 is written as at most 0.9999 (0.999975 would round to 1.0).
    """
    written = round(clamp(value), DECIMALS)
    if written >= 1.0 and value < 1.0:
        return 1.0 - 10.0**-DECIMALS
    return float(written)


def rounded_expected(value: float | None) -> float | None:
    """Expected progress to :data:`DECIMALS` places, as ``explain`` shows and status uses it."""
    return None if value is None else round(value, DECIMALS)


def value_progress(
    current: float, start: float, target: float, direction: Direction | None = None
) -> float:
    """Progress of a value KR, clamped to 0..1; works for decreasing KRs too.

    When ``target == start`` the KR holds a level: there is no distance to
    cover, so progress is 1 while ``current`` is at the target or beyond it in
    the KR's ``direction`` (``decrease``: current ≤ target, as in "keep P1
    incidents at 0"; ``increase``: current ≥ target) and 0 otherwise. Which way
    cannot be guessed, so a direction is then required.

    Raises:
        ValueError: ``target == start`` and no direction.
    """
    if target == start:
        if direction is None:
            raise ValueError("start equals target: a direction is needed")
        reached = current <= target if direction is Direction.DECREASE else current >= target
        return 1.0 if reached else 0.0
    return clamp((current - start) / (target - start))


def expected_progress(start: dt.date | None, end: dt.date | None, now: dt.datetime) -> float | None:
    """Elapsed share of a period whose end date is inclusive; None without a period."""
    if start is None or end is None or end < start:
        return None
    begin = dt.datetime.combine(start, dt.time(), tzinfo=dt.UTC)
    finish = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    moment = now if now.tzinfo else now.replace(tzinfo=dt.UTC)
    return clamp((moment - begin) / (finish - begin))


def status_for(progress: float, expected: float | None, thresholds: Thresholds) -> Status:
    """Compare progress with expected progress (see :class:`Thresholds`)."""
    if progress >= 1.0:
        return Status.ACHIEVED
    if expected is None:
        return Status.NOT_STARTED if progress <= 0 else Status.ON_TRACK
    if progress <= 0 and expected <= thresholds.not_started_until:
        return Status.NOT_STARTED
    gap = expected - progress
    if gap <= thresholds.at_risk_gap + 1e-9:
        return Status.ON_TRACK
    if gap <= thresholds.off_track_gap + 1e-9:
        return Status.AT_RISK
    return Status.OFF_TRACK


@dataclass(frozen=True)
class Previous:
    """What the last recorded run knew about a KR (for the drop-to-zero guard)."""

    item_count: int
    fingerprint: str
    progress: float | None = None
    sources: frozenset[str] = frozenset()


@dataclass(frozen=True)
class KrInputs:
    """Everything :func:`compute_kr` needs about one KR, gathered by the engine.

    ``declared``: the KR names its links (rules, or items listed on the KR), so
    a ``count`` or ``sum:`` KR with no items has a real zero; without declared
    links, no items means nothing is linked yet. ``problems``: reasons found by
    the caller why the KR cannot be computed (it then fails with them).
    """

    kr: KeyResult
    measure: str
    linked: Sequence[WorkItem]
    period: tuple[dt.date | None, dt.date | None]
    fingerprint: str = ""
    selectors: tuple[str, ...] = ()
    shared: tuple[str, ...] = ()
    failed_sources: Mapping[str, str] | None = None
    missing: tuple[str, ...] = ()
    previous: Previous | None = None
    keyed: bool = False
    source_count: int | None = None
    declared: bool = False
    problems: tuple[str, ...] = ()


def compute_kr(
    inputs: KrInputs, children: ChildIndex, now: dt.datetime, thresholds: Thresholds
) -> KrResult:
    """Compute one KR's current value, progress, expected progress and status.

    In order: a KR that cannot be computed (its source's problem, an unknown
    measure, a missing start or target, no direction to hold a level) fails; a
    failed item source makes it stale; then its items are counted, and a KR
    whose items vanished or whose number cannot be known from them is stale; a
    KR with nothing to compute is skipped; else it gets its numbers and status.
    """
    kr, measure = inputs.kr, inputs.measure
    base: dict[str, Any] = {
        "kr_id": kr.id,
        "title": kr.title,
        "measure": measure,
        "start": kr.start,
        "target": kr.target,
        "unit": kr.unit,
        "expected": rounded_expected(expected_progress(*inputs.period, now)),
        "period_start": inputs.period[0],
        "period_end": inputs.period[1],
    }
    problems = [*inputs.problems, *input_problems(kr, measure)]
    if problems:
        prov = Provenance(selectors=inputs.selectors, shared=inputs.shared)
        return KrResult(**base, error="; ".join(problems), provenance=prov)
    failed = inputs.failed_sources or {}
    if measure != "manual" and failed:
        reasons = "; ".join(error for _, error in sorted(failed.items()))
        return KrResult(
            **base,
            stale=True,
            error=f"not updated, an item source failed ({reasons})",
            provenance=Provenance(selectors=inputs.selectors),
        )
    if measure == "manual":
        return _manual(inputs, base, thresholds)

    counts = tally(measure, inputs.linked, children, inputs.source_count)
    notes = list(counts.notes)
    provenance = Provenance(
        selectors=inputs.selectors,
        counted=tuple(counts.entries),
        excluded=tuple(counts.excluded),
        unestimated=tuple(counts.unestimated),
        shared=inputs.shared,
        notes=tuple(notes),
    )
    stale_reason = _dropped_to_zero(inputs, len(counts.counted), measure) or counts.unknown
    if stale_reason:
        return KrResult(**base, stale=True, error=stale_reason, provenance=provenance)
    skipped = _nothing_linked(inputs, counts.counted, measure)
    error = "linked items not found: " + ", ".join(inputs.missing) if inputs.missing else None
    if skipped:
        provenance = provenance.model_copy(update={"notes": (*notes, skipped)})
        return KrResult(
            **base, error=error, skipped=None if error else skipped, provenance=provenance
        )

    current = counts.current
    if measure in RATIO_MEASURES:
        assert counts.total and counts.done is not None
        progress = written_progress(counts.done / counts.total)
        unscaled = scale_problem(kr)
        if unscaled:
            current = None
            provenance = provenance.model_copy(update={"notes": (*notes, unscaled)})
        else:
            assert kr.start is not None and kr.target is not None
            current = kr.start + progress * (kr.target - kr.start)
        status = status_for(progress, base["expected"], thresholds)
    else:
        assert current is not None
        progress, status = _value_status(kr, current, base["expected"], thresholds)
    return KrResult(
        **base,
        current=current,
        done=counts.done,
        total=counts.total,
        progress=progress,
        status=status,
        error=error,
        provenance=provenance,
    )


def _value_status(
    kr: KeyResult, current: float, expected: float | None, thresholds: Thresholds
) -> tuple[float, Status]:
    """Progress and status of a value KR (start and target known: see input_problems).

    A KR holding a level (start = target) is Achieved while it holds and Off
    track while it does not, whatever the date: the clock cannot make a breach
    of "keep incidents at 0" Not started or On track.
    """
    assert kr.start is not None and kr.target is not None
    progress = written_progress(value_progress(current, kr.start, kr.target, kr.direction))
    if kr.start == kr.target:
        return progress, Status.ACHIEVED if progress >= 1.0 else Status.OFF_TRACK
    return progress, status_for(progress, expected, thresholds)


def _manual(inputs: KrInputs, base: dict[str, Any], thresholds: Thresholds) -> KrResult:
    """A manual KR: progress and status from the Current a human entered."""
    kr = inputs.kr
    if kr.current is None:
        reason = "no Current entered yet (measure manual: a human enters it); nothing computed"
        prov = Provenance(selectors=inputs.selectors, notes=(reason,))
        return KrResult(**base, skipped=reason, provenance=prov)
    progress, status = _value_status(kr, kr.current, base["expected"], thresholds)
    return KrResult(
        **base,
        current=kr.current,
        progress=progress,
        status=status,
        provenance=Provenance(selectors=inputs.selectors),
    )


def _nothing_linked(inputs: KrInputs, counted: Sequence[WorkItem], measure: str) -> str | None:
    """Why there is nothing to compute, or None.

    A share of no work is not 0 %: a ratio KR with no counted items is left
    alone, as is a ``count``/``sum:`` KR that declares no links and has no
    items. A declared ``count`` KR with no items is a real zero (every open
    incident closed), guarded by :func:`_dropped_to_zero`.
    """
    if counted or inputs.source_count is not None:
        return None
    if measure not in RATIO_MEASURES and inputs.declared:
        return None
    if inputs.linked:
        epics = ", ".join(i.key for i in inputs.linked[:5])
        return f"the linked epics ({epics}) have no child items yet: nothing computed"
    return "nothing linked yet: nothing computed"


def _dropped_to_zero(inputs: KrInputs, count: int, measure: str) -> str | None:
    """The mass-zero guard: a KR whose items vanish without a config change is stale.

    For ``count`` and ``sum:`` KRs linked only through queries or labels, zero is
    a real answer (every open incident closed), so only KRs whose links name
    items (epic keys in a rule or on the KR) are guarded; ratio measures always are.
    """
    prev = inputs.previous
    if measure == "manual" or count > 0 or prev is None or prev.item_count == 0:
        return None
    if measure not in RATIO_MEASURES and not inputs.keyed:
        return None
    if prev.fingerprint != inputs.fingerprint:
        return None  # the links were changed on purpose
    return (
        f"linked items dropped from {prev.item_count} to 0 since the last run; "
        "not written (check that the epics or rows still exist and are shared)"
    )
