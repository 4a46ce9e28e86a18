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

*Counted* items are the linked items with every linked epic replaced by its
direct children: an epic is a container, its issues are the work. Children of
counted items (sub-tasks) are excluded as "not a direct child".

Ratio measures give progress directly, and their current value is put on the
KR's own scale (``start + progress × (target − start)``), so a Notion formula
``Current ÷ Target`` agrees with okr-sync. Value measures give progress as
``(current − start) ÷ (target − start)`` clamped to 0..1, which also serves
decreasing KRs (start 40, target 10).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, model_validator

from okr_sync.models import (
    CountedItem,
    Direction,
    Exclusion,
    ItemKind,
    KeyResult,
    KrResult,
    Provenance,
    Status,
    StatusCategory,
    WorkItem,
)

RATIO_MEASURES = frozenset({"issues_done", "points_done", "initiatives_done"})
VALUE_MEASURES = frozenset({"count", "count:done", "manual"})


def check_measure(name: str) -> str:
    """Validate a measure name; raises ValueError naming the allowed ones."""
    if name in RATIO_MEASURES or name in VALUE_MEASURES:
        return name
    if name.startswith("sum:") and len(name) > 4:
        return name
    allowed = ", ".join(sorted(RATIO_MEASURES | VALUE_MEASURES))
    raise ValueError(f"unknown measure {name!r}; use one of {allowed} or sum:<field>")


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


def value_progress(
    current: float, start: float, target: float, direction: Direction | None = None
) -> float:
    """Progress of a value KR, clamped to 0..1; works for decreasing KRs too.

    When ``target == start`` there is no distance to cover: the KR is achieved
    when ``current`` is at or beyond the target in its direction (increase when
    no direction is given), and at 0 otherwise.
    """
    if target == start:
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
    """Everything :func:`compute_kr` needs about one KR, gathered by the engine."""

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


ChildIndex = Mapping[tuple[str, str], Sequence[WorkItem]]


def children_index(items: Sequence[WorkItem]) -> dict[tuple[str, str], list[WorkItem]]:
    """Items grouped by ``(source, parent_key)``."""
    index: dict[tuple[str, str], list[WorkItem]] = {}
    for item in items:
        if item.parent_key:
            index.setdefault((item.source, item.parent_key), []).append(item)
    return index


def counted_items(
    linked: Sequence[WorkItem], children: ChildIndex
) -> tuple[list[WorkItem], list[Exclusion]]:
    """Expand linked epics into their direct children; exclude sub-tasks."""
    counted: dict[tuple[str, str], WorkItem] = {}
    excluded: list[Exclusion] = []
    for item in linked:
        if item.kind is ItemKind.EPIC:
            excluded.append(Exclusion(key=item.key, reason="epic: its child issues are counted"))
            for child in children.get((item.source, item.key), ()):
                counted.setdefault((child.source, child.key), child)
        else:
            counted.setdefault((item.source, item.key), item)
    for (source, key), _item in list(counted.items()):
        for grandchild in children.get((source, key), ()):
            if (grandchild.source, grandchild.key) not in counted:
                excluded.append(
                    Exclusion(key=grandchild.key, reason=f"not a direct child (sub-item of {key})")
                )
    return list(counted.values()), excluded


def _done(item: WorkItem) -> bool:
    return item.status_category is StatusCategory.DONE


def compute_kr(
    inputs: KrInputs, children: ChildIndex, now: dt.datetime, thresholds: Thresholds
) -> KrResult:
    """Compute one KR's current value, progress, expected progress and status."""
    kr, measure = inputs.kr, inputs.measure
    base = {
        "kr_id": kr.id,
        "title": kr.title,
        "measure": measure,
        "start": kr.start,
        "target": kr.target,
        "unit": kr.unit,
    }
    expected = expected_progress(*inputs.period, now)
    # Interim, until the core's handling of KeyResult.problem and of a missing start or
    # target lands: a KR its source could not read fails with the source's reason; a
    # missing start/target still reads as it did before (0 and 100).
    if kr.problem:
        return KrResult(**base, expected=expected, error=kr.problem)
    start = 0.0 if kr.start is None else kr.start
    target = 100.0 if kr.target is None else kr.target
    failed = {s: e for s, e in (inputs.failed_sources or {}).items()}
    if measure != "manual" and failed:
        reasons = "; ".join(error for _, error in sorted(failed.items()))
        return KrResult(
            **base,
            expected=expected,
            stale=True,
            error=f"not updated, an item source failed ({reasons})",
            provenance=Provenance(selectors=inputs.selectors),
        )

    notes: list[str] = []
    unestimated: list[str] = []
    if measure == "initiatives_done":
        counted = list(inputs.linked)
        excluded: list[Exclusion] = []
    else:
        counted, excluded = counted_items(inputs.linked, children)
    counted.sort(key=lambda i: (i.source, i.key))

    done = total = None
    current: float | None
    entries: list[CountedItem]
    if measure == "manual":
        entries = []
        current = kr.current
        if current is None:
            notes.append("no Current value set on the KR yet")
    elif measure in RATIO_MEASURES:
        if measure == "points_done":
            entries = []
            for item in counted:
                if item.story_points is None:
                    unestimated.append(item.key)
                entries.append(
                    CountedItem(
                        key=item.key,
                        source=item.source,
                        done=_done(item),
                        value=item.story_points or 0.0,
                    )
                )
        else:
            entries = [CountedItem(key=i.key, source=i.source, done=_done(i)) for i in counted]
        total = sum(e.value for e in entries)
        done = sum(e.value for e in entries if e.done)
        current = None
    elif measure.startswith("sum:"):
        field = measure[4:]
        entries = []
        for item in counted:
            value = item.fields.get(field)
            if value is None:
                excluded.append(Exclusion(key=item.key, reason=f"no value for {field}"))
            else:
                entries.append(
                    CountedItem(key=item.key, source=item.source, done=_done(item), value=value)
                )
        current = sum(e.value for e in entries)
        if counted and not entries:  # the field vanished (renamed?): a 0 here would be a lie
            current = None
            notes.append(f"none of the {len(counted)} counted items has a value for {field}")
    elif inputs.source_count is not None:  # counted by the source itself
        entries = []
        current = float(inputs.source_count)
        notes.append(f"counted by the source: {inputs.source_count} matching items (not listed)")
    else:  # count, count:done
        entries = [CountedItem(key=i.key, source=i.source, done=_done(i)) for i in counted]
        if measure == "count:done":
            current = float(sum(1 for e in entries if e.done))
        else:
            current = float(len(entries))

    provenance = Provenance(
        selectors=inputs.selectors,
        counted=tuple(entries),
        excluded=tuple(excluded),
        unestimated=tuple(unestimated),
        shared=inputs.shared,
        notes=tuple(notes),
    )
    stale_reason = _dropped_to_zero(inputs, len(counted), measure)
    if stale_reason:
        return KrResult(
            **base, expected=expected, stale=True, error=stale_reason, provenance=provenance
        )

    progress: float | None
    if measure in RATIO_MEASURES:
        assert total is not None and done is not None
        if not counted:
            progress = 0.0
            provenance = provenance.model_copy(update={"notes": (*notes, "no items linked yet")})
        elif total == 0:
            progress = None
            provenance = provenance.model_copy(
                update={
                    "notes": (*notes, f"none of the {len(counted)} counted items has story points")
                }
            )
        else:
            progress = clamp(done / total)
        if progress is not None:
            current = start + progress * (target - start)
    elif current is None:
        progress = None
    else:
        progress = value_progress(current, start, target, kr.direction)

    error = None
    if inputs.missing:
        error = "linked items not found: " + ", ".join(inputs.missing)
    status = status_for(progress, expected, thresholds) if progress is not None else None
    if measure in RATIO_MEASURES and not counted:
        status = Status.NOT_STARTED  # nothing linked yet: no work to judge against the clock
    return KrResult(
        **base,
        current=current,
        done=done,
        total=total,
        progress=progress,
        expected=expected,
        status=status,
        error=error,
        provenance=provenance,
    )


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
