"""``okr-sync backfill``: KR values for past days, rebuilt from the items' change history.

One backfill: pull the OKR tree and the items as a sync would (a full pull), ask
each history-capable item source for the histories of those items and of the
items that were linked earlier and left (:class:`~okr_sync.models.HistoryRequest`),
then replay every day from the period start (or ``since``) to today with
:func:`okr_sync.core.replay.replay_at` — the same link and compute code as a sync
— and record each day in the state store as *backfilled*, one transaction per
day. Days already backfilled, and days with a synced snapshot, are skipped per
KR: a rerun continues where an interrupted one stopped and never duplicates or
overrides a day. A KR that cannot be replayed is reported with why, and nothing
is recorded for it.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import mappings
from okr_sync.config.loading import LoadedConfig
from okr_sync.config.okr_checks import check_kr_ids
from okr_sync.core.evaluate import Evaluation, Settings, kr_period
from okr_sync.core.replay import ReplayInputs, end_of_day, replay_at, replay_problems
from okr_sync.core.rollup import check_tree
from okr_sync.engine.pull import Puller, describe
from okr_sync.errors import ConfigError, Problem
from okr_sync.interfaces import HistorySource, OkrSource
from okr_sync.models import HistoryRequest, ItemHistory, ItemKind, OkrTree, WorkItem
from okr_sync.state.store import StateStore

log = logging.getLogger(__name__)
NOTION_NOTE = (
    "a Notion database keeps no property history (a row's created_time alone gives scope growth)"
)


@dataclass
class KrReport:
    """What a backfill did for one KR."""

    kr_id: str
    title: str
    problem: str | None = None
    added: list[dt.date] = field(default_factory=list)
    already: int = 0
    synced: int = 0


@dataclass
class BackfillReport:
    """What a backfill did: the period, per KR the days added and skipped, the requests."""

    since: dt.date
    until: dt.date
    key_results: list[KrReport]
    history_requests: int = 0
    former_members: int = 0
    source_problems: dict[str, str] = field(default_factory=dict)
    failed_sources: dict[str, str] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """The report as ``backfill --json`` prints it."""
        return {
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "history_requests": self.history_requests,
            "former_members": self.former_members,
            "source_problems": self.source_problems,
            "failed_sources": self.failed_sources,
            "key_results": [
                {"kr": r.kr_id, "title": r.title, "replayable": r.problem is None,
                 "problem": r.problem, "days_added": len(r.added),
                 "days_already_backfilled": r.already, "days_synced": r.synced}
                for r in self.key_results
            ],
        }  # fmt: skip


@dataclass
class Prepared:
    """What every replayed day shares, and per KR why it cannot be replayed."""

    inputs: ReplayInputs
    problems: dict[str, str]
    source_problems: dict[str, str]
    requests: int = 0
    former: int = 0
    #: Sources that failed (their pull or their history): their KRs are not replayed.
    failed: dict[str, str] = field(default_factory=dict)


class Backfiller:
    """Backfills one config's KRs into its state store (the caller holds the run lock)."""

    def __init__(
        self,
        loaded: LoadedConfig,
        connectors: Mapping[str, Any],
        state: StateStore,
        *,
        now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.loaded = loaded
        self.cfg = loaded.config
        self.connectors = connectors
        self.state = state
        self.now = now

    def _tree(self, only: frozenset[str]) -> OkrTree:
        source: OkrSource = self.connectors[self.cfg.okrs]
        tree = source.pull_okrs()
        check_tree(tree, self.cfg.okrs)
        problems = check_kr_ids(self.loaded, tree)
        known = {kr.id for kr in tree.key_results}
        problems += [
            Problem("backfill", None, "", f"unknown key result {kr_id!r}", "name a KR id")
            for kr_id in sorted(only - known)
        ]
        if problems:
            raise ConfigError(problems)
        return tree

    def settings(self) -> Settings:
        """The same evaluation settings a sync uses."""
        cycle = (self.cfg.cycle.start, self.cfg.cycle.end) if self.cfg.cycle else (None, None)
        return Settings(
            rules=self.cfg.mapping.rules, item_sources=self.cfg.items,
            measure_for=self.loaded.measure_for, thresholds=self.cfg.status.thresholds,
            cycle=cycle,
        )  # fmt: skip

    def first_day(self, tree: OkrTree, only: frozenset[str]) -> dt.date | None:
        """The earliest period start among the KRs (``only``: of those)."""
        objectives = {o.id: o for o in tree.objectives}
        starts = [
            kr_period(kr, objectives.get(kr.objective_id or ""), self.settings().cycle)[0]
            for kr in tree.key_results if not only or kr.id in only
        ]  # fmt: skip
        known = [s for s in starts if s is not None]
        return min(known) if known else None

    def prepare(
        self, since: dt.date, only: frozenset[str] = frozenset(), tree: OkrTree | None = None
    ) -> Prepared:
        """Pull the tree (unless given), the items now and their histories since ``since``."""
        started = self.now()
        tree = tree or self._tree(only)
        puller = Puller(self.loaded, self.connectors, self.state, full=True)
        pulled = puller.pull(puller.requests(tree), started)
        items: list[WorkItem] = list(pulled.items)
        settings = self.settings()
        prefix = self.cfg.mapping.label_prefix
        linked = mappings.link(tree.key_results, items, settings.rules, label_prefix=prefix,
                               config_file=self.loaded.path.name)  # fmt: skip
        labels = frozenset(r.label for r in settings.rules if r.label)
        linked_sources: dict[str, set[str]] = {}
        for lk in linked.links:
            linked_sources.setdefault(lk.kr_id, set()).add(lk.source)
        histories: dict[tuple[str, str], ItemHistory] = {}
        source_problems: dict[str, str] = dict(pulled.errors)
        failed = dict(pulled.errors)
        replayable: set[str] = set()
        requests = former = 0
        moment = dt.datetime.combine(since, dt.time(), tzinfo=dt.UTC)
        for name in self.cfg.items:
            if name in source_problems:
                continue
            connector = self.connectors[name]
            if not isinstance(connector, HistorySource):
                source_problems[name] = (
                    NOTION_NOTE if self.loaded.connections[name].type == "notion"
                    else "this source keeps no history okr-sync can read"
                )  # fmt: skip
                continue
            problem = connector.history_problem()
            if problem:
                source_problems[name] = problem
                continue
            epics = {lk.item_key for lk in linked.links
                     if lk.kind == ItemKind.EPIC and lk.source == name}  # fmt: skip
            epics |= {k for r in settings.rules if r.source in (None, name) for k in r.epics}
            epics |= {ref.key for kr in tree.key_results for ref in kr.links
                      if ref.source in (None, name)}  # fmt: skip
            request = HistoryRequest(
                items=tuple(i for i in items if i.source == name), since=moment,
                epics=frozenset(epics), labels=labels, label_prefix=prefix,
            )  # fmt: skip
            try:
                result = connector.pull_history(request)
            except Exception as exc:  # one source's failure makes only its KRs unreplayable
                source_problems[name] = f"reading its history failed: {describe(exc)}"
                failed[name] = source_problems[name]
                log.warning("%s: reading the history failed: %s", name, describe(exc))
                continue
            replayable.add(name)
            requests += result.requests
            former += len(result.former)
            items += result.former
            histories.update(((h.source, h.key), h) for h in result.histories)
        problems = replay_problems(tree, settings, replayable, source_problems, linked_sources)
        inputs = ReplayInputs(
            tree=tree, items=items, histories=histories, settings=settings, label_prefix=prefix,
            config_file=self.loaded.path.name,
        )  # fmt: skip
        return Prepared(inputs, problems, source_problems, requests, former, failed)

    def run(
        self,
        since: dt.date | None = None,
        until: dt.date | None = None,
        only: frozenset[str] = frozenset(),
        on_day: Callable[[dt.date], None] | None = None,
    ) -> BackfillReport:
        """Backfill every day from ``since`` (default: the earliest period start) to ``until``.

        ``until`` defaults to today and is never later; today is computed at the
        current moment, earlier days at their last second (UTC).
        """
        now = self.now()
        today = now.astimezone(dt.UTC).date()
        until = min(until or today, today)
        tree = self._tree(only)
        first = since or self.first_day(tree, only) or today
        prepared = self.prepare(first, only, tree)
        tree = prepared.inputs.tree
        objectives = {o.id: o for o in tree.objectives}
        chosen = [kr for kr in tree.key_results if not only or kr.id in only]
        reports = {kr.id: KrReport(kr.id, kr.title, prepared.problems.get(kr.id)) for kr in chosen}
        starts = {
            kr.id: kr_period(kr, objectives.get(kr.objective_id or ""), prepared.inputs.settings.cycle)[0]
            for kr in chosen
        }  # fmt: skip
        synced = self.state.synced_days("kr")
        done = self.state.backfilled_days("kr")
        synced_objectives = self.state.synced_days("objective")
        day = first
        while day <= until:
            moment = min(end_of_day(day), now)
            wanted = []
            for kr in chosen:
                report = reports[kr.id]
                start = starts[kr.id]
                if report.problem or (start is not None and day < start):
                    continue
                if day in synced.get(kr.id, set()):
                    report.synced += 1
                elif day in done.get(kr.id, set()):
                    report.already += 1
                else:
                    wanted.append(kr.id)
            if wanted:
                evaluation = replay_at(prepared.inputs, moment)
                self._record(day, moment, evaluation, wanted, reports, synced_objectives)
            if on_day:
                on_day(day)
            day += dt.timedelta(days=1)
        return BackfillReport(first, until, list(reports.values()), prepared.requests,
                              prepared.former, prepared.source_problems, prepared.failed)  # fmt: skip

    def _record(self, day: dt.date, moment: dt.datetime, evaluation: Evaluation,
                wanted: list[str], reports: dict[str, KrReport],
                synced_objectives: Mapping[str, set[dt.date]]) -> None:  # fmt: skip
        # A KR with nothing linked yet that day is left alone, as a sync leaves it.
        snaps = [
            s for s in evaluation.snapshots
            if s.result.kr_id in wanted and not s.result.skipped
        ]  # fmt: skip
        objectives = [
            o for o in evaluation.objectives
            if o.progress is not None and day not in synced_objectives.get(o.objective_id, set())
        ]  # fmt: skip
        self.state.record_backfilled_day(day, moment, snaps, objectives)
        for s in snaps:
            reports[s.result.kr_id].added.append(day)


def run_backfill(
    loaded: LoadedConfig,
    *,
    now: Callable[[], dt.datetime],
    since: dt.date | None = None,
    until: dt.date | None = None,
    only: frozenset[str] = frozenset(),
    connectors: Mapping[str, Any] | None = None,
    on_day: Callable[[dt.date], None] | None = None,
) -> BackfillReport:
    """Take the run lock, open the state store and backfill (see :class:`Backfiller`).

    Raises:
        LockHeld: another run holds the lock of this state store.
        StateError: the store cannot be opened, or keeps another OKR source's history.
    """
    from okr_sync.engine.engine import build_connectors
    from okr_sync.state.location import state_location

    location = state_location(loaded.config.state, loaded.base_dir)
    with location.run_lock():
        state = location.open()
        try:
            conns = build_connectors(loaded) if connectors is None else connectors
            identity = loaded.okr_source_identity()
            state.check_source(identity, claim=True)
            return Backfiller(loaded, conns, state, now=now).run(since, until, only, on_day)
        finally:
            state.close()
