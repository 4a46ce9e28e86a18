"""``okr-sync demo``: the whole story on local sandboxes, with no account and no network.

1. start the Jira and Notion sandboxes on loopback and seed the demo organisation;
2. write the config the run uses (``okr-sync.yaml`` in the demo folder);
3. plan, then sync, and show the OKR tree and what was written where;
4. play one week of human work (issues close, an initiative finishes, a manager
   types over a computed value, the manual KR moves), sync again and show what
   changed, the conflict and the KR history;
5. say how to point the same config at a real Jira and Notion, and write the
   HTML report (``okr-report.html`` in the demo folder).

The demo keeps to the public pieces a real run uses (config loader, connectors
over HTTP with the real clients, engine, state store); only the clock is the
demo's own, so that "a week later" takes no week.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from okr_sync.cli import render
from okr_sync.cli.backfill import report_text
from okr_sync.cli.demo.config import MARKER, demo_config
from okr_sync.cli.demo.org import (
    KEY_RESULTS,
    OBJECTIVES,
    DemoClock,
    DemoOrg,
    WeekOfWork,
    seed,
    simulate_week,
)
from okr_sync.cli.demo.past import play_past
from okr_sync.cli.report import write_report
from okr_sync.config.loading import LoadedConfig, load_config
from okr_sync.engine.backfill import Backfiller
from okr_sync.engine.engine import Engine, build_connectors
from okr_sync.errors import ConfigError, Problem
from okr_sync.models import Plan, RunSummary
from okr_sync.state.location import state_location
from okr_sync.state.store import StateStore
from sandboxes import JiraSandbox, NotionSandbox

TOKENS = ("JIRA_API_TOKEN", "NOTION_TOKEN")


@dataclass
class DemoResult:
    """What the demo did: the sandboxes (stopped, still readable) and both syncs."""

    org: DemoOrg
    config_path: Path
    plan: RunSummary
    first: RunSummary
    second: RunSummary
    week: WeekOfWork
    report: Path


def prepare_folder(folder: Path) -> Path:
    """Create the demo folder; clear a previous demo's state; never touch a user's config."""
    config = folder / "okr-sync.yaml"
    if config.exists():
        head = config.read_text(encoding="utf-8", errors="replace")[: len(MARKER)]
        if head != MARKER:
            raise ConfigError([Problem(
                str(config), None, "", "exists and was not written by `okr-sync demo`",
                hint="pass --dir with another folder (nothing was changed)",
            )])  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    # The sandboxes are new on every run, so an old demo's state store would describe
    # records that no longer exist.
    shutil.rmtree(folder / ".okr-sync", ignore_errors=True)
    return config


@contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """Set environment variables for the demo's run only (the config refers to them)."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


def no_sleep(_seconds: float) -> None:
    """Fast mode: the sandboxes do not rate-limit, so the connectors need not wait."""


class _Demo:
    def __init__(self, folder: Path, out: Callable[[str], None], fast: bool, today: dt.datetime):
        self.folder, self.out, self.fast = folder, out, fast
        self.config = folder / "okr-sync.yaml"
        self.clock = DemoClock(today - dt.timedelta(days=7))
        self.jira = JiraSandbox("cloud", clock=self.clock)
        self.notion = NotionSandbox(rate_limit=None if fast else 3.0, clock=self.clock)

    def engine(self, loaded: LoadedConfig, state: StateStore) -> Engine:
        extra: dict[str, Any] = {"sleep": no_sleep} if self.fast else {}
        return Engine(loaded, build_connectors(loaded, **extra), state, now=self.clock)

    def show_run(self, summary: RunSummary, loaded: LoadedConfig) -> None:
        labels = loaded.config.status.label_map()
        parents = {oid: parent for oid, (_, _, parent) in OBJECTIVES.items()}
        kr_objective = {kid: spec[1] for kid, spec in KEY_RESULTS.items()}
        self.out(render.tree_text(summary, labels, parents, kr_objective))

    def run(self, config: Path) -> DemoResult:
        out = self.out
        start = self.clock.now.date() - dt.timedelta(days=49)
        org = seed(self.jira, self.notion, self.clock.now - dt.timedelta(days=1))
        period_start = dt.datetime.combine(start, dt.time(9), tzinfo=dt.UTC)
        play_past(org, period_start, self.clock.now - dt.timedelta(days=1))
        text = demo_config(
            jira_url=self.jira.url, jira_email=self.jira.email, notion_url=self.notion.url,
            databases=org.databases, cycle=(start, start + dt.timedelta(days=91)),
        )  # fmt: skip
        config.write_text(text, encoding="utf-8")
        out("okr-sync demo — the whole loop on local sandboxes (no account, no network)\n")
        out(f"Jira sandbox   {self.jira.url}  projects PAY and PLAT, {org.issue_count} issues")
        out(f"Notion sandbox {self.notion.url}  Objectives ({len(OBJECTIVES)}), "
            f"Key Results ({len(KEY_RESULTS)}), Initiatives ({len(org.initiative_pages)})")  # fmt: skip
        out(f"Config         {config}  (read it: it is the file this run uses)\n")
        loaded = load_config(config)
        state = state_location(loaded.config.state, loaded.base_dir).open()
        try:
            self._backfill(loaded, state)
            engine = self.engine(loaded, state)
            out(f"── {self.clock.now:%a %d %b}: plan (a dry run: nothing is written) ──")
            planned = engine.run(apply=False)
            out(f"{len(planned.plan.changes)} field change(s) in {len(planned.plan.writes())} "
                "record(s) would be written:")  # fmt: skip
            out(render.written_text(planned) + "\n")
            out(f"── {self.clock.now:%a %d %b}: sync ──")
            first = engine.run(apply=True)
            self.show_run(first, loaded)
            out(f"\nwrote {first.writes} record(s):\n{render.written_text(first)}")
            if first.failed or first.source_errors or first.failures:
                out(render.footer_text(first))
            week = self._week(org)
            out(f"── {self.clock.now:%a %d %b}: sync again ──")
            second = self.engine(load_config(config), state).run(apply=True)
            self.show_run(second, loaded)
            out("\nWhat changed (besides last_synced, set on every record):")
            changed = [c for c in second.plan.changes if c.field != "last_synced"]
            out(render.plan_text(Plan(changes=tuple(changed))))
            self._conflicts(second)
            commented = [k for k, page in org.kr_pages.items() if org.notion.comments(page)]
            out(f"\nCheck-in comments on the KR pages whose status changed: {', '.join(commented)}")
            self._history(state)
            report = self.folder / "okr-report.html"
            write_report(state, loaded.config.status.label_map(), report, self.clock.now)
        finally:
            state.close()
        self._next_steps(config)
        out(f"\nThe report (OKR tree, burn-up charts, changes, conflicts; opens offline): {report}")
        return DemoResult(org, config, planned, first, second, week, report)

    def _backfill(self, loaded: LoadedConfig, state: StateStore) -> None:
        """The quarter so far, rebuilt from Jira's change history before the first sync."""
        extra: dict[str, Any] = {"sleep": no_sleep} if self.fast else {}
        connectors = build_connectors(loaded, **extra)
        state.check_source(loaded.okr_source_identity(), claim=True)
        self.out(f"── {self.clock.now:%a %d %b}: backfill (the period so far, from Jira's "
                 "change history) ──")  # fmt: skip
        report = Backfiller(loaded, connectors, state, now=self.clock).run()
        self.out(report_text(report) + "\n")

    def _week(self, org: DemoOrg) -> WeekOfWork:
        self.clock.advance(dt.timedelta(days=7))
        week = simulate_week(org)
        kr, prop, value = week.human_edit
        self.out(f"\n── a week of work, up to {self.clock.now:%a %d %b} ──")
        self.out(
            f"  Jira: {week.issues_closed} issues closed, {week.incidents_opened} new incidents"
        )
        self.out(f"  Notion: initiative “{week.initiative_done}” is Done; {week.deal_signed}")
        self.out(f"  Notion: Raj types the new p95 latency into the manual "
                 f"{week.manual_update[0]}: {week.manual_update[1]:.0f} ms")  # fmt: skip
        self.out(f"  Notion: Ann types {prop} = {value:.0f} over okr-sync's value on {kr}\n")
        return week

    def _conflicts(self, summary: RunSummary) -> None:
        for c in summary.plan.conflicts:
            self.out(
                f"\nConflict: {c.target} {c.ref.id}.{c.field} was {render.show(c.last_written)} "
                f"when okr-sync wrote it, a human made it {render.show(c.before)}; the policy "
                f"'{c.action.value}' applies (computed: {render.show(c.after)}). The human "
                f"value stays in the state store: `okr-sync explain -c {self.config} {c.owner}` "
                "shows it."
            )

    def _history(self, state: StateStore) -> None:
        rows = state.history("kr", None)
        by_kr: dict[str, list[float | None]] = {}
        synced: dict[str, list[float | None]] = {}
        for row in rows:
            by_kr.setdefault(row["id"], []).append(row["progress"])
            if row["origin"] == "synced":
                synced.setdefault(row["id"], []).append(row["progress"])
        self.out(f"\nKR history (backfilled days, then one mark per sync; "
                 f"`okr-sync history -c {self.config} KR-1` shows the table):")  # fmt: skip
        for kid, values in sorted(by_kr.items(), key=lambda kv: render.natural_key(kv[0])):
            trail = " → ".join(render.pct(v) for v in synced.get(kid, []))
            days = len(values) - len(synced.get(kid, []))
            before = f"{days} backfilled day(s), then " if days else ""
            self.out(f"  {kid:<5} {render.sparkline(values[-40:])}  {before}syncs: {trail}")

    def _next_steps(self, config: Path) -> None:
        self.out(f"""
Your turn — the same config on your real tools:
  1. Copy {config} and edit the lines marked YOURS: your Jira site URL and
     account e-mail; remove base_url; the URLs of your three Notion databases.
  2. Create a Jira API token, and a Notion integration shared with the databases
     (⋯ → Connections), then: export JIRA_API_TOKEN=…  NOTION_TOKEN=…
  3. okr-sync check -c okr-sync.yaml    # credentials, sharing, properties, epics, JQL
     okr-sync plan  -c okr-sync.yaml    # what would change; writes nothing
     okr-sync sync  -c okr-sync.yaml    # write it (or `okr-sync schedule` to keep it fresh)
  Or start from a commented template: okr-sync init --tools notion+jira""")


def run_demo(
    folder: Path,
    out: Callable[[str], None],
    *,
    fast: bool = False,
    today: dt.datetime | None = None,
) -> DemoResult:
    """Run the demo in ``folder`` and narrate it through ``out``; returns what it did.

    ``fast`` turns off the Notion sandbox's 3 requests/s limit (and the connectors'
    waiting), for tests. ``today`` defaults to now; the first sync is a week earlier.
    """
    config = prepare_folder(folder)
    demo = _Demo(folder, out, fast, today or dt.datetime.now(dt.UTC))
    demo.jira.start()
    demo.notion.start()
    try:
        with environment(
            {"JIRA_API_TOKEN": demo.jira.api_token, "NOTION_TOKEN": demo.notion.token}
        ):
            return demo.run(config)
    finally:
        demo.jira.stop()
        demo.notion.stop()
