"""Straight to a backend's tables, beside the store's own API (what the tests check it by).

:func:`raw` is a connection to the very tables a :class:`StateStore` of that backend
uses (the SQLite file, or the namespace's schema) through the library's thin SQL
layer, so one ``?``-placeholder statement reads or tampers with either backend.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from okr_sync.state.database import Database, SqliteDatabase
from okr_sync.state.location import PostgresLocation, SqliteLocation
from okr_sync.state.postgres import open_namespace
from tests.backends import Backend


@contextmanager
def raw(backend: Backend) -> Iterator[Database]:
    """An autocommit connection to the store's tables (its file, or its namespace)."""
    location = backend.location
    if isinstance(location, SqliteLocation):
        db: Database = SqliteDatabase(
            sqlite3.connect(location.path, isolation_level=None), str(location.path)
        )
    else:
        assert isinstance(location, PostgresLocation)
        found = open_namespace(location.url, location.password(), location.namespace,
                               str(location), readonly=False, purpose="test")  # fmt: skip
        assert found is not None
        db = found
    try:
        yield db
    finally:
        db.close()


def namespace_exists(backend: Backend) -> bool:
    """Whether the store's namespace (PostgreSQL) or file (SQLite) was ever created."""
    location = backend.location
    if isinstance(location, SqliteLocation):
        return location.path.exists()
    assert isinstance(location, PostgresLocation)
    db = open_namespace(location.url, location.password(), location.namespace, str(location),
                        readonly=True, purpose="test")  # fmt: skip
    if db is None:
        return False
    db.close()
    return True


def migrations_of(backend: Backend) -> list[tuple[str, str]]:
    """``schema_migrations`` in the order the migrations were applied."""
    # PostgreSQL has no rowid: each migration commits on its own, so the transaction
    # id that inserted its row (xmin) rises in the order they were applied.
    order = "rowid" if backend.name == "sqlite" else "xmin::text::bigint"
    with raw(backend) as db:
        return [tuple(r) for r in db.execute(f"SELECT name, applied_at FROM schema_migrations "
                                             f"ORDER BY {order}")]  # fmt: skip


def tables_of(backend: Backend) -> set[str]:
    """The tables the store (file or namespace) holds."""
    with raw(backend) as db:
        if backend.name == "sqlite":
            rows = db.execute("SELECT name FROM sqlite_master WHERE type='table'")
        else:
            rows = db.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = current_schema()"
            )
        return {r[0] for r in rows}


def contents(backend: Backend) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table, in a stable order: the whole store, to compare."""
    with raw(backend) as db:
        out = {}
        for table in sorted(tables_of(backend)):
            rows = db.execute(f"SELECT * FROM {table}").fetchall()
            out[table] = sorted((tuple(r) for r in rows), key=repr)
        return out
