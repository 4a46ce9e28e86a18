"""``okr-sync check``: every connection checked against its live service (or files).

The preflight reads, never writes, and prints nothing: it returns a
:class:`PreflightReport` the CLI renders. It pulls the OKR tree (to learn the
epics listed on key results and the measures in use), then runs each
connection's :class:`~okr_sync.interfaces.Checkable` check with what that
connection needs to know, and keeps going after every problem so that one run
lists them all.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from okr_sync.config import readiness, registry
from okr_sync.config.loading import LoadedConfig
from okr_sync.config.okr_checks import check_kr_ids
from okr_sync.core.rollup import check_tree
from okr_sync.errors import DataError, OkrSyncError, Problem
from okr_sync.interfaces import (
    Checkable,
    CheckContext,
    CheckLevel,
    CheckResult,
    OkrSource,
    QueryCheck,
)
from okr_sync.models import OkrTree
from okr_sync.state.location import state_location

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PreflightReport:
    """The results of one preflight, connection by connection, in config order."""

    config: Path
    results: tuple[CheckResult, ...]

    @property
    def failures(self) -> list[CheckResult]:
        """The problems (a sync would fail or compute from wrong data)."""
        return [r for r in self.results if r.level == "fail"]

    @property
    def warnings(self) -> list[CheckResult]:
        """Things worth a look that do not stop a sync."""
        return [r for r in self.results if r.level == "warn"]

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready summary: counts and every result."""
        return {
            "config": str(self.config),
            "ok": not self.failures,
            "failures": len(self.failures),
            "warnings": len(self.warnings),
            "results": [r.model_dump() for r in self.results],
        }


def _describe(exc: Exception) -> str:
    return str(exc) if isinstance(exc, OkrSyncError) else f"unexpected {type(exc).__name__}: {exc}"


def _read_tree(
    loaded: LoadedConfig, connectors: Mapping[str, Any]
) -> tuple[OkrTree | None, list[CheckResult]]:
    """The OKR tree (None if it cannot be read), and problems with its data."""
    name = loaded.config.okrs
    source: OkrSource = connectors[name]
    try:
        tree = source.pull_okrs()
    except Exception as exc:  # reported against the connection below
        log.debug("reading the OKRs failed", exc_info=True)
        return None, [
            CheckResult(connection=name, subject="OKRs", level="fail", message=_describe(exc))
        ]
    problems: list[CheckResult] = []
    try:
        check_tree(tree, name)
    except DataError as exc:
        problems = [
            CheckResult(connection=name, subject="OKRs", level="fail", message=problem,
                        hint="fix it in the OKR source: ids must be unique, parents must not loop")
            for problem in exc.problems
        ]  # fmt: skip
    return tree, problems


def _item_keys(loaded: LoadedConfig, tree: OkrTree | None, name: str) -> dict[str, tuple[str, ...]]:
    """Keys linked to KRs that source ``name`` is asked for, each with where it is linked."""
    where: dict[str, list[str]] = {}
    file = loaded.path.name
    for rule in loaded.config.mapping.rules:
        if rule.source in (None, name):
            for key in rule.epics:
                where.setdefault(key, []).append(f"{rule.kr} by {rule.name(file)}")
    for kr in tree.key_results if tree else ():
        for ref in kr.links:
            if ref.source in (None, name):
                where.setdefault(ref.key, []).append(f"{kr.id}, listed on the key result")
    return {key: tuple(places) for key, places in where.items()}


def _context(loaded: LoadedConfig, tree: OkrTree | None, name: str) -> CheckContext:
    cfg = loaded.config
    roles = {role for role, used in (("okrs", cfg.okrs == name), ("items", name in cfg.items),
                                     ("target", name in cfg.write)) if used}  # fmt: skip
    if tree is not None:
        measures = {loaded.measure_for(kr.id, kr.measure) for kr in tree.key_results}
    else:
        measures = {*cfg.measures.values(), cfg.measures.get("default", "issues_done")}
    queries = tuple(
        QueryCheck(kr=rule.kr, rule_id=rule.id, query=rule.query, where=rule.name(loaded.path.name))
        for rule in cfg.mapping.rules
        if rule.query is not None and rule.source == name
    )  # fmt: skip
    return CheckContext(
        roles=frozenset(roles),
        item_keys=_item_keys(loaded, tree, name) if name in cfg.items else {},
        queries=queries,
        status_labels=tuple(cfg.status.label_map().values()),
        write=cfg.write.get(name),
        measures=frozenset(measures),
        config_file=loaded.path.name,
    )


def _check(name: str, connector: Any, context: CheckContext) -> list[CheckResult]:
    if not isinstance(connector, Checkable):
        kind = getattr(getattr(connector, "config", None), "type", type(connector).__name__)
        return [CheckResult(connection=name, subject="connection", level="ok",
                            message=f"no preflight check for {kind!r} connections")]  # fmt: skip
    try:
        return connector.check(context)
    except Exception as exc:  # one broken check never hides the others
        log.debug("the check of %s failed", name, exc_info=True)
        return [CheckResult(connection=name, subject="check", level="fail",
                            message=f"the check itself failed: {_describe(exc)}")]  # fmt: skip


def _drop_found_elsewhere(
    results: list[CheckResult], asked: Mapping[str, list[str]]
) -> list[CheckResult]:
    """A key left to any source is missing only if every source asked for it misses it."""
    missing: dict[str, set[str]] = {}
    for r in results:
        missing.setdefault(r.connection, set()).update(r.missing_keys)

    def found_elsewhere(r: CheckResult) -> bool:
        return any(
            key not in missing.get(other, set())
            for key in r.missing_keys
            for other in asked.get(key, [])
            if other != r.connection
        )

    return [r for r in results if not (r.missing_keys and found_elsewhere(r))]


#: What a preflight allows each request: a check reports, it need not wait out an outage.
CHECK_BUDGET = {"max_retries": 1, "max_wait_seconds": 10.0, "timeout_seconds": 10.0}


def _quick_connectors(loaded: LoadedConfig) -> dict[str, Any]:
    """The config's connectors with a small retry budget (an unreachable host fails fast)."""
    out: dict[str, Any] = {}
    for name, cfg in loaded.connections.items():
        fields = type(cfg).model_fields
        update = {k: min(getattr(cfg, k), v) for k, v in CHECK_BUDGET.items() if k in fields}
        out[name] = registry.connector_class(cfg.type)(
            name, cfg.model_copy(update=update), loaded.base_dir
        )
    return out


def _as_results(problems: list[Problem], level: Literal["fail", "warn"]) -> list[CheckResult]:
    """Problems found in files (the config, a local OKR file) as check results."""
    return [
        CheckResult(connection=Path(p.file).name, level=level, message=p.message, hint=p.hint,
                    subject=f"line {p.line}: {p.field}" if p.line else p.field)
        for p in problems
    ]  # fmt: skip


def run_preflight(
    loaded: LoadedConfig, connectors: Mapping[str, Any] | None = None
) -> PreflightReport:
    """Check every connection of a loaded config; nothing is written anywhere.

    Each request gets at most ``CHECK_BUDGET`` (one retry, ten seconds), so an
    unreachable service is reported in seconds rather than after a sync's patience.
    """
    cfg = loaded.config
    connectors = connectors if connectors is not None else _quick_connectors(loaded)
    results = _as_results(readiness.placeholders(loaded), "fail")
    tree, tree_problems = _read_tree(loaded, connectors)
    asked: dict[str, list[str]] = {}
    for name, connector in connectors.items():
        context = _context(loaded, tree, name)
        for key in context.item_keys:
            asked.setdefault(key, []).append(name)
        own = _check(name, connector, context)
        if name == cfg.okrs:
            own += _tree_results(name, connector, tree, tree_problems, own)
        results += own
    results = _drop_found_elsewhere(results, asked)
    if tree is not None:
        results += _as_results(check_kr_ids(loaded, tree), "fail")
        results += _as_results(readiness.urls_missing(loaded, tree), "warn")
        results += _as_results(readiness.periods_outside(loaded, tree), "warn")
    results += state_results(loaded)
    return PreflightReport(config=loaded.path, results=tuple(results))


def state_results(loaded: LoadedConfig) -> list[CheckResult]:
    """The state store: reachable, up to date, and keeping this config's OKR source."""
    location = state_location(loaded.config.state, loaded.base_dir)

    def result(level: CheckLevel, message: str, hint: str = "") -> list[CheckResult]:
        return [CheckResult(connection="state", subject=str(location), level=level,
                            message=message, hint=hint)]  # fmt: skip

    try:
        if not location.exists():
            return result("ok", "no runs recorded yet: the first sync creates the store")
        store = location.open_readonly()
        try:
            store.check_source(loaded.okr_source_identity(),
                               claim=False)  # fmt: skip
            runs = store.runs(1)
        finally:
            store.close()
        holder = location.holder("run")
    except OkrSyncError as exc:
        return result("fail", str(exc))
    last = f"; the latest run ({runs[0]['started_at']}) {runs[0]['outcome']}" if runs else ""
    exact = location.backend == "postgresql"  # a lock file may name a run that died
    busy = f"; a run holds the lock now (pid {holder.get('pid')})" if holder and exact else ""
    return result("ok", f"reachable{last}{busy}")


def _tree_results(name: str, connector: Any, tree: OkrTree | None, problems: list[CheckResult],
                  own: list[CheckResult]) -> list[CheckResult]:  # fmt: skip
    """What reading the OKR tree adds to the OKR connection's own results."""
    if tree is None:
        out = [] if any(r.level == "fail" for r in own) else problems  # its own check said why
        return [*out, CheckResult(
            connection=name, subject="linked items", level="warn",
            message="keys listed on key results and the measures they use were not checked: "
                    "the OKRs could not be read",
            hint="fix the problems above and run okr-sync check again",
        )]  # fmt: skip
    if getattr(connector, "offline", False):  # a file's own check already said what it read
        return problems
    counts = f"read {len(tree.objectives)} objectives and {len(tree.key_results)} key results"
    return [CheckResult(connection=name, subject="OKRs", level="ok", message=counts), *problems]
