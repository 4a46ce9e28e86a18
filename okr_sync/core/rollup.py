"""Objective progress: the weighted mean rolled up the cascade. Pure.

The rule: an objective's progress is the weighted mean of

- the progress of its own key results, each weighted by the KR's ``weight``
  (default 1), and
- the progress of its child objectives, each counting as one unit weighted by
  the child objective's ``weight`` (default 1), however many KRs it has.

So a company objective with two KRs and one team objective below it averages
three units. Objective progress is rounded to the 4 places written, like a
KR's (never up to 1), and its status judged from that value.

A KR without a number this run — stale, failed, skipped (nothing linked yet,
no Current entered) — is never simply left out: that would recompute the
objective from the remaining KRs and move it for no reason (0.5 On track to 0.1
Off track). It contributes the progress it had in the last recorded run, and
the objective's ``notes`` say so; if it has none, the objective (and every
objective above it) is stale, with the KR and its reason, and is not written.
An objective with no contribution at all has no progress and is not written.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

from okr_sync.core.progress import (
    Thresholds,
    expected_progress,
    rounded_expected,
    status_for,
    written_progress,
)
from okr_sync.errors import DataError
from okr_sync.models import (
    KeyResult,
    KrResult,
    Objective,
    ObjectivePart,
    ObjectiveResult,
    OkrTree,
)


def check_tree(tree: OkrTree, source: str) -> None:
    """Reject duplicate ids, unknown parents and cycles in the cascade.

    Raises:
        DataError: listing every problem found.
    """
    problems: list[str] = []
    seen: set[str] = set()
    for obj in tree.objectives:
        if obj.id in seen:
            problems.append(f"objective id {obj.id!r} appears twice")
        seen.add(obj.id)
    kr_seen: set[str] = set()
    for kr in tree.key_results:
        if kr.id in kr_seen:
            problems.append(f"key result id {kr.id!r} appears twice")
        kr_seen.add(kr.id)
        if kr.objective_id and kr.objective_id not in seen:
            problems.append(f"key result {kr.id} names unknown objective {kr.objective_id!r}")
    parents = {o.id: o.parent_id for o in tree.objectives}
    for obj in tree.objectives:
        if obj.parent_id and obj.parent_id not in parents:
            problems.append(f"objective {obj.id} names unknown parent {obj.parent_id!r}")
    reported: set[str] = set()
    for start in parents:
        chain: list[str] = []
        node: str | None = start
        while node is not None and node in parents and node not in chain:
            chain.append(node)
            node = parents[node]
        if node is not None and node in chain and node not in reported:
            cycle = chain[chain.index(node) :]
            reported.update(cycle)
            problems.append("objectives form a cycle of parents: " + " → ".join([*cycle, node]))
    if problems:
        raise DataError(problems, source)


def _order_children_first(objectives: Sequence[Objective]) -> list[Objective]:
    by_id = {o.id: o for o in objectives}
    depth: dict[str, int] = {}

    def level(oid: str) -> int:
        if oid not in depth:
            parent = by_id[oid].parent_id
            depth[oid] = 0 if parent is None or parent not in by_id else level(parent) + 1
        return depth[oid]

    return sorted(objectives, key=lambda o: -level(o.id))


def roll_up(
    tree: OkrTree,
    kr_results: Mapping[str, KrResult],
    previous_progress: Mapping[str, float],
    now: dt.datetime,
    thresholds: Thresholds,
    cycle: tuple[dt.date | None, dt.date | None] = (None, None),
) -> list[ObjectiveResult]:
    """Roll KR progress up the objective cascade (see the module docstring)."""
    krs_of: dict[str, list[KeyResult]] = {}
    for kr in tree.key_results:
        if kr.objective_id:
            krs_of.setdefault(kr.objective_id, []).append(kr)
    children_of: dict[str, list[Objective]] = {}
    for obj in tree.objectives:
        if obj.parent_id:
            children_of.setdefault(obj.parent_id, []).append(obj)

    results: dict[str, ObjectiveResult] = {}
    for obj in _order_children_first(tree.objectives):
        parts: list[tuple[float, float]] = []
        shown: list[ObjectivePart] = []  # the same parts, recorded for `okr-sync explain`
        unknown: list[str] = []
        notes: list[str] = []
        for kr in krs_of.get(obj.id, ()):
            res = kr_results.get(kr.id)
            if res is None:
                continue
            part = ObjectivePart(kind="key_result", id=kr.id, title=kr.title, weight=kr.weight)
            if res.writable:
                parts.append((kr.weight, res.progress or 0.0))
                shown.append(part.model_copy(update={"progress": res.progress}))
                continue
            reason = _why_no_progress(res)
            if res.closed and kr.id in previous_progress:  # its period ended: a final value
                last = previous_progress[kr.id]
                parts.append((kr.weight, last))
                notes.append(f"{kr.id}: closed (its period ended), its final progress "
                             f"({last * 100:g} %) counts")  # fmt: skip
                shown.append(part.model_copy(update={"progress": last, "note": "closed: final"}))
                continue
            if kr.id in previous_progress:
                last = previous_progress[kr.id]
                parts.append((kr.weight, last))
                notes.append(
                    f"{kr.id}: its last recorded progress ({last * 100:g} %) is used: {reason}"
                )
                note = f"last recorded progress used: {reason}"
                shown.append(part.model_copy(update={"progress": last, "note": note}))
            else:
                unknown.append(f"{kr.id} ({reason})")
                shown.append(part.model_copy(update={"note": f"no progress known: {reason}"}))
        for child in children_of.get(obj.id, ()):
            sub = results[child.id]
            part = ObjectivePart(
                kind="objective", id=child.id, title=child.title, weight=child.weight
            )
            if sub.stale:
                unknown.append(f"{child.id} (stale)")
                shown.append(part.model_copy(update={"note": "stale"}))
            elif sub.progress is not None:
                parts.append((child.weight, sub.progress))
                shown.append(part.model_copy(update={"progress": sub.progress}))
            else:
                shown.append(part.model_copy(update={"note": "no progress: nothing to roll up"}))
        expected = rounded_expected(
            expected_progress(obj.period_start or cycle[0], obj.period_end or cycle[1], now)
        )
        if unknown:
            results[obj.id] = ObjectiveResult(
                objective_id=obj.id,
                title=obj.title,
                expected=expected,
                stale=True,
                error="not updated, no progress known for " + "; ".join(unknown),
                notes=tuple(notes),
                parts=tuple(shown),
            )
            continue
        weight = sum(w for w, _ in parts)
        progress = written_progress(sum(w * p for w, p in parts) / weight) if weight > 0 else None
        results[obj.id] = ObjectiveResult(
            objective_id=obj.id,
            title=obj.title,
            progress=progress,
            expected=expected,
            status=status_for(progress, expected, thresholds) if progress is not None else None,
            notes=tuple(notes),
            parts=tuple(shown),
        )
    return [results[o.id] for o in tree.objectives]


def _why_no_progress(result: KrResult) -> str:
    """The reason a KR has no number this run, as recorded on its result."""
    if result.closed:
        return f"closed: {result.closed}"
    if result.stale:
        return f"stale: {result.error}"
    if result.error:
        return f"failed: {result.error}"
    return result.skipped or "no progress computed"
