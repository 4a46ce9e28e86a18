"""Benchmark the Notion connector's request pattern: real syncs against the rate-limited Notion sandbox.

Starts the Notion sandbox (a local fake of the Notion API, in a thread of this
process) with its default rate limit — 3 requests per second on average, bursts
of 10, answered 429 ``rate_limited`` with ``Retry-After`` beyond that, as Notion
does — and a small latency added to every request (``--latency``, default 20 ms).
Seeds the default OKR layout (``okr-sync sandbox notion``'s, ``demo.org.okr_layout``:
Objectives, Key Results, Initiatives) with ~100 objectives in a two-level cascade
and 1,000 key results (``--krs``), each with Start, Target and Current numbers;
about 30 % of the KRs are related to 1–6 rows of the Initiatives database (2,000
rows, most of them last edited days ago; the rest of the rows are linked to no KR),
and statuses are options of status properties.

It writes a config in a temporary folder (one ``type: notion`` connection whose
``base_url`` is the sandbox and whose token comes from ``$BENCH_NOTION_TOKEN``;
``okrs: notion``, ``items: [notion]``; measures ``manual`` by default and
``initiatives_done`` for the KRs with initiatives; KR pages get progress, current,
status and last_synced, objective pages progress, status and last_synced; the
current quarter as the cycle) and syncs exactly as ``okr-sync sync`` does
(``load_config``, the run lock, ``StateStore.open``, ``Engine`` over
``build_connectors``, ``run(apply=True)``, real clock), three times:

1. the first sync: every KR and objective page is written;
2. after a human changed the Current value of 100 manual KRs
   (``sandbox.update_page``): ~100 KR pages and the objectives whose roll-up moved;
3. an immediate rerun with nothing changed: no write at all.

For each run it prints the wall time (and the connector's throttle waits, summed
over the threads that write pages a few at a time), the requests by endpoint (the
difference of ``sandbox.requests``), the reads and writes against a floor — reads:
``ceil(pages / 100)`` queries per database (the Initiatives too, on every run: item
databases are always read in full, see ``connectors.notion.connector``) plus the
schema reads the run cannot avoid (``connectors.notion.schemas``): in the first
sync one ``GET /v1/databases/{id}`` and one ``GET /v1/data_sources/{id}`` per
database (nothing is kept yet); later, the Initiatives' schema (its status groups
say what is done, and no page shows them) and, in a run that writes a Status, the
schemas of the Key Results and Objectives databases (their options, checked again
before the first write); writes: one PATCH per page whose values actually changed
(measured by comparing the pages before and after the run) — the wall time against
the rate-limit floor (requests ÷ 3/s, which ignores the sandbox's burst of 10, so a
short run can come in under 1×; target within 1.1× of it), the 429s met (refused
by the sandbox's bucket, and retries logged by the connector), whether every page
holds what the engine computed, the engine's own summary, and the process's peak
RSS (engine and sandbox together). The headline figures go through
``benchmarks/figures.py``. Figures are printed, not asserted on; it exits 1 if a
run failed.

This is a script, not a test::

    python benchmarks/bench_notion.py               # 1,000 KRs: ~9 min (the 3/s limit)
    python benchmarks/bench_notion.py --latency 0.5 # the same with half a second per answer
    python benchmarks/bench_notion.py --quick       # 60 KRs / 6 objectives, ~40 s
    python benchmarks/bench_notion.py --krs 300 --changes 50 --latency 0.05
    python benchmarks/bench_notion.py --quick --rps 3     # what-if: the connector throttled at 3/s
    python benchmarks/bench_notion.py --quick --rate-limit 0   # the sandbox refuses nothing

"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import math
import os
import platform
import random
import resource
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from okr_sync.cli.demo.org import okr_layout
from okr_sync.config.loading import load_config
from okr_sync.engine.engine import Engine, build_connectors
from okr_sync.models import RunSummary
from okr_sync.state.lock import RunLock
from okr_sync.state.store import StateStore
from sandboxes import NotionSandbox

try:
    from figures import figure
except ImportError:  # run through runpy from the repository root
    from benchmarks.figures import figure

TOKEN_VAR = "BENCH_NOTION_TOKEN"
PAGE_SIZE = 100  # Notion's page-size cap for queries
TARGET_RATIO = 1.1  # wall time within 1.1x of requests / rate
NOTION_RATE = 3.0  # Notion's published average, requests/s
ROW_STATUSES = (("Done", 35), ("In progress", 40), ("Not started", 25))
KR_FIELDS = ("Progress", "Current", "Status", "Last synced")
OBJ_FIELDS = ("Progress", "Status", "Last synced")
QUERY = "POST /v1/data_sources/{id}/query"
GET_DATABASE = "GET /v1/databases/{id}"
GET_SOURCE = "GET /v1/data_sources/{id}"
PATCH = "PATCH /v1/pages/{id}"
WRITE_METHODS = ("PATCH ", "POST /v1/comments", "POST /v1/pages", "DELETE ")


def peak_rss_mib() -> float:
    """The process's peak resident set size so far (ru_maxrss: KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def quarter(today: dt.date) -> tuple[dt.date, dt.date]:
    """The calendar quarter holding ``today``."""
    first_month = 3 * ((today.month - 1) // 3) + 1
    start = dt.date(today.year, first_month, 1)
    if first_month == 10:
        return start, dt.date(today.year, 12, 31)
    return start, dt.date(today.year, first_month + 3, 1) - dt.timedelta(days=1)


def weighted(rng: random.Random, pairs: Sequence[tuple[str, int]]) -> str:
    """One value from ``(value, weight)`` pairs."""
    return rng.choices([v for v, _ in pairs], [w for _, w in pairs])[0]


# --- the workspace ------------------------------------------------------------------------


@dataclass
class World:
    """The seeded workspace: page ids by okr-sync id, and what the config needs."""

    sandbox: NotionSandbox
    databases: dict[str, str]
    kr_pages: dict[str, str] = field(default_factory=dict)  # "KR-12" -> page id
    obj_pages: dict[str, str] = field(default_factory=dict)  # "O-3" -> page id
    manual: list[str] = field(default_factory=list)  # KR ids measured manual
    with_initiatives: list[str] = field(default_factory=list)  # KR ids measured initiatives_done
    ranges: dict[str, tuple[float, float]] = field(default_factory=dict)  # KR id -> (start, target)
    rows: int = 0
    linked_rows: int = 0


def _unique_id(sandbox: NotionSandbox, page_id: str) -> str:
    prop = sandbox.page(page_id)["properties"]["ID"]["unique_id"]
    return f"{prop['prefix']}-{prop['number']}"


def seed(
    sandbox: NotionSandbox, n_krs: int, n_objectives: int, n_rows: int, rng: random.Random
) -> World:
    """The default layout, filled in; nothing goes over HTTP (not counted in ``requests``)."""
    databases, sources = okr_layout(sandbox)
    world = World(sandbox, databases)
    obj_ds, kr_ds, ini_ds = (sources[r] for r in ("objectives", "key_results", "initiatives"))
    owners = [sandbox.add_user(f"Owner {i + 1}") for i in range(max(1, n_objectives // 10))]
    days_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=3)

    n_top = max(1, n_objectives // 10)
    objective_pages: list[str] = []
    for i in range(n_objectives):
        values: dict[str, Any] = {"Name": f"Objective {i + 1}", "Owner": [rng.choice(owners)]}
        if i >= n_top:
            values["Parent objective"] = [objective_pages[rng.randrange(n_top)]]
        page = sandbox.add_page(obj_ds, values, last_edited_time=days_ago)
        objective_pages.append(page)
        world.obj_pages[_unique_id(sandbox, page)] = page

    rows = [
        sandbox.add_page(
            ini_ds,
            {"Name": f"Initiative {r + 1}", "Status": weighted(rng, ROW_STATUSES)},
            last_edited_time=days_ago - dt.timedelta(minutes=r),
        )
        for r in range(n_rows)
    ]
    world.rows = n_rows
    free_rows = rows[:]
    rng.shuffle(free_rows)

    for i in range(n_krs):
        objective = (
            objective_pages[i % n_objectives] if i < n_objectives else rng.choice(objective_pages)
        )
        values = {"Name": f"Key result {i + 1}", "Objective": [objective]}
        related: list[str] = []
        if rng.random() < 0.3 and free_rows:
            related = [free_rows.pop() for _ in range(min(len(free_rows), rng.randint(1, 6)))]
        if related:
            start, target = 0.0, 100.0  # initiatives_done: Current is written on the KR's scale
            values["Initiatives"] = related
            world.linked_rows += len(related)
        else:
            start = float(rng.choice((0, 0, 10, 20, 50)))
            target = start + float(rng.choice((10, 50, 100, 200)))
            values["Current"] = round(start + rng.uniform(0.0, 0.9) * (target - start), 1)
        values |= {"Start": start, "Target": target}
        page = sandbox.add_page(kr_ds, values, last_edited_time=days_ago)
        kr_id = _unique_id(sandbox, page)
        world.kr_pages[kr_id] = page
        world.ranges[kr_id] = (start, target)
        (world.with_initiatives if related else world.manual).append(kr_id)
    return world


def change_currents(world: World, n: int, rng: random.Random) -> list[str]:
    """A human moves the Current value of ``n`` manual KRs (each by 10–40 % of its range)."""
    chosen = rng.sample(world.manual, min(n, len(world.manual)))
    editor = world.sandbox.add_user("A human")
    for kr_id in chosen:
        page = world.kr_pages[kr_id]
        start, target = world.ranges[kr_id]
        current = world.sandbox.page(page)["properties"]["Current"]["number"]
        share = ((current - start) / (target - start) + rng.uniform(0.1, 0.4)) % 1.0
        world.sandbox.update_page(
            page, {"Current": round(start + share * (target - start), 1)}, edited_by=editor
        )
    return chosen


def snapshot(world: World) -> dict[str, tuple[Any, ...]]:
    """The written properties of every KR and objective page, read without HTTP."""
    out: dict[str, tuple[Any, ...]] = {}
    for pages, names in ((world.kr_pages, KR_FIELDS), (world.obj_pages, OBJ_FIELDS)):
        for record, page in pages.items():
            props = world.sandbox.page(page)["properties"]
            out[record] = tuple(_plain(props[name]) for name in names)
    return out


def _plain(prop: Mapping[str, Any]) -> Any:
    value = prop.get(str(prop.get("type")))
    if isinstance(value, dict):
        return value.get("name") or value.get("start")
    return value


def write_config(
    folder: Path, world: World, cycle: tuple[dt.date, dt.date], rps: float | None = None
) -> Path:
    """The okr-sync.yaml a user would write for this workspace."""
    connection: dict[str, Any] = {
        "type": "notion",
        "token": "${" + TOKEN_VAR + "}",
        "base_url": world.sandbox.url,
        "objectives": world.databases["objectives"],
        "key_results": world.databases["key_results"],
        "items": [{"database": world.databases["initiatives"], "status": "Status"}],
    }
    if rps is not None:
        connection["requests_per_second"] = rps
    config = {
        "version": 1,
        "connections": {"notion": connection},
        "okrs": "notion",
        "items": ["notion"],
        "cycle": {"start": cycle[0].isoformat(), "end": cycle[1].isoformat()},
        "measures": {"default": "manual"}
        | dict.fromkeys(world.with_initiatives, "initiatives_done"),
        "write": {
            "notion": {
                "key_results": ["progress", "current", "status", "last_synced"],
                "objectives": ["progress", "status", "last_synced"],
            }
        },
        "state": {"path": "state/state.db"},
    }
    path = folder / "okr-sync.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


# --- one run ----------------------------------------------------------------------------


class RetryLog(logging.Handler):
    """Counts the connector's retries (``connectors._retry`` logs one line per retry)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.by_status: Counter[str] = Counter()
        self.slept = 0.0

    def emit(self, record: logging.LogRecord) -> None:
        args = record.args if isinstance(record.args, tuple) else ()
        if "failed (%s), retry" in str(record.msg) and len(args) >= 5:
            self.by_status[str(args[2])] += 1
            waited = args[4]
            self.slept += float(waited) if isinstance(waited, int | float) else 0.0


class RefusalCounter:
    """Wraps the sandbox's token bucket: how many requests it answered 429."""

    def __init__(self, sandbox: NotionSandbox) -> None:
        self.refused = 0
        bucket: Any = getattr(sandbox._server, "bucket", None)  # the server's TokenBucket
        if bucket is None:
            return
        take: Callable[[], float] = bucket.take

        def counted() -> float:
            wait = take()
            if wait > 0:
                self.refused += 1
            return wait

        bucket.take = counted


@dataclass
class RunStats:
    """Figures of one sync."""

    name: str
    wall: float
    requests: Counter[str]
    summary: RunSummary
    throttle_wait: float
    retries: int
    retries_by_status: Counter[str]
    retry_sleep: float
    refused: int
    changed_pages: int
    unchanged_written: int  # confirmed writes that left the page as it was
    repeated_patches: int  # PATCH requests beyond one per confirmed write (refused, retried)
    mismatched: list[str]
    read_floor: int
    read_floor_text: str
    rss: float

    @property
    def reads(self) -> int:
        return sum(n for e, n in self.requests.items() if not e.startswith(WRITE_METHODS))

    @property
    def writes(self) -> int:
        return sum(n for e, n in self.requests.items() if e.startswith(WRITE_METHODS))

    @property
    def total(self) -> int:
        return sum(self.requests.values())


def sync_once(config: Path, progress: Callable[[int, int], None] | None) -> tuple[RunSummary, Any]:
    """One ``okr-sync sync``, as the CLI runs it; returns the summary and the Notion connector."""
    loaded = load_config(config)
    with RunLock(loaded.state_path.with_name(loaded.state_path.name + ".lock")):
        state = StateStore.open(loaded.state_path)
        try:
            connectors = build_connectors(loaded)
            summary = Engine(loaded, connectors, state).run(apply=True, on_write=progress)
        finally:
            state.close()
    return summary, connectors["notion"]


def mismatches(world: World, summary: RunSummary, labels: Mapping[Any, str]) -> list[str]:
    """Records whose page does not hold the progress and status the engine computed."""
    wrong = []
    for kr in summary.key_results:
        page = world.sandbox.page(world.kr_pages[kr.kr_id])["properties"]
        if kr.writable and (
            page["Progress"]["number"] != round(kr.progress or 0.0, 4)
            or _plain(page["Status"]) != (labels[kr.status] if kr.status else None)
        ):
            wrong.append(kr.kr_id)
    for obj in summary.objectives:
        page = world.sandbox.page(world.obj_pages[obj.objective_id])["properties"]
        if obj.writable and (
            page["Progress"]["number"] != round(obj.progress or 0.0, 4)
            or _plain(page["Status"]) != (labels[obj.status] if obj.status else None)
        ):
            wrong.append(obj.objective_id)
    return wrong


def read_floor(world: World, n_objectives: int, *, first: bool, writes: bool) -> tuple[int, str]:
    """The fewest reads a run needs (see the module docstring)."""
    kr_q = math.ceil(len(world.kr_pages) / PAGE_SIZE)
    obj_q = math.ceil(n_objectives / PAGE_SIZE)
    rows_q = max(1, math.ceil(world.rows / PAGE_SIZE))
    if first:  # nothing kept: a GET per database (its data source id) and per schema
        schema, what = 3 + 3, "database/schema GETs (nothing kept yet)"
    else:  # the Initiatives' status groups; the Status options before the first write
        schema = 1 + (2 if writes else 0)
        what = "schema GETs (the Initiatives' status groups" + (
            "; KR and objective Status options before writing)" if writes else ")"
        )
    text = f"{schema} {what} + queries: KRs {kr_q}, objectives {obj_q}, rows {rows_q} (always a full pull)"
    return schema + kr_q + obj_q + rows_q, text


def run(
    name: str,
    world: World,
    config: Path,
    retry_log: RetryLog,
    refusals: RefusalCounter,
    floor: Callable[[bool], tuple[int, str]],
    labels: Mapping[Any, str],
) -> RunStats:
    """Sync once and gather the figures."""
    print(f"\n{name} ...", flush=True)
    before_pages = snapshot(world)
    before = Counter(world.sandbox.requests)
    retry_log.by_status.clear()
    retry_log.slept = 0.0
    refused_before = refusals.refused
    last = [time.perf_counter()]

    def progress(done: int, total: int) -> None:
        now = time.perf_counter()
        if total >= 50 and (now - last[0] > 30 or done == total):
            last[0] = now
            print(f"  … {done:,}/{total:,} writes", file=sys.stderr, flush=True)

    t0 = time.perf_counter()
    summary, connector = sync_once(config, progress)
    wall = time.perf_counter() - t0
    requests = Counter(world.sandbox.requests)
    requests.subtract(before)
    requests = +requests
    after_pages = snapshot(world)
    changed = sum(before_pages[k] != after_pages[k] for k in after_pages)
    patched = requests[PATCH]
    reads_floor = floor(summary.writes > 0)
    return RunStats(
        name=name, wall=wall, requests=requests, summary=summary,
        throttle_wait=connector.caller.bucket.waited, retries=connector.caller.retries,
        retries_by_status=Counter(retry_log.by_status), retry_sleep=retry_log.slept,
        refused=refusals.refused - refused_before, changed_pages=changed,
        unchanged_written=max(0, summary.writes - changed),
        repeated_patches=max(0, patched - summary.writes), mismatched=mismatches(world, summary, labels),
        read_floor=reads_floor[0], read_floor_text=reads_floor[1], rss=peak_rss_mib(),
    )  # fmt: skip


# --- printing ------------------------------------------------------------------------------


def ratio(value: float, floor: float) -> str:
    return f"{value / floor:.2f}×" if floor else "–"


def print_run(stats: RunStats, rate: float | None) -> None:
    s = stats.summary
    print(f"  wall       {stats.wall:8.1f} s   (connector throttle waits {stats.throttle_wait:.1f} s, "
          f"summed over the writing threads; retry sleeps {stats.retry_sleep:.1f} s)")  # fmt: skip
    print(f"  requests   {stats.total:,}: reads {stats.reads:,}, writes {stats.writes:,}")
    for endpoint, n in sorted(stats.requests.items(), key=lambda kv: (-kv[1], kv[0])):
        print(f"    {endpoint:<48} {n:>7,}")
    print(f"  reads      {stats.reads:,} vs floor {stats.read_floor:,} "
          f"({stats.read_floor_text}): {ratio(stats.reads, stats.read_floor)}")  # fmt: skip
    print(f"  writes     {stats.writes:,} vs floor {stats.changed_pages:,} (pages whose values "
          f"changed): {ratio(stats.writes, stats.changed_pages) if stats.changed_pages else ('OK' if not stats.writes else 'over')}"
          f"; writes that changed nothing: {stats.unchanged_written:,}; PATCHes repeated "
          f"(refused or retried): {stats.repeated_patches:,}")  # fmt: skip
    if rate:
        floor_s = stats.total / rate
        ideal_s = (stats.read_floor + stats.changed_pages) / rate
        verdict = "within" if stats.wall <= TARGET_RATIO * floor_s else "OVER"
        print(f"  rate floor {stats.total:,} requests ÷ {rate:g}/s = {floor_s:.1f} s; wall "
              f"{ratio(stats.wall, floor_s)} of it ({verdict} the {TARGET_RATIO}× target); "
              f"floor requests {stats.read_floor + stats.changed_pages:,} ÷ {rate:g}/s = {ideal_s:.1f} s "
              f"(wall {ratio(stats.wall, ideal_s)})")  # fmt: skip
    retried = ", ".join(f"{k}: {v}" for k, v in sorted(stats.retries_by_status.items())) or "none"
    print(f"  429s       {stats.refused:,} answered by the sandbox; connector retries "
          f"{stats.retries:,} (by status: {retried})")  # fmt: skip
    print(f"  engine     writes {s.writes:,}, field changes {len(s.plan.changes):,}, "
          f"conflicts {len(s.plan.conflicts):,}, failed {len(s.failed):,}, "
          f"source errors {len(s.source_errors)}")  # fmt: skip
    for source, error in s.source_errors.items():
        print(f"    source error {source}: {error}")
    for failure in s.failures[:5]:
        print(f"    failure {failure.ref.id}: {failure.error}")
    held = "every page holds what the engine computed" if not stats.mismatched else (
        f"{len(stats.mismatched)} pages differ from the engine: {', '.join(stats.mismatched[:8])}")  # fmt: skip
    print(f"  pages      {held}")
    print(f"  peak RSS   {stats.rss:,.0f} MiB (engine and sandbox thread)")


def print_notes(runs: Sequence[RunStats], rate: float | None, n_krs: int) -> None:
    print("\nover the floor:")
    notes = 0
    for stats in runs:
        extra: list[str] = []
        if stats.reads > stats.read_floor:
            extra.append(f"reads +{stats.reads - stats.read_floor:,}")
        if stats.unchanged_written:
            extra.append(f"{stats.unchanged_written:,} writes that changed nothing")
        if stats.repeated_patches:
            extra.append(f"{stats.repeated_patches:,} PATCHes repeated")
        if stats.writes > stats.requests[PATCH]:
            extra.append(f"{stats.writes - stats.requests[PATCH]:,} other writes")
        if stats.refused or stats.retries:
            extra.append(f"{stats.refused:,} 429s met, {stats.retries:,} retries")
        if rate and stats.wall > TARGET_RATIO * stats.total / rate:
            extra.append(f"wall {stats.wall / (stats.total / rate):.2f}× the rate floor")
        per_kr = [
            e for e, n in stats.requests.items() if e != PATCH and n >= n_krs / 2 and n_krs >= 20
        ]
        if per_kr:
            extra.append("requests per KR on " + ", ".join(per_kr))
        if extra:
            notes += 1
            print(f"  {stats.name}: " + "; ".join(extra))
    if not notes:
        print("  nothing: every run at its floor, no 429, within the rate target")


def print_figures(runs: Sequence[RunStats], rate: float, n_krs: int, latency: float) -> None:
    """The headline figures (``benchmarks/figures.py``)."""
    first, changed, noop = runs
    figure(
        "notion.first_sync_latency",
        f"Notion first sync of {n_krs:,} KRs at {latency * 1000:.0f} ms per answer: wall time",
        round(first.wall, 1), round(first.total / rate, 1), unit="s",
        floor_means=f"its {first.total:,} requests at {rate:g} requests/s", target="≤ 1.10×",
    )  # fmt: skip
    figure(
        "notion.noop_extra_requests",
        "Notion rerun with nothing changed: requests beyond the query pages",
        noop.total - noop.requests[QUERY], 1, unit="requests",
        floor_means="the Initiatives schema, whose status groups no page shows", target="≤ 1.00×",
    )  # fmt: skip
    figure(
        "notion.noop_reads", "Notion rerun with nothing changed: reads", noop.reads,
        noop.read_floor, unit="requests", floor_means=noop.read_floor_text, target="≤ 1.00×",
    )  # fmt: skip
    figure(
        "notion.first_sync_writes", "Notion first sync: writes", first.writes,
        first.changed_pages, unit="requests", floor_means="one PATCH per page whose values changed",
        target="≤ 1.00×",
    )  # fmt: skip
    figure(
        "notion.change_sync_writes", f"Notion sync {changed.name.split(': ', 1)[-1]}: writes",
        changed.writes, changed.changed_pages, unit="requests",
        floor_means="one PATCH per page whose values changed", target="≤ 1.00×",
    )  # fmt: skip
    figure(
        "notion.rate_limited", "Notion: 429s met in the three runs",
        sum(r.refused for r in runs), 0, unit="429s", floor_means="none", target="0",
    )  # fmt: skip


# --- main -------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Seed, sync three times, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--krs", type=int, default=1000, help="key results (default 1000)")
    parser.add_argument("--objectives", type=int, help="objectives (default KRs / 10)")
    parser.add_argument("--rows", type=int, help="Initiatives rows (default 2 × KRs, at most 3000)")
    parser.add_argument("--changes", type=int, help="KRs whose Current a human changes before run 2 "
                        "(default 100; --quick 10)")  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="small run: 60 KRs, 6 objectives")
    parser.add_argument("--latency", type=float, default=0.02,
                        help="seconds the sandbox adds to every request (default 0.02)")  # fmt: skip
    parser.add_argument("--rate-limit", type=float, default=3.0,
                        help="the sandbox's limit, requests/s (default 3, Notion's; 0: none; "
                        "the connector still throttles itself)")  # fmt: skip
    parser.add_argument("--rps", type=float, help="the connection's requests_per_second "
                        "(default: the connector's own default)")  # fmt: skip
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    args = parser.parse_args(argv)
    n_krs = 60 if args.quick else args.krs
    n_obj = args.objectives or max(2, round(n_krs / 10))
    n_rows = args.rows if args.rows is not None else min(3000, 2 * n_krs)
    n_changes = args.changes if args.changes is not None else (10 if args.quick else 100)
    rate = args.rate_limit or None
    if n_krs < 1 or n_obj < 1 or n_rows < 0:
        parser.error("need at least 1 KR and 1 objective")

    rng = random.Random(args.seed)
    retry_log = RetryLog()
    retry_logger = logging.getLogger("connectors._retry")
    retry_logger.addHandler(retry_log)
    retry_logger.setLevel(logging.INFO)

    sandbox = NotionSandbox(rate_limit=rate, latency=args.latency)  # burst: its default (10)
    sandbox.start()
    refusals = RefusalCounter(sandbox)
    try:
        t0 = time.perf_counter()
        world = seed(sandbox, n_krs, n_obj, n_rows, rng)
        seeded = time.perf_counter() - t0
        today = dt.datetime.now(dt.UTC).date()
        cycle = quarter(today)
        print(f"okr-sync Notion benchmark — Python {platform.python_version()} on "
              f"{platform.machine()}, {' '.join(sys.argv)}")  # fmt: skip
        print(f"sandbox: rate limit {f'{rate:g}/s, burst 10' if rate else 'off'}, latency "
              f"{args.latency * 1000:.0f} ms per request, in this process")  # fmt: skip
        print(f"seeded in {seeded:.1f} s: {n_obj:,} objectives ({max(1, n_obj // 10)} top level), "
              f"{n_krs:,} KRs ({len(world.manual):,} manual, {len(world.with_initiatives):,} "
              f"initiatives_done), {n_rows:,} Initiatives rows ({world.linked_rows:,} related to a KR); "
              f"cycle {cycle[0]} – {cycle[1]}")  # fmt: skip
        os.environ[TOKEN_VAR] = sandbox.token
        with tempfile.TemporaryDirectory(prefix="bench-notion-") as tmp:
            config = write_config(Path(tmp), world, cycle, args.rps)
            loaded = load_config(config)
            labels = loaded.config.status.label_map()
            throttle = loaded.connections["notion"].requests_per_second  # type: ignore[attr-defined]
            print(f"connector: requests_per_second {throttle:g}"
                  f"{'' if args.rps is not None else ' (its default)'}; sync as `okr-sync sync` does")  # fmt: skip
            runs: list[RunStats] = []

            def floor(first: bool) -> Callable[[bool], tuple[int, str]]:
                return lambda writes: read_floor(world, n_obj, first=first, writes=writes)

            first = run("run 1: first sync", world, config, retry_log, refusals,
                        floor(True), labels)  # fmt: skip
            print_run(first, rate)
            runs.append(first)
            changed = change_currents(world, n_changes, rng)
            second = run(f"run 2: after a human changed Current on {len(changed)} KRs", world,
                         config, retry_log, refusals, floor(False), labels)  # fmt: skip
            print_run(second, rate)
            runs.append(second)
            third = run("run 3: rerun, nothing changed", world, config, retry_log, refusals,
                        floor(False), labels)  # fmt: skip
            print_run(third, rate)
            runs.append(third)
        print_notes(runs, rate, n_krs)
        print()
        print_figures(runs, rate or NOTION_RATE, n_krs, args.latency)
        print(f"\npeak RSS {peak_rss_mib():,.0f} MiB")
        errors = sandbox.server_errors
        if errors:
            print(f"sandbox errors (answered 500): {len(errors)}\n{errors[0]}")
        failed = any(r.summary.failed or r.summary.source_errors for r in runs) or bool(errors)
        return 1 if failed else 0
    finally:
        sandbox.stop()
        retry_logger.removeHandler(retry_log)


if __name__ == "__main__":
    sys.exit(main())
