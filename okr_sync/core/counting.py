"""Which items count for a KR, and what they add up to under its measure. Pure.

*Counted* items are the linked items with every linked epic replaced by its
direct children: an epic is a container, its issues are the work. Children of
counted items (sub-tasks) are excluded as "not a direct child". The
``initiatives_done`` measure counts the linked items themselves.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from okr_sync.models import (
    RATIO_MEASURES,
    CountedItem,
    Exclusion,
    ItemKind,
    StatusCategory,
    WorkItem,
)

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


def _entry(item: WorkItem, value: float) -> CountedItem:
    """How a counted item shows in the provenance: key, source, done, value, title."""
    return CountedItem(
        key=item.key, source=item.source, done=_done(item), value=value, title=item.title
    )


@dataclass
class Tally:
    """What a KR's items add up to.

    Ratio measures fill ``done`` and ``total``; value measures fill ``current``
    (None when it cannot be known). ``unknown`` says why a number that items
    should give could not be known (a renamed field, no estimate at all): the KR
    is then stale, never written as a zero.
    """

    counted: list[WorkItem]
    entries: list[CountedItem] = field(default_factory=list)
    excluded: list[Exclusion] = field(default_factory=list)
    unestimated: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    done: float | None = None
    total: float | None = None
    current: float | None = None
    unknown: str | None = None


def tally(
    measure: str,
    linked: Sequence[WorkItem],
    children: ChildIndex,
    source_count: int | None = None,
) -> Tally:
    """Count a KR's items under a known, non-manual measure (see the module docstring)."""
    excluded: list[Exclusion] = []
    if measure == "initiatives_done":
        counted = list(linked)
    else:
        counted, excluded = counted_items(linked, children)
    counted.sort(key=lambda i: (i.source, i.key))
    out = Tally(counted=counted, excluded=excluded)
    if measure in RATIO_MEASURES:
        for item in counted:
            points = 1.0
            if measure == "points_done":
                if item.story_points is None:
                    out.unestimated.append(item.key)
                points = item.story_points or 0.0
            out.entries.append(_entry(item, points))
        out.total = sum(e.value for e in out.entries)
        out.done = sum(e.value for e in out.entries if e.done)
        if counted and out.total == 0:
            out.unknown = (
                f"none of the {len(counted)} counted items has story points: progress cannot be "
                "known (estimate them, or use issues_done)"
            )
    elif measure.startswith("sum:"):
        name = measure[4:]
        for item in counted:
            value = item.fields.get(name)
            if value is None:
                out.excluded.append(Exclusion(key=item.key, reason=f"no value for {name}"))
            else:
                out.entries.append(_entry(item, value))
        out.current = sum(e.value for e in out.entries)
        if counted and not out.entries:  # the field vanished (renamed?): a 0 here would be a lie
            out.current = None
            out.unknown = (
                f"none of the {len(counted)} counted items has a value for {name} "
                "(was the field renamed or removed at the source?)"
            )
    elif source_count is not None:  # counted by the source itself
        out.current = float(source_count)
        out.notes.append(f"counted by the source: {source_count} matching items (not listed)")
    else:  # count, count:done
        out.entries = [
            CountedItem(key=i.key, source=i.source, done=_done(i), title=i.title) for i in counted
        ]
        done = sum(1 for e in out.entries if e.done)
        out.current = float(done if measure == "count:done" else len(out.entries))
    return out
