"""The ``okr-sync`` command group's base: a closed output pipe ends any command quietly.

Only click and the standard library: ``okr-sync --help`` imports this and nothing heavier.
"""

from __future__ import annotations

import os
import sys
from typing import Any, NoReturn

import click

#: Exit code when the reader of the output went away (``okr-sync plan | head -2``):
#: 128 + SIGPIPE, what a shell reports for a Unix tool that SIGPIPE ended.
EXIT_BROKEN_PIPE = 141


def output_closed() -> NoReturn:
    """Stop quietly: whoever read stdout went away (``| head``), as Unix tools do.

    Python ignores SIGPIPE, so a write to a pipe nobody reads raises
    ``BrokenPipeError`` instead of ending the process. Nothing is left worth saying
    (there is nobody to say it to), and stdout is pointed at the null device so
    that the flush at exit does not raise again (the recipe of the Python
    documentation, "Note on SIGPIPE" in the ``signal`` module). Whatever the
    command had done by then stays done: a sync's writes are made and recorded.
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no real stdout (a test runner's capture): nothing to flush
        pass
    sys.exit(EXIT_BROKEN_PIPE)


class Group(click.Group):
    """The ``okr-sync`` command group's base: a closed output pipe ends any command quietly."""

    def invoke(self, ctx: click.Context) -> Any:
        """Run the subcommand; a ``BrokenPipeError`` from its output ends it with 141."""
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            output_closed()
