"""``okr-sync history``: a KR's progress over time, or every KR's as sparklines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from okr_sync.cli.common import common_options, echo, emit_json, read_state


@click.command()
@common_options
@click.argument("kr", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the history as JSON.")
def history(path: Path, quiet: bool, kr: str | None, as_json: bool) -> None:
    """A KR's progress over time (or every KR's, as sparklines)."""
    from okr_sync.cli import render
    from okr_sync.cli.explain import row_note
    from okr_sync.core.forecast import range_text
    from okr_sync.errors import StateError

    loaded, state = read_state(path)
    try:
        rows = state.history("kr", kr, provenance=False)  # only the notes of unnumbered rows
    finally:
        state.close()
    labels = {k.value: v for k, v in loaded.config.status.label_map().items()}
    for row in rows:
        row["note"] = row_note(row)
        row.pop("provenance", None)
        row["status"] = labels.get(row["status"], row["status"])
        if row.get("forecast"):
            p10, p50, p90 = row["forecast"]
            row["forecast"] = {"p10": p10, "p50": p50, "p90": p90, "range": range_text(p10, p90)}
    if as_json:
        emit_json(rows)
        return
    if kr is not None:
        if not rows:
            raise StateError(f"no history for {kr!r}")
        table = [
            [
                r["at"][:16] if r["origin"] == "synced" else r["at"][:10],
                "backfilled" if r["origin"] == "backfilled" else "synced",
                render.bar(r["progress"]),
                render.pct(r["progress"]),
                render.number(r["current"]),
                render.number(r["target"]),
                r["status"] or "–",
                (
                    f"{render.pct(r['forecast']['p50'])} ({r['forecast']['range']})"
                    if r.get("forecast")
                    else "–"
                ),
                r["note"],
            ]
            for r in rows
        ]
        headers = ["RUN", "ORIGIN", "PROGRESS", "", "CURRENT", "TARGET", "STATUS", "FORECAST",
                   "NOTE"]  # fmt: skip
        echo(render.table(headers, table))
        echo(f"\n{kr}: {render.sparkline([r['progress'] for r in rows])}")
        return
    by_kr: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_kr.setdefault(row["id"], []).append(row)
    table = [
        [
            k,
            v[-1]["title"][:40],
            render.sparkline([r["progress"] for r in v]),
            render.pct(v[-1]["progress"]) + (" closed" if v[-1]["closed"] else ""),
        ]
        for k, v in sorted(by_kr.items())
    ]
    echo(render.table(["KR", "TITLE", "HISTORY", "LATEST"], table))
