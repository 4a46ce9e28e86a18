"""``okr-sync explain ID``: how a KR's or an objective's number was obtained.

Read-only: everything comes from the state store (snapshots, their provenance,
the runs' summaries, the change log). The text is built from small sections,
each a function returning its lines, so a new section is one function and one
line in :func:`kr_text` or :func:`objective_text`.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import click

from okr_sync.cli import render
from okr_sync.cli.common import common_options, echo, read_state
from okr_sync.core.provenance import (
    counted_label,
    describe_change,
    describe_rollup,
    moved,
    pct,
    scope_change,
)
from okr_sync.errors import StateError
from okr_sync.models import ObjectivePart, Provenance
from okr_sync.state.store import StateStore

Row = dict[str, Any]


def row_note(row: Row) -> str:
    """Why nothing was written for a snapshot: closed, stale, failed (with the reason), left alone."""
    if row.get("closed_reason"):
        return f"CLOSED: {row['closed_reason']}"
    if row["stale"]:
        return f"STALE: {row['error']}"
    if row["error"]:
        return f"FAILED: {row['error']}"
    if row["progress"] is None and row.get("provenance"):
        notes = Provenance.model_validate_json(row["provenance"]).notes
        return f"LEFT ALONE: {notes[-1]}" if notes else "LEFT ALONE"
    return ""


def _trusted(rows: list[Row]) -> list[Row]:
    """The runs whose numbers were written: what a later run is compared with."""
    return [
        r
        for r in rows
        if not r["stale"] and not r["error"] and r["progress"] is not None and not r.get("closed")
    ]


def _recorded(state: StateStore, run_id: int, key: str, ident: str) -> Row:
    """What a run's summary recorded for one KR (``key_results``) or objective."""
    summary = state.run_summary(run_id) or {}
    id_field = "kr_id" if key == "key_results" else "objective_id"
    return next((e for e in summary.get(key, ()) if e.get(id_field) == ident), {})


# --- sections shared by KRs and objectives ---------------------------------------------


def _header(ident: str, last: Row, what: str) -> list[str]:
    if last.get("origin") == "backfilled":
        where = f"backfilled for {last['at'][:10]}: replayed from the items' change history"
        return [f"{ident}  {last['title']}", f"  {what}   {where}"]
    return [f"{ident}  {last['title']}", f"  {what}   run {last['run_id']} at {last['at']}"]


def _name(row: Row) -> str:
    """A snapshot as the text names it: its run, or the day it was backfilled for."""
    return f"run {row['run_id']}" if row["run_id"] is not None else f"{row['at'][:10]} (backfilled)"


def on_day(rows: list[Row], day: str) -> list[Row]:
    """The snapshots up to ``day`` (YYYY-MM-DD), ending with that day's last one; [] if none."""
    upto = [r for r in rows if r["at"][:10] <= day]
    return upto if upto and upto[-1]["at"][:10] == day else []


def _unwritten(last: Row, earlier: list[Row], current: bool) -> list[str]:
    """For a record with no number in its last run: why, and what the targets still hold."""
    note = row_note(last)
    if not note:
        return []
    out = [f"  {note}", f"  nothing was written for {last['id']} in run {last['run_id']}"]
    if earlier:
        before = earlier[-1]
        out[-1] += (
            f"; the targets keep what run {before['run_id']} computed: progress "
            f"{render.exact_pct(before['progress'])}"
        )
        if current:
            out[-1] += f", current {render.number(before['current'])}"
    return out


def _numbers(last: Row, labels: dict[str, str], current: bool) -> list[str]:
    status = labels.get(last["status"], last["status"]) if last["status"] else "–"
    # The exact written values: the status was judged from these very numbers.
    line = (
        f"  progress {render.exact_pct(last['progress'])} "
        f"(expected {render.exact_pct(last['expected'])}), "
    )
    if current:
        line += f"current {render.number(last['current'])}, "
    return [line + f"status {status}"]


def _forecast(state: StateStore, last: Row) -> list[str]:
    """The forecast at period end the run made (or why it made none)."""
    if last["progress"] is None:
        return []  # stale, failed or left alone: said above, no forecast
    recorded = _recorded(state, last["run_id"], "key_results", last["id"])
    made, note = recorded.get("forecast"), recorded.get("forecast_note")
    if made:
        return [
            f"  forecast at period end: {render.pct(made['p50'])} (P10–P90 {made['range_text']}), "
            f"from {made['history_days']} days of history, {made['horizon_days']} days left"
        ]
    return [f"  no forecast: {note}"] if note else []


def _human_edits(changes: list[Row]) -> list[str]:
    conflicts = [c for c in changes if c["conflict"]]
    if not conflicts:
        return []
    return ["  human edits okr-sync met (the human value is kept here):"] + [
        f"    run {c['run_id']}: {c['target']} {c['field']} was {render.show(c['before'])} "
        f"(okr-sync had written {render.show(c['last_written'])}) → {c['action']}"
        for c in conflicts
    ]


# --- key results ---------------------------------------------------------------------------


def _accepted(accepted: list[Row]) -> list[str]:
    """Human values accepted with ``okr-sync accept`` (left as they are)."""
    if not accepted:
        return []
    return ["  human values accepted (kept, no conflict until edited again):"] + [
        f"    {a['target']} {a['field']} = {render.show(a['value'])} "
        f"(accepted {a['accepted_at']}, seen in run {a['run_id']})"
        for a in accepted
    ]


def _links(prov: Provenance) -> list[str]:
    return ["  linked through:", *([f"    - {s}" for s in prov.selectors] or ["    (nothing)"])]


def _counted(prov: Provenance, measure: str) -> list[str]:
    if measure == "manual" and not prov.counted:  # its number is the Current a human entered
        return ["  Current is entered by hand (measure manual); progress and status follow it"]
    done = [c for c in prov.counted if c.done]
    out = [f"  counted {len(prov.counted)} item(s), {len(done)} done:"]
    out += [
        f"    {'✔' if c.done else '·'} {counted_label(c)}"
        + (f"  ({render.number(c.value)})" if c.value != 1 else "")
        for c in prov.counted[:50]
    ]
    if len(prov.counted) > 50:
        out.append(f"    … and {len(prov.counted) - 50} more")
    return out


def _excluded(prov: Provenance, last: Row) -> list[str]:
    out = []
    if prov.excluded:
        out.append(f"  excluded {len(prov.excluded)}:")
        out += [f"    - {e.key}: {e.reason}" for e in prov.excluded[:50]]
    if prov.unestimated:
        names = {c.key: counted_label(c) for c in prov.counted}
        shown = ", ".join(names.get(k, k) for k in prov.unestimated)
        out.append(f"  unestimated (count 0 points): {shown}")
    if prov.shared:
        out.append(f"  also counted for other KRs: {'; '.join(prov.shared)}")
    shown_note = row_note(last)  # a left-alone KR's reason is its last note, shown above
    out += [
        f"  note: {n}" for n in prov.notes if shown_note not in (f"LEFT ALONE: {n}", f"CLOSED: {n}")
    ]
    return out


def _kr_since(state: StateStore, last: Row, earlier: list[Row], prov: Provenance) -> list[str]:
    """What moved since the last run whose numbers were trustworthy."""
    if not earlier or last["progress"] is None or last.get("closed"):
        return []
    before = earlier[-1]
    change = scope_change(Provenance.model_validate_json(before["provenance"]), prov)
    was = _recorded(state, before["run_id"], "key_results", last["id"])
    now = _recorded(state, last["run_id"], "key_results", last["id"])
    # A changed start or target moves progress with the same items: say so.
    inputs = [
        text
        for name in ("start", "target")
        if name in was and name in now
        for text in [moved(name.capitalize(), was[name], now[name])]
        if text
    ]
    text = describe_change(
        before["progress"],
        last["progress"],
        change,
        current=(before["current"], last["current"]),
        inputs=inputs,
    )
    return [f"  since {_name(before)}: {text}"]


def target_line(rows: list[Row], changes: list[Row]) -> list[str]:
    """The target each run computed against, and when a start or target moved.

    Shown only once one moved: every snapshot keeps the target of its own run.
    """
    if not changes:
        return []
    out = ["  target line (each run computed against the target of its day):"]
    segments: list[tuple[Any, Any, Row, Row]] = []
    for row in rows:
        if segments and (segments[-1][0], segments[-1][1]) == (row["start"], row["target"]):
            segments[-1] = (*segments[-1][:3], row)
        else:
            segments.append((row["start"], row["target"], row, row))
    for start, target, first, last in segments:
        runs = (
            f"run {first['run_id']}"
            if first is last
            else (f"runs {first['run_id']}–{last['run_id']}")
        )
        span = first["at"][:10] if first is last else f"{first['at'][:10]}..{last['at'][:10]}"
        out.append(f"    {runs} ({span}): start {render.number(start)}, "
                   f"target {render.number(target)}")  # fmt: skip
    out += [
        f"    {c['field']} moved {render.number(c['before'])} → {render.number(c['after'])}: "
        f"changed after {c['previous_at'][:10]} (run {c['previous_run']}), "
        f"seen {c['seen_at'][:10]} (run {c['run_id']})"
        for c in changes
    ]
    return out


def kr_text(state: StateStore, rows: list[Row], labels: dict[str, str], at: bool = False) -> str:
    """The explanation of a KR from its snapshots (oldest first, each with provenance)."""
    last = rows[-1]
    prov = Provenance.model_validate_json(last["provenance"])
    earlier = _trusted(rows[:-1])
    out = _header(last["id"], last, f"measure: {last['measure']}")
    out += _unwritten(last, earlier, current=True)
    out += _numbers(last, labels, current=True)
    if last["total"] is not None:
        out.append(f"  done {render.number(last['done'])} of {render.number(last['total'])}")
    if last.get("closed") and earlier:  # closed: its items are those of its final run
        out.append(f"  items as run {earlier[-1]['run_id']} counted them:")
        prov = Provenance.model_validate_json(earlier[-1]["provenance"])
    out += _forecast(state, last)
    out += _links(prov)
    out += _counted(prov, last["measure"])
    out += _excluded(prov, last)
    out += _kr_since(state, last, earlier, prov)
    if last is rows[-1] and not at:
        out += target_line(rows, state.target_changes(last["id"]))
        out += _human_edits(state.changes_for(last["id"], limit=10))
        out += _accepted(state.acceptances(last["id"]))
    return "\n".join(out)


# --- objectives ------------------------------------------------------------------------------


def _parts_of(recorded: Row) -> list[ObjectivePart]:
    return [ObjectivePart.model_validate(p) for p in recorded.get("parts", ())]


def _rollup(parts: list[ObjectivePart], recorded: Row) -> list[str]:
    if not parts:
        return ["  (this run recorded no breakdown of the roll-up)"] if recorded else []
    out = [f"  rolled up from {len(parts)} part(s), a weighted mean:"]
    rows = [
        [
            p.id,
            p.title[:40],
            "key result" if p.kind == "key_result" else "objective",
            f"weight {render.number(p.weight)}",
            render.exact_pct(p.progress),
            p.note,
        ]
        for p in parts
    ]
    aligned = render.table([""] * 6, rows).splitlines()[1:]  # columns aligned, no header row
    out += ["    " + line for line in aligned]
    return out


def _objective_since(
    state: StateStore, last: Row, earlier: list[Row], parts: list[ObjectivePart]
) -> list[str]:
    if not earlier or last["progress"] is None:
        return []
    before = earlier[-1]
    old = _parts_of(_recorded(state, before["run_id"], "objectives", last["id"]))
    if old and parts:
        text = describe_rollup(before["progress"], last["progress"], old, parts)
    else:  # a run recorded before okr-sync kept the roll-up's parts
        text = f"{pct(before['progress'])} → {pct(last['progress'])} (no breakdown to compare)"
    return [f"  since {_name(before)}: {text}"]


def objective_text(state: StateStore, rows: list[Row], labels: dict[str, str]) -> str:
    """The explanation of an objective from its snapshots (oldest first)."""
    last = rows[-1]
    earlier = _trusted(rows[:-1])
    recorded = _recorded(state, last["run_id"], "objectives", last["id"])
    parts = _parts_of(recorded)
    out = _header(last["id"], last, "objective")
    out += _unwritten(last, earlier, current=False)
    out += _numbers(last, labels, current=False)
    out += _rollup(parts, recorded)
    out += _objective_since(state, last, earlier, parts)
    out += _human_edits(state.changes_for(last["id"], limit=10))
    return "\n".join(out)


@click.command()
@common_options
@click.argument("ident", metavar="ID")
@click.option(
    "--at", "day", type=click.DateTime(["%Y-%m-%d"]), default=None, metavar="DATE",
    help="A KR as it stood on DATE (a synced or backfilled day): the items counted and why.",
)  # fmt: skip
def explain(path: Path, quiet: bool, ident: str, day: dt.datetime | None) -> None:
    """Why a KR or objective has its number: what it was computed from, what moved since."""
    loaded, state = read_state(path)
    labels = {k.value: v for k, v in loaded.config.status.label_map().items()}
    try:
        rows = [r for r in state.history("kr", ident) if r["provenance"]]
        if day is not None:
            text = _kr_on(state, rows, ident, day.date().isoformat(), labels)
        elif rows := [r for r in rows if r["origin"] == "synced"]:
            text = kr_text(state, rows, labels)
        else:
            rows = [r for r in state.history("objective", ident) if r["origin"] == "synced"]
            if not rows:
                raise StateError(
                    f"no recorded run has computed {ident!r} (a key result or objective id)"
                )
            text = objective_text(state, rows, labels)
    finally:
        state.close()
    echo(text)


def _kr_on(state: StateStore, rows: list[Row], ident: str, day: str, labels: dict[str, str]) -> str:
    """``explain KR --at DAY``: that day's synced snapshot, else its backfilled one."""
    upto = on_day(rows, day)
    if not upto:
        raise StateError(
            f"no synced or backfilled value of {ident!r} on {day}; "
            f"'okr-sync backfill --since {day} {ident}' rebuilds it from the change history"
        )
    return kr_text(state, upto, labels, at=True)
