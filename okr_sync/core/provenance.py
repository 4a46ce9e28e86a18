"""How a KR's numbers moved between two runs, in words. Pure."""

from __future__ import annotations

from dataclasses import dataclass

from okr_sync.models import Provenance


@dataclass(frozen=True)
class ScopeChange:
    """Items that entered or left a KR's counted set, or changed done state."""

    added: tuple[str, ...]
    removed: tuple[str, ...]
    newly_done: tuple[str, ...]
    reopened: tuple[str, ...]


def scope_change(previous: Provenance | None, current: Provenance) -> ScopeChange:
    """Compare the counted items of two snapshots."""
    before = {c.key: c.done for c in previous.counted} if previous else {}
    after = {c.key: c.done for c in current.counted}
    return ScopeChange(
        added=tuple(sorted(k for k in after if k not in before)),
        removed=tuple(sorted(k for k in before if k not in after)),
        newly_done=tuple(sorted(k for k, d in after.items() if d and before.get(k) is False)),
        reopened=tuple(sorted(k for k, d in after.items() if not d and before.get(k) is True)),
    )


def _items(keys: tuple[str, ...], limit: int = 5) -> str:
    shown = ", ".join(keys[:limit])
    more = f" and {len(keys) - limit} more" if len(keys) > limit else ""
    return f"{len(keys)} ({shown}{more})"


def describe_change(before: float | None, after: float | None, change: ScopeChange) -> str:
    """E.g. ``30 % → 27 %: 3 added to scope (PAY-7, …); 1 done (PAY-2)``."""

    def pct(value: float | None) -> str:
        if value is None:
            return "–"
        whole = f"{value * 100:.0f}"
        if (whole == "100" and value < 1) or (whole == "0" and value > 0):
            whole = f"{value * 100:.2f}".rstrip("0").rstrip(".")  # never 100 % short of it
        return f"{whole} %"

    parts = []
    if change.newly_done:
        parts.append(f"{_items(change.newly_done)} done")
    if change.added:
        parts.append(f"{_items(change.added)} added to scope")
    if change.removed:
        parts.append(f"{_items(change.removed)} removed from scope")
    if change.reopened:
        parts.append(f"{_items(change.reopened)} reopened")
    reason = "; ".join(parts) if parts else "no change in the counted items"
    return f"{pct(before)} → {pct(after)}: {reason}"
