"""Which items count for a KR, and what they add up to under its measure. Pure.

*Counted* items are the linked items with every linked epic replaced by its
direct children: an epic is a container, its issues are the work. Children of
counted items (sub-tasks) are excluded as "not a direct child". The
``initiatives_done`` measure counts the linked items themselves.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from operator import attrgetter, itemgetter

from okr_sync.models import (
    RATIO_MEASURES,
    CountedItem,
    Exclusion,
    ItemKind,
    StatusCategory,
    WorkItem,
)

ChildIndex = Mapping[tuple[str, str], Sequence[WorkItem]]
KeyIndex = dict[tuple[str, str], WorkItem]

# Looked up once: these run for every counted item of every KR (half a million per run).
_EPIC = ItemKind.EPIC
_DONE = StatusCategory.DONE
_SOURCE_KEY = attrgetter("source", "key")
_FIRST, _SECOND = itemgetter(0), itemgetter(1)


def children_index(items: Sequence[WorkItem]) -> dict[tuple[str, str], list[WorkItem]]:
    """Items grouped by ``(source, parent_key)``."""
    index: dict[tuple[str, str], list[WorkItem]] = {}
    for item in items:
        if item.parent_key:
            index.setdefault((item.source, item.parent_key), []).append(item)
    return index


def item_indexes(
    items: Sequence[WorkItem], keys: Iterable[tuple[str, str]] | None = None
) -> tuple[KeyIndex, dict[tuple[str, str], list[WorkItem]]]:
    """Items by ``(source, key)`` (the last of duplicates) and :func:`children_index`, in one pass.

    ``keys``: only these ``(source, key)`` pairs go in the key index (a run needs its
    linked items only: tens of thousands of half a million); all of them if None.
    A run builds both once, for every KR to share: the pass over every pulled item
    is the one cost that grows with the items rather than with the KRs.
    """
    wanted: set[tuple[str, str]] | None = None
    wanted_keys: set[str] = set()
    if keys is not None:
        wanted = set(keys)
        # The keys alone first: one set lookup per item, the pair only for the few matches.
        wanted_keys = {key for _, key in wanted}
    by_key: KeyIndex = {}
    children: dict[tuple[str, str], list[WorkItem]] = {}
    for item in items:
        source = item.source
        parent = item.parent_key
        if parent:
            siblings = children.get((source, parent))
            if siblings is None:
                children[(source, parent)] = [item]
            else:
                siblings.append(item)
        if wanted is None or (item.key in wanted_keys and (source, item.key) in wanted):
            by_key[(source, item.key)] = item
    return by_key, children


def counted_items(
    linked: Sequence[WorkItem], children: ChildIndex
) -> tuple[list[WorkItem], list[Exclusion]]:
    """Expand linked epics into their direct children; exclude sub-tasks.

    The counted items come sorted by ``(source, key)``, as a KR's provenance lists them;
    of two items with one ``(source, key)``, the first is kept. The exclusions list the
    epics in the order they were linked, then the sub-items by their parent's
    ``(source, key)`` (each parent's in the order pulled).
    """
    excluded: list[Exclusion] = []
    sub_items = children.get
    groups: list[Sequence[WorkItem]] = []
    for item in linked:
        if item.kind is _EPIC:
            excluded.append(Exclusion(item.key, "epic: its child issues are counted"))
            kids = sub_items((item.source, item.key))
            if kids:
                groups.append(kids)
        else:
            groups.append((item,))
    # Built back to front, so the first copy is the one kept; a comprehension, not a
    # call per item (this runs for every counted item of every KR).
    counted = {(c.source, c.key): c for group in reversed(groups) for c in reversed(group)}
    # The counted items that have items of their own (a few sub-task parents among
    # thousands): found by one set intersection in C, listed in (source, key) order.
    for source_key in sorted(counted.keys() & children.keys()):
        for grandchild in children[source_key]:
            if (grandchild.source, grandchild.key) not in counted:
                excluded.append(Exclusion(grandchild.key,
                                          f"not a direct child (sub-item of {source_key[1]})"))  # fmt: skip
    # In (source, key) order, sorted as two stable string sorts (by key, then by source):
    # sorting the tuples themselves compares the equal sources again on every step.
    order = sorted(sorted(counted, key=_SECOND), key=_FIRST)
    return [counted[source_key] for source_key in order], excluded


def _done(item: WorkItem) -> bool:
    return item.status_category is _DONE


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
        counted = sorted(linked, key=_SOURCE_KEY)
    else:
        counted, excluded = counted_items(linked, children)  # sorted already
    out = Tally(counted=counted, excluded=excluded)
    if measure in RATIO_MEASURES:
        if measure == "points_done":
            entries, unestimated = out.entries, out.unestimated
            for item in counted:  # _entry written out: it runs for every counted item
                points = item.story_points
                if points is None:
                    unestimated.append(item.key)
                entries.append(CountedItem(item.key, item.status_category is _DONE,
                                           points or 0.0, item.source, item.title))  # fmt: skip
            out.total = sum(e.value for e in out.entries)
            out.done = sum(e.value for e in out.entries if e.done)
        else:  # every item weighs 1: the loops of _entry and of the sums written out
            # (positional: key, done, value, source, title; half a million per run)
            out.entries = [CountedItem(i.key, i.status_category is _DONE, 1.0, i.source, i.title)
                           for i in counted]  # fmt: skip
            done = [e.done for e in out.entries].count(True)  # counted in C
            # what sum() of the 1.0s gives, 0 (not 0.0) for none included
            out.total = float(len(counted)) if counted else 0
            out.done = float(done) if done else 0
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
        out.entries = [CountedItem(i.key, i.status_category is _DONE, 1.0, i.source, i.title)
                       for i in counted]  # fmt: skip
        done = [e.done for e in out.entries].count(True)
        out.current = float(done if measure == "count:done" else len(out.entries))
    return out
