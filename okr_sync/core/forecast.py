"""Where will a key result land? A progress forecast at period end, with a range. Pure.

**Input.** A KR's history: one observation per day (the last snapshot of that
day, synced or backfilled), each with its measure's raw figures — done and
total for ratio measures (``issues_done``, ``points_done``,
``initiatives_done``), the current value for the others. Raw figures rather
than progress, so that scope growth is seen as such and a target changed
mid-period does not bend the trend.

**Method** (a Monte Carlo simulation of a drift-and-noise model, seeded per KR):

1. *Observed rates.* Between consecutive observations (a gap of ``L`` days
   with a change ``Δ``), the daily rate is ``Δ / L``. The rate ``μ`` is their
   weighted mean (``ΣwΔ / ΣwL``), each interval weighted by recency
   (``w = ½^(age / HALF_LIFE_DAYS)``), so a team that stalled or sped up two
   weeks ago is judged by what it does now. The daily noise ``σ²`` is
   ``Σw(Δ − μL)²/L ÷ Σw`` (a gap's change varies as its length), and the
   uncertainty of ``μ`` itself ``se² = σ²·Σw²L / (ΣwL)²``. Done work and scope
   (total) get a rate each: scope growth lowers the forecast as it lowers
   progress.
2. *Simulation.* Over the ``H`` days left after today, each of
   :data:`SIMULATIONS` runs draws the end value as
   ``now + m·μ·H + √(H·σ² + H²·se²)·z``, with ``z`` standard normal and a
   *pace multiplier* ``m = exp(RATE_DRIFT·(H / (H + history))·z')``: teams
   speed up, stall and change course, and the further the horizon reaches
   beyond the history, the less the past rate says. Done and scope draw their
   own ``m`` and ``z``. Done stays within 0..scope; progress at period end is
   ``done ÷ scope`` (ratio measures) or ``(current − start) ÷ (target − start)``
   clamped to 0..1 (the others, decreasing KRs too).
3. *Percentiles.* P10, P50 and P90 of the simulated progress, rounded as
   progress is written (4 places, never up to 1 short of it). The random
   generator is seeded from the KR id, so the same history gives the same
   forecast on every run and machine.

The constants were tuned with ``benchmarks/bench_forecast.py``, which
backtests the method on generated quarters with known outcomes (README
"Forecast"): P10–P90 holds the actual end value about 80 % of the time.

**No forecast** — and the reason, never a guess — for a KR with less than
:data:`MIN_HISTORY_DAYS` days of history (or fewer than
:data:`MIN_OBSERVATIONS` days observed), without a period end, whose period
has ended, or that holds a level (start = target: achieved or not, nothing
to extrapolate). Stale, failed and skipped KRs get none either (the caller
passes them over).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from okr_sync.models import RATIO_MEASURES, Direction, Forecast, KeyResult, KrResult, Status

#: Days between the first and the last observation a forecast needs.
MIN_HISTORY_DAYS = 14
#: Distinct days observed a forecast needs (two points give a rate but no noise).
MIN_OBSERVATIONS = 5
#: Simulated outcomes per forecast.
SIMULATIONS = 1000
#: Age (days) at which an interval of history weighs half as much as today's.
HALF_LIFE_DAYS = 10.0
#: Spread of the pace multiplier's logarithm when the horizon dwarfs the history.
RATE_DRIFT = 0.8
#: How fast the pace multiplier's spread shrinks as history outgrows the horizon.
DRIFT_POWER = 1.0

_DECIMALS = 4


@dataclass(frozen=True)
class Observation:
    """A KR's raw figures on one day: done (or current) and, for ratio measures, total."""

    day: dt.date
    value: float
    total: float | None = None


@dataclass(frozen=True)
class Scale:
    """How an end value becomes progress: a ratio (done ÷ total) or start → target."""

    ratio: bool
    start: float | None = None
    target: float | None = None
    direction: Direction | None = None

    def progress(self, value: float, total: float | None) -> float:
        """Progress (0..1) of a simulated end value."""
        if self.ratio:
            if total is None or total <= 0:
                return 1.0 if value > 0 else 0.0
            return _clamp(value / total)
        assert self.start is not None and self.target is not None
        return _clamp((value - self.start) / (self.target - self.start))


@dataclass(frozen=True)
class _Rate:
    mean: float
    spread: float  # sd of the change over the horizon, noise and uncertainty of the mean


def _clamp(value: float) -> float:
    return 0.0 if value < 0 else 1.0 if value > 1 else value


def _written(value: float) -> float:
    """Rounded as progress is written: 4 places, never up to 1 short of it."""
    written = round(_clamp(value), _DECIMALS)
    if written >= 1.0 and value < 1.0:
        return 1.0 - 10.0**-_DECIMALS
    return float(written)


def percent(value: float) -> str:
    """A whole percent that never reads 100 short of it, nor 0 above 0 (62 → "62")."""
    whole = f"{value * 100:.0f}"
    if (whole == "100" and value < 1) or (whole == "0" and value > 0):
        return f"{value * 100:.2f}".rstrip("0").rstrip(".")
    return whole


def range_text(p10: float, p90: float) -> str:
    """The written ``forecast_range``: "62–81 %" (one figure when both ends agree)."""
    low, high = percent(p10), percent(p90)
    return f"{low} %" if low == high else f"{low}–{high} %"


def seed_for(kr_id: str) -> int:
    """The random seed of a KR's simulation: the same on every run and machine."""
    return int.from_bytes(hashlib.sha256(kr_id.encode("utf-8")).digest()[:8], "big")


def daily(observations: Sequence[Observation]) -> list[Observation]:
    """One observation per day (the last given for it), oldest first."""
    by_day: dict[dt.date, Observation] = {}
    for obs in observations:
        by_day[obs.day] = obs
    return [by_day[d] for d in sorted(by_day)]


def _rate(days: Sequence[dt.date], values: Sequence[float], today: dt.date, horizon: int) -> _Rate:
    sw = swl = swd = sw2l = 0.0
    parts: list[tuple[float, float, float]] = []  # (weight, length, change)
    for i in range(1, len(days)):
        length = float((days[i] - days[i - 1]).days)
        age = (today - days[i - 1]).days - length / 2
        w = 0.5 ** (age / HALF_LIFE_DAYS)
        change = values[i] - values[i - 1]
        parts.append((w, length, change))
        sw += w
        swl += w * length
        swd += w * change
        sw2l += w * w * length
    mean = swd / swl
    var = sum(w * (d - mean * n) ** 2 / n for w, n, d in parts) / sw
    se2 = var * sw2l / (swl * swl)
    return _Rate(mean, math.sqrt(horizon * var + horizon * horizon * se2))


def why_not(
    observations: Sequence[Observation],
    period_end: dt.date | None,
    today: dt.date,
    scale: Scale,
) -> str | None:
    """Why there can be no forecast, or None when there can."""
    if period_end is None:
        return "no period end to forecast to"
    if today >= period_end:
        return "the period has ended: its value is final"
    if not scale.ratio and (scale.start is None or scale.target is None):
        return "needs the KR's start and target"
    if not scale.ratio and scale.start == scale.target:
        return "a KR holding a level has no forecast (it holds or it does not)"
    points = daily(observations)
    span = (points[-1].day - points[0].day).days if points else 0
    if span < MIN_HISTORY_DAYS or len(points) < MIN_OBSERVATIONS:
        return (
            f"needs at least {MIN_HISTORY_DAYS} days of history over {MIN_OBSERVATIONS} "
            f"days observed (has {span} day(s) over {len(points)})"
        )
    if scale.ratio and any(p.total is None for p in points):
        return "the history lacks the totals a ratio measure needs"
    return None


def forecast(
    kr_id: str,
    observations: Sequence[Observation],
    period_end: dt.date | None,
    today: dt.date,
    scale: Scale,
) -> Forecast | str:
    """The KR's forecast at period end, or the reason there is none (module docstring).

    ``observations`` must all be of the KR's current measure; the last one is today's.
    """
    reason = why_not(observations, period_end, today, scale)
    if reason is not None:
        return reason
    assert period_end is not None
    points = [p for p in daily(observations) if p.day <= today]
    horizon = (period_end - today).days
    history = (points[-1].day - points[0].day).days
    days = [p.day for p in points]
    done = _rate(days, [p.value for p in points], today, horizon)
    scope = _rate(days, [p.total or 0.0 for p in points], today, horizon) if scale.ratio else None
    drift = RATE_DRIFT * (horizon / (horizon + history)) ** DRIFT_POWER
    rng = random.Random(seed_for(kr_id))
    gauss = rng.gauss
    last = points[-1]
    outcomes: list[float] = []
    for _ in range(SIMULATIONS):
        value = (
            last.value
            + math.exp(drift * gauss(0, 1)) * done.mean * horizon
            + done.spread * gauss(0, 1)
        )
        total: float | None = None
        if scope is not None:
            total = (
                (last.total or 0.0)
                + math.exp(drift * gauss(0, 1)) * scope.mean * horizon
                + scope.spread * gauss(0, 1)
            )
            total = max(total, 0.0)
            value = min(max(value, 0.0), total)
        outcomes.append(scale.progress(value, total))
    outcomes.sort()

    def quantile(q: float) -> float:
        return _written(outcomes[min(len(outcomes) - 1, int(q * len(outcomes)))])

    p10, p50, p90 = quantile(0.10), quantile(0.50), quantile(0.90)
    return Forecast(
        p10=p10,
        p50=p50,
        p90=p90,
        range_text=range_text(p10, p90),
        history_days=history,
        horizon_days=horizon,
    )


# --- the forecast in a run: history in, forecast and (optionally) status out -------------


class ForecastThresholds(BaseModel):
    """``status: {basis: forecast}``: what the forecast must reach (0..1 progress).

    Off track while even P90 stays below ``off_track_below``; else At risk while
    P50 stays below ``at_risk_below``; else On track. Both default to 1 (the target).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    at_risk_below: float = Field(default=1.0, gt=0, le=1)
    off_track_below: float = Field(default=1.0, gt=0, le=1)


def forecast_status(
    progress: float,
    expected: float | None,
    result: Forecast,
    thresholds: ForecastThresholds,
    not_started_until: float,
) -> Status:
    """A KR's status judged from its forecast (README "Forecast")."""
    if progress >= 1.0:
        return Status.ACHIEVED
    if progress <= 0 and expected is not None and expected <= not_started_until:
        return Status.NOT_STARTED
    if result.p90 < thresholds.off_track_below:
        return Status.OFF_TRACK
    if result.p50 < thresholds.at_risk_below:
        return Status.AT_RISK
    return Status.ON_TRACK


def _day(value: Any) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def observations_from_history(rows: Iterable[Mapping[str, Any]]) -> dict[str, list[Observation]]:
    """Per KR id, the observations its recorded snapshots give, with their measure.

    ``rows`` are :meth:`~okr_sync.state.queries.StateQueries.history` rows (synced
    or backfilled: a row's ``day``, else its ``at``). Snapshots with no number
    (stale, failed, left alone) give none. Each observation is tagged with its
    measure (``Tagged``), so a KR whose measure changed is judged on the new one only.
    """
    out: dict[str, list[Observation]] = {}
    for row in rows:
        if row.get("stale") or row.get("error") or row.get("progress") is None:
            continue
        day = _day(row.get("day") or row.get("at"))
        if day is None:
            continue
        measure = str(row.get("measure") or "")
        if measure in RATIO_MEASURES:
            if row.get("done") is None or row.get("total") is None:
                continue
            obs = Tagged(day, float(row["done"]), float(row["total"]), measure)
        elif row.get("current") is not None:
            obs = Tagged(day, float(row["current"]), None, measure)
        else:
            continue
        out.setdefault(str(row["id"]), []).append(obs)
    return out


@dataclass(frozen=True)
class Tagged(Observation):
    """An observation with the measure it was made under."""

    measure: str = ""


def with_forecast(
    result: KrResult,
    kr: KeyResult,
    period: tuple[dt.date | None, dt.date | None],
    now: dt.datetime,
    history: Sequence[Observation],
    *,
    basis: str = "pace",
    thresholds: ForecastThresholds | None = None,
    not_started_until: float = 0.25,
) -> KrResult:
    """``result`` with its forecast (or the reason for none) and, by ``basis``, its status.

    Only a KR with a number this run gets one: a stale, failed or skipped KR has
    none, and nothing is said (its own reason is what matters). ``history``: the
    KR's earlier observations; today's comes from ``result``.
    """
    if not result.writable or result.progress is None:
        return result
    ratio = result.measure in RATIO_MEASURES
    today = now.date()
    if ratio:
        if result.done is None or result.total is None:
            return result.model_copy(update={"forecast_note": "no done and total this run"})
        current = Observation(today, result.done, result.total)
    else:
        value = result.current if result.current is not None else kr.current
        if value is None:
            return result.model_copy(update={"forecast_note": "no current value this run"})
        current = Observation(today, value, None)
    start = period[0]
    earlier = [
        o for o in history
        if o.day < today
        and (start is None or o.day >= start)
        and (not isinstance(o, Tagged) or o.measure in ("", result.measure))
    ]  # fmt: skip
    scale = Scale(ratio, result.start, result.target, kr.direction)
    made = forecast(result.kr_id, [*earlier, current], period[1], today, scale)
    if isinstance(made, str):
        note = made
        if basis == "forecast":
            note += "; status judged by pace"
        return result.model_copy(update={"forecast_note": note})
    update: dict[str, Any] = {"forecast": made}
    level = not ratio and result.start == result.target
    if basis == "forecast" and not level:
        update["status"] = forecast_status(
            result.progress, result.expected, made,
            thresholds or ForecastThresholds(), not_started_until,
        )  # fmt: skip
    return result.model_copy(update=update)
