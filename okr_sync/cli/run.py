"""``okr-sync plan`` and ``okr-sync sync``: one run of the engine, shown or applied.

The engine, the connectors and the renderer are imported when a run starts, not
when the module is: ``okr-sync plan --help`` loads none of them.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from okr_sync.cli.common import clock, common_options, echo, emit_json, location_of, log_format
from okr_sync.cli.interrupt import EXIT_INTERRUPTED, SyncInterrupt, aborted_text, stopped_text
from okr_sync.errors import EXIT_FAILED, EXIT_OK

if TYPE_CHECKING:
    from okr_sync.config.loading import LoadedConfig
    from okr_sync.engine.engine import Engine
    from okr_sync.models import RunSummary
    from okr_sync.state.store import StateStore


def _engine(
    loaded: LoadedConfig,
    state: StateStore,
    accept_empty: tuple[str, ...] = (),
    full: bool = False,
    reopen: tuple[str, ...] = (),
) -> Engine:
    from okr_sync.engine.engine import Engine, build_connectors

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


@click.command()
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
    from okr_sync.config.loading import load_config

    loaded = load_config(path)
    state = location_of(loaded).open_readonly()
    try:
        summary = _engine(loaded, state, accept_empty, full, reopen).run(apply=False)
    finally:
        state.close()
    _report(summary, loaded, quiet, as_json)


@click.command()
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
    from okr_sync.config.loading import load_config
    from okr_sync.config.okr_checks import check_local_okrs
    from okr_sync.engine.runner import run_sync

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
    from okr_sync.cli import render

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
