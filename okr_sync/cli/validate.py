"""``okr-sync validate``: the config file (and local OKR files) checked without network access.

It loads only the config and its checks: no connector's HTTP client, no engine, no
state store (``tests/test_architecture.py`` holds it to that).
"""

from __future__ import annotations

import logging
from pathlib import Path

import click

from okr_sync.cli.common import common_options, echo, say


@click.command()
@common_options
def validate(path: Path, quiet: bool) -> None:
    """Check the config file (and local OKR files) without any network access."""
    from okr_sync.config import readiness
    from okr_sync.config.loading import load_config
    from okr_sync.config.okr_checks import check_local_okrs

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
