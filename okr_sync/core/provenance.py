"""How a KR's or an objective's numbers moved between two runs, in words. Pure."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from okr_sync.models import CountedItem, ObjectivePart, Provenance

# Notion pages are keyed by their id, a UUID (responses always give it with dashes;
# requests also take the 32 hex digits without): see ../shared/api-notes/notion.md (beside the project folder)
# "IDs are UUIDs", and the SDK's id helper, which returns "standard UUID format
# xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"
# (https://www.mintlify.com/makenotion/notion-sdk-js/api/helpers/id-extraction).
_UUID = re.compile(r"[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}", re.I)


def item_label(key: str, title: str = "") -> str:
    """How an item is named to a human: ``title (key)``, or the title alone for a page id.

    A Jira key (PAY-7) means something to its readers, a Notion page id does not;
    without a title the key is all there is.
    """
    if not title:
        return key
    if _UUID.fullmatch(key):
        return title
    return f"{title} ({key})"


def counted_label(item: CountedItem) -> str:
    """:func:`item_label` of a counted item."""
    return item_label(item.key, item.title)


@dataclass(frozen=True)
class ScopeChange:
    """Items that entered or left a KR's counted set, changed done state or value.

    Keys are the items' keys; ``labels`` maps a key to how it is shown (its title
    where the run recorded one). ``revalued`` holds ``(key, before, after)`` for
    items whose contribution changed (story points re-estimated, an ARR updated).
    """

    added: tuple[str, ...]
    removed: tuple[str, ...]
    newly_done: tuple[str, ...]
    reopened: tuple[str, ...]
    revalued: tuple[tuple[str, float, float], ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)

    def label(self, key: str) -> str:
        """How the item with this key is shown."""
        return self.labels.get(key, key)


def scope_change(previous: Provenance | None, current: Provenance) -> ScopeChange:
    """Compare the counted items of two snapshots."""
    before = {c.key: c for c in previous.counted} if previous else {}
    after = {c.key: c for c in current.counted}
    labels = {c.key: counted_label(c) for c in (*before.values(), *after.values())}
    return ScopeChange(
        added=tuple(sorted(k for k in after if k not in before)),
        removed=tuple(sorted(k for k in before if k not in after)),
        newly_done=tuple(sorted(k for k, c in after.items() if c.done and k in before and not before[k].done)),
        reopened=tuple(sorted(k for k, c in after.items() if not c.done and k in before and before[k].done)),
        revalued=tuple(
            (k, before[k].value, c.value)
            for k, c in sorted(after.items())
            if k in before and before[k].value != c.value
        ),
        labels=labels,
    )  # fmt: skip


def _items(change: ScopeChange, what: str, keys: Sequence[str], limit: int = 5) -> str:
    """``2 done: Login page (PAY-7), Tracing``: a count, then the items by name."""
    shown = ", ".join(change.label(k) for k in keys[:limit])
    more = f" and {len(keys) - limit} more" if len(keys) > limit else ""
    return f"{len(keys)} {what}: {shown}{more}"


def _num(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.2f}".rstrip("0")


def pct(value: float | None) -> str:
    """A 0..1 value in whole percents, never 100 % short of it nor 0 % above 0."""
    if value is None:
        return "–"
    whole = f"{value * 100:.0f}"
    if (whole == "100" and value < 1) or (whole == "0" and value > 0):
        whole = f"{value * 100:.2f}".rstrip("0").rstrip(".")
    return f"{whole} %"


def moved(name: str, before: float | None, after: float | None) -> str | None:
    """``Current moved 30 → 45``, or None when the value did not move."""
    if before == after:
        return None
    return f"{name} moved {_num(before)} → {_num(after)}"


def describe_change(
    before: float | None,
    after: float | None,
    change: ScopeChange,
    *,
    current: tuple[float | None, float | None] | None = None,
    inputs: Sequence[str] = (),
) -> str:
    """E.g. ``30 % → 27 %: 1 done: Login page (PAY-2); 3 added to scope: PAY-7, …``.

    ``current`` is the KR's Current before and after: named when the counted
    items do not account for the move (a manual KR's hand-entered Current, a
    count the source made). ``inputs`` are other inputs that moved (``target
    moved 100 → 120``), always named.
    """
    parts = []
    for what, keys in (
        ("done", change.newly_done),
        ("added to scope", change.added),
        ("removed from scope", change.removed),
        ("reopened", change.reopened),
    ):
        if keys:
            parts.append(_items(change, what, keys))
    if change.revalued:
        shown = [f"{change.label(k)} {_num(b)} → {_num(a)}" for k, b, a in change.revalued[:5]]
        more = f" and {len(change.revalued) - 5} more" if len(change.revalued) > 5 else ""
        parts.append(f"{len(change.revalued)} changed value ({', '.join(shown)}{more})")
    if current is not None and not parts:
        parts += filter(None, [moved("Current", *current)])
    parts += inputs
    reason = "; ".join(parts) if parts else "no change in the counted items"
    return f"{pct(before)} → {pct(after)}: {reason}"


def describe_rollup(
    before: float | None,
    after: float | None,
    previous: Sequence[ObjectivePart],
    current: Sequence[ObjectivePart],
) -> str:
    """How an objective moved: ``40 % → 45 %: KR-7 30 % → 40 %; O-2 added``.

    Compares the parts (KRs and child objectives) recorded with two runs: each
    part whose progress or weight moved, those added and those gone.
    """
    old = {(p.kind, p.id): p for p in previous}
    parts = []
    for part in current:
        was = old.pop((part.kind, part.id), None)
        if was is None:
            parts.append(f"{part.id} added ({pct(part.progress)})")
            continue
        if was.progress != part.progress:
            parts.append(f"{part.id} {pct(was.progress)} → {pct(part.progress)}")
        if was.weight != part.weight:
            parts.append(f"{part.id} weight {_num(was.weight)} → {_num(part.weight)}")
    parts += [f"{p.id} removed" for p in old.values()]
    reason = "; ".join(parts) if parts else "no change in its key results and objectives"
    return f"{pct(before)} → {pct(after)}: {reason}"
