"""``okr-sync state copy --to DEST``: move a state store between SQLite and PostgreSQL.

``DEST`` is a PostgreSQL URL (``postgresql://okr@db.internal:5432/okr``, with
``--namespace``) or a SQLite file path. The copy runs under the run locks of both
stores (no sync writes either meanwhile), into an empty destination only, in one
transaction. The config's own store is the source; the config is not changed:
point its ``state:`` at the destination afterwards.

A password for a destination URL comes from libpq (``PGPASSWORD``, ``~/.pgpass``,
``PGSERVICE``) or from the variable ``--password-env`` names, never from the URL.

Exit codes: 0 copied; 1 a store cannot be opened or the destination is not empty;
2 usage error; 3 a sync holds a lock.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import click

from okr_sync.cli.common import common_options, echo, location_of
from okr_sync.config.loading import load_config
from okr_sync.errors import StateError
from okr_sync.state.copy import copy_store
from okr_sync.state.location import NAMESPACE, PostgresLocation, SqliteLocation, StateLocation


@click.group(name="state")
def state_group() -> None:
    """Manage the state store (copy it to another backend)."""


def _destination(to: str, namespace: str | None, password_env: str | None) -> StateLocation:
    if "://" not in to:
        if namespace or password_env:
            raise click.UsageError("--namespace and --password-env go with a PostgreSQL URL")
        return SqliteLocation(Path(to).expanduser().resolve())
    parts = urlsplit(to)
    if parts.scheme not in ("postgresql", "postgres"):
        raise click.BadParameter("give a postgresql:// URL or a file path", param_hint="--to")
    if parts.password is not None or "password=" in parts.query.lower():
        raise click.BadParameter(
            "a password inside the URL is not accepted; use --password-env VAR, PGPASSWORD "
            "or ~/.pgpass",
            param_hint="--to",
        )
    if not namespace:
        raise click.UsageError("a PostgreSQL destination needs --namespace")
    if not NAMESPACE.match(namespace):
        raise click.BadParameter(
            "1 to 40 lower-case letters, digits or '_', starting with a letter",
            param_hint="--namespace",
        )
    return PostgresLocation(to, namespace, f"${{{password_env}}}" if password_env else None)


@state_group.command(name="copy")
@common_options
@click.option("--to", "to", required=True, metavar="DEST",
              help="A postgresql:// URL (with --namespace) or a SQLite file path.")  # fmt: skip
@click.option("--namespace", help="The namespace in a PostgreSQL destination.")
@click.option("--password-env", metavar="VAR",
              help="An environment variable holding the destination's password.")  # fmt: skip
def copy(path: Path, quiet: bool, to: str, namespace: str | None, password_env: str | None) -> None:
    """Copy every run, snapshot, change, cursor and cache to an empty store at DEST."""
    loaded = load_config(path, check_env=False)
    source = location_of(loaded)
    destination = _destination(to, namespace, password_env)
    if str(destination) == str(source):
        raise click.BadParameter("the destination is the config's own state store",
                                 param_hint="--to")  # fmt: skip
    if not source.exists():
        raise StateError(f"no runs recorded yet in {source}; nothing to copy")
    advice = "wait for it to finish, then copy"
    with source.run_lock(advice=advice), destination.run_lock(advice=advice):
        src = source.open()
        try:
            dst = destination.open()
            try:
                result = copy_store(src, dst)
            finally:
                dst.close()
        finally:
            src.close()
    counts = ", ".join(f"{n} {table}" for table, n in result.rows.items() if n)
    echo(f"copied {source} to {destination}: {counts or 'no rows'}")
    if not quiet:
        echo(f"next: point the config's state: at {destination} (see README, 'State store')")
