"""``okr-sync demo``: the main job on the embedded default, in one command."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from okr_sync import log
from okr_sync.cli.common import clock
from okr_sync.errors import OkrSyncError


@click.command()
@click.option(
    "--dir", "folder", type=click.Path(file_okay=False, path_type=Path),
    default=Path("okr-sync-demo"), show_default=True,
    help="Folder for the demo's config and state store.",
)  # fmt: skip
@click.option("--fast", is_flag=True, help="Lift the Notion sandbox's 3 requests/s limit.")
@click.option("-v", "--verbose", count=True, help="Show okr-sync's log lines too.")
def demo(folder: Path, fast: bool, verbose: int) -> None:
    """Sync a demo organisation between local Jira and Notion sandboxes, then a week later.

    Needs no account and no network: both sandboxes run on 127.0.0.1 for the
    length of the demo. The config it uses is written to DIR/okr-sync.yaml.
    """
    from okr_sync.cli.demo.run import run_demo  # the sandboxes load only for the demo

    log.setup([logging.ERROR, logging.INFO, logging.DEBUG][min(verbose, 2)], "text")
    try:
        result = run_demo(folder, click.echo, fast=fast, today=clock()())
    except OkrSyncError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    failed = result.first.failed or result.second.failed
    sys.exit(1 if failed else 0)
