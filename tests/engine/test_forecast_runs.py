"""Forecasts over real runs: history recorded day by day, the fields written, shown and used."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from click.testing import CliRunner

from connectors.memory import MemoryConnector
from okr_sync.cli.main import main
from okr_sync.config.loading import load_config
from okr_sync.engine.engine import Engine
from okr_sync.models import (
    ItemKind,
    ItemRef,
    KeyResult,
    KrResult,
    Objective,
    OkrTree,
    RecordRef,
    RunSummary,
    Status,
    StatusCategory,
    WorkItem,
)
from okr_sync.state.store import StateStore

DAY0 = dt.datetime(2026, 10, 1, 12, tzinfo=dt.UTC)
CONFIG = """
connections:
  okrs: {type: memory}
  work: {type: memory}
  pages: {type: memory}
okrs: okrs
items: [work]
cycle: {start: 2026-10-01, end: 2026-12-31}
state: {path: state.db}
write:
  pages:
    key_results: [progress, status, forecast, forecast_range]
"""
TREE = OkrTree(
    objectives=(Objective(id="O-1", title="Ship"),),
    key_results=(
        KeyResult(id="KR-1", title="Epic done", objective_id="O-1", links=(ItemRef(key="E-1"),)),
    ),
)


def items(done: int) -> list[WorkItem]:
    """An epic of 40 issues, ``done`` of them done."""
    return [WorkItem(source="work", key="E-1", kind=ItemKind.EPIC)] + [
        WorkItem(source="work", key=f"I-{i}", parent_key="E-1",
                 status_category=StatusCategory.DONE if i < done else StatusCategory.TODO)
        for i in range(40)
    ]  # fmt: skip


class Team:
    """Daily syncs of a team closing 0.3 issues a day (one every three days or so)."""

    def __init__(self, tmp: Path, extra: str = "") -> None:
        self.path = tmp / "okr-sync.yaml"
        self.path.write_text(CONFIG + extra)
        self.okrs = MemoryConnector("okrs", tree=TREE)
        self.work = MemoryConnector("work", items=items(0))
        self.pages = MemoryConnector("pages")
        self.state = StateStore.open(tmp / "state.db")

    def sync(self, day: int) -> RunSummary:
        for item in items(int(day * 0.3)):
            self.work.put(item)
        conns = {"okrs": self.okrs, "work": self.work, "pages": self.pages}
        now = DAY0 + dt.timedelta(days=day)
        engine = Engine(load_config(self.path), conns, self.state, now=lambda: now)  # type: ignore[arg-type]
        return engine.run(apply=True)

    def page(self) -> dict[str, object]:
        return self.pages.records.get(RecordRef(kind="key_result", id="KR-1"), {})  # type: ignore[arg-type]


def kr1(summary: RunSummary) -> KrResult:
    return summary.key_results[0]


def test_the_forecast_appears_once_there_is_enough_history_and_is_written(tmp_path: Path) -> None:
    team = Team(tmp_path)
    for day in range(14):
        result = kr1(team.sync(day))
        assert result.forecast is None
        assert "needs at least 14 days of history" in (result.forecast_note or "")
    assert team.page().get("forecast") is None and team.page()["forecast_range"] == ""
    for day in range(14, 21):
        summary = team.sync(day)
    result = kr1(summary)
    assert result.forecast is not None and not summary.failed
    made = result.forecast
    assert made.history_days == 20 and made.horizon_days == 71
    assert made.p10 < result.progress + 0.3 * 71 / 40 < made.p90  # the team's pace lies inside
    assert team.page() == {
        "progress": result.progress, "status": "On track",  # by pace: 15 % against 23 % elapsed
        "forecast": made.p50, "forecast_range": made.range_text,
    }  # fmt: skip

    # history and explain show it (the CLI reads the state store the runs recorded)
    runner = CliRunner()
    out = runner.invoke(main, ["history", "KR-1", "-c", str(team.path)], catch_exceptions=False)
    assert out.exit_code == 0 and "FORECAST" in out.output
    last = out.output.splitlines()[-3]
    assert made.range_text in last, out.output
    as_json = json.loads(
        runner.invoke(main, ["history", "KR-1", "--json", "-c", str(team.path)]).output
    )
    assert as_json[-1]["forecast"]["range"] == made.range_text and as_json[0]["forecast"] is None
    explained = runner.invoke(main, ["explain", "KR-1", "-c", str(team.path)]).output
    assert f"(P10–P90 {made.range_text}), from 20 days of history, 71 days left" in explained


def test_basis_forecast_judges_the_status_by_the_forecast(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a, b = Team(tmp_path / "a"), Team(tmp_path / "b", "status: {basis: forecast}\n")
    for day in range(21):
        first, second = a.sync(day), b.sync(day)
    one, two = kr1(first), kr1(second)
    assert one.forecast == two.forecast and one.forecast is not None
    assert one.status is Status.ON_TRACK  # pace: 15 % done, 23 % of the period gone
    # forecast: P50 short of 100 % → At risk (P90 reaches it), by the default thresholds
    assert one.forecast.p50 < 1.0 <= one.forecast.p90
    assert two.status is Status.AT_RISK and b.page()["status"] == "At risk"
    # a stricter threshold for Off track: P90 short of it → Off track
    c_dir = tmp_path / "c"
    c_dir.mkdir()
    c = Team(
        c_dir, "status: {basis: forecast, forecast: {at_risk_below: 0.5, off_track_below: 0.2}}\n"
    )
    for day in range(21):
        third = c.sync(day)
    assert kr1(third).status is Status.ON_TRACK  # P50 above 50 %, P90 above 20 %
