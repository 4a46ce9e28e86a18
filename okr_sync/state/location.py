"""Where a state store lives: a SQLite file, or a namespace of a PostgreSQL database.

The config's ``state:`` section picks one (see :func:`state_location`):

- ``path: .okr-sync/state.db`` (the default): a SQLite file, locked with a lock
  file next to it (:mod:`okr_sync.state.lock`);
- ``url: postgresql://okr@db.internal:5432/okr`` with ``namespace: payments``
  (required) and optionally ``password: "${VAR}"``: a schema of that database,
  locked with advisory locks (:mod:`okr_sync.state.postgres`).

Every command reaches its store through a :class:`StateLocation`, so nothing
above this package knows which database it is.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

from okr_sync.errors import StateError
from okr_sync.state.lock import RunLock, read_holder, schedule_lock_path
from okr_sync.state.store import StateStore

#: A namespace: lower-case letters, digits and "_", starting with a letter.
NAMESPACE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_ENV_REF = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")


class StateSettings(Protocol):
    """The config's ``state:`` section, as this package reads it."""

    @property
    def path(self) -> str | None:
        """A SQLite file."""

    @property
    def url(self) -> str | None:
        """A PostgreSQL database."""

    @property
    def namespace(self) -> str | None:
        """The namespace in that database."""

    @property
    def password(self) -> str | None:
        """An environment reference to the password, if libpq should not find it."""


class Lock(Protocol):
    """A run or scheduler lock: a context manager with the holder a dead run left."""

    recovered_from: dict[str, object] | None

    def acquire(self) -> Any:
        """Take the lock (LockHeld if another live process holds it)."""

    def release(self) -> None:
        """Release it."""

    def __enter__(self) -> Any: ...

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None: ...


class StateLocation:
    """Opens a state store and its locks; ``str()`` names it (never with a password)."""

    #: ``sqlite`` or ``postgresql``.
    backend = ""

    def open(self) -> StateStore:
        """Open for writing (creating and migrating as needed)."""
        raise NotImplementedError

    def open_readonly(self) -> StateStore:
        """Open for reading; a store never written is an empty in-memory one."""
        raise NotImplementedError

    def exists(self) -> bool:
        """Whether a store was ever written here."""
        raise NotImplementedError

    def run_lock(self, *, advice: str = "wait for it to finish") -> Lock:
        """The lock a run (or anything that writes the store) holds."""
        raise NotImplementedError

    def schedule_lock(self, *, holder: str, advice: str, details: dict[str, str]) -> Lock:
        """The lock an ``okr-sync schedule`` process holds for its whole life."""
        raise NotImplementedError

    def holder(self, kind: str) -> dict[str, object] | None:
        """The record left by the holder of the ``run`` or ``schedule`` lock, if any."""
        raise NotImplementedError


class SqliteLocation(StateLocation):
    """A SQLite file; its locks are files next to it."""

    backend = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = path

    def __str__(self) -> str:
        return str(self.path)

    def lock_path(self) -> Path:
        """The run lock's file: ``<state>.lock``."""
        return self.path.with_name(self.path.name + ".lock")

    def open(self) -> StateStore:
        """Open the file for writing."""
        return StateStore.open(self.path)

    def open_readonly(self) -> StateStore:
        """Open the file read-only."""
        return StateStore.open_readonly(self.path)

    def exists(self) -> bool:
        """Whether the file exists."""
        return self.path.exists()

    def run_lock(self, *, advice: str = "wait for it to finish") -> Lock:
        """``flock`` on ``<state>.lock``."""
        return RunLock(self.lock_path(), advice=advice)

    def schedule_lock(self, *, holder: str, advice: str, details: dict[str, str]) -> Lock:
        """``flock`` on ``<state>.schedule.lock``."""
        return RunLock(schedule_lock_path(self.path), holder=holder, advice=advice,
                       details=details)  # fmt: skip

    def holder(self, kind: str) -> dict[str, object] | None:
        """The record in the lock file."""
        path = self.lock_path() if kind == "run" else schedule_lock_path(self.path)
        return read_holder(path)


def display_url(url: str) -> str:
    """A URL as shown to people: without any password, query or fragment."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    if parts.username:
        host = f"{parts.username}@{host}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


class PostgresLocation(StateLocation):
    """A namespace (schema) of a PostgreSQL database; advisory locks per namespace."""

    backend = "postgresql"

    def __init__(self, url: str, namespace: str, password_ref: str | None = None) -> None:
        self.url = url
        self.namespace = namespace
        self.password_ref = password_ref

    def __str__(self) -> str:
        return f"{display_url(self.url)} (namespace {self.namespace})"

    def password(self) -> str | None:
        """The password the config names (``${VAR}``), or None to let libpq find it."""
        if self.password_ref is None:
            return None
        match = _ENV_REF.match(self.password_ref)
        name = match.group(1) if match else self.password_ref
        value = os.environ.get(name, "")
        if not value:
            raise StateError(
                f"state.password names environment variable {name}, which is not set or empty"
            )
        return value

    def _open(self, readonly: bool) -> StateStore | None:
        from okr_sync.state.postgres import open_namespace

        db = open_namespace(self.url, self.password(), self.namespace, str(self),
                            readonly=readonly)  # fmt: skip
        return None if db is None else StateStore.on(db, readonly=readonly)

    def open(self) -> StateStore:
        """Connect, create the namespace if new, and migrate it."""
        store = self._open(readonly=False)
        assert store is not None
        return store

    def open_readonly(self) -> StateStore:
        """Connect read-only; a namespace never written is an empty in-memory store."""
        return self._open(readonly=True) or StateStore.in_memory()

    def exists(self) -> bool:
        """Whether the namespace's schema holds a store."""
        store = self._open(readonly=True)
        if store is None:
            return False
        try:
            return store.has_runs_table()
        finally:
            store.close()

    def _lock(self, kind: str, **wording: str | dict[str, str]) -> Lock:
        from okr_sync.state.postgres import AdvisoryLock

        return AdvisoryLock(self.url, self.password(), self.namespace, str(self), kind=kind,
                            **wording)  # type: ignore[arg-type]  # fmt: skip

    def run_lock(self, *, advice: str = "wait for it to finish") -> Lock:
        """The namespace's run advisory lock."""
        return self._lock("run", advice=advice)

    def schedule_lock(self, *, holder: str, advice: str, details: dict[str, str]) -> Lock:
        """The namespace's scheduler advisory lock."""
        return self._lock("schedule", holder=holder, advice=advice, details=details)

    def holder(self, kind: str) -> dict[str, object] | None:
        """The holder of the namespace's lock, while some session holds it (else None)."""
        from okr_sync.state.postgres import lock_held, open_namespace, read_holder

        db = open_namespace(self.url, self.password(), self.namespace, str(self), readonly=True)
        if db is None:
            return None
        try:
            if not lock_held(db, kind, self.namespace):
                return None
            return read_holder(db, kind) or {"pid": "?", "host": "?", "since": "?"}
        finally:
            db.close()


def state_location(settings: StateSettings, base_dir: Path) -> StateLocation:
    """The location a validated ``state:`` section names (relative paths from ``base_dir``)."""
    if settings.url:
        assert settings.namespace, "the config model requires a namespace with a url"
        return PostgresLocation(settings.url, settings.namespace, settings.password)
    path = Path(settings.path or ".okr-sync/state.db").expanduser()
    return SqliteLocation(path if path.is_absolute() else base_dir / path)
