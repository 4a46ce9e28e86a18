"""The ``okr-sync`` command line. The one place that prints and picks exit codes.

Exit codes: 0 ok; 1 some KRs, sources or writes failed (or were stale), or the
run failed before computing (``status``: the latest run failed); 2 config or
usage error; 3 another run holds the lock; 130 a sync stopped by
Ctrl-C (:mod:`okr_sync.cli.interrupt`); 141 the output's reader went away
(:func:`okr_sync.cli.common.output_closed`).

Each command lives in its own module and is imported only when it is the one
that runs (or its own ``--help`` is asked for): ``okr-sync --help`` lists every
command from :data:`COMMANDS` without importing any of them, and ``validate``
never loads a connector's HTTP client, the engine or the state store.
"""

from __future__ import annotations

import importlib
from typing import NamedTuple

import click

from okr_sync import __version__
from okr_sync.cli.group import Group


class Entry(NamedTuple):
    """Where a command is defined and its short help (the first sentence of its docstring)."""

    target: str  # "module:attribute"
    short_help: str


#: Every command, by name. tests/cli/test_lazy_commands.py checks each short help
#: against the command's own docstring, so the listing cannot drift from it.
COMMANDS: dict[str, Entry] = {
    "accept": Entry(
        "okr_sync.cli.accept:accept",
        "Accept the human value kept on a KR's field(s): no conflict until edited again.",
    ),
    "backfill": Entry(
        "okr_sync.cli.backfill:backfill",
        "Rebuild each Jira-computed KR's value for every past day from the issues' history.",
    ),
    "check": Entry(
        "okr_sync.cli.check:check",
        "Preflight: credentials, shared databases, properties and options, epics, JQL, files.",
    ),
    "demo": Entry(
        "okr_sync.cli.demo.command:demo",
        "Sync a demo organisation between local Jira and Notion sandboxes, then a week later.",
    ),
    "explain": Entry(
        "okr_sync.cli.explain:explain",
        "Why a KR or objective has its number: what it was computed from, what moved since.",
    ),
    "history": Entry(
        "okr_sync.cli.history:history", "A KR's progress over time (or every KR's, as sparklines)."
    ),
    "init": Entry(
        "okr_sync.cli.init:init",
        "Write a commented starter config (and okrs.yaml for --tools jira).",
    ),
    "plan": Entry("okr_sync.cli.run:plan", "Show what a sync would write."),
    "report": Entry(
        "okr_sync.cli.report:report",
        "Write an HTML report of the latest run: OKR tree, burn-up charts, changes, problems.",
    ),
    "sandbox": Entry(
        "okr_sync.cli.sandbox:sandbox", "Run a local fake of a tool's API (no account, no network)."
    ),
    "schedule": Entry(
        "okr_sync.cli.schedule:schedule",
        "Run syncs on a cron schedule until stopped (SIGTERM or Ctrl-C end it cleanly).",
    ),
    "state": Entry(
        "okr_sync.cli.state_cmd:state_group",
        "Manage the state store (copy it to another backend).",
    ),
    "status": Entry(
        "okr_sync.cli.status:status",
        "The last runs (outcome, duration, changes, failures) and the next scheduled run.",
    ),
    "sync": Entry(
        "okr_sync.cli.run:sync", "Compute progress and write the changed values to the targets."
    ),
    "validate": Entry(
        "okr_sync.cli.validate:validate",
        "Check the config file (and local OKR files) without any network access.",
    ),
}


class LazyGroup(Group):
    """A group that imports a command's module only when that command is looked up."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Every command name, sorted (as click lists them)."""
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The command, its module imported now; None for an unknown name."""
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        module, _, attr = entry.target.partition(":")
        command: click.Command = getattr(importlib.import_module(module), attr)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list of ``--help``, from the table: no command module is imported."""
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(len(name) for name in names)
        # A stand-in command per name shortens the text as click shortens a real one's.
        rows = [(name, click.Command(name, help=COMMANDS[name].short_help).get_short_help_str(limit))
                for name in names]  # fmt: skip
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="okr-sync")
def main() -> None:
    """okr-sync: key-result progress computed from Jira and Notion, written back where teams look."""
