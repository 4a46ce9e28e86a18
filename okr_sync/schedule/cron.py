"""Cron expressions: standard 5-field cron, and the next time one fires.

Pure code, no I/O. Fields are ``minute hour day-of-month month day-of-week``
with lists (``1,15``), ranges (``9-17``), steps (``*/15``, ``0-30/10``, and
``5/15`` meaning ``5-59/15``), month and weekday names (``jan``, ``mon-fri``),
and 0 or 7 for Sunday. Nicknames: ``@hourly``, ``@daily`` (``@midnight``),
``@weekly``, ``@monthly``, ``@yearly`` (``@annually``).

Day of month and day of week follow the usual cron rule: when both are
restricted (neither starts with ``*``) a day matching *either* fires; otherwise
a day must match both (so the ``*`` one matches every day).

Time zones and daylight saving time: an expression is matched against the
wall clock of its zone, and each matching wall-clock time fires once. A time
that a spring-forward skips (02:30 on the night clocks jump from 02:00 to
03:00) fires at the jump, once however many were skipped, so a daily job is
never lost; a time that a fall-back repeats fires at its first occurrence
only, so nothing runs twice. UTC, the default, has neither case.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

from okr_sync.errors import CronError

_MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_abbr) if name}
_WEEKDAYS = {"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}

NICKNAMES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}


@dataclass(frozen=True)
class _FieldSpec:
    name: str
    low: int
    high: int  # the highest value a number may take (7 for weekdays: Sunday again)
    star_high: int  # the highest value ``*`` covers
    names: dict[str, int]


_SPECS = (
    _FieldSpec("minute", 0, 59, 59, {}),
    _FieldSpec("hour", 0, 23, 23, {}),
    _FieldSpec("day-of-month", 1, 31, 31, {}),
    _FieldSpec("month", 1, 12, 12, _MONTHS),
    _FieldSpec("day-of-week", 0, 7, 6, _WEEKDAYS),
)

# Long enough for any satisfiable expression (Feb 29 on a given weekday recurs
# within 28 years, except across a skipped leap year); a bound, never reached.
_SEARCH_YEARS = 60


@dataclass(frozen=True)
class Cron:
    """A parsed cron expression. Build it with :func:`parse`."""

    text: str
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday … 6 = Saturday
    days_restricted: bool
    weekdays_restricted: bool

    def __str__(self) -> str:
        return self.text

    def day_matches(self, day: dt.date) -> bool:
        """Whether the date is a firing day (month, day of month, day of week)."""
        if day.month not in self.months:
            return False
        dom = day.day in self.days
        dow = day.isoweekday() % 7 in self.weekdays
        if self.days_restricted and self.weekdays_restricted:
            return dom or dow
        return dom and dow

    def matches(self, moment: dt.datetime) -> bool:
        """Whether the wall-clock minute of ``moment`` matches (its own fields, any zone)."""
        return (
            moment.minute in self.minutes
            and moment.hour in self.hours
            and self.day_matches(moment.date())
        )

    def next_after(self, after: dt.datetime, tz: dt.tzinfo = dt.UTC) -> dt.datetime:
        """The first fire time strictly after ``after`` (an aware datetime), in zone ``tz``.

        Raises:
            ValueError: ``after`` is naive.
            CronError: the expression never fires (caught by :func:`parse` already).
        """
        if after.tzinfo is None:
            raise ValueError("next_after needs an aware datetime")
        local = after.astimezone(tz).replace(tzinfo=None, second=0, microsecond=0)
        for wall in self._walls(local + dt.timedelta(minutes=1)):
            instant = _resolve(wall, tz)
            if instant > after:  # a repeated hour's second pass gives earlier instants
                return instant
        raise CronError(self.text, "expression", "it never fires")

    def _walls(self, start: dt.datetime) -> Iterator[dt.datetime]:
        """Matching naive wall-clock minutes from ``start`` on, in order."""
        t = start
        end = start.replace(year=start.year + _SEARCH_YEARS, month=1, day=1)
        while t < end:
            if t.month not in self.months:
                year, month = divmod(t.year * 12 + t.month, 12)  # the next month
                t = dt.datetime(year, month + 1, 1)
                continue
            if not self.day_matches(t.date()):
                t = dt.datetime.combine(t.date() + dt.timedelta(days=1), dt.time())
                continue
            hour = next((h for h in self.hours if h >= t.hour), None)
            if hour is None:
                t = dt.datetime.combine(t.date() + dt.timedelta(days=1), dt.time())
                continue
            if hour != t.hour:
                t = t.replace(hour=hour, minute=0)
            minute = next((m for m in self.minutes if m >= t.minute), None)
            if minute is None:
                t = t.replace(minute=0) + dt.timedelta(hours=1)
                continue
            t = t.replace(minute=minute)
            yield t
            t += dt.timedelta(minutes=1)


def _resolve(wall: dt.datetime, tz: dt.tzinfo) -> dt.datetime:
    """The instant a naive wall-clock time stands for in ``tz``.

    A repeated time gives its first occurrence; a skipped time gives the
    instant the clock jumped over it.
    """
    first = wall.replace(tzinfo=tz, fold=0).astimezone(dt.UTC)
    if first.astimezone(tz).replace(tzinfo=None) == wall:
        return first.astimezone(tz)
    # In a gap: the two folds map to instants on either side of the jump; find
    # the first second whose wall clock is past ``wall``.
    other = wall.replace(tzinfo=tz, fold=1).astimezone(dt.UTC)
    low, high = sorted((int(first.timestamp()), int(other.timestamp())))
    while low < high:
        mid = (low + high) // 2
        if dt.datetime.fromtimestamp(mid, tz).replace(tzinfo=None) >= wall:
            high = mid
        else:
            low = mid + 1
    return dt.datetime.fromtimestamp(low, tz)


def _number(token: str, spec: _FieldSpec, part: str, text: str) -> int:
    if token.isdigit():
        value = int(token)
    elif token.lower() in spec.names:
        value = spec.names[token.lower()]
    else:
        names = f" or a name ({', '.join(spec.names)})" if spec.names else ""
        raise CronError(text, spec.name, f"{part!r}: {token!r} is not a number{names}")
    if not spec.low <= value <= spec.high:
        raise CronError(
            text, spec.name, f"{part!r}: {value} is out of range {spec.low}-{spec.high}"
        )
    return value


def _field(part: str, spec: _FieldSpec, text: str) -> frozenset[int]:
    out: set[int] = set()
    for item in part.split(","):
        if not item:
            raise CronError(text, spec.name, f"{part!r}: empty entry in a list")
        body, slash, step_text = item.partition("/")
        step = 1
        if slash:
            if not step_text.isdigit() or int(step_text) == 0:
                raise CronError(
                    text, spec.name, f"{part!r}: the step {step_text!r} is not a positive number"
                )
            step = int(step_text)
        if body == "*":
            start, end = spec.low, spec.star_high
        elif "-" in body:
            first, _, last = body.partition("-")
            start, end = _number(first, spec, part, text), _number(last, spec, part, text)
            if start > end:
                raise CronError(text, spec.name, f"{part!r}: the range {body} goes backwards")
        else:
            start = _number(body, spec, part, text)
            end = spec.high if slash else start  # 5/15: from 5 to the end, every 15
        out.update(range(start, end + 1, step))
    if spec.name == "day-of-week" and 7 in out:
        out = (out - {7}) | {0}  # 7 is Sunday too
    return frozenset(out)


def parse(text: str) -> Cron:
    """Parse a 5-field cron expression or a nickname such as ``@daily``.

    Raises:
        CronError: naming the field at fault and why.
    """
    raw = text.strip()
    if raw.startswith("@"):
        expansion = NICKNAMES.get(raw.lower())
        if expansion is None:
            raise CronError(
                text, "expression", f"unknown nickname; use one of {', '.join(NICKNAMES)}"
            )
        parts = expansion.split()
    else:
        parts = raw.split()
        if len(parts) != 5:
            raise CronError(
                text,
                "expression",
                f"not a 5-field cron expression (minute hour day-of-month month "
                f"day-of-week): it has {len(parts)} field(s); e.g. '*/30 * * * *' or '@hourly'",
            )
    minutes, hours, days, months, weekdays = (
        _field(part, spec, text) for part, spec in zip(parts, _SPECS, strict=True)
    )
    cron = Cron(
        text=raw,
        minutes=tuple(sorted(minutes)),
        hours=tuple(sorted(hours)),
        days=days,
        months=months,
        weekdays=weekdays,
        days_restricted=not parts[2].startswith("*"),
        weekdays_restricted=not parts[4].startswith("*"),
    )
    # Only the day of month can make an expression impossible (31 in February):
    # a weekday restriction alone always comes round.
    if not cron.weekdays_restricted or not cron.days_restricted:
        longest = max(calendar.monthrange(2024, m)[1] for m in months)  # 2024: Feb has 29
        if min(days) > longest:
            raise CronError(
                text,
                "day-of-month",
                f"{parts[2]!r}: no selected month has day {min(days)}, so it never fires",
            )
    return cron
