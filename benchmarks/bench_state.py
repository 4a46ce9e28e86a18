"""Benchmark the state store: one run's store work, and history/status after many runs.

Drives :class:`~okr_sync.state.store.StateStore` directly, on SQLite and on
PostgreSQL over loopback, with data shaped like a run of a 1,000-KR organisation
(``--krs``): 100 objectives, 20 cached work items per KR (one source, pulled
incrementally), one write target (KRs: progress, current, status, last_synced;
objectives: progress, status, last_synced), 10 % of the KRs changed per run
(``--changed``). One run's store work, in the engine's order, each phase timed
and its statements counted (``Database.statements``):

a. reads: the OKR source's identity, the cursors, the item cache, ``previous()``,
   ``accepted`` and ``last_written`` of the target;
   history: every KR's history, which the engine reads for the forecasts;
b. ``start_run``;
c. writes: per changed record ``record_intent`` then ``record_changes(applied)``,
   two transactions (the engine commits each write as soon as it is confirmed);
d. adopt: ``last_written`` again, a field adopted;
e. ``finish_run``: summary, snapshots with provenance, objectives, cursors, and
   the changed KRs' items merged into the cache.

Runs 2-4 are measured on a new store (each phase's median), the store is filled
to ``--runs`` runs (1,000) through the same calls, one transaction per phase,
and three more runs are measured. Then the queries of ``history``, ``status``
and ``explain`` are timed (median of 5).

PostgreSQL: ``--url`` (the password from ``--password-env VAR`` or libpq), else
a throwaway server from ``tests/postgres.py`` made durable as a real one is
(``fsync``, ``synchronous_commit``, ``full_page_writes`` on). SQLite: a file in
a temporary folder, opened as okr-sync opens it (WAL, ``synchronous=NORMAL``)::

    python benchmarks/bench_state.py                 # 1,000 KRs, 1,000 runs, both backends
    python benchmarks/bench_state.py --quick         # 100 KRs, 30 runs
    python benchmarks/bench_state.py --backend sqlite --runs 200
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from okr_sync.core.evaluate import KrSnapshot
from okr_sync.models import (
    CountedItem,
    FieldChange,
    KrResult,
    ObjectiveResult,
    Provenance,
    RecordRef,
    RunSummary,
    Status,
    StatusCategory,
    WorkItem,
)
from okr_sync.state.location import PostgresLocation
from okr_sync.state.store import CacheUpdate, CursorState, StateStore

ROOT = Path(__file__).resolve().parent.parent
START = dt.datetime(2026, 10, 1, 8, tzinfo=dt.UTC)
TARGET, SOURCE, OKRS = "notion", "jira", "okrs"
KR_FIELDS = ("progress", "current", "status", "last_synced")
OBJECTIVE_FIELDS = ("progress", "status", "last_synced")
PHASES = ("reads", "history", "start_run", "writes", "adopt", "finish_run")
QUERY_REPEATS = 5
REPEATS = 3  # measured runs, early and late: each phase's median is reported


# --- a synthetic organisation --------------------------------------------------------------


@dataclass
class Org:
    """KRs, objectives and items; ``step`` moves 10 % of the KRs on (one run's worth)."""

    krs: int
    changed: float
    items_per_kr: int = 20
    run: int = 0
    done: dict[str, int] = field(default_factory=dict)  # KR → items done
    _snapshots: dict[tuple[str, int], KrSnapshot] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.kr_ids = [f"KR-{i:04d}" for i in range(1, self.krs + 1)]
        self.objective_ids = [f"O-{i:03d}" for i in range(1, max(1, self.krs // 10) + 1)]
        self.done = dict.fromkeys(self.kr_ids, 0)

    def step(self) -> list[str]:
        """The KRs whose numbers move in the next run (a rotating 10 %)."""
        self.run += 1
        count = max(1, round(self.krs * self.changed))
        start = (self.run * count) % self.krs
        moved = [self.kr_ids[(start + i) % self.krs] for i in range(count)]
        for kr in moved:
            self.done[kr] = (self.done[kr] + 1) % (self.items_per_kr + 1)
        return moved

    def items(self, kr: str) -> list[WorkItem]:
        done = self.done[kr]
        return [
            WorkItem(source=SOURCE, key=f"{kr}-{i}", title=f"Work item {i} of {kr}",
                     status_category=StatusCategory.DONE if i < done else StatusCategory.TODO,
                     story_points=3.0, labels=(f"okr:{kr}",), updated=START)
            for i in range(self.items_per_kr)
        ]  # fmt: skip

    def result(self, kr: str) -> KrResult:
        done = self.done[kr]
        counted = tuple(
            CountedItem(key=f"{kr}-{i}", done=i < done, source=SOURCE, title=f"Work item {i}")
            for i in range(self.items_per_kr)
        )
        progress = round(done / self.items_per_kr, 4)
        return KrResult(
            kr_id=kr, title=f"Key result {kr}", measure="issues_done", start=0.0, target=100.0,
            current=progress * 100, done=float(done), total=float(self.items_per_kr),
            progress=progress, expected=0.5, status=Status.ON_TRACK,
            provenance=Provenance(selectors=(f"label okr:{kr}",), counted=counted),
        )  # fmt: skip

    def snapshot(self, kr: str) -> KrSnapshot:
        key = (kr, self.done[kr])  # built once: the filling runs spend their time in the store
        if key not in self._snapshots:
            fingerprint = hashlib.sha256(kr.encode()).hexdigest()[:16]
            self._snapshots[key] = KrSnapshot(
                self.result(kr), self.items_per_kr, fingerprint, frozenset({SOURCE})
            )
        return self._snapshots[key]

    def objectives(self) -> list[ObjectiveResult]:
        return [
            ObjectiveResult(objective_id=o, title=f"Objective {o}", progress=0.5, expected=0.5,
                            status=Status.ON_TRACK)
            for o in self.objective_ids
        ]  # fmt: skip

    def changes(self, moved: Sequence[str]) -> list[list[FieldChange]]:
        """The record writes of a run: each moved KR's page and its objective's page."""
        day = (START + dt.timedelta(hours=self.run)).date().isoformat()
        records = []
        for kr in moved:
            r = self.snapshot(kr).result
            after = {"progress": r.progress, "current": r.current, "status": "On track",
                     "last_synced": day}  # fmt: skip
            records.append([
                FieldChange(target=TARGET, ref=RecordRef(kind="key_result", id=kr), owner=kr,
                            field=f, before=None, after=after[f], last_written=None)
                for f in KR_FIELDS
            ])  # fmt: skip
        for objective in sorted({self.objective_ids[self.kr_ids.index(k) // 10] for k in moved}):
            ref = RecordRef(kind="objective", id=objective)
            records.append([
                FieldChange(target=TARGET, ref=ref, owner=objective, field=f,
                            after=day if f == "last_synced" else 0.5)
                for f in OBJECTIVE_FIELDS
            ])  # fmt: skip
        return records


# --- one run -------------------------------------------------------------------------------


@dataclass
class Measured:
    """Seconds and statements per phase of one run."""

    seconds: dict[str, float] = field(default_factory=dict)
    statements: dict[str, int] = field(default_factory=dict)

    @property
    def total_seconds(self) -> float:
        return sum(self.seconds.values())

    @property
    def total_statements(self) -> int:
        return sum(self.statements.values())


@contextmanager
def phase(store: StateStore, measured: Measured | None, name: str) -> Iterator[None]:
    before, began = store.database.statements, time.perf_counter()
    yield
    if measured is not None:
        measured.seconds[name] = time.perf_counter() - began
        measured.statements[name] = store.database.statements - before


def one_run(store: StateStore, org: Org, *, measured: Measured | None = None) -> None:
    """The store work of one sync run, in the engine's order."""
    moved = org.step()
    started = START + dt.timedelta(hours=org.run)
    with phase(store, measured, "reads"):
        store.check_source(OKRS, claim=True)
        cursors = {src: store.cursor(src) for src in (SOURCE, OKRS)}
        cached = store.cached_items(SOURCE) if cursors[SOURCE] and measured else [None]
        store.previous()
        store.accepted(TARGET)
        store.last_written(TARGET)
    assert cached or org.run == 1
    with phase(store, measured, "history"):  # every KR's, for the forecast (the engine's read)
        if measured is not None:  # not while filling: it grows with every run
            store.history("kr", provenance=False)
    with phase(store, measured, "start_run"):
        run_id = store.start_run(started)
    records = org.changes(moved)
    with phase(store, measured, "writes"):
        if measured is None:  # filling: the same rows, one transaction
            flat = [c for record in records for c in record]
            store.record_intent(run_id, flat)
            store.record_changes(run_id, flat, "applied")
        else:
            for record in records:
                store.record_intent(run_id, record)
                store.record_changes(run_id, record, "applied")
    with phase(store, measured, "adopt"):
        store.last_written(TARGET)
        kr = org.kr_ids[org.run % org.krs]
        store.adopt(TARGET, run_id, [(RecordRef(kind="key_result", id=kr), "status", "On track")])
    snapshots = [org.snapshot(kr) for kr in org.kr_ids]
    items = [i for kr in (org.kr_ids if org.run == 1 else moved) for i in org.items(kr)]
    summary = RunSummary(
        run_id=run_id, started_at=started, finished_at=started + dt.timedelta(minutes=1),
        key_results=tuple(s.result for s in snapshots), objectives=tuple(org.objectives()),
        writes=len(records),
    )  # fmt: skip
    cursor = CursorState(cursor=started.isoformat(), fingerprint="f" * 16, full_at=None)
    with phase(store, measured, "finish_run"):
        store.finish_run(
            summary, "ok", snapshots, org.objectives(), {SOURCE: cursor, OKRS: cursor},
            {SOURCE: CacheUpdate(items=items, replace=org.run == 1)},
        )  # fmt: skip


def timed_queries(store: StateStore, org: Org) -> dict[str, float]:
    """Median seconds of the queries history, status and explain make."""
    latest = store.runs(1)[0]["id"]
    kr = org.kr_ids[len(org.kr_ids) // 2]
    queries: dict[str, Callable[[], object]] = {
        "runs(10)": lambda: store.runs(10),
        "run_summary(latest)": lambda: store.run_summary(latest),
        "run_changes x10 (status)": lambda: [store.run_changes(latest - i) for i in range(10)],
        f'history("kr", {kr})': lambda: store.history("kr", kr),
        'history("kr") (okr-sync history)': lambda: store.history("kr", provenance=False),
        "previous()": store.previous,
        f"changes_for({kr}) (explain)": lambda: store.changes_for(kr, limit=10),
        f"open_conflicts({kr}) (accept)": lambda: store.open_conflicts(kr),
    }
    out = {}
    for name, query in queries.items():
        times = []
        for _ in range(QUERY_REPEATS):
            began = time.perf_counter()
            query()
            times.append(time.perf_counter() - began)
        out[name] = statistics.median(times)
    return out


# --- the backends ----------------------------------------------------------------------------


@dataclass
class Result:
    """What one backend measured."""

    name: str
    first: Measured
    late: Measured
    queries: dict[str, float]
    fill_seconds: float
    rows: dict[str, int]


def measure(store: StateStore, org: Org, repeats: int) -> Measured:
    """Each phase's median over ``repeats`` consecutive runs (a shared machine is noisy)."""
    runs = []
    for _ in range(repeats):
        runs.append(Measured())
        one_run(store, org, measured=runs[-1])
    return Measured(
        {p: statistics.median(m.seconds[p] for m in runs) for p in PHASES},
        {p: int(statistics.median(m.statements[p] for m in runs)) for p in PHASES},
    )


def bench(name: str, store: StateStore, org: Org, runs: int, say: Callable[[str], None]) -> Result:
    one_run(store, org)  # run 1: the first full pull, every value written
    first = measure(store, org, REPEATS)
    say(f"{name}: runs 2-{REPEATS + 1} measured; filling to {runs} runs")
    began = time.perf_counter()
    while org.run < runs:
        one_run(store, org)
        if org.run % 100 == 0:
            say(f"{name}: {org.run} runs ({time.perf_counter() - began:.0f} s)")
    fill = time.perf_counter() - began
    late = measure(store, org, REPEATS)
    queries = timed_queries(store, org)
    rows = {
        t: int(store.database.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0])
        for t in ("runs", "snapshots", "changes", "provenances", "items")
    }
    return Result(name, first, late, queries, fill, rows)


@contextmanager
def postgres_store(url: str | None, password_env: str | None) -> Iterator[tuple[StateStore, str]]:
    """A fresh namespace on the given server, or on a throwaway durable one."""
    server = None
    if url is None:
        sys.path.insert(0, str(ROOT))
        from tests.postgres import PostgresServer

        server = PostgresServer().start()
        for setting in ("fsync", "synchronous_commit", "full_page_writes"):
            server.admin(f"ALTER SYSTEM SET {setting} = on", dbname="postgres")
        server.admin("SELECT pg_reload_conf()", dbname="postgres")
        url = server.url()
        os.environ["OKR_BENCH_PG_PASSWORD"] = server.password
        password_env = "OKR_BENCH_PG_PASSWORD"
    namespace = f"bench_{uuid.uuid4().hex[:8]}"
    location = PostgresLocation(url, namespace, f"${{{password_env}}}" if password_env else None)
    store = location.open()
    try:
        where = "throwaway server, durable settings" if server else str(location)
        yield store, where
    finally:
        store.database.execute(f"DROP SCHEMA okr_sync_{namespace} CASCADE")
        store.close()
        if server is not None:
            server.stop()


# --- report ----------------------------------------------------------------------------------


def ratio(pg: float, lite: float) -> str:
    return f"{pg / lite:.1f}x" if lite > 0 else "-"


def run_table(results: list[Result], attr: str) -> list[str]:
    head = f"{'phase':<12}" + "".join(f"{r.name + ' ms':>16}{'stmts':>8}" for r in results)
    lines = [head + ("  PG/SQLite" if len(results) == 2 else "")]
    for name in (*PHASES, "total"):
        cells, times = "", []
        for r in results:
            m: Measured = getattr(r, attr)
            secs = m.total_seconds if name == "total" else m.seconds[name]
            stmts = m.total_statements if name == "total" else m.statements[name]
            cells += f"{secs * 1000:>16.1f}{stmts:>8,}"
            times.append(secs)
        extra = f"  {ratio(times[1], times[0]):>9}" if len(times) == 2 else ""
        lines.append(f"{name:<12}{cells}{extra}")
    return lines


def report(results: list[Result], org: Org, runs: int) -> list[str]:
    moved = max(1, round(org.krs * org.changed))
    records = len(org.changes(org.kr_ids[:moved]))
    out = [
        f"state store work of one run: {org.krs:,} KRs, {len(org.objective_ids):,} objectives, "
        f"{org.krs * org.items_per_kr:,} cached items, {moved:,} KRs changed "
        f"({records:,} record writes)",
        "",
        f"runs 2-{REPEATS + 1} (a new store; each phase's median of {REPEATS} runs):",
        *run_table(results, "first"),
        "",
        f"runs {runs + 1:,}-{runs + REPEATS:,} (after {runs:,} runs; median of {REPEATS}):",
        *run_table(results, "late"),
        "",
        f"history/status/explain queries after {runs + REPEATS:,} runs (median of {QUERY_REPEATS}):",
    ]
    head = f"{'query':<34}" + "".join(f"{r.name + ' ms':>16}" for r in results)
    out.append(head + ("  PG/SQLite" if len(results) == 2 else ""))
    for query in results[0].queries:
        times = [r.queries[query] for r in results]
        extra = f"  {ratio(times[1], times[0]):>9}" if len(times) == 2 else ""
        out.append(f"{query:<34}" + "".join(f"{t * 1000:>16.2f}" for t in times) + extra)
    out.append("")
    for r in results:
        rows = ", ".join(f"{n:,} {t}" for t, n in r.rows.items())
        filled = runs - REPEATS - 1
        out.append(f"{r.name}: filled {filled:,} runs in {r.fill_seconds:.1f} s; {rows}")
    out.append(
        "statements: as Database.statements counts them (SQLite: one per row of an executemany; "
        "PostgreSQL: one per batch, pipelined), BEGIN and COMMIT included on SQLite only"
    )
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--krs", type=int, default=1000, help="key results (default 1000)")
    parser.add_argument("--runs", type=int, default=1000, help="runs before the late measure")
    parser.add_argument("--changed", type=float, default=0.10, help="share of KRs changed/run")
    parser.add_argument("--quick", action="store_true", help="100 KRs, 30 runs")
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--url", default=os.environ.get("OKR_BENCH_PG_URL"),
                        help="a PostgreSQL database to use (default: a throwaway server)")  # fmt: skip
    parser.add_argument("--password-env", metavar="VAR", help="the variable holding its password")
    args = parser.parse_args(argv)
    krs, runs = (100, 30) if args.quick else (args.krs, args.runs)
    if krs < 10 or runs < REPEATS + 12 or not 0 < args.changed <= 1:
        parser.error(f"need at least 10 KRs, {REPEATS + 12} runs and 0 < --changed <= 1")

    def say(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    results = []
    if args.backend in ("sqlite", "both"):
        with tempfile.TemporaryDirectory(prefix="okr-bench-state-") as folder:
            store = StateStore.open(Path(folder) / "state.db")
            try:
                results.append(bench("SQLite", store, Org(krs, args.changed), runs, say))
            finally:
                store.close()
    if args.backend in ("postgresql", "both"):
        with postgres_store(args.url, args.password_env) as (store, where):
            say(f"PostgreSQL: {where}")
            results.append(bench("PostgreSQL", store, Org(krs, args.changed), runs, say))
    print("\n".join(report(results, Org(krs, args.changed), runs)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
