"""End to end: the engine, the real `notion-client` and the Notion sandbox over loopback."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.notion.connector import NotionConnector
from okr_sync.config.loading import load_config
from okr_sync.engine.engine import Engine
from okr_sync.models import RunSummary
from okr_sync.state.store import StateStore
from sandboxes import NotionSandbox

NOW = dt.datetime(2026, 11, 15, 12, tzinfo=dt.UTC)
STATUSES = ["Not started", "On track", "At risk", "Off track", "Achieved"]
CONFIG = """
connections:
  notion:
    type: notion
    token: "${E2E_NOTION_TOKEN}"
    base_url: URL
    objectives: OBJ
    key_results: KRS
    items:
      - database: INI
        status: Status
        numbers: {arr: ARR}
okrs: notion
items: [notion]
cycle: {start: 2026-10-01, end: 2026-12-31}
measures: {default: initiatives_done, KR-3: manual}
write:
  notion:
    key_results: [progress, current, status, last_synced, comment]
    objectives: [progress, status, last_synced]
"""


class World:
    """A Notion workspace with the usual OKR layout: Objectives, Key Results, Initiatives."""

    def __init__(self, tmp: Path, monkeypatch: pytest.MonkeyPatch, *, kr_status_options: list[str] = STATUSES,
                 progress_formula: bool = False, rows: int = 120) -> None:  # fmt: skip
        sb = self.sandbox = NotionSandbox(rate_limit=None)
        url = sb.start()
        status = {"status": {"options": [{"name": n} for n in STATUSES]}}
        self.obj_db, obj_ds = sb.add_database("Objectives", {
            "Name": {"title": {}}, "ID": {"unique_id": {"prefix": "O"}}, "Progress": {"number": {"format": "percent"}},
            "Status": status, "Last synced": {"date": {}},
        })  # fmt: skip
        self.ini_db, ini_ds = sb.add_database("Initiatives", {
            "Name": {"title": {}}, "Status": {"status": {"options": [{"name": n} for n in ["Not started", "In progress", "Done"]]}},
            "ARR": {"number": {}},
        })  # fmt: skip
        progress = (
            {"formula": {"expression": 'prop("Current") / prop("Target")'}}
            if progress_formula
            else {"number": {"format": "percent"}}
        )
        self.kr_db, kr_ds = sb.add_database("Key Results", {
            "Name": {"title": {}}, "ID": {"unique_id": {"prefix": "KR"}},
            "Objective": {"relation": {"data_source_id": obj_ds, "type": "single_property", "single_property": {}}},
            "Start": {"number": {}}, "Target": {"number": {}}, "Current": {"number": {}}, "Progress": progress,
            "Status": {"status": {"options": [{"name": n} for n in kr_status_options]}}, "Due": {"date": {}},
            "Last synced": {"date": {}}, "Jira epics": {"rich_text": {}},
            "Initiatives": {"relation": {"data_source_id": ini_ds, "type": "single_property", "single_property": {}}},
        })  # fmt: skip
        o1 = sb.add_page(obj_ds, {"Name": "Make customers happy"})
        self.rows = [sb.add_page(ini_ds, {"Name": f"Initiative {i}", "Status": "Done" if i % 4 == 0 else "In progress",
                                          "ARR": 1000.0}) for i in range(rows)]  # fmt: skip
        self.kr1 = sb.add_page(kr_ds, {"Name": "Ship the initiatives", "Objective": [o1], "Start": 0.0,
                                       "Target": 100.0, "Initiatives": self.rows[:60]})  # fmt: skip
        self.kr2 = sb.add_page(kr_ds, {"Name": "Small bets", "Objective": [o1], "Start": 0.0, "Target": 100.0,
                                       "Initiatives": self.rows[60:64]})  # fmt: skip
        self.kr3 = sb.add_page(kr_ds, {"Name": "NPS from 20 to 50", "Objective": [o1], "Start": 20.0,
                                       "Target": 50.0, "Current": 35.0})  # fmt: skip
        monkeypatch.setenv("E2E_NOTION_TOKEN", sb.token)
        text = CONFIG.replace("URL", url).replace("OBJ", self.obj_db).replace("KRS", self.kr_db)
        (tmp / "okr-sync.yaml").write_text(text.replace("INI", self.ini_db))
        self.tmp = tmp
        self.sleeps: list[float] = []
        self.state = StateStore.open(tmp / "state.db")

    def run(self, apply: bool = True) -> tuple[RunSummary, Counter[str]]:
        loaded = load_config(self.tmp / "okr-sync.yaml")
        notion = NotionConnector(
            "notion", loaded.connections["notion"], self.tmp, sleep=self.sleeps.append
        )  # type: ignore[arg-type]
        before = Counter(self.sandbox.requests)
        summary = Engine(loaded, {"notion": notion}, self.state, now=lambda: NOW).run(apply=apply)
        return summary, Counter(self.sandbox.requests) - before

    def prop(self, page: str, name: str) -> object:
        prop = self.sandbox.page(page)["properties"][name]
        return prop[prop["type"]]


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    w = World(tmp_path, monkeypatch)
    yield w
    w.sandbox.stop()


def kr(summary: RunSummary, kr_id: str):  # type: ignore[no-untyped-def]
    return next(r for r in summary.key_results if r.kr_id == kr_id)


def test_okr_tree_read_and_written_back(world: World) -> None:
    summary, requests = world.run()
    assert not summary.failed, summary.source_errors
    one = kr(summary, "KR-1")
    assert (one.done, one.total) == (15, 60)  # 60 related initiatives, beyond the 25 a page shows
    assert requests["GET /v1/pages/{id}/properties/{property_id}"] >= 1
    assert requests["POST /v1/data_sources/{id}/query"] >= 2  # 120 rows: two pages of 100
    assert world.prop(world.kr1, "Progress") == 0.25
    assert world.prop(world.kr1, "Current") == 25
    assert world.prop(world.kr1, "Status")["name"] == "At risk"  # type: ignore[index]
    assert world.prop(world.kr1, "Last synced")["start"] == "2026-11-15"  # type: ignore[index]
    assert world.prop(world.kr3, "Current") == 35  # manual: the human's value is never written
    assert requests["PATCH /v1/pages/{id}"] == 4  # three KRs and the objective, one PATCH each


def test_rerun_with_nothing_changed_writes_nothing(world: World) -> None:
    world.run()
    summary, requests = world.run()
    assert summary.writes == 0 and summary.plan.changes == ()
    assert requests["PATCH /v1/pages/{id}"] == 0 and requests["POST /v1/comments"] == 0


def test_status_change_posts_one_check_in_comment(world: World) -> None:
    world.run()
    assert world.sandbox.comments(world.kr1) == []  # the first sync does not comment
    for row in world.rows[:60]:
        world.sandbox.update_page(row, {"Status": "Done"})
    world.sandbox.faults.add("POST /v1/comments", 429, code="rate_limited", retry_after=1)
    summary, _ = world.run()
    assert kr(summary, "KR-1").progress == 1.0 and not summary.failed
    comments = world.sandbox.comments(world.kr1)
    assert len(comments) == 1 and "Achieved: 60 of 60 items done" in str(comments[0])
    world.run()
    assert len(world.sandbox.comments(world.kr1)) == 1


def test_429s_are_waited_out_and_nothing_is_lost(world: World) -> None:
    world.sandbox.faults.add("*", 429, code="rate_limited", times=5, retry_after=2)
    summary, _ = world.run()
    assert not summary.failed and world.sleeps.count(2.0) == 5
    assert world.prop(world.kr1, "Progress") == 0.25


def test_a_missing_status_option_is_reported_before_any_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = World(tmp_path, monkeypatch, kr_status_options=["Not started", "On track", "Achieved"])
    try:
        summary, requests = world.run()
        (failure,) = summary.failures
        assert "has no option 'At risk'" in failure.error and "nothing was written" in failure.error
        assert requests["PATCH /v1/pages/{id}"] == 0
    finally:
        world.sandbox.stop()


def test_a_formula_progress_is_left_to_notion(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = World(tmp_path, monkeypatch, progress_formula=True)
    try:
        summary, _ = world.run()
        assert not summary.failed
        assert any("is a formula in Notion" in note for note in summary.notes)
        assert world.prop(world.kr1, "Current") == 25
        assert world.prop(world.kr1, "Progress")["number"] == 0.25  # type: ignore[index]  # Notion computed it
    finally:
        world.sandbox.stop()


def test_an_unshared_database_says_how_to_share_it(world: World) -> None:
    world.sandbox.share(world.kr_db, False)
    with pytest.raises(Exception) as err:
        world.run()
    assert "Connections" in str(err.value) and "add the integration" in str(err.value)


def test_a_human_edit_is_a_conflict_and_kept_in_history(world: World) -> None:
    world.run()
    world.sandbox.update_page(
        world.kr1, {"Status": "On track"}, edited_by=world.sandbox.add_user("Ann")
    )
    summary, _ = world.run()
    (conflict,) = summary.plan.conflicts
    assert (conflict.field, conflict.before) == ("status", "On track")
    assert any(c["before"] == "On track" for c in world.state.changes_for("KR-1"))
