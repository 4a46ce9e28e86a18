"""Cron expressions: parsing, the next fire time, time zones and daylight saving time."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from okr_sync.config.loading import load_config
from okr_sync.errors import ConfigError, CronError
from okr_sync.schedule.cron import Cron, parse

UTC = dt.UTC
NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")  # a 30-minute daylight saving shift


def at(*args: int, tz: dt.tzinfo = UTC) -> dt.datetime:
    return dt.datetime(*args, tzinfo=tz)  # type: ignore[misc]


def fires(expr: str, after: dt.datetime, count: int, tz: dt.tzinfo = UTC) -> list[dt.datetime]:
    cron, out = parse(expr), []
    for _ in range(count):
        after = cron.next_after(after, tz)
        out.append(after)
    return out


# --- parsing -----------------------------------------------------------------


def test_lists_ranges_steps_and_names() -> None:
    cron = parse("0,15-20/5,*/30 9-17 1,15 jan-MAR,dec mon-fri")
    assert cron.minutes == (0, 15, 20, 30)
    assert cron.hours == tuple(range(9, 18))
    assert cron.days == {1, 15} and cron.months == {1, 2, 3, 12}
    assert cron.weekdays == {1, 2, 3, 4, 5}


def test_a_start_with_a_step_runs_to_the_end_of_the_range() -> None:
    assert parse("5/20 * * * *").minutes == (5, 25, 45)


@pytest.mark.parametrize("field", ["0", "7", "sun", "SUN"])
def test_zero_and_seven_are_both_sunday(field: str) -> None:
    assert parse(f"0 0 * * {field}").weekdays == {0}
    assert parse("0 0 * * 5-7").weekdays == {5, 6, 0}


@pytest.mark.parametrize(
    ("nickname", "same_as"),
    [
        ("@hourly", "0 * * * *"),
        ("@daily", "0 0 * * *"),
        ("@midnight", "0 0 * * *"),
        ("@weekly", "0 0 * * 0"),
        ("@monthly", "0 0 1 * *"),
        ("@yearly", "0 0 1 1 *"),
        ("@ANNUALLY", "0 0 1 1 *"),
    ],
)
def test_nicknames(nickname: str, same_as: str) -> None:
    start = at(2026, 11, 15, 12, 7)
    assert fires(nickname, start, 3) == fires(same_as, start, 3)


@pytest.mark.parametrize(
    ("expr", "field", "says"),
    [
        ("61 * * * *", "minute", "61 is out of range 0-59"),
        ("* 24 * * *", "hour", "24 is out of range 0-23"),
        ("* * 0 * *", "day-of-month", "0 is out of range 1-31"),
        ("* * * 13 *", "month", "13 is out of range 1-12"),
        ("* * * * 8", "day-of-week", "8 is out of range 0-7"),
        ("* * * foo *", "month", "'foo' is not a number or a name (jan, feb"),
        ("*/0 * * * *", "minute", "the step '0' is not a positive number"),
        ("*/x * * * *", "minute", "the step 'x' is not a positive number"),
        ("30-10 * * * *", "minute", "the range 30-10 goes backwards"),
        ("1,,2 * * * *", "minute", "empty entry in a list"),
        ("0 0 30 2 *", "day-of-month", "no selected month has day 30"),
        ("* * * *", "expression", "not a 5-field cron expression (minute hour"),
        ("@reboot", "expression", "unknown nickname"),
    ],
)
def test_bad_expressions_name_the_field(expr: str, field: str, says: str) -> None:
    with pytest.raises(CronError) as info:
        parse(expr)
    assert info.value.field == field and says in str(info.value)
    assert info.value.exit_code == 2
    if field != "expression":
        assert str(info.value).startswith(f"{field} field")


def test_feb_29_is_possible_and_fires_in_a_leap_year() -> None:
    assert fires("0 0 29 2 *", at(2026, 11, 15), 2) == [at(2028, 2, 29), at(2032, 2, 29)]


# --- the next fire time ----------------------------------------------------------


def test_next_is_strictly_after_even_on_a_tick() -> None:
    assert fires("*/30 * * * *", at(2026, 11, 15, 12, 0), 3) == [
        at(2026, 11, 15, 12, 30),
        at(2026, 11, 15, 13, 0),
        at(2026, 11, 15, 13, 30),
    ]
    assert parse("*/30 * * * *").next_after(at(2026, 11, 15, 12, 29, 59)) == at(
        2026, 11, 15, 12, 30
    )


def test_weekdays_only() -> None:
    # 2026-11-13 is a Friday
    assert fires("0 9 * * mon-fri", at(2026, 11, 13, 10), 2) == [
        at(2026, 11, 16, 9),
        at(2026, 11, 17, 9),
    ]


def test_day_of_month_or_day_of_week_when_both_are_restricted() -> None:
    # the 13th, or any Friday: Fri 20 Nov, Fri 27 Nov, Fri 4 Dec, Fri 11 Dec, Sun 13 Dec
    days = [t.day for t in fires("0 0 13 * 5", at(2026, 11, 14), 5)]
    assert days == [20, 27, 4, 11, 13]


def test_a_star_day_field_means_both_must_match() -> None:
    # */2 starts with '*': odd days that are also Mondays
    days = [t.date() for t in fires("0 0 */2 * 1", at(2026, 11, 1), 3)]
    assert all(d.day % 2 == 1 and d.isoweekday() == 1 for d in days)


def test_the_year_rolls_over() -> None:
    assert fires("0 0 1 1 *", at(2026, 12, 31, 23, 59), 1) == [at(2027, 1, 1)]


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        parse("* * * * *").next_after(dt.datetime(2026, 1, 1))


# --- time zones and daylight saving time ------------------------------------------


def test_a_zone_reads_the_wall_clock() -> None:
    (first,) = fires("0 9 * * *", at(2026, 11, 15, 12), 1, BERLIN)
    assert first == at(2026, 11, 16, 9, tz=BERLIN) and first.astimezone(UTC).hour == 8


def test_spring_forward_runs_skipped_times_once_at_the_jump() -> None:
    # New York, 2026-03-08: 02:00 EST jumps to 03:00 EDT
    times = fires("*/30 * * * *", at(2026, 3, 8, 1, 15, tz=NEW_YORK), 4, NEW_YORK)
    assert [t.astimezone(UTC).strftime("%H:%M") for t in times] == [
        "06:30",  # 01:30 EST
        "07:00",  # 02:00 and 02:30 do not exist: once, at the jump (03:00 EDT)
        "07:30",  # 03:30 EDT
        "08:00",
    ]
    (daily,) = fires("30 2 * * *", at(2026, 3, 7, 12, tz=NEW_YORK), 1, NEW_YORK)
    assert daily == at(2026, 3, 8, 3, 0, tz=NEW_YORK)  # not lost, not moved to the next day


def test_fall_back_runs_a_repeated_time_once() -> None:
    # New York, 2026-11-01: 02:00 EDT falls back to 01:00 EST
    times = fires("*/30 * * * *", at(2026, 11, 1, 0, 45, tz=NEW_YORK), 3, NEW_YORK)
    assert [t.astimezone(UTC).strftime("%H:%M") for t in times] == ["05:00", "05:30", "07:00"]
    daily = fires("30 1 * * *", at(2026, 10, 31, 12, tz=NEW_YORK), 2, NEW_YORK)
    assert [t.astimezone(UTC) for t in daily] == [at(2026, 11, 1, 5, 30), at(2026, 11, 2, 6, 30)]


def test_a_half_hour_shift() -> None:
    # Lord Howe Island, 2026-10-04: 02:00 jumps to 02:30
    (first,) = fires("15 2 * * *", at(2026, 10, 3, 12, tz=LORD_HOWE), 1, LORD_HOWE)
    assert first == at(2026, 10, 4, 2, 30, tz=LORD_HOWE)


def test_a_bad_cron_in_the_config_names_file_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "okr-sync.yaml"
    path.write_text(
        "connections: {okrs: {type: memory}}\nokrs: okrs\n"
        "schedule:\n  jitter_seconds: 10\n  cron: '*/30 9-25 * * *'\n  timezone: Mars/Olympus\n"
    )
    with pytest.raises(ConfigError) as info:
        load_config(path)
    cron_problem, zone_problem = info.value.problems
    assert (cron_problem.line, cron_problem.field) == (5, "schedule.cron")
    assert cron_problem.message.startswith("hour field '9-25': 25 is out of range 0-23")
    assert (zone_problem.line, zone_problem.field) == (6, "schedule.timezone")
    assert "unknown time zone 'Mars/Olympus'" in zone_problem.message


# --- properties -----------------------------------------------------------------------


def _field(low: int, high: int) -> st.SearchStrategy[str]:
    number = st.integers(low, high)
    single = number.map(str)
    span = st.tuples(number, number).map(lambda p: f"{min(p)}-{max(p)}")
    step = st.tuples(st.sampled_from(["*", *map(str, range(low, high + 1))]), st.integers(1, 30))
    stepped = step.map(lambda p: f"{p[0]}/{p[1]}")
    item = st.one_of(single, span, stepped, st.just("*"))
    return st.lists(item, min_size=1, max_size=3).map(",".join)


DAILY = st.tuples(_field(0, 59), _field(0, 23)).map(lambda f: f"{f[0]} {f[1]} * * *")
WEEKLY = st.tuples(_field(0, 59), _field(0, 23), _field(0, 7)).map(
    lambda f: f"{f[0]} {f[1]} * * {f[2]}"
)
ANY = st.tuples(_field(0, 59), _field(0, 23), _field(1, 28), _field(1, 12), _field(0, 7)).map(
    " ".join
)
MOMENTS = st.datetimes(
    min_value=dt.datetime(2020, 1, 1), max_value=dt.datetime(2035, 12, 31), timezones=st.just(UTC)
)


def _check(cron: Cron, after: dt.datetime, found: dt.datetime) -> None:
    assert found > after
    assert found.second == 0 and found.microsecond == 0
    assert cron.matches(found)
    minute = after.replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
    while minute < found:  # brute force: no matching minute in between
        assert not cron.matches(minute), f"{cron} matches {minute}, before {found}"
        minute += dt.timedelta(minutes=1)


@settings(max_examples=150, deadline=None)
@given(DAILY, MOMENTS)
def test_property_next_daily_fire_is_the_first_match_after_now(
    expr: str, after: dt.datetime
) -> None:
    cron = parse(expr)
    _check(cron, after, cron.next_after(after))


@settings(max_examples=30, deadline=None)
@given(WEEKLY, MOMENTS)
def test_property_next_weekly_fire_is_the_first_match_after_now(
    expr: str, after: dt.datetime
) -> None:
    cron = parse(expr)
    _check(cron, after, cron.next_after(after))


@settings(max_examples=150, deadline=None)
@given(ANY, MOMENTS)
def test_property_any_expression_fires_later_and_matches(expr: str, after: dt.datetime) -> None:
    cron = parse(expr)
    found = cron.next_after(after)
    assert found > after and cron.matches(found)
    assert cron.next_after(found) > found


@settings(max_examples=100, deadline=None)
@given(
    DAILY,
    MOMENTS,
    st.sampled_from([NEW_YORK, BERLIN, LORD_HOWE, ZoneInfo("Asia/Kolkata")]),
)
def test_property_in_a_zone_it_matches_the_wall_clock_or_is_a_jump(
    expr: str, after: dt.datetime, tz: ZoneInfo
) -> None:
    cron = parse(expr)
    found = cron.next_after(after, tz)
    assert found > after
    local = found.astimezone(tz)
    jumped = (found - dt.timedelta(seconds=1)).astimezone(tz).utcoffset() != local.utcoffset()
    assert cron.matches(local) or jumped
