"""``okr-sync state copy --to DEST``: move a state store between SQLite and PostgreSQL.

``DEST`` is a PostgreSQL URL (``postgresql://okr@db.internal:5432/okr``, with
``--namespace``) or a SQLite file path. The copy runs under the run locks of both
stores (no sync writes either meanwhile), into an empty destination only, in one
transaction. The config's own store is the source, opened read-only (a copy never
migrates nor writes it); the config is not changed: point its ``state:`` at the
destination afterwards. A destination that is the source however spelled (another
path to the file; ``postgres://`` or a query string on the same database and
namespace), or a file that is not an okr-sync store, is refused before anything opens.

A password for a destination URL comes from libpq (``PGPASSWORD``, ``~/.pgpass``,
``PGSERVICE``) or from the variable ``--password-env`` names, never from ``--to``:
a password there (in the URL, its query, or a libpq ``key=value`` string) is refused
without being echoed.

Exit codes: 0 copied; 1 a store cannot be opened, the source has no run, or the
destination is not empty (or not a store); 2 usage error (a password in ``--to``, no
``--namespace``, the source itself as destination); 3 a sync holds a lock.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import urlsplit

import click

from okr_sync.cli.common import common_options, echo, location_of
from okr_sync.config.loading import load_config
from okr_sync.errors import StateError
from okr_sync.state.copy import copy_store, refuse_foreign_file
from okr_sync.state.location import NAMESPACE, PostgresLocation, SqliteLocation, StateLocation


@click.group(name="state")
def state_group() -> None:
    """Manage the state store (copy it to another backend)."""


_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _destination(to: str, namespace: str | None, password_env: str | None) -> StateLocation:
    # Checked before anything else, so no message (nor a file name) ever carries it.
    if "password=" in to.lower() or ("://" in to and urlsplit(to).password is not None):
        raise click.BadParameter(
            "a password inside the URL is not accepted; use --password-env VAR, PGPASSWORD "
            "or ~/.pgpass",
            param_hint="--to",
        )
    if "://" not in to:
        if re.match(r"^\s*(host|hostaddr|dbname|user|port|service)\s*=", to):
            raise click.BadParameter(
                "give a postgresql:// URL (a key=value connection string is not accepted)",
                param_hint="--to",
            )
        if namespace or password_env:
            raise click.UsageError("--namespace and --password-env go with a PostgreSQL URL")
        return SqliteLocation(Path(to).expanduser().resolve())
    parts = urlsplit(to)
    if parts.scheme not in ("postgresql", "postgres"):
        raise click.BadParameter("give a postgresql:// URL or a file path", param_hint="--to")
    if not namespace:
        raise click.UsageError("a PostgreSQL destination needs --namespace")
    if not NAMESPACE.match(namespace):
        raise click.BadParameter(
            "1 to 40 lower-case letters, digits or '_', starting with a letter",
            param_hint="--namespace",
        )
    if password_env is not None and (
        not _ENV_NAME.match(password_env) or not os.environ.get(password_env)
    ):
        raise click.BadParameter(
            f"the environment variable {password_env} is not set or empty (give its name, "
            "such as OKR_STATE_PASSWORD, not its value)",
            param_hint="--password-env",
        )
    return PostgresLocation(to, namespace, f"${{{password_env}}}" if password_env else None)


def _place(location: StateLocation) -> tuple[str, ...]:
    """What makes two locations one store, however they are spelled."""
    if isinstance(location, SqliteLocation):
        return ("sqlite", str(location.path.resolve()))
    assert isinstance(location, PostgresLocation)
    parts = urlsplit(location.url)
    host = (parts.hostname or "localhost").lower()
    database = parts.path.lstrip("/") or parts.username or ""
    return ("postgresql", host, str(parts.port or 5432), database, location.namespace)


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
    if _place(destination) == _place(source):
        raise click.BadParameter("the destination is the config's own state store",
                                 param_hint="--to")  # fmt: skip
    if not source.exists():
        raise StateError(f"no runs recorded yet in {source}; nothing to copy")
    if isinstance(destination, SqliteLocation):
        refuse_foreign_file(destination.path)
    advice = "wait for it to finish, then copy"
    with source.run_lock(advice=advice), destination.run_lock(advice=advice):
        src = source.open_readonly()  # a copy never writes its source
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
