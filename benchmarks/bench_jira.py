"""Benchmark the Jira connector's request pattern: a real sync against the Jira sandbox.

Starts the Jira sandbox (a local fake of the Jira REST API, in its own process so
that its memory and CPU are not the engine's), with a fixed latency added to every
request, and seeds it (default: 50,000 issues under 1,000 epics in 5 projects,
statuses and issue types mixed, story points mixed and sometimes unset, every issue
last updated days ago, as the connector's incremental pulls re-read whatever changed
in the 10 minutes before their cursor). Then writes a config in a temporary folder: 200 KRs in a
``yaml_okrs`` file, each linked to 5 epics (by the KR's ``epics:`` list, or with
``--links rules`` by mapping rules ``{kr, source: jira, epics: [...]}``), one ``jira``
connection, and ``write: {jira: {items: [property]}}`` so that every KR's state
goes back onto its epics as the ``okr-sync`` entity property.

It syncs exactly as ``okr-sync sync`` does (``load_config``, the run lock,
``StateStore.open``, ``Engine`` over ``build_connectors``, ``run(apply=True)``; the
engine subclass only notes the sandbox's request counts after each phase), three
times:

1. the first sync: a full pull, then one property write per epic;
2. an immediate rerun with nothing changed: an incremental pull (the engine passes
   the cursor), nothing to write;
3. after ~1 % of the issues changed (``sandbox.update_issue``), a rerun.

With ``--next-day`` a fourth run repeats (2) with the engine's clock set just past
the next midnight (UTC), as ``OKR_SYNC_NOW`` would.

For each run it prints the wall time, the requests by endpoint (and by phase: pull,
read-back of the targets, apply), the searches against a floor (a full pull needs
at least ``ceil(issues pulled / page size)`` pages plus a small constant; a rerun
with nothing changed one page per item source plus the key-only pages that prove
which issues are still selected: 5,000 a page on Cloud, 1,000 on Data Center), the
writes against a floor (the epics whose written value must change), whether every epic holds its KRs'
state afterwards, the engine's own summary, and the peak RSS of both processes
(``ru_maxrss``). Figures are printed, not asserted on.

This is a script, not a test::

    python benchmarks/bench_jira.py                  # Cloud, 50,000 issues, 50 ms per request
    python benchmarks/bench_jira.py --datacenter     # the same against Data Center
    python benchmarks/bench_jira.py --quick          # 2,000 issues / 40 epics / 5 ms
    python benchmarks/bench_jira.py --issues 10000 --epics 200 --latency 0.02 --links rules
    python benchmarks/bench_jira.py --quick --next-day   # + a rerun on the next day

"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import math
import multiprocessing
import os
import platform
import random
import resource
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Literal, TypeVar

from connectors.jira.pull import KEYS_PAGE_CLOUD, KEYS_PAGE_DC

try:
    from figures import figure
except ImportError:  # run through runpy from the repository root
    from benchmarks.figures import figure
from okr_sync.config.loading import load_config
from okr_sync.engine.engine import Computed, Engine, build_connectors
from okr_sync.models import Plan, RunSummary
from okr_sync.state.lock import RunLock
from okr_sync.state.store import StateStore
from sandboxes import JiraSandbox

T = TypeVar("T")
Mode = Literal["cloud", "datacenter"]

PROJECTS = ("PAY", "GRO", "COR", "MOB", "DAT", "OPS", "SEC", "WEB", "API", "INF")
PROPERTY_KEY = "okr-sync"  # the connector's default property_key
PAGE_SIZE = 100  # the connector's default page_size, and the sandbox's page cap
FULL_PULL_CONSTANT = 2  # the okr: label query, and one ragged last page
COUNT_PROOF = 1  # an incremental pull's count of the selection (approximate-count / total)
#: What every run asks first: serverInfo (the deployment), myself (the time zone of JQL
#: dates), the field list (story points, Epic Link): each may change between two runs.
CONNECT_REQUESTS = 3
TOKEN_VAR = "BENCH_JIRA_TOKEN"
EPICS_PER_KR = 5
KRS_PER_OBJECTIVE = 10
POINTS_SHARE = 0.25  # KRs whose own measure is points_done (the default is issues_done)

ISSUE_TYPES: tuple[tuple[str, int], ...] = (("Story", 70), ("Task", 20), ("Bug", 10))
ISSUE_STATUS: tuple[tuple[str, int], ...] = (
    ("To Do", 30),
    ("In Progress", 15),
    ("In Review", 5),
    ("Done", 40),
    ("Closed", 10),
)
EPIC_STATUS: tuple[tuple[str, int], ...] = (("To Do", 20), ("In Progress", 60), ("Done", 20))
DONE_STATUSES = frozenset({"Done", "Closed"})
POINTS = (1.0, 2.0, 3.0, 5.0, 8.0, 13.0)
UNESTIMATED_SHARE = 0.2  # stories and tasks without story points (bugs never have them)


def pick(rng: random.Random, weighted: Sequence[tuple[T, int]]) -> T:
    """One value from ``(value, weight)`` pairs."""
    return rng.choices([v for v, _ in weighted], [w for _, w in weighted])[0]


def cpu_seconds() -> float:
    """CPU time (user + system) this process has used so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mib() -> float:
    """This process's peak resident set size so far (ru_maxrss: KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


# --- the sandbox, in its own process ---------------------------------------------------


@dataclass(frozen=True)
class SeedSpec:
    """What the sandbox process builds."""

    mode: Mode
    latency: float
    issues: int
    epics: int
    projects: int
    seed: int


@dataclass
class World:
    """What was seeded, as the benchmark process needs it."""

    url: str
    email: str
    token: str
    epic_keys: list[str]
    children: dict[str, int]
    counts: dict[str, int]
    seconds: float


class SandboxSide:
    """Runs in the sandbox process: seeds the site, changes issues, answers questions."""

    def __init__(self, spec: SeedSpec) -> None:
        self.spec = spec
        self.sandbox = JiraSandbox(spec.mode, latency=spec.latency)
        self.child_status: dict[str, str] = {}
        self.child_points: dict[str, float | None] = {}
        self.epic_keys: list[str] = []

    def seed(self) -> World:
        """Start the server and create projects, epics and their child issues."""
        spec, sb = self.spec, self.sandbox
        started = time.perf_counter()
        url = sb.start()
        # Seeding writes the store directly (no HTTP, no latency, not counted).
        sb.latency = 0.0
        rng = random.Random(spec.seed)
        now = dt.datetime.now(dt.UTC)
        counts: Counter[str] = Counter()

        def when() -> tuple[dt.datetime, dt.datetime]:
            updated = now - dt.timedelta(days=rng.uniform(2, 60))
            return updated, updated - dt.timedelta(days=rng.uniform(0, 30))

        projects = PROJECTS[: spec.projects]
        for key in projects:
            sb.add_project(key, f"Project {key}")
        for e in range(spec.epics):
            updated, created = when()
            status = pick(rng, EPIC_STATUS)
            project = projects[e % len(projects)]
            epic = sb.add_issue(project, f"Epic {e + 1}", issuetype="Epic", status=status,
                                updated=updated, created=created)  # fmt: skip
            self.epic_keys.append(epic)
            counts[f"epic status {status}"] += 1
        # Every epic gets at least one child when there are enough; the rest skewed.
        weights = [rng.uniform(0.2, 1.8) for _ in self.epic_keys]
        base = list(range(spec.epics)) if spec.issues >= spec.epics else []
        rest = rng.choices(range(spec.epics), weights, k=spec.issues - len(base))
        owners = base + rest
        rng.shuffle(owners)
        children: Counter[str] = Counter()
        for i, e in enumerate(owners):
            epic = self.epic_keys[e]
            kind = pick(rng, ISSUE_TYPES)
            status = pick(rng, ISSUE_STATUS)
            points = (
                None if kind == "Bug" or rng.random() < UNESTIMATED_SHARE else rng.choice(POINTS)
            )
            updated, created = when()
            key = sb.add_issue(
                epic.split("-")[0], f"{kind} {i + 1}", issuetype=kind, status=status,
                parent=epic, story_points=points, updated=updated, created=created,
            )  # fmt: skip
            self.child_status[key] = status
            self.child_points[key] = points
            children[epic] += 1
            counts[f"type {kind}"] += 1
            counts[f"status {status}"] += 1
            counts["points unset" if points is None else "points set"] += 1
        sb.latency = spec.latency
        cloud = spec.mode == "cloud"
        return World(
            url=url,
            email=sb.email if cloud else "",
            token=sb.api_token if cloud else sb.pat,
            epic_keys=list(self.epic_keys),
            children=dict(children),
            counts=dict(counts),
            seconds=time.perf_counter() - started,
        )

    def change(self, fraction: float, seed: int) -> dict[str, int]:
        """Change ~``fraction`` of the child issues as people would; counts by kind of change."""
        rng = random.Random(seed)
        keys = sorted(self.child_status)
        chosen = rng.sample(keys, min(len(keys), max(1, round(len(keys) * fraction))))
        done: Counter[str] = Counter()
        for key in chosen:
            r = rng.random()
            status = self.child_status[key]
            if r < 0.6:  # finished, or reopened
                new = "In Progress" if status in DONE_STATUSES else "Done"
                self.sandbox.update_issue(key, status=new)
                self.child_status[key] = new
                done["status (done ↔ not done)"] += 1
            elif r < 0.85:  # moved along without finishing (or back)
                new = "In Review" if status != "In Review" else "In Progress"
                if status in DONE_STATUSES:
                    new = "Closed" if status == "Done" else "Done"
                self.sandbox.update_issue(key, status=new)
                self.child_status[key] = new
                done["status (same done-ness)"] += 1
            else:  # re-estimated
                points = None if rng.random() < 0.2 else rng.choice(POINTS)
                self.sandbox.update_issue(key, story_points=points)
                self.child_points[key] = points
                done["story points"] += 1
        return dict(done)

    def requests(self) -> dict[str, int]:
        """The sandbox's request counts so far."""
        return dict(self.sandbox.requests)

    def properties(self) -> dict[str, Any]:
        """The okr-sync entity property of every epic (None where unset)."""
        return {
            key: self.sandbox.issue(key)["properties"].get(PROPERTY_KEY) for key in self.epic_keys
        }

    def server_errors(self) -> list[str]:
        """Sandbox bugs answered as 500 (should stay empty)."""
        return list(self.sandbox.server_errors)

    def rss(self) -> float:
        """The sandbox process's peak RSS in MiB."""
        return peak_rss_mib()

    def cpu(self) -> float:
        """The sandbox process's CPU seconds so far (serving, evaluating JQL, seeding)."""
        return cpu_seconds()

    def stop(self) -> None:
        """Stop serving."""
        self.sandbox.stop()


def _sandbox_main(conn: Connection, spec: dict[str, Any]) -> None:
    """The sandbox process: seed, then answer ``(method, args)`` messages until ``stop``."""
    side = SandboxSide(SeedSpec(**spec))
    try:
        # Only builtins cross the pipe: the script may run as ``<run_path>`` (runpy).
        conn.send(("ok", asdict(side.seed())))
        while True:
            method, args = conn.recv()
            if method == "stop":
                break
            try:
                conn.send(("ok", getattr(side, method)(*args)))
            except Exception:
                conn.send(("error", traceback.format_exc()))
    except Exception:
        conn.send(("error", traceback.format_exc()))
    finally:
        side.stop()
        conn.close()


class SandboxProcess:
    """The benchmark's handle on the sandbox process."""

    def __init__(self, spec: SeedSpec) -> None:
        context = (
            multiprocessing.get_context("fork")  # also when the script runs under runpy
            if "fork" in multiprocessing.get_all_start_methods()
            else multiprocessing.get_context("spawn")
        )
        self._conn, child = context.Pipe()
        self._process = context.Process(
            target=_sandbox_main, args=(child, asdict(spec)), daemon=True
        )
        self._process.start()
        child.close()
        self.world = World(**self._receive())

    def _receive(self) -> Any:
        status, value = self._conn.recv()
        if status != "ok":
            raise RuntimeError(f"the sandbox process failed:\n{value}")
        return value

    def call(self, method: str, *args: Any) -> Any:
        """Call a :class:`SandboxSide` method in the sandbox process."""
        self._conn.send((method, args))
        return self._receive()

    def requests(self) -> Counter[str]:
        """The sandbox's request counts so far, by ``"METHOD template"``."""
        return Counter(self.call("requests"))

    def stop(self) -> None:
        """Stop the sandbox and its process."""
        if self._process.is_alive():
            self._conn.send(("stop", ()))
            self._process.join(timeout=10)
        if self._process.is_alive():
            self._process.terminate()
        self._conn.close()


# --- the config ----------------------------------------------------------------------------


@dataclass
class Links:
    """Which epics each KR holds, and each epic's KRs."""

    by_kr: dict[str, list[str]]
    measures: dict[str, str]
    by_epic: dict[str, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for kr, epics in self.by_kr.items():
            for epic in epics:
                self.by_epic.setdefault(epic, []).append(kr)


def deal_epics(epic_keys: Sequence[str], n_krs: int, seed: int) -> Links:
    """Give every KR its epics (shuffled, about the same number each); some use points."""
    rng = random.Random(seed + 1)
    order = list(epic_keys)
    rng.shuffle(order)
    by_kr: dict[str, list[str]] = {f"KR-{i + 1}": [] for i in range(n_krs)}
    ids = list(by_kr)
    for n, epic in enumerate(order):
        by_kr[ids[n % n_krs]].append(epic)
    measures = {kr: "points_done" for kr in ids if rng.random() < POINTS_SHARE}
    return Links(by_kr={k: sorted(v) for k, v in by_kr.items()}, measures=measures)


def write_config(
    folder: Path, world: World, links: Links, how: Literal["yaml", "rules"], today: dt.date
) -> Path:
    """``okrs.yaml`` and ``okr-sync.yaml`` in ``folder``; returns the config's path."""
    n_objectives = math.ceil(len(links.by_kr) / KRS_PER_OBJECTIVE)
    lines = ["objectives:"]
    lines += [f'  - {{id: O-{o + 1}, title: "Objective {o + 1}"}}' for o in range(n_objectives)]
    lines.append("key_results:")
    for n, (kr, epics) in enumerate(links.by_kr.items()):
        lines += [
            f"  - id: {kr}",
            f'    title: "Key result {n + 1}"',
            f"    objective: O-{n // KRS_PER_OBJECTIVE + 1}",
            f"    url: https://okr.example/kr/{kr}",
        ]
        if kr in links.measures:
            lines.append(f"    measure: {links.measures[kr]}")
        if how == "yaml":
            lines.append(f"    epics: [{', '.join(epics)}]")
    (folder / "okrs.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")

    start, end = today - dt.timedelta(days=45), today + dt.timedelta(days=45)
    config = [
        "version: 1",
        "connections:",
        "  okrs: {type: yaml_okrs, path: okrs.yaml}",
        "  jira:",
        "    type: jira",
        f"    url: {world.url}",
    ]
    if world.email:  # Cloud: basic auth with the account email; Data Center: a bearer PAT
        config.append(f"    email: {world.email}")
    config += [
        f'    token: "${{{TOKEN_VAR}}}"',
        "okrs: okrs",
        "items: [jira]",
        f"cycle: {{start: {start.isoformat()}, end: {end.isoformat()}}}",
        "measures: {default: issues_done}",
    ]
    if how == "rules":
        config += ["mapping:", "  rules:"]
        config += [
            f"    - {{kr: {kr}, source: jira, epics: [{', '.join(epics)}]}}"
            for kr, epics in links.by_kr.items()
        ]
    config += [
        "write:",
        "  jira: {items: [property]}",
        "state: {path: .okr-sync/state.db}",
    ]
    path = folder / "okr-sync.yaml"
    path.write_text("\n".join(config) + "\n", encoding="utf-8")
    return path


# --- one sync, as the CLI runs it ----------------------------------------------------------


class CountingEngine(Engine):
    """The engine, unchanged, noting the sandbox's request counts after pull and read-back."""

    def __init__(self, *args: Any, snapshot: Callable[[], Counter[str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.snapshot = snapshot
        self.marks: dict[str, Counter[str]] = {}

    def compute(self) -> Computed:
        computed = super().compute()
        self.marks["pull"] = self.snapshot()
        return computed

    def plan(self, computed: Computed) -> Plan:
        plan = super().plan(computed)
        self.marks["read"] = self.snapshot()
        return plan


class PullEvents(logging.Handler):
    """Collects the engine's ``pull`` log events (source, items, incremental)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.events: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(record, "event", None) == "pull":
            self.events.append(
                {
                    "source": getattr(record, "source", "?"),
                    "items": getattr(record, "items", 0),
                    "incremental": getattr(record, "incremental", False),
                    "message": record.getMessage(),
                }
            )


@dataclass
class RunStats:
    """What one sync did."""

    name: str
    seconds: float
    summary: RunSummary
    requests: Counter[str]
    phases: dict[str, Counter[str]]
    pulls: list[dict[str, Any]]
    rss_mib: float
    cpu: float
    sandbox_cpu: float


def sync_once(
    name: str,
    config_path: Path,
    sandbox: SandboxProcess,
    events: PullEvents,
    now: Callable[[], dt.datetime],
) -> RunStats:
    """One ``okr-sync sync``: load the config, take the lock, open the store, run, close."""
    events.events.clear()
    before = sandbox.requests()
    sandbox_cpu = float(sandbox.call("cpu"))
    cpu = cpu_seconds()
    started = time.perf_counter()
    loaded = load_config(config_path)
    with RunLock(loaded.state_path.with_name(loaded.state_path.name + ".lock")):
        state = StateStore.open(loaded.state_path)
        try:
            engine = CountingEngine(
                loaded, build_connectors(loaded), state, now=now, snapshot=sandbox.requests
            )
            summary = engine.run(apply=True)
        finally:
            state.close()
    seconds = time.perf_counter() - started
    cpu = cpu_seconds() - cpu
    after = sandbox.requests()
    sandbox_cpu = float(sandbox.call("cpu")) - sandbox_cpu
    pulled = engine.marks.get("pull", after)
    read = engine.marks.get("read", pulled)
    return RunStats(
        name=name,
        seconds=seconds,
        summary=summary,
        requests=after - before,
        phases={"pull": pulled - before, "read-back": read - pulled, "apply": after - read},
        pulls=list(events.events),
        rss_mib=peak_rss_mib(),
        cpu=cpu,
        sandbox_cpu=sandbox_cpu,
    )


# --- reporting -----------------------------------------------------------------------------


def is_search(endpoint: str) -> bool:
    """A search request (GET or POST)."""
    return "/search" in endpoint


def is_write(endpoint: str) -> bool:
    """A request that changes something (searches by POST excluded)."""
    return endpoint.split(" ", 1)[0] in ("PUT", "POST", "DELETE") and not is_search(endpoint)


def total(requests: Mapping[str, int], keep: Callable[[str], bool]) -> int:
    """Requests of the endpoints ``keep`` accepts."""
    return sum(n for endpoint, n in requests.items() if keep(endpoint))


def written_state(summary: RunSummary, labels: Mapping[Any, str]) -> dict[str, tuple[Any, ...]]:
    """Per KR, what the epic property carries of it: rounded progress and status label."""
    return {
        r.kr_id: (round(r.progress or 0.0, 4), labels[r.status] if r.status else "")
        for r in summary.key_results
        if r.writable
    }


def epics_to_write(
    before: Mapping[str, tuple[Any, ...]] | None,
    after: Mapping[str, tuple[Any, ...]],
    links: Links,
) -> set[str]:
    """The epics whose property must change: those of KRs whose written state changed.

    The property also carries the sync date, which is not KR state: on a new day the
    connector rewrites every epic; the floor does not count those writes.
    """
    if before is None:  # the first write
        return {e for kr in after for e in links.by_kr.get(kr, ())}
    changed = {kr for kr, state in after.items() if before.get(kr) != state}
    return {e for kr in changed for e in links.by_kr.get(kr, ())}


def check_properties(
    props: Mapping[str, Any], state: Mapping[str, tuple[Any, ...]], links: Links
) -> tuple[int, list[str]]:
    """How many epics hold exactly their KRs' state; a few that do not."""
    good, bad = 0, list[str]()
    for epic, krs in links.by_epic.items():
        prop = props.get(epic)
        held = {
            str(k.get("id")): (k.get("progress"), k.get("status"))
            for k in (prop or {}).get("key_results", [])
            if isinstance(k, dict)
        }
        want = {kr: state[kr] for kr in krs if kr in state}
        if held == want:
            good += 1
        elif len(bad) < 3:
            bad.append(f"{epic}: holds {held}, expected {want}")
    return good, bad


def print_run(
    stats: RunStats,
    *,
    search_floor: int,
    floor_text: str,
    write_floor: int,
    latency: float,
    properties: tuple[int, int, list[str]] | None,
) -> None:
    """The figures of one run."""
    s = stats.summary
    req = stats.requests
    searches = total(req, is_search)
    writes = total(req, is_write)
    n = sum(req.values())
    print(f"\n== {stats.name}")
    print(
        f"wall time {stats.seconds:,.2f} s; {n:,} requests; of the wall time: "
        f"{n * latency:,.2f} s the sandbox's {latency * 1000:g} ms latency, "
        f"{stats.sandbox_cpu:,.2f} s sandbox CPU, {stats.cpu:,.2f} s CPU of okr-sync "
        "(engine, connector, jira client, state store)"
    )
    print("requests by endpoint:")
    for endpoint, count in sorted(req.items(), key=lambda kv: (-kv[1], kv[0])):
        print(f"  {count:>7,}  {endpoint}")
    phase_text = "; ".join(
        f"{phase} {sum(c.values()):,} ({total(c, is_search):,} searches, "
        f"{total(c, is_write):,} writes)"
        for phase, c in stats.phases.items()
    )
    print(f"by phase: {phase_text}")
    for pull in stats.pulls:
        kind = "incremental (cursor passed)" if pull["incremental"] else "full"
        print(f"pull {pull['source']}: {kind}, {pull['items']:,} items: {pull['message']}")
    pull_searches = total(stats.phases["pull"], is_search)
    read_searches = total(stats.phases["read-back"], is_search)
    ratio = f"{searches / search_floor:.2f}× the floor" if search_floor else "floor 0"
    print(
        f"searches: {searches:,} = pull {pull_searches:,} + read-back {read_searches:,}; "
        f"floor {search_floor:,} ({floor_text}): {ratio}"
    )
    print(
        f"writes:   {writes:,} requests; floor {write_floor:,} "
        "(one property PUT per epic whose KRs' written state changed)"
    )
    failed = ", ".join(s.failed) or "none"
    stale = sum(1 for r in s.key_results if r.stale)
    print(
        f"engine summary: {len(s.key_results):,} KRs computed ({stale} stale, failed: {failed}), "
        f"{len(s.objectives):,} objectives, {len(s.plan.changes):,} field changes planned, "
        f"{s.writes:,} records written, {len(s.plan.conflicts):,} conflicts, "
        f"source errors: {s.source_errors or 'none'}"
    )
    if s.plan.conflicts:
        c = s.plan.conflicts[0]
        print(
            f"  conflicts ({len(s.plan.conflicts):,}; their log lines are hidden), the first: "
            f"{c.ref.id}.{c.field} read back as {str(c.before)[:60]!r}, "
            f"last written {str(c.last_written)[:60]!r}"
        )
    if properties is not None:
        good, count, bad = properties
        print(f"epics holding their KRs' current state: {good:,}/{count:,}")
        for line in bad:
            print(f"  {line}")
    print(f"peak RSS (ru_maxrss) of the benchmark process so far: {stats.rss_mib:,.1f} MiB")


def search_floor(
    pulls: Sequence[Mapping[str, Any]], selected: int, keys_page: int
) -> tuple[int, str]:
    """The fewest searches the run's pulls could cost, and how that was worked out.

    A full pull: every item pulled, by pages, plus a small constant (the last page of
    each query is partial). An incremental pull: what it returned (changes since the
    cursor, less its overlap), by pages, and at least one page per item source, plus
    the membership it must prove: the ``selected`` keys, by key-only pages of
    ``keys_page`` (an issue that left the selection shows in no ``updated`` window).
    The read-back of the epics is not in the floor: their property can come with the pull.
    An incremental pull of a selection without JQL rules proves that nothing left it with
    one count (an issue joins only by an edit, so it is among the changes; a count equal
    to what the cache predicts leaves no room for one that left); ``selected`` and
    ``keys_page`` are the key-only proof it falls back on, printed for comparison.
    """
    floor, parts = 0, []
    for pull in pulls:
        items = int(pull["items"])
        if pull["incremental"]:
            floor += max(1, math.ceil(items / PAGE_SIZE)) + COUNT_PROOF
            parts.append(
                f"incremental: max(1, ceil({items:,} items / {PAGE_SIZE})) + {COUNT_PROOF} count "
                f"(the key-only proof it replaces: ceil({selected:,} members / {keys_page:,}))"
            )
        else:
            floor += math.ceil(items / PAGE_SIZE) + FULL_PULL_CONSTANT
            parts.append(f"full: ceil({items:,} items / {PAGE_SIZE}) + {FULL_PULL_CONSTANT}")
    return floor, " + ".join(parts) or "no pull"


def over_floor(stats: RunStats, floor: int, write_floor: int) -> str:
    """What a run spent above its floors, in words."""
    notes = []
    searches = total(stats.requests, is_search)
    writes = total(stats.requests, is_write)
    if searches > floor:
        notes.append(f"searches +{searches - floor:,} ({searches / max(1, floor):.1f}×)")
    if writes > write_floor:
        notes.append(f"writes +{writes - write_floor:,}")
    return ", ".join(notes) or "-"


def next_midnight_clock(now: dt.datetime) -> Callable[[], dt.datetime]:
    """A fixed clock five minutes past the next midnight (UTC), as OKR_SYNC_NOW would set."""
    moment = dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time(0, 5), dt.UTC)
    return lambda: moment


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--datacenter", action="store_true", help="a Data Center site")
    parser.add_argument("--issues", type=int, default=50_000, help="child issues (default 50000)")
    parser.add_argument("--epics", type=int, default=1000, help="epics (default 1000)")
    parser.add_argument("--krs", type=int, help=f"key results (default epics / {EPICS_PER_KR})")
    parser.add_argument("--projects", type=int, default=5, help="projects (default 5, max 10)")
    parser.add_argument(
        "--latency", type=float, default=0.05, help="seconds added per request (default 0.05)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="small run: 2,000 issues, 40 epics, 5 ms"
    )
    parser.add_argument(
        "--links",
        choices=("yaml", "rules"),
        default="yaml",
        help="link epics by the KRs' epics: lists (default) or by mapping rules",
    )
    parser.add_argument(
        "--change", type=float, default=0.01, help="share of issues changed before run 3"
    )
    parser.add_argument(
        "--next-day", action="store_true", help="a 4th run: nothing changed, clock past midnight"
    )
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    args = parser.parse_args(argv)
    if args.quick:
        args.issues, args.epics, args.latency = 2000, 40, 0.005
    n_krs = args.krs or max(1, args.epics // EPICS_PER_KR)
    if args.epics < 1 or args.issues < 0 or not 1 <= args.projects <= len(PROJECTS):
        parser.error(f"need at least 1 epic and 1 to {len(PROJECTS)} projects")
    if not 1 <= n_krs <= args.epics:
        parser.error("need between 1 KR and one KR per epic")

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        handler.setLevel(logging.WARNING)
        # One line per conflict would drown the figures: they are counted in the summary.
        handler.addFilter(lambda record: getattr(record, "event", None) != "conflict")
    events = PullEvents()
    engine_log = logging.getLogger("okr_sync.engine")  # the engine and its pull module
    engine_log.setLevel(logging.INFO)
    engine_log.addHandler(events)

    mode: Mode = "datacenter" if args.datacenter else "cloud"
    spec = SeedSpec(mode, args.latency, args.issues, args.epics, args.projects, args.seed)
    print(
        f"okr-sync benchmark: Jira connector against the sandbox ({mode}, "
        f"{args.latency * 1000:g} ms per request){'  [--quick]' if args.quick else ''}"
    )
    print(f"python {platform.python_version()}, seed {args.seed}, links by {args.links}")
    sandbox = SandboxProcess(spec)
    old_token = os.environ.get(TOKEN_VAR)
    try:
        world = sandbox.world
        os.environ[TOKEN_VAR] = world.token
        c = Counter(world.counts)
        status_text = ", ".join(
            f"{k[7:]} {v:,}" for k, v in sorted(c.items()) if k.startswith("status ")
        )
        type_text = ", ".join(
            f"{k[5:]} {v:,}" for k, v in sorted(c.items()) if k.startswith("type ")
        )
        sizes = sorted(world.children.values())
        print(
            f"seeded in {world.seconds:.1f} s: {args.issues:,} issues under {args.epics:,} epics "
            f"in {args.projects} projects (children per epic {sizes[0] if sizes else 0}–"
            f"{sizes[-1] if sizes else 0}); types: {type_text}; statuses: {status_text}; "
            f"story points set {c['points set']:,}, unset {c['points unset']:,}"
        )
        links = deal_epics(world.epic_keys, n_krs, args.seed)
        print(
            f"config: {n_krs:,} KRs ({len(links.measures):,} points_done, the rest issues_done) "
            f"over {math.ceil(n_krs / KRS_PER_OBJECTIVE):,} objectives, ~{EPICS_PER_KR} epics "
            f"each; write: {{jira: {{items: [property]}}}}"
        )
        print(f"sandbox process peak RSS after seeding: {sandbox.call('rss'):,.1f} MiB")
        return run_all(args, sandbox, world, links, events)
    finally:
        sandbox.stop()
        engine_log.removeHandler(events)
        if old_token is None:
            os.environ.pop(TOKEN_VAR, None)
        else:
            os.environ[TOKEN_VAR] = old_token


def headline(number: int, stats: RunStats, floor: int, deployment: str) -> None:
    """The headline figures: the full sync's searches and read-back, the no-op rerun's requests."""
    searches = total(stats.requests, is_search)
    if number == 1:
        figure(
            "jira.full_searches", f"Jira full sync, searches ({deployment})", searches, floor,
            unit="searches", floor_means="ceil(issues pulled / 100) + 2", target="≤ 1.05×",
        )  # fmt: skip
        figure(
            "jira.readback_after_pull",
            f"Jira full sync, epics read back after the pull ({deployment})",
            total(stats.phases["read-back"], is_search), 0, unit="searches",
            floor_means="the pull brought every epic with its property", target="0",
        )  # fmt: skip
    elif number == 2:
        figure(
            "jira.noop_requests", f"Jira no-op rerun, requests ({deployment})",
            sum(stats.requests.values()), CONNECT_REQUESTS + floor, unit="requests",
            floor_means="serverInfo, myself, field list, one page of changes, one count",
            target="≤ 1.00× (≤ 5 requests)",
        )  # fmt: skip


def run_all(
    args: argparse.Namespace,
    sandbox: SandboxProcess,
    world: World,
    links: Links,
    events: PullEvents,
) -> int:
    """The three (or four) syncs and their figures; 1 if any run failed."""
    real_now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)  # noqa: E731
    exit_code = 0
    rows: list[tuple[str, float, int, int, int, int, float, str]] = []
    with tempfile.TemporaryDirectory(prefix="okr-sync-bench-jira-") as tmp:
        folder = Path(tmp)
        config_path = write_config(folder, world, links, args.links, dt.date.today())
        labels = load_config(config_path).config.status.label_map()
        print(f"rss of the benchmark process before the first run: {peak_rss_mib():,.1f} MiB")

        runs: list[tuple[str, Callable[[], dt.datetime]]] = [
            ("run 1: first sync (full pull, a property on every epic)", real_now),
            ("run 2: immediate rerun, nothing changed", real_now),
            (f"run 3: rerun after {args.change:.0%} of the issues changed", real_now),
        ]
        if args.next_day:
            runs.append(
                (
                    "run 4: rerun the next day (engine clock 00:05 UTC), no issue changed",
                    next_midnight_clock(dt.datetime.now(dt.UTC)),
                )
            )
        previous: dict[str, tuple[Any, ...]] | None = None
        selected = 0  # issues in the selection, as the last full pull found them
        keys_page = KEYS_PAGE_DC if args.datacenter else KEYS_PAGE_CLOUD
        for number, (name, clock) in enumerate(runs, start=1):
            if number == 3:
                kinds = sandbox.call("change", args.change, args.seed + 3)
                print(
                    f"\nchanged {sum(kinds.values()):,} issues: "
                    + ", ".join(f"{k} {v:,}" for k, v in sorted(kinds.items()))
                )
            stats = sync_once(name, config_path, sandbox, events, clock)
            state = written_state(stats.summary, labels)
            full = [int(p["items"]) for p in stats.pulls if not p["incremental"]]
            selected = full[-1] if full else selected
            floor, floor_text = search_floor(stats.pulls, selected, keys_page)
            write_floor = len(epics_to_write(previous, state, links))
            props = sandbox.call("properties")
            good, bad = check_properties(props, state, links)
            print_run(
                stats,
                search_floor=floor,
                floor_text=floor_text,
                write_floor=write_floor,
                latency=args.latency,
                properties=(good, len(links.by_epic), bad),
            )
            headline(number, stats, floor, "Data Center" if args.datacenter else "Cloud")
            errors = sandbox.call("server_errors")
            if errors:
                print(f"sandbox errors (500s): {len(errors)}; the first:\n{errors[0]}")
            s = stats.summary
            if s.failed or s.source_errors or s.failures or errors:
                exit_code = 1
                for failure in s.failures[:5]:
                    print(f"  write failure {failure.ref.id}: {failure.error}")
            rows.append(
                (
                    f"run {number}",
                    stats.seconds,
                    total(stats.requests, is_search),
                    floor,
                    total(stats.requests, is_write),
                    write_floor,
                    stats.rss_mib,
                    over_floor(stats, floor, write_floor),
                )
            )
            previous = state

    print(
        f"\n{'':<7}{'wall s':>9}{'searches':>10}{'floor':>7}{'writes':>8}{'floor':>7}"
        f"{'RSS MiB':>9}  above the floor"
    )
    for name, seconds, searches, floor, writes, write_floor, rss, note in rows:
        print(
            f"{name:<7}{seconds:>9.2f}{searches:>10,}{floor:>7,}{writes:>8,}{write_floor:>7,}"
            f"{rss:>9,.1f}  {note}"
        )
    print(
        f"sandbox process peak RSS: {sandbox.call('rss'):,.1f} MiB (the seeded store; "
        "not counted above)"
    )
    return exit_code


if __name__ == "__main__":
    raise SystemExit(main())
