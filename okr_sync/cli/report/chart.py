"""A KR's burn-up chart as inline SVG (pure: data in, markup out).

Progress (0–100 %) over the KR's period: the expected pace (a dashed line
from 0 % at the period's start to 100 % at its end), the synced history (a
solid line with dots), days rebuilt from the work tools' history (a dotted
line without dots) and, when a forecast was recorded, its range to the period
end (a hatched band, with the P50 as a dashed line). A start or target that
moved mid-period is a vertical line with its label ("target 400 → 500 (seen
…)"), the 100 % line is drawn as one segment per target, and the history line is
not joined across points computed against different targets: each point keeps
the target of its day. A closed KR's chart stops at its period end, with its
final value as a square. Each is told apart by its
line pattern as well as its colour (Okabe–Ito), and the caption says in words
what is drawn. Coordinates are rounded to 0.1 so 500 charts of ~90 points stay
small.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Sequence
from html import escape

from okr_sync.cli import render
from okr_sync.cli.report.data import BACKFILLED, Forecast, Point, TargetMove

W, H = 320.0, 150.0
LEFT, RIGHT, TOP, BOTTOM = 34.0, 10.0, 8.0, 22.0
#: Above this many synced points, only the latest gets a dot (the line says the rest).
MAX_DOTS = 40

#: The defs every chart refers to (the forecast's hatching), once per page.
DEFS = (
    '<svg width="0" height="0" style="position:absolute" aria-hidden="true"><defs>'
    '<pattern id="okr-hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
    'patternTransform="rotate(45)"><rect width="6" height="6" fill="#CC79A7" opacity=".18"/>'
    '<line x1="0" y1="0" x2="0" y2="6" stroke="#CC79A7" stroke-width="2"/></pattern>'
    "</defs></svg>"
)


def _day(date: dt.date) -> dt.datetime:
    return dt.datetime(date.year, date.month, date.day, tzinfo=dt.UTC)


class _Scale:
    def __init__(self, t0: dt.datetime, t1: dt.datetime) -> None:
        self.t0, self.span = t0, max((t1 - t0).total_seconds(), 1.0)

    def x(self, at: dt.datetime) -> float:
        share = (at - self.t0).total_seconds() / self.span
        return round(LEFT + share * (W - LEFT - RIGHT), 1)

    @staticmethod
    def y(progress: float) -> float:
        clamped = min(max(progress, 0.0), 1.0)
        return round(TOP + (1 - clamped) * (H - TOP - BOTTOM), 1)


def _segments(points: Sequence[Point]) -> list[tuple[str, list[Point]]]:
    """Runs of consecutive known points drawn in one style.

    A join into a backfilled point is drawn backfilled; a point without a number
    breaks the line, and so does a start or target that moved between two points
    (their progress is measured against different goals: a jump there is not work).
    """
    out: list[tuple[str, list[Point]]] = []
    for a, b in itertools.pairwise(points):
        if a.progress is None or b.progress is None:
            continue
        moved = (a.start, a.target) != (b.start, b.target)
        if moved and a.target is not None and b.target is not None:
            continue
        style = "backfilled" if BACKFILLED in (a.origin, b.origin) else "synced"
        if out and out[-1][0] == style and out[-1][1][-1] is a:
            out[-1][1].append(b)
        else:
            out.append((style, [a, b]))
    return out


def _pct(value: float) -> str:
    return f"{value * 100:.0f} %"


def burnup_svg(
    label: str,
    points: Sequence[Point],
    period: tuple[dt.date | None, dt.date | None],
    forecast: Forecast | None = None,
    moves: Sequence[TargetMove] = (),
    final: float | None = None,
    closed: bool = False,
) -> tuple[str, str]:
    """The chart's SVG and its caption (plain text) for one KR; ``label`` names the KR.

    ``moves`` are the KR's start/target changes; ``closed`` (with its ``final``
    progress) stops the chart at the period end: later runs only kept the final value.
    """
    start, end = period
    later = 0
    if closed and end:
        cut = _day(end) + dt.timedelta(days=1)
        later = sum(1 for p in points if p.at >= cut)
        points = [p for p in points if p.at < cut]
        forecast = None  # the period is over: nothing to forecast
    known = [p for p in points if p.progress is not None]
    times = [p.at for p in points]
    t0 = min([_day(start)] if start else times or [dt.datetime.now(dt.UTC)])
    t1 = _day(end) + dt.timedelta(days=1) if end else max(times or [t0])
    t0, t1 = min([t0, *times]), max([t1, *times])
    if t1 <= t0:
        t1 = t0 + dt.timedelta(days=1)
    s = _Scale(t0, t1)
    parts = [
        f'<svg class="burnup" viewBox="0 0 {W:.0f} {H:.0f}" role="img" '
        f'aria-label="{escape(label)} burn-up chart"><title>{escape(label)}</title>'
    ]
    for level in (0.0, 0.5, 1.0):
        y = s.y(level)
        parts.append(
            f'<line class="grid" x1="{LEFT}" y1="{y}" x2="{W - RIGHT}" y2="{y}"/>'
            f'<text class="ax" x="{LEFT - 4}" y="{y + 3}" text-anchor="end">{_pct(level)}</text>'
        )
    bottom = H - BOTTOM + 14
    parts.append(f'<text class="ax" x="{LEFT}" y="{bottom}">{t0:%d %b}</text>')
    parts.append(
        f'<text class="ax" x="{W - RIGHT}" y="{bottom}" text-anchor="end">'
        f"{(t1 - dt.timedelta(seconds=1)):%d %b}</text>"
    )
    caption = []
    if start and end:
        x0, x1 = s.x(_day(start)), s.x(_day(end) + dt.timedelta(days=1))
        parts.append(f'<line class="pace" x1="{x0}" y1="{s.y(0)}" x2="{x1}" y2="{s.y(1)}"/>')
        caption.append(f"expected pace (dashed) from {start:%d %b} to {end:%d %b}")
    else:
        caption.append("no period recorded, so no expected pace")
    last = known[-1] if known else None
    if forecast is not None and last is not None and end:
        assert last.progress is not None
        xe, xl, yl = s.x(_day(end) + dt.timedelta(days=1)), s.x(last.at), s.y(last.progress)
        if forecast.low is not None and forecast.high is not None:
            parts.append(
                f'<polygon class="band" points="{xl},{yl} {xe},{s.y(forecast.high)} '
                f'{xe},{s.y(forecast.low)}"/>'
            )
        if forecast.p50 is not None:
            parts.append(
                f'<line class="p50" x1="{xl}" y1="{yl}" x2="{xe}" y2="{s.y(forecast.p50)}"/>'
            )
        shown = forecast.text or (
            f"{_pct(forecast.low)}–{_pct(forecast.high)}"
            if forecast.low is not None and forecast.high is not None
            else ""
        )
        p50 = f"P50 {_pct(forecast.p50)}" if forecast.p50 is not None else ""
        caption.append("forecast at period end (hatched): " + ", ".join(filter(None, [p50, shown])))
    caption += _moves(parts, s, moves)
    if closed and end:
        xe = s.x(_day(end) + dt.timedelta(days=1))
        parts.append(f'<line class="end" x1="{xe}" y1="{TOP}" x2="{xe}" y2="{H - BOTTOM}"/>')
        said = f"closed: period ended {end:%d %b}"
        if final is not None:
            yf = s.y(final)
            parts.append(
                f'<rect class="final" x="{xe - 3}" y="{yf - 3}" width="6" height="6"/>'
                f'<text class="ax" x="{xe - 5}" y="{max(yf - 5, TOP + 8)}" text-anchor="end">'
                f"final {_pct(final)}</text>"
            )
            said += f", final value {_pct(final)} (square)"
        else:
            said += ", no final value recorded"
        if later:
            said += (
                f"; {later} run{'s' if later != 1 else ''} after the period end not drawn "
                "(they kept the final value)"
            )
        caption.append(said)
    for style, run in _segments(points):
        coords = " ".join(f"{s.x(p.at)},{s.y(p.progress or 0)}" for p in run)
        parts.append(f'<polyline class="{style}" points="{coords}"/>')
    synced = [p for p in known if p.origin != BACKFILLED]
    backfilled = len(known) - len(synced)
    dots = synced if len(synced) <= MAX_DOTS else synced[-1:]
    for p in dots:
        assert p.progress is not None
        parts.append(f'<circle class="dot" cx="{s.x(p.at)}" cy="{s.y(p.progress)}" r="2.5"/>')
    if last is not None and last.origin == BACKFILLED:
        assert last.progress is not None
        parts.append(
            f'<circle class="dot hollow" cx="{s.x(last.at)}" cy="{s.y(last.progress)}" r="2.5"/>'
        )
    parts.append("</svg>")
    drawn = f"{len(synced)} synced run{'s' if len(synced) != 1 else ''} (solid line)"
    if backfilled:
        drawn += f", {backfilled} backfilled day{'s' if backfilled != 1 else ''} (dotted line)"
    gaps = len(points) - len(known)
    if gaps:
        drawn += f", {gaps} without a number (gaps)"
    return "".join(parts), "; ".join([drawn, *caption])


def _moves(parts: list[str], s: _Scale, moves: Sequence[TargetMove]) -> list[str]:
    """Draw each move and the 100 % line as one segment per target; return the caption.

    A move is a vertical line where it was first seen, its label, and a shade back
    to the last run before it (it happened somewhere in between).
    """
    if not moves:
        return []
    ordered = sorted(moves, key=lambda m: m.seen_at)
    left, right = LEFT, W - RIGHT
    xs = [min(max(s.x(m.seen_at), left), right) for m in ordered]
    bounds = [left, *xs, right]
    for i, (a, b) in enumerate(itertools.pairwise(bounds)):
        goal = ordered[i].before if i < len(ordered) else ordered[-1].after
        field = ordered[i].field if i < len(ordered) else ordered[-1].field
        named = f"{field} {render.number(goal)}"
        if b - a > 2:  # a small gap at each move, so the segments read as separate goals
            parts.append(
                f'<line class="goal" x1="{a + (2 if i else 0)}" y1="{s.y(1)}" '
                f'x2="{b - (2 if b < right else 0)}" y2="{s.y(1)}"><title>100 % = '
                f"{escape(named)}</title></line>"
            )
        if b - a > _width(named) + 6:  # each segment names its goal where it fits
            parts.append(f'<text class="ax mv" x="{a + 3}" y="{s.y(1) + 9}">{escape(named)}</text>')
    for i, (m, x) in enumerate(zip(ordered, xs, strict=True)):
        if m.previous_at is not None:
            xp = min(max(s.x(m.previous_at), left), x)
            if x - xp > 0:
                parts.append(
                    f'<rect class="moved" x="{xp}" y="{TOP}" width="{round(x - xp, 1)}" '
                    f'height="{H - TOP - BOTTOM}"/>'
                )
        parts.append(f'<line class="move" x1="{x}" y1="{TOP}" x2="{x}" y2="{H - BOTTOM}"/>')
        y = TOP + 20 + 10 * i
        w = _width(m.text())
        if x + 3 + w <= right:
            anchor, tx = "start", x + 3
        elif x - 3 - w >= left:
            anchor, tx = "end", x - 3
        else:  # too long for either side: centred, kept inside the chart
            anchor, tx = "middle", min(max(x, left + w / 2), right - w / 2)
        parts.append(
            f'<text class="ax mv" x="{round(tx, 1)}" y="{y}" text-anchor="{anchor}">'
            f"{escape(m.text())}</text>"
        )
    return [m.sentence() + " (vertical line; the line is not joined across it)" for m in ordered]


def _width(text: str) -> float:
    """Roughly how wide ``text`` is at the charts' 9 px label size (for placing labels)."""
    return len(text) * 5.0
