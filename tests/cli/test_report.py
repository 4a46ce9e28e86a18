"""``okr-sync report``: what the page shows, read from the state store, escaped and offline."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from okr_sync.cli.main import main
from okr_sync.cli.report import write_report
from okr_sync.cli.report.chart import burnup_svg
from okr_sync.cli.report.data import Forecast, Point, gather, read_forecast
from okr_sync.cli.report.page import render_page
from okr_sync.core.evaluate import KrSnapshot
from okr_sync.errors import StateError
from okr_sync.models import (
    DEFAULT_STATUS_LABELS,
    ChangeAction,
    CountedItem,
    Exclusion,
    FieldChange,
    KrResult,
    ObjectivePart,
    ObjectiveResult,
    Provenance,
    RecordRef,
    RunSummary,
    Status,
)
from okr_sync.state.store import StateStore
from tests.backends import Backend

EVIL = "<script>alert('x')</script> & <u>bold</u>"
START, END = dt.date(2026, 1, 1), dt.date(2026, 3, 31)
NOW = dt.datetime(2026, 2, 20, 12, tzinfo=dt.UTC)


def kr(kr_id: str, progress: float | None, done: int, **kw: Any) -> KrResult:
    counted = tuple(
        CountedItem(key=f"{kr_id}-{i}", done=i < done, title=f"item {i}") for i in range(4)
    )
    values: dict[str, Any] = {
        "kr_id": kr_id, "title": f"title of {kr_id}", "measure": "issues_done",
        "progress": progress, "expected": 0.45, "done": done, "total": 4,
        "status": Status.ON_TRACK if progress is not None else None,
        "provenance": Provenance(selectors=("epic PAY-1",), counted=counted,
                                 excluded=(Exclusion(key="PAY-9", reason="a sub-task"),)),
        "period_start": START, "period_end": END,
    }  # fmt: skip
    values.update(kw)
    return KrResult(**values)


def record(store: StateStore, day: int, results: list[KrResult], conflict: bool = False) -> int:
    started = dt.datetime(2026, 2, day, 6, tzinfo=dt.UTC)
    run_id = store.start_run(started)
    objectives = [
        ObjectiveResult(
            objective_id="O-1", title=EVIL, progress=0.5, expected=0.45, status=Status.AT_RISK,
            parts=tuple(ObjectivePart(kind="key_result", id=r.kr_id) for r in results[:2]),
        )
    ]  # fmt: skip
    summary = RunSummary(run_id=run_id, started_at=started, finished_at=started,
                         key_results=tuple(results), objectives=tuple(objectives))  # fmt: skip
    change = FieldChange(
        target="notion", ref=RecordRef(kind="key_result", id="page-1"), owner="KR-1",
        field="progress", before=0.8, after=results[0].progress, last_written=0.25,
        conflict=conflict, action=ChangeAction.OVERWRITE,
    )  # fmt: skip
    on_objective = FieldChange(
        target="notion", ref=RecordRef(kind="objective", id="page-o"), owner="O-1",
        field="status", before="Done", after="At risk", last_written="On track",
        conflict=conflict, action=ChangeAction.SKIP,
    )  # fmt: skip
    store.record_changes(run_id, [change], "applied")
    store.record_changes(run_id, [on_objective], "skipped")
    snaps = [KrSnapshot(r, 4, "fp", frozenset({"jira"})) for r in results]
    store.finish_run(summary, "ok", snaps, objectives, {})
    return run_id


def two_runs(store: StateStore) -> tuple[int, int]:
    first = record(store, 10, [kr("KR-1", 0.25, 1), kr("KR-2", 0.5, 2), kr("KR-3", 0.0, 0)])
    second = record(
        store, 17,
        [kr("KR-1", 0.75, 3, title=EVIL), kr("KR-2", None, 0, stale=True,
            error="an item source failed (jira: 503)"), kr("KR-3", 0.0, 0)],
        conflict=True,
    )  # fmt: skip
    return first, second


def test_the_page_holds_the_latest_run_history_changes_edits_and_reasons(
    backend: Backend, tmp_path: Path
) -> None:
    store = backend.location.open()
    try:
        first, second = two_runs(store)
        data = gather(store)
    finally:
        store.close()
    assert data.run.id == second and data.previous_run == first
    one = data.krs["KR-1"]
    assert one.progress == 0.75 and one.period == (START, END)
    assert [p.progress for p in one.points] == [0.25, 0.75]
    assert one.since == f"since run {first}: 25 % → 75 %: 2 done: item 1 (KR-1-1), item 2 (KR-1-2)"
    assert [(e.human, e.written, e.action) for e in one.edits] == [(0.8, 0.25, "overwrite")]
    assert data.krs["KR-2"].note == "Stale: an item source failed (jira: 503)"
    assert data.krs["KR-3"].since is None  # nothing moved: not listed as a change
    assert data.roots == ["O-1"] and data.objectives["O-1"].krs == ["KR-1", "KR-2"]
    assert data.orphans == ["KR-3"]
    assert data.writes == {"notion": 1}
    page = render_page(data, DEFAULT_STATUS_LABELS, NOW)
    assert 'data-kr="KR-2"' in page and "Stale: an item source failed (jira: 503)" in page
    assert "Key results outside any objective" in page
    assert "a human made it 0.8 (okr-sync had written 0.25) → overwrite" in page
    # An edit met on an objective's page is listed too, linked to the objective.
    assert [(e.owner, e.human, e.action) for e in data.edits] == [
        ("KR-1", 0.8, "overwrite"), ("O-1", "Done", "skip"),
    ]  # fmt: skip
    assert '<a href="#obj-O-1">O-1</a>: notion page-o <b>status</b>: a human made it Done' in page


def test_user_text_is_escaped_everywhere(tmp_path: Path) -> None:
    store = StateStore.open(tmp_path / "state.db")
    try:
        two_runs(store)
        page = render_page(gather(store), DEFAULT_STATUS_LABELS, NOW)
    finally:
        store.close()
    assert "<script" not in page and "<u>bold" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &lt;u&gt;bold&lt;/u&gt;" in page


def test_the_page_needs_no_network(tmp_path: Path) -> None:
    store = StateStore.open(tmp_path / "state.db")
    try:
        two_runs(store)
        page = render_page(gather(store), DEFAULT_STATUS_LABELS, NOW)
    finally:
        store.close()
    # No stylesheet, script, font or image from anywhere: everything is inline.
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", page)
    assert "@import" not in page and "url(http" not in page and "<script" not in page
    assert '<meta name="viewport"' in page


def test_a_chart_draws_pace_synced_and_backfilled_history_and_the_forecast() -> None:
    days = [dt.datetime(2026, 1, d, tzinfo=dt.UTC) for d in (5, 10, 15, 20)]
    points = [
        Point(days[0], 0.1, "backfilled"), Point(days[1], 0.2, "backfilled"),
        Point(days[2], 0.3), Point(days[3], 0.4),
    ]  # fmt: skip
    svg, caption = burnup_svg("KR-1", points, (START, END), Forecast(0.8, 0.6, 0.9, "60–90 %"))
    # The pace runs from 0 % at the period's start to 100 % at its end, the chart's corners.
    assert '<line class="pace" x1="34.0" y1="128.0" x2="310.0" y2="8.0"/>' in svg
    assert svg.count('class="backfilled"') == 1 and svg.count('class="synced"') == 1
    assert '<polygon class="band"' in svg and '<line class="p50"' in svg
    assert caption == (
        "2 synced runs (solid line), 2 backfilled days (dotted line); expected pace (dashed) "
        "from 01 Jan to 31 Mar; forecast at period end (hatched): P50 80 %, 60–90 %"
    )
    bare, caption = burnup_svg("KR-1", points, (None, None), None)
    assert 'class="band"' not in bare and 'class="pace"' not in bare
    assert "no period recorded, so no expected pace" in caption


def test_a_point_without_a_number_breaks_the_line() -> None:
    days = [dt.datetime(2026, 1, d, tzinfo=dt.UTC) for d in (5, 10, 15, 20)]
    points = [Point(days[0], 0.1), Point(days[1], 0.2), Point(days[2], None), Point(days[3], 0.4)]
    svg, caption = burnup_svg("KR-1", points, (START, END))
    assert svg.count("<polyline") == 1 and "1 without a number (gaps)" in caption


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ({"forecast": 0.7, "forecast_range": "62–81 %"}, Forecast(0.7, 0.62, 0.81, "62–81 %")),
        ({"forecast": {"p10": 0.5, "p50": 0.6, "p90": 0.7}}, Forecast(0.6, 0.5, 0.7, None)),
        ({"forecast": 0.7, "forecast_p10": 0.6, "forecast_p90": 0.8}, Forecast(0.7, 0.6, 0.8)),
        ({"forecast": None, "forecast_range": None}, None),
        ({"forecast": "soon"}, None),
        ({}, None),
    ],
)
def test_a_recorded_forecast_is_read_in_any_of_its_forms(
    entry: dict[str, Any], expected: Forecast | None
) -> None:
    assert read_forecast(entry) == expected


def test_a_forecast_recorded_with_the_run_is_drawn(tmp_path: Path) -> None:
    store = StateStore.open(tmp_path / "state.db")
    try:
        _, second = two_runs(store)
        # What a run records once forecasts exist (another part of issue 14): extra fields.
        summary = store.run_summary(second) or {}
        summary["key_results"][0].update(forecast=0.9, forecast_range="80–95 %")
        store.database.execute(
            "UPDATE runs SET summary = ? WHERE id = ?", (json.dumps(summary), second)
        )
        data = gather(store)
    finally:
        store.close()
    assert data.krs["KR-1"].forecast == Forecast(0.9, 0.8, 0.95, "80–95 %")
    assert data.krs["KR-3"].forecast is None
    page = render_page(data, DEFAULT_STATUS_LABELS, NOW)
    assert page.count('class="band"') == 1
    assert "forecast at period end (hatched): P50 90 %, 80–95 %" in page


def test_no_run_yet_is_a_state_error(tmp_path: Path) -> None:
    store = StateStore.open(tmp_path / "state.db")
    try:
        with pytest.raises(StateError, match="no run with results recorded yet"):
            write_report(store, DEFAULT_STATUS_LABELS, tmp_path / "r.html", NOW)
    finally:
        store.close()
    assert not (tmp_path / "r.html").exists()


EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "quickstart"


def quickstart(tmp_path: Path) -> Path:
    """A copy of the shipped example (its KR-1 titled with markup) in ``tmp_path``."""
    for name in ("okr-sync.yaml", "okrs.yaml", "work-items.json"):
        text = (EXAMPLE / name).read_text(encoding="utf-8")
        (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path / "okr-sync.yaml"


def test_the_command_writes_the_report_of_a_real_sync(tmp_path: Path) -> None:
    config = quickstart(tmp_path)
    runner = CliRunner()
    out = tmp_path / "out" / "okr-report.html"
    result = runner.invoke(main, ["report", "-c", str(config), "--out", str(out)])
    assert result.exit_code == 1 and "no runs recorded yet" in result.output
    assert runner.invoke(main, ["sync", "-c", str(config), "-q"]).exit_code in (0, 1)
    result = runner.invoke(main, ["report", "-c", str(config), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"wrote {out}: run 1, 7 key results,")
    page = out.read_text(encoding="utf-8")
    assert all(f'data-kr="KR-{n}"' in page for n in range(1, 8))


def test_an_unwritable_out_file_is_a_clear_error(tmp_path: Path) -> None:
    config = quickstart(tmp_path)
    runner = CliRunner()
    runner.invoke(main, ["sync", "-c", str(config), "-q"])
    (tmp_path / "taken").write_text("a file, not a folder", encoding="utf-8")
    result = runner.invoke(
        main, ["report", "-c", str(config), "--out", str(tmp_path / "taken" / "r.html")]
    )
    assert result.exit_code == 1
    assert "taken/r.html" in result.output
