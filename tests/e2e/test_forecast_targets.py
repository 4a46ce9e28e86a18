"""The forecast written to the Notion sandbox's KR pages and into the Jira sandbox's entity property."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.notion.connector import NotionConnector
from okr_sync.cli import render
from okr_sync.config.loading import load_config
from okr_sync.core.evaluate import KrSnapshot
from okr_sync.engine.engine import Engine
from okr_sync.errors import ConfigError
from okr_sync.models import KrResult, RunSummary
from okr_sync.state.store import StateStore
from sandboxes import NotionSandbox
from tests.e2e import test_jira_sync as jira_e2e

NOW = dt.datetime(2026, 11, 15, 12, tzinfo=dt.UTC)


def seed_history(state: StateStore, kr_id: str, done: list[float], total: float,
                 measure: str = "issues_done") -> None:  # fmt: skip
    """Earlier daily runs of a ratio KR: ``done[-1]`` the day before NOW, and so on back."""
    for back, value in enumerate(reversed(done), start=1):
        when = NOW - dt.timedelta(days=back)
        run_id = state.start_run(when)
        result = KrResult(kr_id=kr_id, title=kr_id, measure=measure, done=value,
                          total=total, progress=value / total)  # fmt: skip
        summary = RunSummary(run_id=run_id, started_at=when, finished_at=when)
        state.finish_run(summary, "ok", [KrSnapshot(result, int(total), "", frozenset())], [], {})


NOTION_CONFIG = """
connections:
  notion:
    type: notion
    token: "${E2E_NOTION_TOKEN}"
    base_url: URL
    key_results: KRS
    items:
      - database: INI
        status: Status
okrs: notion
items: [notion]
cycle: {start: 2026-10-01, end: 2026-12-31}
measures: {default: initiatives_done}
write:
  notion:
    key_results: [progress, status, forecast, forecast_range]
"""


@pytest.fixture
def notion(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[NotionSandbox, Path, dict[str, str]]]:
    sb = NotionSandbox(rate_limit=None)
    url = sb.start()
    statuses = ["Not started", "On track", "At risk", "Off track", "Achieved"]
    ini_db, ini_ds = sb.add_database("Initiatives", {
        "Name": {"title": {}},
        "Status": {"status": {"options": [{"name": n} for n in ["Not started", "In progress", "Done"]]}},
    })  # fmt: skip
    kr_db, kr_ds = sb.add_database("Key Results", {
        "Name": {"title": {}}, "ID": {"unique_id": {"prefix": "KR"}},
        "Progress": {"number": {"format": "percent"}},
        "Status": {"status": {"options": [{"name": n} for n in statuses]}},
        "Forecast": {"number": {"format": "percent"}}, "Forecast range": {"rich_text": {}},
        "Initiatives": {"relation": {"data_source_id": ini_ds, "type": "single_property", "single_property": {}}},
    })  # fmt: skip
    rows = [sb.add_page(ini_ds, {"Name": f"Row {i}", "Status": "Done" if i < 20 else "In progress"})
            for i in range(80)]  # fmt: skip
    pages = {
        "KR-1": sb.add_page(kr_ds, {"Name": "Ship the rows", "Initiatives": rows}),
        "KR-2": sb.add_page(kr_ds, {"Name": "New KR", "Initiatives": rows[:4]}),
    }
    monkeypatch.setenv("E2E_NOTION_TOKEN", sb.token)
    text = NOTION_CONFIG.replace("URL", url).replace("KRS", kr_db).replace("INI", ini_db)
    (tmp_path / "okr-sync.yaml").write_text(text)
    yield sb, tmp_path, pages
    sb.stop()


def notion_run(tmp: Path, state: StateStore, apply: bool = True) -> RunSummary:
    loaded = load_config(tmp / "okr-sync.yaml")
    connector = NotionConnector("notion", loaded.connections["notion"], tmp, sleep=lambda s: None)  # type: ignore[arg-type]
    return Engine(loaded, {"notion": connector}, state, now=lambda: NOW).run(apply=apply)


def test_notion_kr_pages_get_the_forecast_and_its_range(
    notion: tuple[NotionSandbox, Path, dict[str, str]],
) -> None:
    sb, tmp, pages = notion
    state = StateStore.open(tmp / "state.db")
    # a row every other day for 20 days; history under another measure would not count
    seed_history(state, "KR-1", [10 + d / 2 for d in range(20)], 80.0, "initiatives_done")
    plan = notion_run(tmp, state, apply=False)
    by_id = {r.kr_id: r for r in plan.key_results}
    one, two = by_id["KR-1"], by_id["KR-2"]
    assert one.forecast is not None and two.forecast is None
    assert "needs at least 14 days of history" in (two.forecast_note or "")
    shown = render.results_text(plan, {s: s.value for s in one.status.__class__})  # type: ignore[union-attr]
    assert f"{render.pct(one.forecast.p50)} ({one.forecast.range_text})" in shown
    planned = {(c.ref.id, c.field): c.after for c in plan.plan.changes}
    assert planned[("KR-1", "forecast")] == one.forecast.p50
    assert planned[("KR-1", "forecast_range")] == one.forecast.range_text
    assert ("KR-2", "forecast") not in planned  # nothing to write over an empty property

    summary = notion_run(tmp, state)
    assert not summary.failed
    page = sb.page(pages["KR-1"])["properties"]
    assert page["Forecast"]["number"] == one.forecast.p50
    text = "".join(t["plain_text"] for t in page["Forecast range"]["rich_text"])
    assert text == one.forecast.range_text and "–" in text
    empty = sb.page(pages["KR-2"])["properties"]
    assert empty["Forecast"]["number"] is None and empty["Forecast range"]["rich_text"] == []
    assert notion_run(tmp, state).plan.changes == ()  # read back equal: nothing more to write


def test_jira_entity_property_carries_the_forecast_when_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = jira_e2e.World(tmp_path, monkeypatch)
    try:
        config = tmp_path / "okr-sync.yaml"
        text = config.read_text()
        config.write_text(text.replace("items: [property, label, remote_link, comment]",
                                       "items: [property, forecast, forecast_range]"))  # fmt: skip
        seed_history(world.state, "KR-1", [80.0 + d for d in range(20)], 250.0)
        summary, _ = world.run()
        one = jira_e2e.kr(summary, "KR-1")
        assert one.forecast is not None
        entry = world.prop(world.epic1)["key_results"][0]  # type: ignore[index]
        assert entry["forecast"] == one.forecast.p50
        assert entry["forecast_range"] == one.forecast.range_text
        # KR-2 has no history: the property says so with empty values, never a guess
        other = world.prop(world.epic2)["key_results"][0]  # type: ignore[index]
        assert other["forecast"] is None and other["forecast_range"] == ""
        # without forecast named, the property has no forecast keys
        config.write_text(text.replace("items: [property, label, remote_link, comment]",
                                       "items: [property]"))  # fmt: skip
        world.run()
        assert "forecast" not in world.prop(world.epic1)["key_results"][0]  # type: ignore[index]
    finally:
        world.sandbox.stop()


def test_jira_forecast_without_the_property_is_a_config_error(tmp_path: Path) -> None:
    config = tmp_path / "okr-sync.yaml"
    config.write_text(
        "connections:\n  okrs: {type: yaml_okrs, path: okrs.yaml}\n"
        "  jira: {type: jira, url: 'https://acme.atlassian.net', email: a@b.c, token: '${T}'}\n"
        "okrs: okrs\nitems: [jira]\nwrite:\n  jira:\n    items: [label, forecast]\n"
    )
    (tmp_path / "okrs.yaml").write_text("objectives: []\nkey_results: []\n")
    with pytest.raises(ConfigError) as caught:
        load_config(config)
    assert "okr-sync.yaml:8: write.jira.items: forecast goes into the entity property" in str(
        caught.value
    )
