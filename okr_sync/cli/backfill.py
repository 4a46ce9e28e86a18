"""``okr-sync backfill``: KR values for past days, rebuilt from the Jira issues' change history."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import click

from okr_sync.cli import render
from okr_sync.cli.common import clock, common_options, echo, emit_json
from okr_sync.config.loading import load_config
from okr_sync.engine.backfill import BackfillReport, run_backfill
from okr_sync.errors import EXIT_FAILED, EXIT_OK

_DATE = click.DateTime(["%Y-%m-%d"])


@click.command()
@common_options
@click.option("--since", type=_DATE, default=None, metavar="DATE",
              help="First day to rebuild (default: the earliest period start).")  # fmt: skip
@click.option("--until", type=_DATE, default=None, metavar="DATE",
              help="Last day to rebuild (default and latest: today).")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.argument("krs", nargs=-1, metavar="[KR]...")
def backfill(path: Path, quiet: bool, since: dt.datetime | None, until: dt.datetime | None,
             as_json: bool, krs: tuple[str, ...]) -> None:  # fmt: skip
    """Rebuild each Jira-computed KR's value for every past day from the issues' history.

    Stored as backfilled snapshots (shown apart by 'history'); days already
    backfilled or synced are skipped, so a rerun continues where one stopped.
    """
    loaded = load_config(path)
    report = run_backfill(
        loaded, now=clock(), since=since.date() if since else None,
        until=until.date() if until else None, only=frozenset(krs),
    )  # fmt: skip
    if as_json:
        emit_json(report.as_json())
    else:
        echo(report_text(report, quiet))
    sys.exit(EXIT_FAILED if report.failed_sources else EXIT_OK)


def report_text(report: BackfillReport, quiet: bool = False) -> str:
    """The backfill's outcome per KR, then what could not be replayed and why."""
    lines = [f"backfill {report.since} → {report.until}"]
    rows = []
    for r in sorted(report.key_results, key=lambda r: render.natural_key(r.kr_id)):
        if r.problem:
            rows.append([r.kr_id, r.title[:40], "not replayed", r.problem])
            continue
        note = []
        if r.synced:
            note.append(f"{r.synced} synced day(s) kept")
        if r.already:
            note.append(f"{r.already} already backfilled")
        rows.append([r.kr_id, r.title[:40], f"{len(r.added)} day(s) added", ", ".join(note)])
    if not quiet:
        lines.append(render.table(["KR", "TITLE", "BACKFILLED", "NOTE"], rows))
    added = sum(len(r.added) for r in report.key_results)
    lines.append(
        f"{added} day(s) recorded; {report.history_requests} history request(s); "
        f"{report.former_members} former member(s) found"
    )
    for name, problem in sorted(report.failed_sources.items()):
        lines.append(f"source {name}: {problem}")
    return "\n".join(lines)
