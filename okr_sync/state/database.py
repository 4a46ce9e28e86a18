"""One thin layer over the two databases a state store can live in: SQLite and PostgreSQL.

The store's SQL is written once, in the subset both understand: ``?`` placeholders,
``INSERT … ON CONFLICT (…) DO UPDATE`` / ``DO NOTHING`` for upserts, ``RETURNING``
for new ids, ``rowid`` for the change log's order (a real column on PostgreSQL).
What differs lives here and in :mod:`okr_sync.state.postgres`:

- placeholders (``%s`` for psycopg), translated once per statement text;
- column types in migrations (:meth:`Database.ddl`): ``{id}`` is an auto-numbered
  primary key, ``{real}`` a double-precision number, ``{rowid}`` the extra
  insertion-order column a table needs where the database has no implicit rowid;
- transactions (``BEGIN IMMEDIATE`` on SQLite, so a writer never deadlocks on
  upgrading its lock; a plain transaction on PostgreSQL, where the run lock
  already keeps writers of one namespace apart);
- whether a table exists, and the errors a driver raises (always a
  :class:`~okr_sync.errors.StateError` here, naming the store, never a password).

``statements`` counts the statements sent (an ``executemany`` counts once per
row on SQLite and once per batch on PostgreSQL, where psycopg pipelines it);
the benchmark reports it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

from okr_sync.errors import StateError


class Rows(Protocol):
    """What a query returns: iterable rows, ``fetchone`` and ``fetchall``."""

    def __iter__(self) -> Iterator[Any]: ...

    def fetchone(self) -> Any:
        """The next row, or None."""

    def fetchall(self) -> list[Any]:
        """Every remaining row."""


class Database:
    """The operations the state store needs, on one connection."""

    #: ``sqlite`` or ``postgresql``.
    dialect = ""
    #: Column types for migrations (see the module docstring).
    types: dict[str, str] = {}

    def __init__(self, where: str) -> None:
        #: How the store is named in errors (a file path, or a URL without password).
        self.where = where
        self.statements = 0

    def ddl(self, sql: str) -> str:
        """A migration's statement with this database's column types filled in."""
        return sql.format(**self.types)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Rows:
        """Run one statement; returns its rows (if any)."""
        raise NotImplementedError

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run one statement for each row of parameters."""
        raise NotImplementedError

    @contextmanager
    def transaction(self) -> Iterator[Database]:
        """One write transaction: committed on success, rolled back on any error."""
        raise NotImplementedError
        yield self  # pragma: no cover

    def table_exists(self, name: str) -> bool:
        """Whether the store has a table of this name."""
        raise NotImplementedError

    def close(self) -> None:
        """Close the connection."""
        raise NotImplementedError


class SqliteDatabase(Database):
    """A SQLite connection (autocommit; explicit ``BEGIN IMMEDIATE`` transactions)."""

    dialect = "sqlite"
    types = {"id": "INTEGER PRIMARY KEY", "real": "REAL", "rowid": ""}

    def __init__(self, connection: sqlite3.Connection, where: str) -> None:
        super().__init__(where)
        self.connection = connection

    def _fail(self, exc: sqlite3.Error) -> StateError:
        return StateError(f"the state store {self.where} failed: {exc}")

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Rows:
        """Run one statement; returns its cursor."""
        self.statements += 1
        try:
            return self.connection.execute(sql, params)
        except sqlite3.Error as exc:
            raise self._fail(exc) from exc

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run one statement for each row."""
        batch = list(rows)
        self.statements += len(batch)
        try:
            self.connection.executemany(sql, batch)
        except sqlite3.Error as exc:
            raise self._fail(exc) from exc

    @contextmanager
    def transaction(self) -> Iterator[Database]:
        """``BEGIN IMMEDIATE`` … ``COMMIT``, or ``ROLLBACK`` on any error."""
        self.execute("BEGIN IMMEDIATE")
        try:
            yield self
        except BaseException:
            self.connection.execute("ROLLBACK")
            raise
        self.execute("COMMIT")

    def table_exists(self, name: str) -> bool:
        """Whether ``sqlite_master`` lists the table."""
        row = self.execute(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (name,)
        ).fetchone()
        return row is not None

    def close(self) -> None:
        """Close the connection."""
        self.connection.close()
