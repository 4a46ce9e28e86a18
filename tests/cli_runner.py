"""``okr-sync ARGS`` run inside the test process, as a user would see it: exit code, stdout, stderr.

The console script ``okr-sync`` is ``okr_sync.cli.main:main``, a click group run in
click's standalone mode: click parses the arguments, the command runs, and every way out
becomes ``sys.exit(code)`` (okr-sync's own errors through ``common_options``, click's usage
errors with exit code 2). :func:`okr_sync` invokes that same object the same way, through
:class:`click.testing.CliRunner`, so the code that picks the exit code and prints the
error is the code under test; only the interpreter's start-up is left out (about half a
second per command).

Around each invocation, as a new process would have them:

* the environment is the test's own (``os.environ``) with ``env`` applied (``None``
  removes a variable), and restored afterwards;
* stdin is empty (``input`` gives it text), stdout and stderr are captured apart;
* the working directory is ``cwd`` when given;
* the root logger's handlers and level, which every command sets up for itself
  (``okr_sync.log.setup``), are put back as they were, so that one invocation's
  logging neither reaches the next nor outlives the test.

Unexpected exceptions are not swallowed (``catch_exceptions=False``): a command that
would have died with a traceback fails the test with that traceback.

Tests whose point is the process itself stay in real processes: signals and Ctrl-C
(``tests/cli/test_interrupt.py``), a closed output pipe (``test_pipes.py``), the
scheduler and its lock (``test_schedule_status.py``), kills
(``tests/reliability/test_crash.py``), the console script and ``python -m okr_sync``
(``test_cli.py``).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

from click.testing import CliRunner

from okr_sync.cli.main import main


class Ran(NamedTuple):
    """What a user sees of one command: its exit code and its two output streams."""

    code: int
    stdout: str
    stderr: str


def okr_sync(
    *args: str,
    env: Mapping[str, str | None] | None = None,
    cwd: Path | None = None,
    input: str | None = None,
) -> Ran:
    """Run ``okr-sync ARGS`` in this process; returns (exit code, stdout, stderr)."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    runner = CliRunner()
    try:
        with contextlib.chdir(cwd) if cwd is not None else contextlib.nullcontext():
            result = runner.invoke(
                main, list(args), input=input, env=dict(env or {}), catch_exceptions=False,
                prog_name="okr-sync",
            )  # fmt: skip
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in handlers:
            root.addHandler(handler)
        root.setLevel(level)
    return Ran(result.exit_code, result.stdout, result.stderr)
