"""The forecast at period end: pure (okr_sync.core.forecast)."""

from __future__ import annotations

import datetime as dt

import pytest

from okr_sync.core.forecast import (
    MIN_HISTORY_DAYS,
    ForecastThresholds,
    Observation,
    Scale,
    forecast,
    forecast_status,
    observations_from_history,
    range_text,
    with_forecast,
)
from okr_sync.models import Direction, Forecast, KeyResult, KrResult, Status

START = dt.date(2026, 10, 1)
END = dt.date(2026, 12, 31)
TODAY = dt.date(2026, 11, 15)  # day 45 of 92
RATIO = Scale(ratio=True)


def series(done_per_day: float, scope_per_day: float = 0.0, *, days: int = 45, total: float = 100.0,
           done0: float = 0.0) -> list[Observation]:  # fmt: skip
    """Daily observations up to TODAY with a steady pace (and scope growth)."""
    first = TODAY - dt.timedelta(days=days)
    return [
        Observation(
            first + dt.timedelta(days=d), done0 + done_per_day * d, total + scope_per_day * d
        )
        for d in range(days + 1)
    ]


def made(observations: list[Observation], scale: Scale = RATIO, kr: str = "KR-1") -> Forecast:
    result = forecast(kr, observations, END, TODAY, scale)
    assert isinstance(result, Forecast), result
    return result


def test_too_little_history_gives_no_forecast_and_says_why() -> None:
    short = series(1.0, days=MIN_HISTORY_DAYS - 1)
    assert forecast("KR-1", short, END, TODAY, RATIO) == (
        f"needs at least {MIN_HISTORY_DAYS} days of history over 5 days observed "
        f"(has {MIN_HISTORY_DAYS - 1} day(s) over {MIN_HISTORY_DAYS})"
    )
    assert "needs at least" in str(forecast("KR-1", [], END, TODAY, RATIO))
    # enough days, but observed only twice: no noise can be measured
    two = [Observation(TODAY - dt.timedelta(days=30), 0, 100), Observation(TODAY, 30, 100)]
    assert "over 2" in str(forecast("KR-1", two, END, TODAY, RATIO))


def test_no_forecast_after_the_period_or_without_an_end_or_for_a_level() -> None:
    obs = series(1.0)
    assert forecast("KR-1", obs, TODAY, TODAY, RATIO) == "the period has ended: its value is final"
    assert forecast("KR-1", obs, None, TODAY, RATIO) == "no period end to forecast to"
    level = Scale(ratio=False, start=0, target=0, direction=Direction.DECREASE)
    assert "holding a level" in str(forecast("KR-1", obs, END, TODAY, level))


def test_a_steady_team_lands_where_its_pace_leads_with_a_range_around_it() -> None:
    # 1 item a day of 100: 45 done today, 46 days left → about 91 % at period end
    result = made(series(1.0))
    assert result.p10 <= result.p50 <= result.p90
    assert result.p50 == pytest.approx(0.91, abs=0.03)
    assert result.p10 < 0.91 < result.p90
    assert result.history_days == 45 and result.horizon_days == 46
    assert result.range_text == f"{round(result.p10 * 100)}–{round(result.p90 * 100)} %"


def test_more_done_or_a_faster_pace_never_forecasts_less() -> None:
    slow, fast = made(series(0.5)), made(series(1.0))
    assert fast.p50 > slow.p50 and fast.p90 >= slow.p90
    behind, ahead = made(series(0.5)), made(series(0.5, done0=20.0))
    assert ahead.p10 > behind.p10 and ahead.p50 > behind.p50


def test_a_stalled_team_gets_a_low_forecast() -> None:
    # an item a day for a month, then nothing for the last two weeks: judged mostly by now
    first = TODAY - dt.timedelta(days=45)
    stalled = made([
        Observation(first + dt.timedelta(days=d), float(min(d, 31)), 100.0) for d in range(46)
    ])  # fmt: skip
    steady = made(series(31 / 45))  # the same 31 done, at an even pace
    assert stalled.p50 < 0.5 < steady.p50 - 0.1
    flat = made(series(0.0, done0=40.0))  # nothing moved at all: nothing will, as far as it knows
    assert (flat.p10, flat.p50, flat.p90) == (0.4, 0.4, 0.4) and flat.range_text == "40 %"


def test_scope_growth_lowers_the_forecast() -> None:
    fixed, growing = made(series(1.0)), made(series(1.0, scope_per_day=0.5))
    assert growing.p50 < fixed.p50 - 0.1


def test_the_same_history_gives_the_same_forecast_every_time() -> None:
    assert made(series(0.7)) == made(series(0.7))


def test_a_value_kr_forecasts_on_its_own_scale_decreasing_too() -> None:
    # incidents from 40 down to 10: 40 → 31 over 45 days, 46 left → about 60 % of the way
    obs = [Observation(TODAY - dt.timedelta(days=45 - d), 40 - 0.2 * d) for d in range(46)]
    result = made(obs, Scale(ratio=False, start=40, target=10))
    assert result.p50 == pytest.approx(0.61, abs=0.04)


def test_range_text_never_reads_100_short_of_it() -> None:
    assert range_text(0.62, 0.81) == "62–81 %"
    assert range_text(0.9, 0.9999) == "90–99.99 %"
    assert range_text(0.0, 0.001) == "0–0.1 %"


def test_status_by_forecast() -> None:
    th = ForecastThresholds()
    f = Forecast(p10=0.6, p50=0.8, p90=0.95, range_text="", history_days=20, horizon_days=20)
    assert forecast_status(0.5, 0.5, f, th, 0.25) is Status.OFF_TRACK  # even P90 short of 100 %
    assert (
        forecast_status(0.5, 0.5, f, ForecastThresholds(off_track_below=0.9), 0.25)
        is Status.AT_RISK
    )
    assert forecast_status(0.5, 0.5, f, ForecastThresholds(at_risk_below=0.8, off_track_below=0.9), 0.25) is Status.ON_TRACK  # fmt: skip
    assert forecast_status(1.0, 0.5, f, th, 0.25) is Status.ACHIEVED
    assert forecast_status(0.0, 0.1, f, th, 0.25) is Status.NOT_STARTED


def kr_result(**kw: object) -> KrResult:
    base: dict[str, object] = {"kr_id": "KR-1", "title": "t", "measure": "issues_done", "start": 0.0,
                               "target": 100.0, "done": 45.0, "total": 100.0, "progress": 0.45,
                               "expected": 0.5, "status": Status.ON_TRACK}  # fmt: skip
    return KrResult(**{**base, **kw})  # type: ignore[arg-type]


def test_with_forecast_sets_the_status_by_basis_and_leaves_stale_krs_alone() -> None:
    kr = KeyResult(id="KR-1", title="t", start=0, target=100)
    now = dt.datetime.combine(TODAY, dt.time(12), tzinfo=dt.UTC)
    history = series(1.0)[:-1]
    pace = with_forecast(kr_result(), kr, (START, END), now, history)
    assert pace.forecast is not None and pace.status is Status.ON_TRACK
    by_forecast = with_forecast(kr_result(), kr, (START, END), now, history, basis="forecast")
    assert by_forecast.forecast == pace.forecast
    assert by_forecast.status is Status.AT_RISK  # P50 ~91 % short of the target, P90 beyond
    stale = with_forecast(
        kr_result(stale=True, error="source failed"), kr, (START, END), now, history
    )
    assert stale.forecast is None and stale.forecast_note is None
    short = with_forecast(kr_result(), kr, (START, END), now, history[-5:], basis="forecast")
    assert short.forecast is None and short.status is Status.ON_TRACK
    assert short.forecast_note is not None and short.forecast_note.endswith("status judged by pace")
    # history from before the period, or under another measure, does not count
    before = [Observation(o.day - dt.timedelta(days=60), o.value, o.total) for o in history]
    assert with_forecast(kr_result(), kr, (START, END), now, before).forecast is None


def test_observations_come_from_history_rows_with_a_number() -> None:
    rows = [
        {"at": "2026-11-01T10:00:00+00:00", "id": "KR-1", "measure": "issues_done", "done": 1.0,
         "total": 10.0, "current": None, "progress": 0.1, "stale": 0, "error": None},
        {"at": "2026-11-01T18:00:00+00:00", "id": "KR-1", "measure": "issues_done", "done": 2.0,
         "total": 10.0, "current": None, "progress": 0.2, "stale": 0, "error": None},
        {"at": "2026-11-02T10:00:00+00:00", "id": "KR-1", "measure": "issues_done", "done": None,
         "total": None, "current": None, "progress": None, "stale": 1, "error": "x"},
        {"day": "2026-10-20", "at": "2026-11-03T00:00:00+00:00", "origin": "backfilled",
         "id": "KR-2", "measure": "count", "done": None, "total": None, "current": 7.0,
         "progress": 0.7, "stale": 0, "error": None},
    ]  # fmt: skip
    out = observations_from_history(rows)
    assert [(o.day.isoformat(), o.value, o.total) for o in out["KR-1"]] == [
        ("2026-11-01", 1.0, 10.0),
        ("2026-11-01", 2.0, 10.0),
    ]
    assert [(o.day.isoformat(), o.value) for o in out["KR-2"]] == [("2026-10-20", 7.0)]
