"""Replaying item histories: the items as they were, fed to the same link + compute code.

``okr-sync backfill`` rebuilds a KR's value for past days. Each day's number is
computed by :func:`okr_sync.core.evaluate.evaluate` — the very function a sync
runs — over the items *as they were* at the end of that day: an item's current
state with every change made after that moment undone, newest first, and items
created after it left out. So a backfilled day and a synced day agree whenever
the items agree (tested).

What cannot be replayed is said per KR (:func:`replay_problems`), never guessed:
a manual KR (its Current has no history here), a rule's query (it may use any
field, and only the fields in :data:`~okr_sync.models.REPLAYED_FIELDS` have a
history), items from a source that keeps no history (Notion), a ``sum:`` measure
(numeric fields are not replayed) and links through a KR field.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import mappings
from mappings.rules import Rule
from okr_sync.core.evaluate import Evaluation, Settings, dependencies, evaluate, rules_by_kr
from okr_sync.models import ItemHistory, OkrTree, StatusCategory, WorkItem

HistoryIndex = Mapping[tuple[str, str], ItemHistory]


def item_at(item: WorkItem, history: ItemHistory, moment: dt.datetime) -> WorkItem | None:
    """``item`` as it was at ``moment``; None when it did not exist yet."""
    if history.created is not None and history.created > moment:
        return None
    values: dict[str, Any] = {}
    for change in sorted(history.changes, key=lambda c: c.at, reverse=True):
        if change.at <= moment:
            break
        values[change.field] = change.before  # undone, newest first: the oldest wins
    if not values:
        return item
    if "status_category" in values:
        values["status_category"] = StatusCategory(str(values["status_category"]))
    if "labels" in values:
        values["labels"] = tuple(values["labels"] or ())
    return item.replace(**values)


def items_at(
    items: Sequence[WorkItem], histories: HistoryIndex, moment: dt.datetime
) -> list[WorkItem]:
    """Every item as it was at ``moment`` (items without a history are kept as they are)."""
    out = []
    for item in items:
        history = histories.get((item.source, item.key))
        then = item_at(item, history, moment) if history is not None else item
        if then is not None:
            out.append(then)
    return out


def replay_problems(
    tree: OkrTree,
    settings: Settings,
    replayable_sources: Collection[str],
    source_problems: Mapping[str, str],
    linked_sources: Mapping[str, Collection[str]] | None = None,
) -> dict[str, str]:
    """Per KR id, why its past values cannot be replayed (KRs absent here can be).

    ``replayable_sources``: item sources whose history was read; ``source_problems``:
    the others, with why (a Notion database keeps no property history).
    ``linked_sources``: per KR, the sources of the items linked to it now. A source
    without history blocks a KR when a rule or the KR's own links name it, when
    items of it are linked now, or when it failed; a KR reached only through
    item-side links (labels, relations) with no such item today is replayed from
    the other sources.
    """
    out: dict[str, str] = {}
    rules_of = rules_by_kr(settings.rules)
    for kr in tree.key_results:
        measure = settings.measure_for(kr.id, kr.measure)
        kr_rules = rules_of.get(kr.id, [])
        deps = dependencies(kr, kr_rules, settings.item_sources)
        queries = [r for r in kr_rules if r.query is not None]
        if measure == "manual":
            out[kr.id] = "a manual KR: its Current has no history okr-sync can read"
        elif measure.startswith("sum:"):
            out[kr.id] = f"measure {measure}: the history of numeric fields is not replayed"
        elif queries:
            out[kr.id] = (
                f"{_rule_name(queries[0])}'s query may use fields whose history is not "
                "replayable (only status, parent / Epic Link, story points and labels are)"
            )
        else:
            named = {r.source for r in kr_rules if r.source} | {
                ref.source for ref in kr.links if ref.source
            }
            implicit = not kr_rules and not kr.links
            now = set((linked_sources or {}).get(kr.id, ()))
            blocked = sorted(
                s for s in deps
                if s not in replayable_sources
                and (not implicit or s in named or s in now or "failed" in source_problems.get(s, ""))
            )  # fmt: skip
            if blocked:
                reasons = "; ".join(
                    f"{s}: {source_problems.get(s, 'keeps no history')}" for s in blocked
                )
                out[kr.id] = f"its items come from sources without a replayable history ({reasons})"
    return out


def _rule_name(rule: Rule) -> str:
    where = f" (line {rule.line})" if rule.line else ""
    return f"rule {rule.index + 1}{where}"


@dataclass(frozen=True)
class ReplayInputs:
    """What every replayed day shares: the tree, today's items, their histories, settings."""

    tree: OkrTree
    items: Sequence[WorkItem]
    histories: HistoryIndex
    settings: Settings
    label_prefix: str = "okr:"
    config_file: str = "config"
    failed_sources: Mapping[str, str] | None = None


def end_of_day(day: dt.date) -> dt.datetime:
    """The last moment of ``day`` (UTC), which a backfilled day is computed at."""
    return dt.datetime.combine(day, dt.time(23, 59, 59), tzinfo=dt.UTC)


def replay_at(inputs: ReplayInputs, moment: dt.datetime) -> Evaluation:
    """Link and compute every KR from the items as they were at ``moment``.

    The previous-snapshot guard is off (``previous=None``): a replayed day has no
    earlier run to compare with, and a KR with nothing linked yet is left alone,
    exactly as a sync would leave it.
    """
    then = items_at(inputs.items, inputs.histories, moment)
    linked = mappings.link(
        inputs.tree.key_results, then, inputs.settings.rules,
        label_prefix=inputs.label_prefix, config_file=inputs.config_file,
    )  # fmt: skip
    return evaluate(
        inputs.tree, then, linked, inputs.settings, moment,
        failed_sources=inputs.failed_sources or {},
    )  # fmt: skip
