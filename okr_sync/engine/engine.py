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
from okr_sync import log as okr_log
from okr_sync.config import registry
from okr_sync.config.loading import LoadedConfig
from okr_sync.config.okr_checks import check_kr_ids
from okr_sync.core.evaluate import KrSnapshot, Settings, evaluate
from okr_sync.core.forecast import observations_from_history
from okr_sync.core.periods import Period, PeriodEvents, ended_krs, kr_period, period_events
from okr_sync.core.plan import TargetPlan, merge, plan_target, values_equal
from okr_sync.core.rollup import check_tree
from okr_sync.engine import caches, report
from okr_sync.engine.apply import Applier, log_conflict
from okr_sync.engine.collector import collector_paused
from okr_sync.engine.pull import Puller, describe, not_found
from okr_sync.errors import ConfigError, OkrSyncError, Problem
from okr_sync.interfaces import OkrSource, SettlingTarget, WriteTarget
from okr_sync.models import (
    FieldValue,
    OkrTree,
    Outcome,
    Plan,
    Record,
    RecordRef,
    RunSummary,
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
    periods: PeriodEvents = field(default_factory=PeriodEvents)


def _earliest_start(tree: OkrTree, cycle: Period) -> str | None:
    """The first day of any KR's period (ISO), or None when one has no start."""
    objectives = {o.id: o for o in tree.objectives}
    starts = [
        kr_period(kr, objectives.get(kr.objective_id or ""), cycle)[0] for kr in tree.key_results
    ]
    if not starts or any(start is None for start in starts):
        return None
    return min(s for s in starts if s is not None).isoformat()


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
        reopen: frozenset[str] = frozenset(),
    ) -> None:
        self.loaded = loaded
        #: KRs computed and written although their period has ended (``--reopen``).
        self.reopen = reopen
        self.puller = Puller(loaded, connectors, state, full=full)
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
        #: The run being recorded (set once the store has started it).
        self._run_id: int | None = None
        #: Per target: fields in sync whose acceptance ends when they are adopted.
        self._accepted_in_sync: dict[str, frozenset[tuple[RecordRef, str]]] = {}

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
        problems += [
            Problem("--reopen", None, "", f"unknown key result {kr_id!r}", "name a KR id")
            for kr_id in sorted(self.reopen - known)
        ]
        if problems:
            raise ConfigError(problems)
        return tree

    # --- compute -----------------------------------------------------------------
    @collector_paused()  # the cyclic collector would walk every pulled item again and again
    def compute(self) -> Computed:
        """Pull, link and compute; nothing is written anywhere."""
        started = self.now()
        caches.restore(self.loaded, self.connectors, self.state)  # e.g. Notion's schemas
        tree = self._okr_tree()
        requests = self.puller.requests(tree)
        pulled = self.puller.pull(requests, started)
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
        ended = ended_krs(tree, cycle, started)
        finals = self.state.final_values({k: v for k, v in ended.items() if k not in self.reopen})
        settings = Settings(
            rules=self.cfg.mapping.rules,
            item_sources=self.cfg.items,
            measure_for=self.loaded.measure_for,
            thresholds=self.cfg.status.thresholds,
            cycle=cycle,
            status_basis=self.cfg.status.basis,
            forecast_thresholds=self.cfg.status.forecast,
        )
        evaluation = evaluate(
            tree, items, linked, settings, started,
            previous=self.state.previous(),
            failed_sources=errors,
            not_found=not_found(requests, pulled.missing),
            counts=pulled.counts,
            accept_empty=self.accept_empty,
            failed_selectors=pulled.failed_selectors,
            finals=finals,
            reopen=self.reopen,
            history=observations_from_history(
                self.state.history("kr", provenance=False, since=_earliest_start(tree, cycle))
            ),
        )  # fmt: skip
        outcome = Outcome(
            tree=tree,
            key_results=tuple(evaluation.key_results[kr.id] for kr in tree.key_results),
            objectives=tuple(evaluation.objectives),
            links=linked.links,
            status_labels=self.cfg.status.label_map(),
            synced_on=started.date(),
        )
        # Closed and reopened KRs, moved targets, periods that do not nest: noted and kept.
        events, notes = period_events(
            tree, {r.kr_id: r for r in outcome.key_results}, ended, finals,
            self.state.closures(), self.state.last_inputs(), self.reopen, cycle, started,
        )  # fmt: skip
        return Computed(
            outcome,
            evaluation.snapshots,
            errors,
            pulled.cursors,
            pulled.caches,
            dict(linked.shared),
            notes=notes,
            periods=events,
        )

    # --- plan ----------------------------------------------------------------------
    def plan(self, computed: Computed) -> Plan:
        """Plan every target's changes (reads the targets, writes nothing).

        A target that fails is reported on the side where it failed: preparing what
        to write (a missing status option: a writing problem) or reading what it
        holds. When its connection already failed as a source, that cause was
        reported with the pull: the target is noted as not written, naming it.
        """
        for name, spec in self.cfg.write.items():
            target: WriteTarget = self.connectors[name]
            side = "write"
            try:
                records = []
                for record in target.desired_records(computed.outcome, spec):
                    allowed = spec.for_kind(record.ref.kind)  # only configured fields, ever
                    fields = {k: v for k, v in record.fields.items() if k in allowed}
                    if fields:
                        records.append(record.model_copy(update={"fields": fields}))
                side = "read"
                last = self.state.last_written(name)
                refs = [r.ref for r in records]
                if isinstance(target, SettlingTarget):
                    current = target.read_unsettled(refs, self._settled(name, records, last))
                else:
                    current = target.read_records(refs)
            except Exception as exc:  # one broken target never stops the others
                self._target_failed(computed, name, side, describe(exc))
                continue
            computed.notes += list(getattr(target, "plan_notes", None) or ())
            tplan = plan_target(name, records, current, last, self.cfg.conflicts)
            computed.target_plans[name] = self._keep_accepted(name, tplan)
        return merge(list(computed.target_plans.values()))

    def _settled(
        self, name: str, records: list[Record], last: Mapping[tuple[RecordRef, str], Any]
    ) -> dict[RecordRef, dict[str, FieldValue]]:
        """Records whose every wanted value is okr-sync's one confirmed write there."""
        accepted = self.state.accepted(name)
        pending = self.state.pending_fields(name)  # a value never confirmed is no proof
        return {
            r.ref: dict(r.fields) for r in records
            if all(
                (r.ref, f) not in accepted and (r.ref, f) not in pending
                and len(last.get((r.ref, f), ())) == 1
                and values_equal(last[(r.ref, f)][0], v)
                for f, v in r.fields.items()
            )
        }  # fmt: skip

    def _target_failed(self, computed: Computed, name: str, side: str, error: str) -> None:
        if computed.source_errors.get(name) == error:  # the same cause, reported by the pull
            computed.target_errors[name] = f"not read, so nothing written: see source {name}"
            log.info(
                "nothing written to %s: its pull failed (above)", name,
                extra={"event": "failure", "target": name, "side": "read",
                       "error": computed.target_errors[name]},
            )  # fmt: skip
            return
        computed.target_errors[name] = error
        message = "cannot write to %s: %s" if side == "write" else "reading %s failed: %s"
        log.warning(
            message, name, error,
            extra={"event": "failure", "target": name, "side": side, "error": error},
        )  # fmt: skip

    def _keep_accepted(self, name: str, tplan: TargetPlan) -> TargetPlan:
        """Leave fields alone whose human value was accepted and still stands there.

        ``okr-sync accept`` recorded the value; while the target holds it, it is
        neither written over nor reported as a conflict. A field now holding the
        computed value is in sync (the acceptance ends when it is adopted).
        """
        accepted = self.state.accepted(name)
        if not accepted:
            return tplan
        kept = [
            c for c in tplan.changes
            if (c.ref, c.field) in accepted and values_equal(c.before, accepted[(c.ref, c.field)])
        ]  # fmt: skip
        for change in kept:
            log.info(
                "%s %s.%s: the accepted human value stands, left as it is",
                name, change.ref.id, change.field,
                extra={"event": "accepted", "target": name, "record": change.ref.id,
                       "field": change.field, "kr": change.owner},
            )  # fmt: skip
        # Fields in sync that had an acceptance: adopted, which ends the acceptance.
        self._accepted_in_sync[name] = frozenset(
            (ref, f) for ref, f, _ in tplan.in_sync if (ref, f) in accepted
        )
        return TargetPlan(
            changes=tuple(c for c in tplan.changes if c not in kept), in_sync=tplan.in_sync
        )

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

        Every run ends with one ``summary`` log event. A sync that ends on an
        error (the OKR source refused the token, a wrong database id, an OKR
        source that became invalid) is recorded as ``failed`` with the reason,
        and the error is raised again for the caller to report.
        """
        # Before anything is recorded: a store that keeps another OKR source's history
        # is refused, and this run leaves no trace in it.
        self.state.check_source(self.loaded.okr_source_identity(), claim=apply)
        started = self.now()
        self._run_id = None
        log.info("run started", extra={"event": "run_start", "dry_run": not apply})
        try:
            return self._run(started, apply, on_write, should_stop)
        except KeyboardInterrupt:  # stopped at once (Ctrl-C before any write, or twice)
            report.log_summary(outcome="stopped", reason="interrupted", dry_run=not apply,
                               run_id=self._run_id)  # fmt: skip
            raise
        except Exception as exc:
            reason = describe(exc)
            if isinstance(exc, OkrSyncError):
                exc.ended_run = True
            if apply:
                self._record_failure(started, reason)
            source = getattr(exc, "source", None)
            report.log_abort(reason, source if isinstance(source, str) else None)
            report.log_summary(outcome="failed", reason=reason, dry_run=not apply,
                               run_id=self._run_id)  # fmt: skip
            raise

    def _record_failure(self, started: dt.datetime, reason: str) -> None:
        try:
            self._run_id = self.state.record_failed_run(
                started, self.now(), reason, run_id=self._run_id
            )
        except Exception:  # the store itself failed: the error being raised says more
            log.debug("could not record the failed run", exc_info=True)

    def _run(
        self,
        started: dt.datetime,
        apply: bool,
        on_write: Callable[[int, int], None] | None,
        should_stop: Callable[[], bool] | None,
    ) -> RunSummary:
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
        report.log_results(computed.outcome, computed.source_errors)
        for change in plan.conflicts:
            log_conflict(change)
        if not apply:
            report.log_summary(
                outcome="failed" if summary.failed or summary.source_errors else "ok",
                reason=None, dry_run=True, run_id=None, planned=len(plan.writes()),
                conflicts=len(plan.conflicts), failed=summary.failed,
            )  # fmt: skip
            return summary.model_copy(update={"finished_at": self.now()})
        run_id = self._run_id = self.state.start_run(started)
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
            computed.cursors | caches.to_save(self.loaded, self.connectors),
            computed.caches,
            periods=computed.periods,
        )
        report.log_summary(
            outcome=outcome, reason=None, dry_run=False, run_id=run_id, writes=writes,
            planned=len(plan.writes()), conflicts=len(done.plan.conflicts), failed=summary.failed,
        )  # fmt: skip
        return summary

    def _adopt(self, run_id: int, computed: Computed) -> None:
        """Fields that already held the desired value become okr-sync's own."""
        for name, tplan in computed.target_plans.items():
            last = self.state.last_written(name)
            ended = self._accepted_in_sync.get(name, frozenset())
            # A value still pending (its write landed, its record did not) is adopted too,
            # which settles it; otherwise the pending row would stay until the next write.
            pending = self.state.pending_fields(name)
            adopt = [
                (ref, f, v)
                for ref, f, v in tplan.in_sync
                if last.get((ref, f)) != (v,) or (ref, f) in ended or (ref, f) in pending
            ]
            if adopt:
                self.state.adopt(name, run_id, adopt)
