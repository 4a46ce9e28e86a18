"""The ``okr-sync`` command line. The one place that prints and picks exit codes.

Exit codes: 0 ok; 1 some KRs, sources or writes failed (or were stale), or the
run failed before computing (``status``: the latest run failed); 2 config or
usage error; 3 another run holds the lock; 130 a sync stopped by
Ctrl-C (:mod:`okr_sync.cli.interrupt`); 141 the output's reader went away
(:func:`okr_sync.cli.common.output_closed`).
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import click

from okr_sync import __version__
from okr_sync.cli import render
from okr_sync.cli.accept import accept
from okr_sync.cli.backfill import backfill
from okr_sync.cli.check import check
from okr_sync.cli.common import (
    Group,
    clock,
    common_options,
    echo,
    emit_json,
    location_of,
    log_format,
    read_state,
    say,
)
from okr_sync.cli.demo.command import demo
from okr_sync.cli.explain import explain, row_note
from okr_sync.cli.init import init
from okr_sync.cli.interrupt import EXIT_INTERRUPTED, SyncInterrupt, aborted_text, stopped_text
from okr_sync.cli.report import report
from okr_sync.cli.sandbox import sandbox
from okr_sync.cli.schedule import schedule
from okr_sync.cli.state_cmd import state_group
from okr_sync.cli.status import status
from okr_sync.config import readiness
from okr_sync.config.loading import LoadedConfig, load_config
from okr_sync.config.okr_checks import check_local_okrs
from okr_sync.core.forecast import range_text
from okr_sync.engine.engine import Engine, build_connectors
from okr_sync.engine.runner import run_sync
from okr_sync.errors import EXIT_FAILED, EXIT_OK, StateError
from okr_sync.models import RunSummary
from okr_sync.state.store import StateStore


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="okr-sync")
def main() -> None:
    """okr-sync: key-result progress computed from Jira and Notion, written back where teams look."""


@main.command()
@common_options
def validate(path: Path, quiet: bool) -> None:
    """Check the config file (and local OKR files) without any network access."""
    loaded = load_config(path)
    tree = check_local_okrs(loaded)
    checked = "config" if tree is None else f"config and {len(tree.key_results)} key results"
    warnings = readiness.placeholders(loaded)
    if tree is not None:
        warnings += readiness.urls_missing(loaded, tree)
        warnings += readiness.periods_outside(loaded, tree)
    if not quiet:
        count = len(warnings)
        echo(f"{path}: OK ({checked} valid)" if not warnings else
             f"{path}: {checked} valid, with {count} warning{'s' if count != 1 else ''}:")  # fmt: skip
    for warning in warnings:  # valid, but not what its author wants yet (exit code 0)
        say("warning", str(warning), event="warning", level=logging.WARNING)


def _engine(
    loaded: LoadedConfig,
    state: StateStore,
    accept_empty: tuple[str, ...] = (),
    full: bool = False,
    reopen: tuple[str, ...] = (),
) -> Engine:
    return Engine(
        loaded,
        build_connectors(loaded),
        state,
        now=clock(),
        accept_empty=frozenset(accept_empty),
        full=full,
        reopen=frozenset(reopen),
    )


accept_empty_option = click.option(
    "--accept-empty", multiple=True, metavar="KR",
    help="Accept that this KR's linked items dropped to none (repeatable).",
)  # fmt: skip
reopen_option = click.option(
    "--reopen", multiple=True, metavar="KR",
    help="Compute and write this KR although its period has ended; its value becomes "
    "the final one (repeatable).",
)  # fmt: skip
full_option = click.option(
    "--full", is_flag=True,
    help="Pull every source in full instead of what changed since the last run.",
)  # fmt: skip


@main.command()
@common_options
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
@accept_empty_option
@full_option
@reopen_option
def plan(
    path: Path,
    quiet: bool,
    as_json: bool,
    accept_empty: tuple[str, ...],
    full: bool,
    reopen: tuple[str, ...],
) -> None:
    """Show what a sync would write. Writes nothing, not even the state store."""
    loaded = load_config(path)
    state = location_of(loaded).open_readonly()
    try:
        summary = _engine(loaded, state, accept_empty, full, reopen).run(apply=False)
    finally:
        state.close()
    _report(summary, loaded, quiet, as_json)


@main.command()
@common_options
@click.option("--json", "as_json", is_flag=True, help="Print the run summary as JSON.")
@accept_empty_option
@full_option
@reopen_option
def sync(
    path: Path,
    quiet: bool,
    as_json: bool,
    accept_empty: tuple[str, ...],
    full: bool,
    reopen: tuple[str, ...],
) -> None:
    """Compute progress and write the changed values to the targets."""
    loaded = load_config(path)
    check_local_okrs(loaded)  # before the lock and the state store: a bad OKR file touches nothing
    bar_ctx: dict[str, Any] = {}

    def on_write(done: int, total: int) -> None:
        if quiet or as_json or log_format() == "json" or total < 20 or not sys.stderr.isatty():
            return
        if "bar" not in bar_ctx:
            bar_ctx["bar"] = click.progressbar(length=total, label="writing", file=sys.stderr)
            bar_ctx["bar"].__enter__()
        bar_ctx["bar"].update(1)

    interrupt = SyncInterrupt()  # Ctrl-C: the write under way finishes, no other starts
    try:
        with interrupt.installed():
            summary = run_sync(
                loaded, now=clock(), accept_empty=accept_empty, on_write=on_write, full=full,
                should_stop=interrupt.should_stop, reopen=reopen,
            )  # fmt: skip
    except KeyboardInterrupt:  # before any write, or a second Ctrl-C: at once
        if "bar" in bar_ctx:
            bar_ctx["bar"].__exit__(None, None, None)
        _notice(aborted_text(location_of(loaded), interrupt.writing), "interrupted")
        sys.exit(EXIT_INTERRUPTED)
    if "bar" in bar_ctx:
        bar_ctx["bar"].__exit__(None, None, None)
    if summary.stopped_early:
        _report(summary, loaded, quiet, as_json, exit_code=EXIT_INTERRUPTED,
                then=stopped_text(location_of(loaded), summary.run_id, summary.writes))  # fmt: skip
    _report(summary, loaded, quiet, as_json)


def _report(
    summary: RunSummary,
    loaded: LoadedConfig,
    quiet: bool,
    as_json: bool,
    exit_code: int | None = None,
    then: str = "",
) -> None:
    labels = loaded.config.status.label_map()
    if as_json:
        emit_json(render.summary_json(summary, labels))
    else:
        if not quiet:
            echo(render.results_text(summary, labels))
            echo("")
            echo(render.plan_text(summary.plan, render.held_back(summary)))
        echo(render.footer_text(summary))
    if then:
        _notice(then, "stopped")  # how the run ended, beside the summary (and any JSON)
    if exit_code is None:
        exit_code = EXIT_FAILED if summary.failed or summary.source_errors else EXIT_OK
    sys.exit(exit_code)


def _notice(text: str, event: str) -> None:
    """How a sync stopped, on stderr: as it stands, or one JSON log line (``--log-format json``)."""
    if log_format() == "json":
        logging.getLogger("okr_sync.cli").warning(text, extra={"event": event})
    else:
        click.echo(text, err=True)


@main.command()
@common_options
@click.argument("kr", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the history as JSON.")
def history(path: Path, quiet: bool, kr: str | None, as_json: bool) -> None:
    """A KR's progress over time (or every KR's, as sparklines)."""
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


main.add_command(explain)
main.add_command(backfill)
main.add_command(sandbox)
main.add_command(demo)
main.add_command(init)
main.add_command(check)
main.add_command(schedule)
main.add_command(status)
main.add_command(accept)
main.add_command(state_group)
main.add_command(report)
