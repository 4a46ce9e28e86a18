"""One sync run: pull → link → compute → plan → (apply → record).

The engine is the only module that talks to both connectors and the state
store. ``plan`` stops after planning and touches nothing; ``sync`` applies the
plan one record at a time, recording each confirmed write at once, and commits
the run (snapshots, cursors, item cache) at the end. One failing source, KR or
write never stops the others: they are reported in the summary.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import mappings
from okr_sync import __version__
from okr_sync import log as okr_log
from okr_sync.config import registry
from okr_sync.config.loading import LoadedConfig
from okr_sync.config.okr_checks import check_kr_ids
from okr_sync.core.evaluate import KrSnapshot, Settings, evaluate, rules_by_kr
from okr_sync.core.evaluate import fingerprint as make_fingerprint
from okr_sync.core.plan import TargetPlan, merge, plan_target
from okr_sync.core.rollup import check_tree
from okr_sync.engine.apply import Applier, log_conflict
from okr_sync.errors import ConfigError, OkrSyncError, Problem, SourceError
from okr_sync.interfaces import ItemSource, OkrSource, WriteTarget
from okr_sync.models import (
    ItemKind,
    OkrTree,
    Outcome,
    Plan,
    PullRequest,
    PullResult,
    QuerySelector,
    RecordRef,
    RunSummary,
    WorkItem,
    WriteFailure,
)
from okr_sync.state.store import CacheUpdate, CursorState, StateStore

log = logging.getLogger(__name__)


def build_connectors(loaded: LoadedConfig, **options: Any) -> dict[str, Any]:
    """Instantiate every configured connection once (no network at construction).

    ``options`` go to every connector (e.g. ``sleep=`` or ``clock=``, which the
    Jira and Notion connectors take), so use them only with connectors that do.
    """
    return {
        name: registry.connector_class(cfg.type)(name, cfg, loaded.base_dir, **options)
        for name, cfg in loaded.connections.items()
    }


def _not_found(
    requests: Mapping[str, PullRequest], missing: Mapping[str, frozenset[str]]
) -> set[str]:
    """Keys that every source asked for them (and that answered) reported missing."""
    out = set()
    for key in {k for r in requests.values() for k in r.keys}:
        asked = [name for name, r in requests.items() if key in r.keys and name in missing]
        if asked and all(key in missing[name] for name in asked):
            out.add(key)
    return out


def _merge(
    name: str, cached: list[WorkItem], result: PullResult
) -> tuple[list[WorkItem], CacheUpdate]:
    """A source's items this run, and how its cache changes (see :class:`PullResult`).

    Raises:
        SourceError: an incremental result without membership, or one whose members
            are neither pulled nor cached (the source broke its contract; counting
            what is left would be a plausible wrong number).
    """
    pulled = tuple(result.items)
    if not result.incremental:
        return list(pulled), CacheUpdate(pulled, replace=True)
    if result.members is None:
        raise SourceError(name, "an incremental pull did not say which items are still selected")
    merged = {i.key: i for i in cached if i.key in result.members}
    merged.update((i.key, i) for i in pulled)
    unknown = result.members - merged.keys()
    if unknown:
        shown = ", ".join(sorted(unknown)[:5])
        raise SourceError(
            name, f"{len(unknown)} selected item(s) neither pulled nor cached: {shown}"
        )
    removed = frozenset(i.key for i in cached) - result.members
    if removed:
        log.info("%s: %d cached item(s) left the selection", name, len(removed))
    return list(merged.values()), CacheUpdate(pulled, replace=False, removed=removed)


def _describe(exc: Exception) -> str:
    """Our own errors speak for themselves; anything else is a connector bug, named as such."""
    return str(exc) if isinstance(exc, OkrSyncError) else f"unexpected {type(exc).__name__}: {exc}"


@dataclass
class Pulled:
    """What the item sources gave, per source, in one run."""

    items: list[WorkItem] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    missing: dict[str, frozenset[str]] = field(default_factory=dict)
    cursors: dict[str, CursorState] = field(default_factory=dict)
    caches: dict[str, CacheUpdate] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    #: rule id → why its query could not run (only that rule's KRs fail)
    failed_selectors: dict[str, str] = field(default_factory=dict)


@dataclass
class Computed:
    """Everything computed before planning."""

    outcome: Outcome
    snapshots: list[KrSnapshot]
    source_errors: dict[str, str]
    cursors: dict[str, CursorState]
    caches: dict[str, CacheUpdate]
    shared: dict[str, tuple[str, ...]]
    target_plans: dict[str, TargetPlan] = field(default_factory=dict)
    target_errors: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


class Engine:
    """Runs syncs for one loaded config over a set of connectors and a state store."""

    def __init__(
        self,
        loaded: LoadedConfig,
        connectors: Mapping[str, Any],
        state: StateStore,
        *,
        now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        accept_empty: frozenset[str] = frozenset(),
        refresh_seconds: float = 20.0,
        full: bool = False,
    ) -> None:
        self.loaded = loaded
        #: Pull every source in full, whatever its cache (``sync --full``).
        self.full = full
        #: How often, while writing, targets are asked what humans changed since the read.
        self.refresh_seconds = refresh_seconds
        self.cfg = loaded.config
        self.connectors = connectors
        self.state = state
        # Error texts come from services and clients; none should carry a token, and
        # the state store makes sure of it.
        secrets = okr_log.referenced_secrets([c.model_dump() for c in loaded.connections.values()])
        state.redact = okr_log.Redactor(secrets).scrub
        self.now = now
        self.accept_empty = accept_empty

    # --- pull ------------------------------------------------------------------
    def _okr_tree(self) -> OkrTree:
        source: OkrSource = self.connectors[self.cfg.okrs]
        tree = source.pull_okrs()
        check_tree(tree, self.cfg.okrs)
        problems = check_kr_ids(self.loaded, tree)
        known = {kr.id for kr in tree.key_results}
        problems += [
            Problem("--accept-empty", None, "", f"unknown key result {kr_id!r}", "name a KR id")
            for kr_id in sorted(self.accept_empty - known)
        ]
        if problems:
            raise ConfigError(problems)
        return tree

    def _requests(self, tree: OkrTree) -> dict[str, PullRequest]:
        prefix = self.cfg.mapping.label_prefix
        kr_ids = frozenset(kr.id for kr in tree.key_results)
        counted_by_query = self._count_only_rules(tree)
        requests = {}
        for name in self.cfg.items:
            rules = [r for r in self.cfg.mapping.rules if r.source in (None, name)]
            keys = {k for r in rules for k in r.epics}
            keys |= {
                ref.key for kr in tree.key_results for ref in kr.links if ref.source in (None, name)
            }
            requests[name] = PullRequest(
                keys=frozenset(keys),
                queries=tuple(
                    QuerySelector(id=r.id, query=r.query, count_only=r.id in counted_by_query)
                    for r in rules
                    if r.query is not None
                ),
                labels=frozenset(r.label for r in rules if r.label),
                kr_ids=kr_ids,
                label_prefix=prefix,
            )
        return requests

    def _count_only_rules(self, tree: OkrTree) -> set[str]:
        """Query rules whose KR needs only a count: a ``count`` KR linked by that one query."""
        rules_of = rules_by_kr(self.cfg.mapping.rules)
        out = set()
        for kr in tree.key_results:
            rules = rules_of.get(kr.id, [])
            measure = self.loaded.measure_for(kr.id, kr.measure)
            if (
                measure == "count"
                and not kr.links
                and len(rules) == 1
                and rules[0].query is not None
            ):
                out.add(rules[0].id)
        return out

    def _pull(self, requests: dict[str, PullRequest], started: dt.datetime) -> Pulled:
        pulled_all = Pulled()
        items, errors, missing = pulled_all.items, pulled_all.errors, pulled_all.missing
        cursors, caches = pulled_all.cursors, pulled_all.caches
        full_every = dt.timedelta(hours=self.cfg.pull.full_every_hours)
        for name, request in requests.items():
            fingerprint = self._fingerprint(name, request)
            saved = self.state.cursor(name)
            fresh = (
                not self.full
                and saved is not None
                and saved.fingerprint == fingerprint
                and saved.cursor is not None
                and saved.full_at is not None
                and started - dt.datetime.fromisoformat(saved.full_at) < full_every
            )
            cached: list[WorkItem] = []
            if fresh and saved is not None:
                cached = self.state.cached_items(name)
                epics = frozenset(i.key for i in cached if i.kind is ItemKind.EPIC)
                request = request.model_copy(
                    update={
                        "cursor": saved.cursor,
                        "known_epics": epics,
                        "cached_keys": frozenset(i.key for i in cached),
                    }
                )
            source: ItemSource = self.connectors[name]
            try:
                result = source.pull_items(request)
                source_items, update = _merge(name, cached, result)
            except Exception as exc:  # one broken source never sinks the others
                errors[name] = self._explain_pull_error(exc)
                log.warning(
                    "pull from %s failed: %s", name, errors[name],
                    extra={"event": "failure", "source": name, "error": errors[name]},
                    exc_info=not isinstance(exc, OkrSyncError) and log.isEnabledFor(logging.DEBUG),
                )  # fmt: skip
                continue
            pulled = list(result.items)
            # A full pull restarts the clock of pull.full_every_hours.
            full_at = saved.full_at if result.incremental and saved else started.isoformat()
            items += source_items
            missing[name] = result.missing_keys
            pulled_all.counts.update(result.counts)
            for selector, reason in result.failed_selectors.items():
                error = self._explain_pull_error(SourceError(name, reason, selector=selector))
                pulled_all.failed_selectors[selector] = error
                log.warning(
                    "a query of %s failed: %s", name, error,
                    extra={"event": "failure", "source": name, "error": error},
                )  # fmt: skip
            caches[name] = update
            cursors[name] = CursorState(
                cursor=result.cursor, fingerprint=fingerprint, full_at=full_at
            )
            log.info(
                "pulled %s: %s",
                name,
                result.description or f"{len(pulled)} items",
                extra={
                    "event": "pull",
                    "source": name,
                    "items": len(pulled),
                    "incremental": result.incremental,
                },
            )
        return pulled_all

    def _fingerprint(self, name: str, request: PullRequest) -> str:
        """What the cached items of a source mean: the request and the source's whole config.

        Items are cached already interpreted (done or not, numbers, status), so any
        change to the connection's config (``done:``, ``numbers:``, a filter, the
        story-points field…), to the selection, or to okr-sync itself makes the cache
        meaningless: a changed fingerprint forces a full pull of that source.
        """
        return make_fingerprint(
            {
                "request": request.model_dump(
                    mode="json", exclude={"cursor", "known_epics", "cached_keys"}
                ),
                "connection": self.loaded.connections[name].model_dump(mode="json"),
                "version": __version__,
            }
        )

    def _explain_pull_error(self, exc: Exception) -> str:
        """The error, pointing at the config line of the rule whose query failed."""
        text = _describe(exc)
        selector = getattr(exc, "selector", None)
        for rule in self.cfg.mapping.rules:
            if selector is not None and rule.id == selector:
                return f"{text} (in {rule.describe(self.loaded.path.name)})"
        return text

    # --- compute -----------------------------------------------------------------
    def compute(self) -> Computed:
        """Pull, link and compute; nothing is written anywhere."""
        started = self.now()
        tree = self._okr_tree()
        requests = self._requests(tree)
        pulled = self._pull(requests, started)
        items, errors = pulled.items, pulled.errors
        linked = mappings.link(
            tree.key_results,
            items,
            self.cfg.mapping.rules,
            label_prefix=self.cfg.mapping.label_prefix,
            config_file=self.loaded.path.name,
        )
        for unknown in linked.unknown_in_items:
            log.warning("%s names unknown key result %s", unknown.where, unknown.kr_id)
        cycle = (self.cfg.cycle.start, self.cfg.cycle.end) if self.cfg.cycle else (None, None)
        settings = Settings(
            rules=self.cfg.mapping.rules,
            item_sources=self.cfg.items,
            measure_for=self.loaded.measure_for,
            thresholds=self.cfg.status.thresholds,
            cycle=cycle,
        )
        evaluation = evaluate(
            tree, items, linked, settings, started,
            previous=self.state.previous(),
            failed_sources=errors,
            not_found=_not_found(requests, pulled.missing),
            counts=pulled.counts,
            accept_empty=self.accept_empty,
            failed_selectors=pulled.failed_selectors,
        )  # fmt: skip
        outcome = Outcome(
            tree=tree,
            key_results=tuple(evaluation.key_results[kr.id] for kr in tree.key_results),
            objectives=tuple(evaluation.objectives),
            links=linked.links,
            status_labels=self.cfg.status.label_map(),
            synced_on=started.date(),
        )
        return Computed(
            outcome,
            evaluation.snapshots,
            errors,
            pulled.cursors,
            pulled.caches,
            dict(linked.shared),
        )

    # --- plan ----------------------------------------------------------------------
    def plan(self, computed: Computed) -> Plan:
        """Plan every target's changes (reads the targets, writes nothing)."""
        for name, spec in self.cfg.write.items():
            target: WriteTarget = self.connectors[name]
            try:
                records = []
                for record in target.desired_records(computed.outcome, spec):
                    allowed = spec.for_kind(record.ref.kind)  # only configured fields, ever
                    fields = {k: v for k, v in record.fields.items() if k in allowed}
                    if fields:
                        records.append(record.model_copy(update={"fields": fields}))
                current = target.read_records([r.ref for r in records])
            except Exception as exc:  # one broken target never stops the others
                error = _describe(exc)
                computed.target_errors[name] = error
                log.warning(
                    "reading %s failed: %s", name, error,
                    extra={"event": "failure", "target": name, "error": error},
                )  # fmt: skip
                continue
            computed.notes += list(getattr(target, "plan_notes", None) or ())
            computed.target_plans[name] = plan_target(
                name, records, current, self.state.last_written(name), self.cfg.conflicts
            )
        return merge(list(computed.target_plans.values()))

    # --- run -------------------------------------------------------------------------
    def run(
        self,
        *,
        apply: bool,
        on_write: Callable[[int, int], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> RunSummary:
        """One run. With ``apply=False`` it is a dry run that touches nothing.

        ``should_stop`` is asked before each write: once it says yes, the write
        under way has finished and no other starts. The writes left out were
        never begun (nothing is noted as pending), so the next run plans them
        again as ordinary changes; the run is recorded as ``stopped``.
        """
        started = self.now()
        log.info("run started", extra={"event": "run_start", "dry_run": not apply})
        computed = self.compute()
        plan = self.plan(computed)
        failures = [
            WriteFailure(
                target=name, ref=RecordRef(kind="key_result", id="*"), owner=name, error=err
            )
            for name, err in computed.target_errors.items()
        ]
        summary = RunSummary(
            started_at=started,
            dry_run=not apply,
            key_results=computed.outcome.key_results,
            objectives=computed.outcome.objectives,
            plan=plan,
            source_errors=computed.source_errors,
            shared_items=computed.shared,
            failures=tuple(failures),
            notes=tuple(computed.notes),
        )
        for kr in computed.outcome.key_results:
            if kr.stale or kr.error:  # one line per KR left unwritten, with the reason
                log.warning(
                    "%s %s: %s", kr.kr_id, "stale" if kr.stale else "failed", kr.error,
                    extra={"event": "failure", "kr": kr.kr_id, "stale": kr.stale,
                           "error": kr.error},
                )  # fmt: skip
            elif kr.skipped:
                log.info("%s left alone: %s", kr.kr_id, kr.skipped,
                         extra={"event": "skipped", "kr": kr.kr_id, "reason": kr.skipped})  # fmt: skip
        for obj in computed.outcome.objectives:
            if obj.stale or obj.error:  # an objective left unwritten, with the KRs that made it so
                log.warning(
                    "%s stale: %s", obj.objective_id, obj.error,
                    extra={"event": "failure", "objective": obj.objective_id, "stale": obj.stale,
                           "error": obj.error},
                )  # fmt: skip
        for change in plan.conflicts:
            log_conflict(change)
        if not apply:
            return summary.model_copy(update={"finished_at": self.now()})
        run_id = self.state.start_run(started)
        applier = Applier(
            self.connectors, self.state, self.cfg.conflicts, refresh_seconds=self.refresh_seconds
        )
        done = applier.apply(run_id, plan, failures, on_write, should_stop)
        writes, failures, left = done.writes, done.failures, done.left
        self._adopt(run_id, computed)
        notes = summary.notes
        if left:
            total = len(plan.writes())
            notes += (
                f"stopped early: {left} of {total} write(s) not started; the next run makes them",
            )
        summary = summary.model_copy(
            update={
                "run_id": run_id,
                "plan": done.plan,
                "writes": writes,
                "failures": tuple(failures),
                "finished_at": self.now(),
                "stopped_early": bool(left),
                "notes": notes,
            }
        )
        outcome = (
            "stopped" if left else "failed" if summary.failed or summary.source_errors else "ok"
        )
        self.state.finish_run(
            summary,
            outcome,
            computed.snapshots,
            computed.outcome.objectives,
            computed.cursors,
            computed.caches,
        )
        log.info(
            "run finished: %d writes, %d conflicts, %d failed",
            writes,
            len(done.plan.conflicts),
            len(summary.failed),
            extra={
                "event": "summary",
                "writes": writes,
                "conflicts": len(done.plan.conflicts),
                "failed": list(summary.failed),
                "run_id": run_id,
            },
        )
        return summary

    def _adopt(self, run_id: int, computed: Computed) -> None:
        """Fields that already held the desired value become okr-sync's own."""
        for name, tplan in computed.target_plans.items():
            last = self.state.last_written(name)
            adopt = [(ref, f, v) for ref, f, v in tplan.in_sync if last.get((ref, f)) != (v,)]
            if adopt:
                self.state.adopt(name, run_id, adopt)
