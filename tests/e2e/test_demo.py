"""``okr-sync demo`` end to end (fast mode): what the sandboxes hold afterwards."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from okr_sync.cli.demo.run import DemoResult, run_demo
from okr_sync.cli.main import main
from okr_sync.config.loading import load_config
from okr_sync.errors import ConfigError
from okr_sync.state.store import StateStore

TODAY = dt.datetime(2026, 11, 23, 12, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[DemoResult, str]:
    lines: list[str] = []
    result = run_demo(tmp_path_factory.mktemp("d") / "demo", lines.append, fast=True, today=TODAY)
    return result, "\n".join(lines)


def test_both_syncs_succeed_and_the_week_moves_every_computed_kr(
    demo: tuple[DemoResult, str],
) -> None:
    result, _ = demo
    assert not result.first.failed and not result.second.failed
    assert result.first.writes == 14 and result.second.writes == 14
    before = {k.kr_id: k.progress for k in result.first.key_results}
    after = {k.kr_id: k.progress for k in result.second.key_results}
    assert set(before) == {f"KR-{i}" for i in range(1, 8)}
    assert all(after[k] > before[k] for k in before)  # type: ignore[operator]
    assert result.org.issue_count >= 250


def test_notion_holds_the_computed_values(demo: tuple[DemoResult, str]) -> None:
    org = demo[0].org
    assert org.kr_value("KR-1", "Current") == pytest.approx(71.43, abs=0.01)  # 50 of 70 stories
    assert org.kr_value("KR-1", "Progress") == pytest.approx(0.7143, abs=0.0001)
    assert org.kr_value("KR-4", "Current") == 23  # customer bugs closed
    assert org.kr_value("KR-5", "Current") == 12  # open incidents: 30 → 12, a decreasing KR
    assert org.kr_value("KR-5", "Status") == "On track"
    assert org.kr_value("KR-3", "Current") == 540  # manual: the human's value, never written
    assert org.kr_value("KR-3", "Progress") == pytest.approx(0.72)
    assert org.kr_value("KR-7", "Current") == 140_000  # sum of the deals' ARR
    assert org.kr_value("KR-6", "Status") == "On track"
    assert org.kr_value("KR-1", "Last synced") == "2026-11-23"


def test_check_in_comments_only_where_the_status_changed(demo: tuple[DemoResult, str]) -> None:
    org = demo[0].org
    commented = {k for k, page in org.kr_pages.items() if org.notion.comments(page)}
    assert commented == {"KR-2", "KR-4", "KR-6"}
    assert all(len(org.notion.comments(org.kr_pages[k])) == 1 for k in commented)


def test_jira_epics_carry_the_kr_property_and_a_link_to_the_kr_page(
    demo: tuple[DemoResult, str],
) -> None:
    org = demo[0].org
    epic = org.jira.issue(next(iter(org.children)))
    (entry,) = epic["properties"]["okr-sync"]["key_results"]
    assert (entry["id"], entry["progress"]) == ("KR-1", pytest.approx(0.7143, abs=0.0001))
    links = epic["remote_links"]
    assert [link["globalId"] for link in links] == ["okr-sync:KR-1"]


def test_the_human_edit_is_a_conflict_kept_in_history(demo: tuple[DemoResult, str]) -> None:
    result, text = demo
    (conflict,) = result.second.plan.conflicts
    assert (conflict.ref.id, conflict.field, conflict.before) == ("KR-1", "current", 80.0)
    state = StateStore.open_readonly(result.config_path.parent / ".okr-sync" / "state.db")
    try:
        assert any(c["before"] == 80.0 and c["conflict"] for c in state.changes_for("KR-1"))
        rows = state.history("kr", "KR-1")
        assert [r["progress"] for r in rows if r["origin"] == "synced"] == [
            pytest.approx(0.4571, abs=0.0001),
            pytest.approx(0.7143, abs=0.0001),
        ]
        # The period before the first sync, backfilled from Jira's history: it starts at
        # nothing done and climbs, a day at a time, to the first sync's value (the day
        # before it: the work seeded up to then).
        backfilled = [r["progress"] for r in rows if r["origin"] == "backfilled"]
        assert len(backfilled) == 49 and backfilled[0] == 0.0
        assert backfilled == sorted(backfilled) and backfilled[-1] == pytest.approx(
            0.4571, abs=0.0001
        )
    finally:
        state.close()
    assert "Conflict: notion KR-1.current was 45.71" in text
    assert "49 backfilled day(s), then syncs: 46 % → 71 %" in text
    assert "not replayed     a manual KR: its Current has no history" in text


def test_the_story_is_told_and_no_token_is_shown(demo: tuple[DemoResult, str]) -> None:
    result, text = demo
    for part in ("plan (a dry run", "sync again", "a week of work", "What changed",
                 "KR history", "Your turn", "okr-sync check", str(result.config_path)):  # fmt: skip
        assert part in text
    assert result.org.jira.api_token not in text and result.org.notion.token not in text


def test_the_written_config_is_the_one_used_and_validates(
    demo: tuple[DemoResult, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    result, _ = demo
    monkeypatch.setenv("JIRA_API_TOKEN", "x" * 10)
    monkeypatch.setenv("NOTION_TOKEN", "y" * 10)
    loaded = load_config(result.config_path)
    assert loaded.connections["jira"].url == result.org.jira.url  # type: ignore[attr-defined]
    text = result.config_path.read_text()
    assert result.org.jira.api_token not in text and result.org.notion.token not in text
    assert '"${JIRA_API_TOKEN}"' in text and '"${NOTION_TOKEN}"' in text


def test_a_foreign_config_is_never_overwritten(tmp_path: Path) -> None:
    mine = tmp_path / "okr-sync.yaml"
    mine.write_text("version: 1\n# my own config\n")
    with pytest.raises(ConfigError, match="not written by `okr-sync demo`"):
        run_demo(tmp_path, print, fast=True, today=TODAY)
    assert mine.read_text() == "version: 1\n# my own config\n"
    assert not (tmp_path / ".okr-sync").exists()


def test_the_command_runs_twice_in_the_same_folder(tmp_path: Path) -> None:
    runner = CliRunner()
    for _ in range(2):
        result = runner.invoke(main, ["demo", "--fast", "--dir", str(tmp_path / "d")])
        assert result.exit_code == 0, result.output
        assert "Conflict:" in result.output
    foreign = tmp_path / "other"
    foreign.mkdir()
    (foreign / "okr-sync.yaml").write_text("version: 1\n")
    result = runner.invoke(main, ["demo", "--fast", "--dir", str(foreign)])
    assert result.exit_code == 2 and "not written by" in result.output


def test_the_demo_ends_with_the_report_of_its_two_syncs(demo: tuple[DemoResult, str]) -> None:
    result, text = demo
    assert text.splitlines()[-1].endswith(f"opens offline): {result.report}")
    page = result.report.read_text(encoding="utf-8")
    assert all(f'data-kr="KR-{n}"' in page for n in range(1, 8))
    assert f"Run {result.second.run_id} at" in page and "Human edits met" in page
    assert page.count('<polyline class="synced"') == 7  # both syncs, one line per KR
    # KR-1's quarter before the first sync, backfilled from Jira's history: drawn dotted.
    kr1 = re.search(r'<article class="kr" id="kr-KR-1".*?</article>', page, re.S)
    assert kr1 is not None
    (dotted,) = re.findall(r'<polyline class="backfilled" points="([^"]+)"', kr1.group(0))
    assert len(dotted.split()) == 50  # 49 backfilled days and the join into the first sync
    assert "2 synced runs (solid line), 49 backfilled days (dotted line)" in kr1.group(0)
