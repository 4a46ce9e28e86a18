"""``okr-sync schedule``: syncs on a cron schedule, in the foreground, until stopped.

Exit codes: 0 when stopped by SIGTERM/SIGINT (the write under way finishes
first); with ``--max-runs``, the last run's code (0 ok, 1 failed, 3 lock
held); 2 for a config error, before any run or in the first one; 3 at start
when another ``okr-sync schedule`` already runs on the same state store.

One scheduler per state store: the command holds ``<state>.schedule.lock``
(:func:`okr_sync.state.lock.schedule_lock_path`) for its whole life, besides
the run lock each tick takes. Two schedulers would each run every tick — one
of them skipped as locked each time, or, with jitter, both running one after
the other — and their backoffs would not know of each other.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

import click

from okr_sync.cli import render
from okr_sync.cli.common import clock, common_options, echo, location_of
from okr_sync.config.loading import LoadedConfig, load_config, zone
from okr_sync.config.okr_checks import check_local_okrs
from okr_sync.engine.runner import run_sync
from okr_sync.errors import EXIT_FAILED, EXIT_LOCKED, EXIT_OK, ConfigError, CronError, Problem
from okr_sync.models import RunSummary
from okr_sync.schedule import cron
from okr_sync.schedule.scheduler import Scheduler

log = logging.getLogger(__name__)


def resolve_schedule(
    loaded: LoadedConfig, cron_text: str | None = None, timezone: str | None = None
) -> tuple[cron.Cron, str] | None:
    """The cron expression and zone name: options first, then the config; None if neither.

    Raises:
        ConfigError: an option's cron expression or zone is invalid.
    """
    settings = loaded.config.schedule
    text = cron_text or settings.cron
    name = timezone or settings.timezone
    if text is None:
        return None
    problems = []
    parsed = None
    try:
        parsed = cron.parse(text)
    except CronError as exc:  # the config's own expression was checked when it was loaded
        problems.append(Problem("--cron", None, "", str(exc)))
    try:
        zone(name)
    except ValueError as exc:
        problems.append(Problem("--timezone", None, "", str(exc)))
    if problems or parsed is None:
        raise ConfigError(problems)
    return parsed, name


@contextmanager
def _stop_on_signals(scheduler: Scheduler) -> Iterator[None]:
    """SIGTERM and SIGINT ask the scheduler to stop; a second SIGINT interrupts at once."""

    def handler(signum: int, frame: FrameType | None) -> None:
        if signum == signal.SIGINT and scheduler.stopping():
            raise KeyboardInterrupt
        scheduler.stop(f"{signal.Signals(signum).name} received")

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@click.command()
@common_options
@click.option(
    "--cron", "cron_text", metavar="EXPR", help="Cron expression (overrides schedule.cron)."
)
@click.option(
    "--timezone", metavar="ZONE", help="Zone the cron is read in (overrides schedule.timezone)."
)
@click.option(
    "--max-runs",
    type=click.IntRange(min=1),
    metavar="N",
    help="Stop after N runs (a run skipped as locked counts).",
)
@click.option("--run-now", is_flag=True, help="Run once at start, then follow the schedule.")
@click.option("--json", "as_json", is_flag=True, help="Print each run's summary as one JSON line.")
def schedule(
    path: Path,
    quiet: bool,
    cron_text: str | None,
    timezone: str | None,
    max_runs: int | None,
    run_now: bool,
    as_json: bool,
) -> None:
    """Run syncs on a cron schedule until stopped (SIGTERM or Ctrl-C end it cleanly)."""
    loaded = load_config(path)
    found = resolve_schedule(loaded, cron_text, timezone)
    if found is None:
        raise ConfigError(
            [Problem(str(loaded.path), loaded.doc.lines.get(("schedule",)), "schedule.cron",
                     "no cron expression to schedule by",
                     'set schedule.cron (e.g. "*/30 * * * *") or pass --cron')]
        )  # fmt: skip
    expr, zone_name = found
    check_local_okrs(loaded)  # a bad local OKR file ends the schedule now, not a tick away
    # The schedule's own lines (next run, skips, backoff) show without -v; runs log as sync does.
    root = logging.getLogger().getEffectiveLevel()
    logging.getLogger("okr_sync.schedule.scheduler").setLevel(
        root if quiet else min(root, logging.INFO)
    )
    labels = loaded.config.status.label_map()

    def show(summary: RunSummary) -> None:
        if as_json:
            echo(json.dumps(render.summary_json(summary, labels), default=str, ensure_ascii=False))
        else:
            echo(f"run {summary.run_id} ({summary.started_at:%Y-%m-%d %H:%M:%S %Z}): "
                 + render.footer_text(summary))  # fmt: skip

    now = clock()
    scheduler = Scheduler(
        expr,
        lambda should_stop: run_sync(loaded, now=now, should_stop=should_stop),
        tz=zone(zone_name),
        jitter_seconds=loaded.config.schedule.jitter_seconds,
        max_runs=max_runs,
        run_now=run_now,
        on_summary=show,
    )
    lock = location_of(loaded).schedule_lock(
        holder="another okr-sync schedule",
        advice="one scheduler per state store: stop that one first, or let it do the work",
        details={"cron": expr.text, "timezone": zone_name},
    )
    with lock, _stop_on_signals(scheduler):
        if lock.recovered_from:
            log.warning(
                "recovered the schedule lock left by pid %s on %s (started %s), which died",
                lock.recovered_from.get("pid"),
                lock.recovered_from.get("host"),
                lock.recovered_from.get("since"),
            )
        result = scheduler.run()
    if result.stopped:
        sys.exit(EXIT_OK)
    sys.exit({"failed": EXIT_FAILED, "locked": EXIT_LOCKED}.get(result.last or "", EXIT_OK))
