"""``okr-sync backfill`` end to end: the Jira sandbox's change history, the real client,
the replay, and the state store (both backends)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from connectors.files import YamlOkrSource
from connectors.jira.connector import JiraConnector
from okr_sync.cli.main import main
from okr_sync.config.loading import load_config
from okr_sync.engine.backfill import Backfiller
from okr_sync.engine.engine import Engine
from okr_sync.models import KrResult
from okr_sync.state.store import StateStore
from sandboxes import JiraSandbox
from tests.sandboxes.fake_clock import FakeClock

START = dt.datetime(2026, 10, 1, 9, tzinfo=dt.UTC)
OKRS = """
objectives:
  - {id: O-1, title: Ship payments}
key_results:
  - {id: KR-1, title: Finish checkout, objective: O-1, epics: [PAY-1]}
  - {id: KR-2, title: Checkout points, objective: O-1, epics: [PAY-1], measure: points_done}
  - {id: KR-3, title: Labelled work, objective: O-1, start: 0, target: 4, measure: "count:done"}
  - {id: KR-4, title: Bugs by query, objective: O-1, start: 0, target: 5, measure: count}
  - {id: KR-5, title: Revenue, objective: O-1, start: 0, target: 100, current: 10, measure: manual}
"""
CONFIG = """
connections:
  okrs: {type: yaml_okrs, path: okrs.yaml}
  jira: {type: jira, url: URL, EMAIL token: "${BF_JIRA_TOKEN}"}
okrs: okrs
items: [jira]
cycle: {start: 2026-10-01, end: 2026-12-31}
mapping:
  rules:
    - {kr: KR-3, label: growth}
    - {kr: KR-4, source: jira, query: "project = PAY AND issuetype = Bug"}
"""


class World:
    """Ten days of work in a sandbox whose clock moves; a config; a state store."""

    def __init__(self, tmp: Path, monkeypatch: pytest.MonkeyPatch, mode: str, state: StateStore):
        self.clock = FakeClock(START)
        self.sandbox = sb = JiraSandbox(mode, clock=self.clock)  # type: ignore[arg-type]
        url = sb.start()
        self.tmp, self.state = tmp, state
        sb.add_project("PAY", "Payments")
        self.epic = sb.add_issue("PAY", "Checkout", issuetype="Epic")
        self.other = sb.add_issue("PAY", "Elsewhere", issuetype="Epic")
        self.stories = [
            sb.add_issue("PAY", f"Story {i}", parent=self.epic, story_points=2) for i in range(6)
        ]
        cloud = mode == "cloud"
        monkeypatch.setenv("BF_JIRA_TOKEN", sb.api_token if cloud else sb.pat)
        (tmp / "okrs.yaml").write_text(OKRS)
        text = CONFIG.replace("URL", url).replace("EMAIL", f"email: {sb.email}," if cloud else "")
        (tmp / "okr-sync.yaml").write_text(text)

    def day(self, n: int, hour: int = 10) -> dt.datetime:
        return START.replace(hour=hour) + dt.timedelta(days=n)

    def at(self, n: int, hour: int = 10) -> None:
        self.clock.now = self.day(n, hour)

    def connectors(self) -> dict[str, Any]:
        loaded = load_config(self.tmp / "okr-sync.yaml")
        jira = JiraConnector("jira", loaded.connections["jira"], self.tmp, sleep=lambda _s: None,  # type: ignore[arg-type]
                             clock=self.clock)  # fmt: skip
        okrs = YamlOkrSource("okrs", loaded.connections["okrs"], self.tmp)  # type: ignore[arg-type]
        return {"okrs": okrs, "jira": jira}

    def sync(self, state: StateStore | None = None) -> dict[str, KrResult]:
        loaded = load_config(self.tmp / "okr-sync.yaml")
        engine = Engine(loaded, self.connectors(), state or self.state, now=self.clock)
        summary = engine.run(apply=True)
        return {r.kr_id: r for r in summary.key_results}

    def backfiller(self, state: StateStore | None = None) -> Backfiller:
        loaded = load_config(self.tmp / "okr-sync.yaml")
        return Backfiller(loaded, self.connectors(), state or self.state, now=self.clock)

    def play(self) -> None:
        """Days 1–9: stories close, points change, one story moves out, labels come and go."""
        sb, s = self.sandbox, self.stories
        self.at(1)
        sb.update_issue(s[0], status="In Progress")
        self.at(2)
        sb.update_issue(s[0], status="Done")
        sb.update_issue(s[1], story_points=5)
        self.at(3)
        sb.update_issue(s[1], status="Done")
        grow = sb.add_issue("PAY", "Growth A", labels=["growth"], status="To Do")
        self.grow = grow
        self.at(4)
        sb.update_issue(grow, status="Done")
        bug = sb.add_issue("PAY", "A bug", issuetype="Bug")
        self.bug = bug
        self.at(5)
        sb.update_issue(s[5], parent=self.other)  # leaves the linked epic: counted days 0–4
        sb.update_issue(grow, labels=[])  # leaves KR-3 on day 5
        self.at(6)
        sb.update_issue(s[2], status="Closed")
        sb.add_issue("PAY", "Late story", parent=self.epic, story_points=1)
        self.at(8)
        sb.update_issue(s[2], status="In Progress")  # reopened


@pytest.fixture(params=["cloud", "datacenter"])
def world(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[World]:
    state = StateStore.open(tmp_path / ".okr-sync" / "state.db")
    w = World(tmp_path, monkeypatch, request.param, state)
    yield w
    w.sandbox.stop()
    state.close()


def values(result: KrResult) -> tuple[Any, ...]:
    keys = tuple(sorted((c.key, c.done, c.value) for c in result.provenance.counted))
    return result.progress, result.current, result.done, result.total, keys


def test_a_backfilled_day_equals_the_synced_day(world: World, tmp_path: Path) -> None:
    """Sync at the end of day 3 and day 5; play on; then a fresh store backfills:
    its days 3 and 5 hold the very numbers the syncs computed."""
    synced: dict[int, dict[str, KrResult]] = {}
    world.play_until = None
    sb, s = world.sandbox, world.stories
    world.at(1)
    sb.update_issue(s[0], status="In Progress")
    world.at(2)
    sb.update_issue(s[0], status="Done")
    sb.update_issue(s[1], story_points=5)
    world.at(3)
    sb.update_issue(s[1], status="Done")
    sb.add_issue("PAY", "Growth A", labels=["growth"], status="Done")
    world.at(3, hour=23)
    synced[3] = world.sync()
    world.at(5)
    sb.update_issue(s[5], parent=world.other)
    sb.update_issue(s[2], status="Closed")
    world.at(5, hour=23)
    synced[5] = world.sync()
    world.at(7)
    sb.update_issue(s[2], status="To Do")
    sb.update_issue(s[3], story_points=8, status="Done")
    world.at(9)

    fresh = StateStore.open(tmp_path / "fresh.db")
    try:
        report = world.backfiller(fresh).run()
        rows = {(r["id"], r["at"][:10]): r for r in fresh.history("kr")}
        for n in (3, 5):
            day = world.day(n).date().isoformat()
            for kr_id in ("KR-1", "KR-2", "KR-3"):
                row = rows[(kr_id, day)]
                assert row["origin"] == "backfilled"
                got = (row["progress"], row["current"], row["done"], row["total"])
                want = synced[n][kr_id]
                assert got == (want.progress, want.current, want.done, want.total), (kr_id, n)
        # Day 3: 2 of 6 stories done; day 5: story 5 moved out, story 2 closed: 3 of 5.
        assert rows[("KR-1", world.day(3).date().isoformat())]["done"] == 2
        assert rows[("KR-1", world.day(5).date().isoformat())]["total"] == 5
        problems = {r.kr_id: r.problem for r in report.key_results}
        assert problems["KR-1"] is None and problems["KR-3"] is None
        assert "query" in (problems["KR-4"] or "") and "manual" in (problems["KR-5"] or "")
        assert not any(r["id"] in ("KR-4", "KR-5") for r in fresh.history("kr"))
    finally:
        fresh.close()


def test_membership_over_time_and_resumable_reruns(world: World) -> None:
    world.play()
    world.at(9, hour=12)
    backfiller = world.backfiller()
    report = backfiller.run(until=world.day(6).date())
    added = {r.kr_id: len(r.added) for r in report.key_results}
    assert added["KR-1"] == 7  # days 0..6
    assert report.former_members == 2  # story 5 (left the linked epic) and Growth A (its label)
    rows = world.state.history("kr", "KR-1")
    by_day = {r["at"][:10]: r for r in rows}
    d = {n: world.day(n).date().isoformat() for n in range(10)}
    assert (by_day[d[4]]["done"], by_day[d[4]]["total"]) == (2, 6)  # story 5 still in
    assert (by_day[d[5]]["done"], by_day[d[5]]["total"]) == (2, 5)  # moved out
    assert (by_day[d[6]]["done"], by_day[d[6]]["total"]) == (3, 6)  # closed + late story
    kr2 = {r["at"][:10]: r for r in world.state.history("kr", "KR-2")}
    assert (kr2[d[1]]["done"], kr2[d[1]]["total"]) == (0, 12)
    assert (kr2[d[2]]["done"], kr2[d[2]]["total"]) == (2, 15)  # points 2 → 5 on story 1
    kr3 = {r["at"][:10]: r["current"] for r in world.state.history("kr", "KR-3")}
    assert (kr3[d[2]], kr3[d[3]], kr3[d[4]], kr3[d[5]]) == (0, 0, 1, 0)  # a label rule: real zeros
    # A sync on day 9, then a rerun: it adds days 7 and 8 only, and keeps day 9 as synced.
    world.sync()
    rerun = world.backfiller().run()
    kr1 = next(r for r in rerun.key_results if r.kr_id == "KR-1")
    assert [day.isoformat() for day in kr1.added] == [d[7], d[8]]
    assert (kr1.already, kr1.synced) == (7, 1)
    rows = world.state.history("kr", "KR-1")
    assert len({r["at"][:10] for r in rows}) == len(rows) == 10
    assert rows[-1]["origin"] == "synced"
    assert world.backfiller().run().key_results[0].added == []  # nothing left to do


def test_requests_history_reading(world: World) -> None:
    world.play()
    world.at(9, hour=12)
    world.sandbox.requests.clear()
    report = world.backfiller().run()
    asked = world.sandbox.requests
    if world.sandbox.mode == "cloud":
        assert asked["POST /rest/api/3/changelog/bulkfetch"] == 1
        assert report.history_requests == 2  # the bulk changelog and the status list
    else:  # Data Center: one GET per issue with its changelog embedded
        assert asked["GET /rest/api/2/issue/{key}"] == 11
        assert not any("changelog" in k for k in asked)


def test_explain_at_and_history_show_backfilled_days(world: World) -> None:
    world.play()
    world.at(9, hour=12)
    world.backfiller().run()
    world.sync()
    runner = CliRunner()
    cfg = str(world.tmp / "okr-sync.yaml")
    day4 = world.day(4).date().isoformat()
    out = runner.invoke(main, ["explain", "-c", cfg, "KR-1", "--at", day4])
    assert out.exit_code == 0, out.output
    assert f"backfilled for {day4}" in out.output
    assert "counted 6 item(s), 2 done" in out.output
    assert world.stories[5] in out.output  # still counted that day
    hist = runner.invoke(main, ["history", "-c", cfg, "KR-1", "--json"])
    rows = json.loads(hist.output)
    assert [r["origin"] for r in rows].count("synced") == 1
    assert [r["origin"] for r in rows].count("backfilled") == 9
    missing = runner.invoke(main, ["explain", "-c", cfg, "KR-1", "--at", "2026-09-01"])
    assert missing.exit_code != 0 and "backfill --since 2026-09-01" in missing.output


def test_the_command_reports_per_kr_and_a_rerun_adds_nothing(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.play()
    world.at(9, hour=12)
    monkeypatch.setenv("OKR_SYNC_NOW", world.day(9, 12).isoformat())
    cfg = str(world.tmp / "okr-sync.yaml")
    world.state.close()  # the command opens the store itself, under the run lock
    runner = CliRunner()
    first = runner.invoke(main, ["backfill", "-c", cfg, "--since", world.day(2).date().isoformat()])
    assert first.exit_code == 0, first.output
    assert "KR-1  Finish checkout" in first.output and "8 day(s) added" in first.output
    assert "KR-5  Revenue" in first.output and "a manual KR" in first.output
    again = runner.invoke(main, ["backfill", "-c", cfg, "--json", "KR-1"])
    report = json.loads(again.output)
    (kr1,) = report["key_results"]
    assert (kr1["kr"], kr1["days_added"], kr1["days_already_backfilled"]) == ("KR-1", 2, 8)
    unknown = runner.invoke(main, ["backfill", "-c", cfg, "KR-99"])
    assert unknown.exit_code == 2 and "KR-99" in unknown.output
    world.state = StateStore.open(world.tmp / ".okr-sync" / "state.db")
