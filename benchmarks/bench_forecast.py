"""Backtest the progress forecast (okr_sync.core.forecast) on generated quarters.

Each quarter is 91 days of a team's work on an ``issues_done`` KR, generated
day by day with a known outcome:

- ``steady``: a constant pace (done per working day ~ Poisson);
- ``accelerating``: the pace ramps from 40 % to 160 % of its mean over the quarter;
- ``stalled``: a steady pace until a random day (20..70), then 0–15 % of it;
- ``scope-creeping``: a steady pace while the scope grows by 30–80 % over the quarter.

Everything is randomised per quarter: the initial scope (20–80 items), the mean
pace (60–130 % of what finishing on time needs), the stall day and the growth;
nothing is done on weekends, and some days are not observed (syncs missed,
10 %). Forecasts are made at 25 %, 50 % and 75 % of the quarter from the
observations so far (as if backfilled from the period start) and compared with
the actual progress on the last day: how often P10–P90 holds it (coverage;
target 75–85 %) and the median absolute error of P50 in percentage points.

The method's constants were tuned on seeds other than the default one (``--seed
1000``, the tuning set) and are reported on the default seed, which they never
saw.

    python benchmarks/bench_forecast.py            # 200 quarters per kind (800)
    python benchmarks/bench_forecast.py --quick    # 30 per kind, a second or two
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import random
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from okr_sync.core.forecast import Observation, Scale, forecast
from okr_sync.models import Forecast

KINDS = ("steady", "accelerating", "stalled", "scope-creeping")
DAYS = 91
AT = (0.25, 0.50, 0.75)
START = dt.date(2026, 1, 5)  # a Monday


def _poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 30:  # normal approximation keeps big paces fast
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def quarter(kind: str, rng: random.Random) -> list[tuple[dt.date, int, int]]:
    """(day, done, total) at the end of each day of a generated quarter."""
    total = rng.randint(20, 80)
    workdays = sum(1 for d in range(DAYS) if (START + dt.timedelta(d)).weekday() < 5)
    pace = total * rng.uniform(0.6, 1.3) / workdays
    stall = rng.randint(20, 70)
    stall_factor = rng.uniform(0.0, 0.15)
    growth = total * rng.uniform(0.3, 0.8) / DAYS if kind == "scope-creeping" else 0.0
    done, out = 0, []
    for d in range(DAYS):
        day = START + dt.timedelta(d)
        rate = pace
        if kind == "accelerating":
            rate = pace * (0.4 + 1.2 * d / (DAYS - 1))
        elif kind == "stalled" and d >= stall:
            rate = pace * stall_factor
        total += _poisson(rng, growth)
        if day.weekday() < 5:
            done = min(total, done + _poisson(rng, rate))
        out.append((day, done, total))
    return out


def backtest(kind: str, rng: random.Random, kr_id: str) -> list[tuple[float, Forecast]]:
    """(actual end progress, forecast) at each of AT for one generated quarter."""
    days = quarter(kind, rng)
    end_day, end_done, end_total = days[-1]
    actual = end_done / end_total
    seen = [Observation(d, float(a), float(t)) for d, a, t in days if rng.random() >= 0.10]
    out = []
    for share in AT:
        today = START + dt.timedelta(round(DAYS * share) - 1)
        history = [o for o in seen if o.day <= today]
        # the run made today is always observed
        _, d_now, t_now = days[(today - START).days]
        history = [o for o in history if o.day < today] + [Observation(today, d_now, t_now)]
        result = forecast(kr_id, history, end_day, today, Scale(ratio=True))
        assert isinstance(result, Forecast), result
        out.append((actual, result))
    return out


def run(per_kind: int, seed: int) -> list[list[str]]:
    """The table rows: per kind and forecast point, coverage and median |P50 error|."""
    rng = random.Random(seed)
    cells: dict[tuple[str, float], list[tuple[float, Forecast]]] = {}
    for kind in KINDS:
        for n in range(per_kind):
            for share, pair in zip(AT, backtest(kind, rng, f"{kind}-{seed}-{n}"), strict=True):
                cells.setdefault((kind, share), []).append(pair)

    def row(name: str, pairs: Sequence[tuple[float, Forecast]]) -> list[str]:
        inside = sum(1 for a, f in pairs if f.p10 - 1e-9 <= a <= f.p90 + 1e-9)
        error = statistics.median(abs(f.p50 - a) * 100 for a, f in pairs)
        width = statistics.median((f.p90 - f.p10) * 100 for _, f in pairs)
        return [
            name,
            str(len(pairs)),
            f"{inside / len(pairs) * 100:.0f} %",
            f"{error:.1f} pp",
            f"{width:.0f} pp",
        ]

    rows = []
    for kind in KINDS:
        for share in AT:
            rows.append(row(f"{kind} @ {share * 100:.0f} %", cells[(kind, share)]))
    for share in AT:
        rows.append(
            row(f"all @ {share * 100:.0f} %", [p for k in KINDS for p in cells[(k, share)]])
        )
    rows.append(row("all", [p for pairs in cells.values() for p in pairs]))
    return rows


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(r[i]) for r in [headers, *rows]) for i in range(len(headers))]
    lines = ["| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |"]
    lines.append("| " + " | ".join("-" * w for w in widths) + " |")
    for r in rows:
        lines.append("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="30 quarters per kind")
    parser.add_argument("--per-kind", type=int, default=None, help="quarters per kind (200)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    per_kind = args.per_kind or (30 if args.quick else 200)
    began = time.perf_counter()
    rows = run(per_kind, args.seed)
    took = time.perf_counter() - began
    print(f"forecast backtest: {per_kind} quarters per kind, seed {args.seed}")
    headers = ["quarters @ forecast made", "n", "P10–P90 holds actual", "median |P50 − actual|",
               "median P10–P90 width"]  # fmt: skip
    print(table(headers, rows))
    forecasts = per_kind * len(KINDS) * len(AT)
    print(f"{forecasts} forecasts in {took:.1f} s ({took / forecasts * 1000:.1f} ms each)")
    print("target: P10–P90 holds the actual end value 75–85 % of the time")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
