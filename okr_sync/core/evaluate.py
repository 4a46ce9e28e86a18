"""From linked items to KR and objective results: the pure heart of a run.

:func:`evaluate` gathers each KR's inputs (its linked items, period, the
sources it depends on, the previous snapshot), computes it with
:func:`okr_sync.core.progress.compute_kr`, and rolls the results up the objective
cascade. No I/O: the engine hands in what it pulled and what the state store
remembered, and the benchmark drives the very same function.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

from mappings import LinkResult
from mappings.rules import Rule
from okr_sync.core.counting import item_indexes
from okr_sync.core.forecast import ForecastThresholds, Observation, with_forecast
from okr_sync.core.periods import FinalValue, Period, closed_result, has_ended, kr_period
from okr_sync.core.progress import KrInputs, Previous, Thresholds, compute_kr
from okr_sync.core.rollup import roll_up
from okr_sync.models import (
    KeyResult,
    KrResult,
    ObjectiveResult,
    OkrTree,
    Provenance,
    WorkItem,
)

_SOURCE = attrgetter("source")

__all__ = ["Evaluation", "KrSnapshot", "Period", "Settings", "evaluate", "fingerprint", "kr_period"]


def _stable(value: Any) -> Any:
    # Sets have no order; sorted, they hash the same in every process.
    return sorted(value, key=str) if isinstance(value, set | frozenset) else str(value)


def _text_keys(data: Any) -> Any:
    # A query from YAML may mix key types ({0: x, a: y}), which sort_keys cannot order.
    if isinstance(data, dict):
        return {str(k): _text_keys(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [_text_keys(v) for v in data]
    return data


def fingerprint(data: Any) -> str:
    """A short stable hash of JSON-able data (links of a KR, a pull request)."""
    blob = json.dumps(_text_keys(data), sort_keys=True, default=_stable).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def _links_fingerprint(
    kr: KeyResult, rules: Sequence[Rule], unruled: dict[tuple[str, ...], str]
) -> str:
    """The fingerprint of what links a KR: its rules and its own links.

    Most KRs have no rules (they are linked by labels or their own property); theirs
    depend on the link keys alone and are hashed once per distinct keys (``unruled``).
    """
    keys = [ref.key for ref in kr.links]
    if rules:
        return fingerprint([[r.model_dump(mode="json") for r in rules], keys])
    known = unruled.get(tuple(keys))
    if known is None:
        known = unruled[tuple(keys)] = fingerprint([[], keys])
    return known


@dataclass(frozen=True)
class KrSnapshot:
    """A KR result plus what the next run's drop-to-zero guard needs."""

    result: KrResult
    item_count: int
    fingerprint: str
    sources: frozenset[str]
    #: The KR's period as this run saw it (its own dates, else its objective's, else the cycle).
    period: Period = (None, None)


@dataclass(frozen=True)
class Settings:
    """The parts of the config that evaluation depends on."""

    rules: Sequence[Rule]
    item_sources: Sequence[str]
    measure_for: Callable[[str, str | None], str]
    thresholds: Thresholds
    cycle: Period = (None, None)
    #: ``status.basis``: ``pace`` (elapsed time) or ``forecast`` (README "Forecast").
    status_basis: str = "pace"
    forecast_thresholds: ForecastThresholds = field(default_factory=ForecastThresholds)


@dataclass(frozen=True)
class Evaluation:
    """Every KR's and objective's result, and the snapshots to record."""

    key_results: dict[str, KrResult]
    objectives: list[ObjectiveResult]
    snapshots: list[KrSnapshot]


def rules_by_kr(rules: Sequence[Rule]) -> dict[str, list[Rule]]:
    """The mapping rules of each KR."""
    out: dict[str, list[Rule]] = {}
    for rule in rules:
        out.setdefault(rule.kr, []).append(rule)
    return out


def dependencies(kr: KeyResult, rules: Sequence[Rule], item_sources: Sequence[str]) -> set[str]:
    """Item sources whose failure makes this KR's number unreliable (``rules``: the KR's)."""
    deps: set[str] = set()
    for rule in rules:
        deps |= {rule.source} if rule.source else set(item_sources)
    for ref in kr.links:
        deps |= {ref.source} if ref.source else set(item_sources)
    if not rules and not kr.links:
        deps |= set(item_sources)  # only item-side links can reach it
    return deps


def _failed_dependencies(deps: set[str], errors: Mapping[str, str]) -> dict[str, str]:
    """What failed among the things a KR depends on → the error, for its stale reason.

    Today: item sources (by name). A finer failure (one rule's query) fits here
    under its own key, so it makes only the KRs depending on it stale.
    """
    return {s: errors[s] for s in sorted(deps) if s in errors}


def evaluate(
    tree: OkrTree,
    items: Sequence[WorkItem],
    linked: LinkResult,
    settings: Settings,
    now: dt.datetime,
    *,
    previous: Mapping[str, Previous] | None = None,
    failed_sources: Mapping[str, str] | None = None,
    not_found: set[str] | frozenset[str] = frozenset(),
    accept_empty: frozenset[str] = frozenset(),
    counts: Mapping[str, int] | None = None,
    failed_selectors: Mapping[str, str] | None = None,
    finals: Mapping[str, FinalValue] | None = None,
    reopen: frozenset[str] = frozenset(),
    history: Mapping[str, Sequence[Observation]] | None = None,
) -> Evaluation:
    """Compute every KR and roll the results up (see the module docstring).

    Args:
        tree: the OKR tree.
        items: every item pulled, from all item sources.
        linked: the links from :func:`mappings.link`.
        settings: rules, item source names, measures, thresholds, cycle.
        now: the run's time (expected progress).
        previous: the last recorded snapshot of each KR (drop-to-zero guard).
        failed_sources: item source → error, for the sources that failed.
        not_found: keys asked for that no item source has.
        accept_empty: KRs whose drop to no items is accepted this time.
        counts: query selector → number of matches, from sources that answered
            a count-only query (a ``count`` KR linked by one query) with a count.
        failed_selectors: rule id → why the source could not run that rule's query;
            the rule's KRs fail with that reason, the others are computed as usual.
        finals: the final value of KRs whose period has ended (the last recorded
            within it); a KR whose period has ended is *closed*: not computed, its
            final value kept and nothing written (:mod:`okr_sync.core.periods`).
        reopen: KRs computed (and written) as usual although their period has ended.
        history: each KR's earlier observations, for its forecast
            (:func:`okr_sync.core.forecast.observations_from_history`).
    """
    counts = counts or {}
    previous = previous or {}
    errors = failed_sources or {}
    # Once per run, shared by every KR: every item's children, the linked items by key.
    index, children = item_indexes(items, ((lk.source, lk.item_key) for lk in linked.links))
    objectives = {o.id: o for o in tree.objectives}
    rules_of = rules_by_kr(settings.rules)
    unruled: dict[tuple[str, ...], str] = {}  # KRs without rules, by their own links
    sharing = {kr_id for krs in linked.shared.values() for kr_id in krs}  # KRs sharing an item
    results: dict[str, KrResult] = {}
    snapshots: list[KrSnapshot] = []
    closed_progress: dict[str, float] = {}
    for kr in tree.key_results:
        period = kr_period(kr, objectives.get(kr.objective_id or ""), settings.cycle)
        if has_ended(period[1], now) and kr.id not in reopen:
            final = (finals or {}).get(kr.id)
            measure = settings.measure_for(kr.id, kr.measure)
            results[kr.id] = closed = closed_result(kr, measure, period, final)
            if closed.progress is not None:  # the objectives above keep the final value
                closed_progress[kr.id] = closed.progress
            snapshots.append(KrSnapshot(closed, 0, "", frozenset(), period))
            continue
        kr_rules = rules_of.get(kr.id, [])
        links = linked.by_kr.get(kr.id, ())
        selectors = linked.selectors.get(kr.id, ())
        asked = {k for r in kr_rules for k in r.epics} | {ref.key for ref in kr.links}
        prev = None if kr.id in accept_empty else previous.get(kr.id)
        deps = dependencies(kr, kr_rules, settings.item_sources) | (prev.sources if prev else set())
        shared = []
        for lk in links if kr.id in sharing else ():
            others = linked.shared.get(f"{lk.source}:{lk.item_key}")
            if others:
                shared.append(f"{lk.item_key} (also {', '.join(k for k in others if k != kr.id)})")
        inputs = KrInputs(
            kr=kr,
            measure=settings.measure_for(kr.id, kr.measure),
            declared=bool(kr_rules) or bool(kr.links),
            linked=[index[(lk.source, lk.item_key)] for lk in links],
            period=period,
            fingerprint=_links_fingerprint(kr, kr_rules, unruled),
            selectors=selectors,
            shared=tuple(shared),
            failed_sources=_failed_dependencies(deps, errors),
            missing=tuple(sorted(asked & not_found)),
            previous=prev,
            keyed=bool(kr.links) or any(r.epics for r in kr_rules),
            source_count=next((counts[r.id] for r in kr_rules if r.id in counts), None),
        )
        result = compute_kr(inputs, children, now, settings.thresholds)
        failed = [
            (failed_selectors or {})[r.id] for r in kr_rules if r.id in (failed_selectors or {})
        ]
        if failed:  # a rule's query could not run: its items are unknown, so is the number
            result = result.model_copy(
                update={
                    "current": None, "done": None, "total": None, "progress": None,
                    "status": None, "stale": False, "error": "; ".join(failed),
                    "provenance": Provenance(selectors=result.provenance.selectors),
                }
            )  # fmt: skip
        result = with_forecast(
            result, kr, inputs.period, now, (history or {}).get(kr.id, ()),
            basis=settings.status_basis, thresholds=settings.forecast_thresholds,
            not_started_until=settings.thresholds.not_started_until,
        )  # fmt: skip
        results[kr.id] = result
        counted = result.provenance.counted
        sources = frozenset(map(_SOURCE, counted))
        snapshots.append(KrSnapshot(result, len(counted), inputs.fingerprint, sources, period))
    prev_progress = {k: p.progress for k, p in previous.items() if p.progress is not None}
    prev_progress |= closed_progress
    objective_results = roll_up(
        tree, results, prev_progress, now, settings.thresholds, settings.cycle
    )
    return Evaluation(results, objective_results, snapshots)
