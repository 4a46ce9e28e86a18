"""Headline figures: each is a measurement set against the floor it is judged by.

Every benchmark reports its headline numbers through `figure()`: one line on stdout that
names the floor and the ratio, and, when `OKR_SYNC_BENCH_FIGURES` names a file, one JSON
line appended to it. `benchmarks/table.py` runs the benchmarks with that variable set and
rebuilds the README's benchmark table from those lines, so the table is never typed by hand.
"""

from __future__ import annotations

import json
import os


def figure(
    key: str,
    what: str,
    measured: float,
    floor: float,
    *,
    unit: str,
    floor_means: str,
    target: str,
) -> float:
    """Print one headline figure with its floor and ratio; return the ratio.

    `key` is stable (the table's row order and identity), `what` says what was measured,
    `floor_means` what the floor is (e.g. "requests a rerun cannot avoid"), `target` the
    ratio it is held to (e.g. "≤ 1.10×"). A floor of 0 gives a ratio of 0 when nothing was
    measured either and infinity otherwise.
    """
    ratio = measured / floor if floor else (0.0 if measured == 0 else float("inf"))
    print(
        f"FIGURE {key}: {what}: {_num(measured)} {unit}; floor {_num(floor)} {unit} "
        f"({floor_means}); ratio {ratio:.2f}× (target {target})"
    )
    out = os.environ.get("OKR_SYNC_BENCH_FIGURES")
    if out:
        row = {
            "key": key,
            "what": what,
            "measured": measured,
            "floor": floor,
            "unit": unit,
            "floor_means": floor_means,
            "ratio": ratio,
            "target": target,
        }
        with open(out, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    return ratio


def _num(value: float) -> str:
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.3g}" if abs(value) < 100 else f"{value:,.1f}"
