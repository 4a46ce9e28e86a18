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
from okr_sync.cli.check import check
from okr_sync.cli.common import Group, clock, common_options, echo, emit_json, log_format, say
from okr_sync.cli.demo.command import demo
from okr_sync.cli.init import init
from okr_sync.cli.interrupt import EXIT_INTERRUPTED, SyncInterrupt, aborted_text, stopped_text
from okr_sync.cli.sandbox import sandbox
from okr_sync.cli.schedule import schedule
from okr_sync.cli.status import status
from okr_sync.config import readiness
from okr_sync.config.loading import LoadedConfig, load_config
from okr_sync.config.okr_checks import check_local_okrs
from okr_sync.core.provenance import describe_change, scope_change
from okr_sync.engine.engine import Engine, build_connectors
from okr_sync.engine.runner import run_sync
from okr_sync.errors import EXIT_FAILED, EXIT_OK, StateError
from okr_sync.models import Provenance, RunSummary
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
    if not quiet:
        count = len(warnings)
        echo(f"{path}: OK ({checked} valid)" if not warnings else
             f"{path}: {checked} valid, with {count} warning{'s' if count != 1 else ''}:")  # fmt: skip
    for warning in warnings:  # valid, but not what its author wants yet (exit code 0)
        say("warning", str(warning), event="warning", level=logging.WARNING)


def _engine(
    loaded: LoadedConfig, state: StateStore, accept_empty: tuple[str, ...] = (), full: bool = False
) -> Engine:
    return Engine(
        loaded,
        build_connectors(loaded),
        state,
        now=clock(),
        accept_empty=frozenset(accept_empty),
        full=full,
    )


accept_empty_option = click.option(
    "--accept-empty", multiple=True, metavar="KR",
    help="Accept that this KR's linked items dropped to none (repeatable).",
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
def plan(path: Path, quiet: bool, as_json: bool, accept_empty: tuple[str, ...], full: bool) -> None:
    """Show what a sync would write. Writes nothing, not even the state store."""
    loaded = load_config(path)
    state = StateStore.open_readonly(loaded.state_path)
    try:
        summary = _engine(loaded, state, accept_empty, full).run(apply=False)
    finally:
        state.close()
    _report(summary, loaded, quiet, as_json)


@main.command()
@common_options
@click.option("--json", "as_json", is_flag=True, help="Print the run summary as JSON.")
@accept_empty_option
@full_option
def sync(path: Path, quiet: bool, as_json: bool, accept_empty: tuple[str, ...], full: bool) -> None:
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
                should_stop=interrupt.should_stop,
            )  # fmt: skip
    except KeyboardInterrupt:  # before any write, or a second Ctrl-C: at once
        if "bar" in bar_ctx:
            bar_ctx["bar"].__exit__(None, None, None)
        _notice(aborted_text(loaded.state_path, interrupt.writing), "interrupted")
        sys.exit(EXIT_INTERRUPTED)
    if "bar" in bar_ctx:
        bar_ctx["bar"].__exit__(None, None, None)
    if summary.stopped_early:
        _report(summary, loaded, quiet, as_json, exit_code=EXIT_INTERRUPTED,
                then=stopped_text(loaded.state_path, summary.run_id, summary.writes))  # fmt: skip
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


def _read_state(path: Path) -> tuple[LoadedConfig, StateStore]:
    loaded = load_config(path, check_env=False)
    if not loaded.state_path.exists():
        raise StateError(f"no runs recorded yet in {loaded.state_path}; run 'okr-sync sync' first")
    return loaded, StateStore.open_readonly(loaded.state_path)


@main.command()
@common_options
@click.argument("kr", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the history as JSON.")
def history(path: Path, quiet: bool, kr: str | None, as_json: bool) -> None:
    """A KR's progress over time (or every KR's, as sparklines)."""
    loaded, state = _read_state(path)
    try:
        rows = state.history("kr", kr)
    finally:
        state.close()
    labels = {k.value: v for k, v in loaded.config.status.label_map().items()}
    for row in rows:
        row["note"] = _row_note(row)
        row.pop("provenance", None)
        row["status"] = labels.get(row["status"], row["status"])
    if as_json:
        emit_json(rows)
        return
    if kr is not None:
        if not rows:
            raise StateError(f"no history for {kr!r}")
        table = [
            [
                r["at"][:16],
                render.bar(r["progress"]),
                render.pct(r["progress"]),
                render.number(r["current"]),
                r["status"] or "–",
                r["note"],
            ]
            for r in rows
        ]
        echo(render.table(["RUN", "PROGRESS", "", "CURRENT", "STATUS", "NOTE"], table))
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
            render.pct(v[-1]["progress"]),
        ]
        for k, v in sorted(by_kr.items())
    ]
    echo(render.table(["KR", "TITLE", "HISTORY", "LATEST"], table))


def _row_note(row: dict[str, Any]) -> str:
    """Why a snapshot has no number: stale or failed with the recorded reason, or left alone."""
    if row["stale"]:
        return f"STALE: {row['error']}"
    if row["error"]:
        return f"FAILED: {row['error']}"
    if row["progress"] is None and row["provenance"]:
        notes = Provenance.model_validate_json(row["provenance"]).notes
        return f"LEFT ALONE: {notes[-1]}" if notes else "LEFT ALONE"
    return ""


def _unwritten(last: dict[str, Any], earlier: list[dict[str, Any]]) -> list[str]:
    """For a KR with no number in its last run: why, and what the targets still hold."""
    note = _row_note(last)
    if not note:
        return []
    out = [f"  {note}", f"  nothing was written for {last['id']} in run {last['run_id']}"]
    if earlier:
        before = earlier[-1]
        out[-1] += (
            f"; the targets keep what run {before['run_id']} computed: progress "
            f"{render.exact_pct(before['progress'])}, current {render.number(before['current'])}"
        )
    return out


@main.command()
@common_options
@click.argument("kr")
def explain(path: Path, quiet: bool, kr: str) -> None:
    """Why a KR has its number: items counted and excluded, and what moved since the last run."""
    loaded, state = _read_state(path)
    labels = {k.value: v for k, v in loaded.config.status.label_map().items()}
    try:
        rows = [r for r in state.history("kr", kr) if r["provenance"]]
        changes = state.changes_for(kr, limit=10)
        accepted = state.acceptances(kr)
    finally:
        state.close()
    if not rows:
        raise StateError(f"no recorded run has computed {kr!r}")
    last = rows[-1]
    prov = Provenance.model_validate_json(last["provenance"])
    out = [
        f"{kr}  {last['title']}",
        f"  measure: {last['measure']}   run {last['run_id']} at {last['at']}",
    ]
    earlier = [
        r for r in rows[:-1] if not r["stale"] and not r["error"] and r["progress"] is not None
    ]
    out += _unwritten(last, earlier)
    status = labels.get(last["status"], last["status"]) if last["status"] else "–"
    # The exact written values: the status was judged from these very numbers.
    out.append(
        f"  progress {render.exact_pct(last['progress'])} "
        f"(expected {render.exact_pct(last['expected'])}), "
        f"current {render.number(last['current'])}, status {status}"
    )
    if last["total"] is not None:
        out.append(f"  done {render.number(last['done'])} of {render.number(last['total'])}")
    out.append("  linked through:")
    out += [f"    - {s}" for s in prov.selectors] or ["    (nothing)"]
    done = [c for c in prov.counted if c.done]
    out.append(f"  counted {len(prov.counted)} item(s), {len(done)} done:")
    out += [
        f"    {'✔' if c.done else '·'} {c.key}"
        + (f"  ({render.number(c.value)})" if c.value != 1 else "")
        for c in prov.counted[:50]
    ]
    if len(prov.counted) > 50:
        out.append(f"    … and {len(prov.counted) - 50} more")
    if prov.excluded:
        out.append(f"  excluded {len(prov.excluded)}:")
        out += [f"    - {e.key}: {e.reason}" for e in prov.excluded[:50]]
    if prov.unestimated:
        out.append(f"  unestimated (count 0 points): {', '.join(prov.unestimated)}")
    if prov.shared:
        out.append(f"  also counted for other KRs: {'; '.join(prov.shared)}")
    shown = _row_note(last)  # a left-alone KR's reason is its last note, shown above
    out += [f"  note: {n}" for n in prov.notes if shown != f"LEFT ALONE: {n}"]
    if (
        earlier and last["progress"] is not None
    ):  # compare with the last run that had trustworthy numbers
        before = earlier[-1]
        change = scope_change(Provenance.model_validate_json(before["provenance"]), prov)
        out.append(
            f"  since run {before['run_id']}: {describe_change(before['progress'], last['progress'], change)}"
        )
    conflicts = [c for c in changes if c["conflict"]]
    if conflicts:
        out.append("  human edits okr-sync met (the human value is kept here):")
        out += [
            f"    run {c['run_id']}: {c['target']} {c['field']} was {render.show(c['before'])} "
            f"(okr-sync had written {render.show(c['last_written'])}) → {c['action']}"
            for c in conflicts
        ]
    out += _accepted_lines(accepted)
    echo("\n".join(out))


def _accepted_lines(accepted: list[dict[str, Any]]) -> list[str]:
    """``explain``: human values accepted with ``okr-sync accept`` (left as they are)."""
    if not accepted:
        return []
    return ["  human values accepted (kept, no conflict until edited again):"] + [
        f"    {a['target']} {a['field']} = {render.show(a['value'])} "
        f"(accepted {a['accepted_at']}, seen in run {a['run_id']})"
        for a in accepted
    ]


main.add_command(sandbox)
main.add_command(demo)
main.add_command(init)
main.add_command(check)
main.add_command(schedule)
main.add_command(status)
main.add_command(accept)
