"""Soak: many scheduled runs against both sandboxes, with human work and faults.

The scheduler (a fake clock: no waiting) fires every 30 minutes. Before each
tick, humans close and open issues, move stories between epics, label and unlabel
epics, trash and restore initiatives, finish initiatives and type over a computed
value now and then; two ticks in three also get faults (429s with Retry-After,
5xx, malformed bodies) on random endpoints. After every fault-free tick, an
independent dry run (fresh connectors, an empty state store, full pulls) must
find nothing to change: the targets hold exactly the right values.

Figures printed (with ``-s``): runs, faults injected, values checked, RSS and
state-store size over time. ``OKR_SYNC_SOAK=N`` runs N ticks (``make soak``:
300, a few minutes); without it a short version (12 ticks) runs in the suite.
"""

from __future__ import annotations

import datetime as dt
import gc
import os
import random
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from okr_sync.cli.demo.config import demo_config
from okr_sync.cli.demo.org import DemoClock, seed
from okr_sync.config.loading import load_config
from okr_sync.engine.engine import Engine, build_connectors
from okr_sync.engine.runner import run_sync
from okr_sync.models import KrResult, ObjectiveResult, RunSummary
from okr_sync.schedule.cron import parse as parse_cron
from okr_sync.schedule.scheduler import Scheduler
from okr_sync.state.store import StateStore
from sandboxes import JiraSandbox, NotionSandbox

TICKS = int(os.environ.get("OKR_SYNC_SOAK", "12"))
START = dt.datetime(2026, 11, 2, 8, tzinfo=dt.UTC)
FAULTS: list[tuple[str, str, str, int]] = [  # service, endpoint, kind, status
    ("jira", "POST /rest/api/3/search/jql", "status", 503),
    ("jira", "PUT /rest/api/3/issue/{key}/properties/{prop}", "status", 429),
    ("jira", "GET /rest/api/3/field", "malformed", 200),
    ("notion", "POST /v1/data_sources/{id}/query", "status", 429),
    ("notion", "PATCH /v1/pages/{id}", "status", 502),
    ("notion", "POST /v1/comments", "status", 500),
    ("notion", "GET /v1/databases/{id}", "malformed", 200),
]


def okr_sync_retained_bytes() -> int:
    """Live memory allocated (since tracing began) by okr-sync's code, not the sandboxes'.

    The sandboxes live in this process and rightly grow with the data humans add;
    the question is whether okr-sync itself keeps anything from run to run.
    """
    gc.collect()
    mine = (
        tracemalloc.Filter(True, "*/okr_sync/*", all_frames=True),
        tracemalloc.Filter(True, "*/connectors/*", all_frames=True),
    )
    sandbox = tracemalloc.Filter(False, "*/sandboxes/*", all_frames=True)
    snapshot = tracemalloc.take_snapshot()
    kept = snapshot.filter_traces(mine).filter_traces((sandbox,))
    return sum(stat.size for stat in kept.statistics("filename"))


def rss_mib() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


class Soak:
    def __init__(self, folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.clock = DemoClock(START)
        self.rng = random.Random(20261123)
        self.jira = JiraSandbox("cloud", clock=self.clock)
        self.notion = NotionSandbox(rate_limit=None, clock=self.clock)
        self.jira.start()
        self.notion.start()
        self.org = seed(self.jira, self.notion, START - dt.timedelta(days=1))
        text = demo_config(
            jira_url=self.jira.url, jira_email=self.jira.email, notion_url=self.notion.url,
            databases=self.org.databases, cycle=(dt.date(2026, 10, 1), dt.date(2026, 12, 31)),
        ).replace("state:\n", "pull: {full_every_hours: 6}\nstate:\n")  # fmt: skip
        (folder / "okr-sync.yaml").write_text(text)
        monkeypatch.setenv("JIRA_API_TOKEN", self.jira.api_token)
        monkeypatch.setenv("NOTION_TOKEN", self.notion.token)
        self.loaded = load_config(folder / "okr-sync.yaml")
        self.faults_injected = 0
        self.values_checked = 0
        self.converged = 0
        #: Per run: whether it had failures (the summaries themselves are not kept, so
        #: that the memory figures measure okr-sync, not this test).
        self.failed: list[bool] = []
        self.rss: list[float] = []
        self.db_bytes: list[int] = []
        self.faulty = False
        self.undo: list[Callable[[], None]] = []
        self.divergences: list[str] = []
        self.aborted: list[str] = []

    def close(self) -> None:
        self.jira.stop()
        self.notion.stop()

    def connectors(self) -> dict[str, Any]:
        # The connectors' clock is the sandboxes' clock: cursors are taken from it.
        return build_connectors(self.loaded, sleep=lambda _: None, clock=self.clock)

    # --- what happens between ticks ------------------------------------------------
    def human_work(self) -> None:
        rng, jira = self.rng, self.jira
        stories = [k for keys in self.org.children.values() for k in keys]
        for key in rng.sample(stories, 3):
            jira.update_issue(key, status=rng.choice(["Done", "In Progress", "To Do"]))
        if rng.random() < 0.3:
            epic = rng.choice(list(self.org.children)[:4])
            self.org.children[epic].append(jira.add_issue("PAY", "New story", parent=epic))
        if rng.random() < 0.3:
            page = rng.choice(list(self.org.initiative_pages.values()))
            self.notion.update_page(page, {"Status": rng.choice(["In progress", "Done"])})
        # Changes an incremental pull cannot see by edit time alone (each run must still
        # count what a full pull would; the convergence check below proves it).
        if rng.random() < 0.2:  # a story moves to another epic
            epics = list(self.org.children)[:4]
            key = rng.choice([k for e in epics for k in self.org.children[e]])
            epic = rng.choice(epics)
            self.jira.update_issue(key, parent=epic)
            for children in self.org.children.values():
                if key in children:
                    children.remove(key)
            self.org.children[epic].append(key)
        for undo in self.undo:  # last tick's label removal or trashing, undone
            undo()
        self.undo.clear()
        if rng.random() < 0.2:  # an epic loses the label that links it to KR-2, for a tick
            epic = rng.choice(list(self.org.children)[2:4])
            self.jira.update_issue(epic, labels=[])
            self.undo.append(lambda: self.jira.update_issue(epic, labels=["okr:KR-2"]))
        if rng.random() < 0.15:  # an initiative goes to the trash, for a tick
            page = rng.choice(list(self.org.initiative_pages.values()))
            self.notion.trash_page(page, True)
            self.undo.append(lambda: self.notion.trash_page(page, False))
        if rng.random() < 0.15:  # a human types over a computed value
            kr = rng.choice(["KR-1", "KR-2", "KR-4"])
            self.notion.update_page(self.org.kr_pages[kr], {"Current": float(rng.randint(1, 99))})

    def inject_faults(self) -> None:
        self.faulty = self.rng.random() < 2 / 3
        for service, endpoint, kind, status in self.rng.sample(FAULTS, 2) if self.faulty else ():
            plan = self.jira.faults if service == "jira" else self.notion.faults
            if kind == "malformed":
                plan.malformed(endpoint)
            else:
                plan.add(endpoint, status, times=self.rng.randint(1, 3), retry_after=1)
            self.faults_injected += 1

    # --- one tick --------------------------------------------------------------------
    def tick(self, should_stop: Callable[[], bool]) -> RunSummary:
        if len(self.rss) == TICKS // 2:  # from half-way on, trace what okr-sync keeps
            tracemalloc.start(25)
        self.human_work()
        self.inject_faults()
        try:
            summary = run_sync(self.loaded, now=self.clock, should_stop=should_stop,
                               connectors=self.connectors())  # fmt: skip
        except Exception as exc:  # e.g. the OKR pages could not be read: nothing was written
            self.aborted.append(str(exc))
            raise
        finally:
            self.jira.faults.clear()
            self.notion.faults.clear()
            self.clock.advance(dt.timedelta(seconds=40))  # the run's duration
        self.failed.append(bool(summary.failed or summary.source_errors))
        if not self.faulty:
            try:
                self.check_converged()
            except AssertionError as exc:  # the scheduler would count it as a failed run
                self.divergences.append(f"run {summary.run_id}: {exc}")
        gc.collect()
        self.rss.append(rss_mib())
        state = self.loaded.state_path
        self.db_bytes.append(sum(p.stat().st_size for p in state.parent.glob(state.name + "*")))
        return summary

    def check_converged(self) -> None:
        """A dry run from scratch finds every target already holding the right values."""
        fresh = Engine(self.loaded, self.connectors(), StateStore.in_memory(), now=self.clock)
        summary = fresh.run(apply=False)
        assert not summary.source_errors, summary.source_errors
        # A KR the humans left without anything to count (both epics unlabelled, an
        # initiative in the trash) fails from scratch too: with a reason, never a number.
        results: list[KrResult | ObjectiveResult] = [*summary.key_results, *summary.objectives]
        assert all(r.error for r in results if r.stale or r.error), summary.failed
        assert summary.plan.changes == (), [
            (c.target, c.ref.id, c.field, c.before, c.after) for c in summary.plan.changes
        ]
        self.values_checked += len(summary.key_results) * 4 + len(summary.objectives) * 3
        self.converged += 1


@pytest.mark.soak
def test_scheduled_runs_with_faults_converge_with_flat_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    soak = Soak(tmp_path, monkeypatch)
    try:
        scheduler = Scheduler(
            parse_cron("*/30 * * * *"), soak.tick, clock=soak.clock,
            sleep=lambda s: soak.clock.advance(dt.timedelta(seconds=s)), max_runs=TICKS,
            failures_before_backoff=10_000,  # faults are the point here: no backing off
        )  # fmt: skip
        result = scheduler.run()
        retained = okr_sync_retained_bytes()
    finally:
        tracemalloc.stop()
        soak.close()
    half, quarter = TICKS // 2, TICKS // 4
    # State store: grows with history only, as much per run later as earlier.
    early = (soak.db_bytes[half] - soak.db_bytes[0]) / max(1, half)
    late = (soak.db_bytes[-1] - soak.db_bytes[half]) / max(1, TICKS - 1 - half)
    failed_runs = sum(soak.failed) + len(soak.aborted)
    print(
        f"\nsoak: {TICKS} scheduled runs ({failed_runs} with failures), "
        f"{soak.faults_injected} faults injected, {soak.converged} convergence checks, "
        f"{soak.values_checked} values checked, values lost: {len(soak.divergences)}\n"
        f"RSS (okr-sync and both sandboxes, before tracing) {soak.rss[0]:.0f} → "
        f"{soak.rss[quarter]:.0f} → {soak.rss[half - 1]:.0f} MiB; "
        f"state store {soak.db_bytes[0] / 1024:.0f} → {soak.db_bytes[-1] / 1024:.0f} KiB "
        f"({early / 1024:.1f} KiB/run early, {late / 1024:.1f} KiB/run late); "
        f"memory okr-sync allocated in the second half and still holds: {retained / 1024:.0f} KiB"
    )
    assert not soak.divergences, soak.divergences[0]  # a dry run found a value to fix
    assert result.runs == TICKS and len(soak.failed) + len(soak.aborted) == TICKS
    assert soak.converged >= TICKS // 5
    # Memory: okr-sync keeps nothing from run to run (the sandboxes grow with their data).
    assert retained < 1024 * 1024
    assert late <= 1.5 * early + 4096, (early, late)
