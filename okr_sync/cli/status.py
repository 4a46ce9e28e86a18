"""``okr-sync status``: the last runs recorded in the state store, and the next scheduled one."""

from __future__ import annotations

import datetime as dt
import os
import socket
import sys
from pathlib import Path
from typing import Any

import click

from okr_sync.cli import render
from okr_sync.cli.common import clock, common_options, echo, emit_json, location_of
from okr_sync.cli.schedule import resolve_schedule
from okr_sync.config.loading import LoadedConfig, load_config, zone
from okr_sync.engine.report import shorten
from okr_sync.errors import EXIT_FAILED, StateError
from okr_sync.state.location import StateLocation
from okr_sync.state.store import StateStore


def _alive(holder: dict[str, object]) -> bool:
    """Whether the process a lock record names still runs (unknowable on another host)."""
    if holder.get("host") != socket.gethostname():
        return True
    try:
        os.kill(int(str(holder.get("pid"))), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


def _outcome(run: dict[str, Any], holder: dict[str, object] | None) -> str:
    if run["outcome"] != "running":
        return str(run["outcome"])
    # Still marked running: either it is, or it died (the next run will mark it).
    return "running" if holder and _alive(holder) else "interrupted"


def scheduler_of(location: StateLocation) -> dict[str, object] | None:
    """The ``okr-sync schedule`` process holding the store's schedule lock (None if none).

    Read from the lock file's holder record, without touching the lock (taking
    it, even for a moment, could make a scheduler starting then refuse). A record
    left by a scheduler that died is recognised on its own host by its pid.
    """
    holder = location.holder("schedule")
    if not holder or holder.get("pid") is None or not _alive(holder):
        return None
    return {key: holder.get(key) for key in ("pid", "host", "since", "cron", "timezone")}


def _failures(summary: dict[str, Any], run: dict[str, Any]) -> list[dict[str, str]]:
    """Each cause once: a source's error in full, the KRs and targets it stopped by its name."""
    sources: dict[str, str] = summary.get("source_errors") or {}
    out = [{"kind": "run", "id": str(run["id"]), "reason": run["reason"]}] if run["reason"] else []
    out += [{"kind": "source", "id": name, "reason": error} for name, error in sources.items()]
    for kr in summary.get("key_results") or ():
        if kr.get("stale") or kr.get("error"):
            reason = ("stale: " if kr.get("stale") else "") + (kr.get("error") or "")
            out.append({"kind": "kr", "id": kr["kr_id"], "reason": shorten(reason, sources)})
    for obj in summary.get("objectives") or ():
        if obj.get("error"):
            reason = shorten(obj["error"], sources)
            out.append({"kind": "objective", "id": obj["objective_id"], "reason": reason})
    for failure in summary.get("failures") or ():
        ref = (failure.get("ref") or {}).get("id", "?")
        error = failure["error"]
        if ref == "*" and sources.get(failure["target"]) == error:  # stores of older versions
            error = f"not read, so nothing written: see source {failure['target']}"
        out.append({"kind": "write", "id": f"{failure['target']} {ref}", "reason": error})
    return out


def _seconds(start: str, end: str | None) -> float | None:
    if end is None:
        return None
    return (dt.datetime.fromisoformat(end) - dt.datetime.fromisoformat(start)).total_seconds()


def run_rows(
    state: StateStore, limit: int, holder: dict[str, object] | None = None
) -> list[dict[str, Any]]:
    """The latest runs, newest first, with what each changed and what failed."""
    rows = []
    for run in state.runs(limit):
        # The stored text leaves out what the run's snapshots keep: read it whole.
        summary = (state.run_summary(run["id"]) or {}) if run["summary"] else {}
        changes = state.run_changes(run["id"])
        applied = [c for c in changes if c["result"] == "applied"]
        # A run that died has no summary: its logged changes still tell what it wrote.
        kr_ids = {kr["kr_id"] for kr in summary.get("key_results") or ()} or {
            c["owner"] for c in applied if c["kind"] != "objective"
        }
        writes = summary.get(
            "writes", len({(c["target"], c["kind"], c["record"]) for c in applied})
        )
        rows.append(
            {
                "id": run["id"],
                "started_at": run["started_at"],
                "finished_at": run["finished_at"],
                "duration_seconds": _seconds(run["started_at"], run["finished_at"]),
                "outcome": _outcome(run, holder),
                "krs_changed": sorted({c["owner"] for c in applied if c["owner"] in kr_ids}),
                "writes": writes,
                "conflicts": sum(1 for c in changes if c["conflict"]),
                "reason": run["reason"],
                "failures": _failures(summary, run),
                "notes": list(summary.get("notes") or ()),
            }
        )
    return rows


def next_run(loaded: LoadedConfig) -> dict[str, str] | None:
    """The config's schedule and its next fire time after the run clock's now."""
    found = resolve_schedule(loaded)
    if found is None:
        return None
    expr, zone_name = found
    at = expr.next_after(clock()(), zone(zone_name))
    return {"cron": expr.text, "timezone": zone_name, "next_run": at.isoformat()}


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    if seconds < 60:
        return f"{seconds:.0f} s" if seconds >= 10 or seconds == 0 else f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes // 60}h {minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m {secs:02d}s"


def _when(iso: str) -> str:
    return dt.datetime.fromisoformat(iso).astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def status_text(
    location: StateLocation | Path,
    schedule: dict[str, str] | None,
    rows: list[dict[str, Any]],
    scheduler: dict[str, object] | None = None,
) -> str:
    """The status as a few lines and a table."""
    out = [f"state store: {location}"]
    if schedule:
        at = dt.datetime.fromisoformat(schedule["next_run"])
        out.append(
            f"schedule: {schedule['cron']} ({schedule['timezone']}), "
            f"next run {at:%Y-%m-%d %H:%M %Z}"
        )
    else:
        out.append("schedule: none (set schedule.cron to use 'okr-sync schedule')")
    if scheduler:
        out.append(
            f"scheduler: okr-sync schedule running (pid {scheduler['pid']} on "
            f"{scheduler['host']}, since {scheduler['since']})"
            + (f" on {scheduler['cron']} ({scheduler['timezone']})" if scheduler["cron"] else "")
        )
    else:
        out.append("scheduler: no okr-sync schedule running on this state store")
    table = [
        [
            str(r["id"]),
            _when(r["started_at"]),
            _duration(r["duration_seconds"]),
            r["outcome"],
            str(len(r["krs_changed"])),
            str(r["writes"]),
            str(r["conflicts"]),
            str(len(r["failures"])),
        ]
        for r in rows
    ]
    headers = ["RUN", "STARTED (UTC)", "DURATION", "OUTCOME", "KRS CHANGED", "WRITES",
               "CONFLICTS", "FAILURES"]  # fmt: skip
    out += ["", render.table(headers, table)]
    for r in rows:
        if r["failures"] or r["outcome"] == "stopped":
            out += ["", f"run {r['id']} ({r['outcome']}):"]
            out += [f"  {f['kind']} {f['id']}: {f['reason']}" for f in r["failures"][:20]]
            if len(r["failures"]) > 20:
                out.append(f"  … and {len(r['failures']) - 20} more")
            out += [f"  note: {n}" for n in r["notes"] if n.startswith("stopped early")]
    return "\n".join(out)


@click.command()
@common_options
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@click.option(
    "--limit", type=click.IntRange(min=1), default=10, show_default=True, help="Runs to show."
)
def status(path: Path, quiet: bool, as_json: bool, limit: int) -> None:
    """The last runs (outcome, duration, changes, failures) and the next scheduled run.

    Exits 1 when the latest run failed (or nothing was recorded yet), so that a
    monitoring probe can run it as it is.
    """
    loaded = load_config(path, check_env=False)
    schedule = next_run(loaded)
    rows: list[dict[str, Any]] = []
    location = location_of(loaded)
    state = location.open_readonly()
    try:
        rows = run_rows(state, limit, location.holder("run"))
    finally:
        state.close()
    if not rows:
        hint = f" (next scheduled run: {schedule['next_run']})" if schedule else ""
        raise StateError(f"no runs recorded yet in {location}; run 'okr-sync sync' first{hint}")
    scheduler = scheduler_of(location)
    if as_json:
        emit_json(
            {
                "state": str(location),
                "schedule": schedule,
                "scheduler": scheduler,
                "runs": rows,
            }
        )
    else:
        echo(status_text(location, schedule, rows, scheduler))
    if rows[0]["outcome"] == "failed":  # for monitoring probes: the latest run failed
        sys.exit(EXIT_FAILED)
