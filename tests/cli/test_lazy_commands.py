"""The command table that ``okr-sync --help`` lists without importing any command."""

from __future__ import annotations

import click
from click.testing import CliRunner

from okr_sync.cli.main import COMMANDS, main


def test_each_entry_names_its_command_and_its_own_short_help() -> None:
    for name, entry in COMMANDS.items():
        command = main.get_command(click.Context(main), name)
        assert isinstance(command, click.Command), name
        assert command.name == name
        assert entry.short_help == command.get_short_help_str(limit=1000), name


def test_help_lists_every_command_as_click_would() -> None:
    out = CliRunner().invoke(main, ["--help"], terminal_width=80).output
    listed = out.split("Commands:\n", 1)[1].splitlines()
    assert [line.split()[0] for line in listed] == sorted(COMMANDS)
    ctx = click.Context(main, terminal_width=80)
    width = max(map(len, COMMANDS))
    for line, name in zip(listed, sorted(COMMANDS), strict=True):
        real = main.get_command(ctx, name)
        assert real is not None
        text = real.get_short_help_str(limit=80 - 6 - width)
        assert line.strip() == f"{name}{' ' * (width - len(name) + 2)}{text}"


def test_an_unknown_command_is_a_usage_error() -> None:
    result = CliRunner().invoke(main, ["synk"])
    assert result.exit_code == 2 and "No such command 'synk'" in result.output
