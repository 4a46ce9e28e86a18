"""A real, throwaway PostgreSQL server for the tests.

`PostgresServer` runs `initdb` into a fresh temporary directory and starts a server from it with
`pg_ctl`; `stop()` shuts it down (fast mode) and removes the directory. The binaries come from
PATH, else from the newest `/usr/lib/postgresql/*/bin` (where Debian's `postgresql` package puts
them; `scripts/ensure-postgresql`, which `make test` runs first, installs that package when
neither has them).

The server is only for this machine and is tuned for speed, not durability:

* it listens on 127.0.0.1 only, on a free port, and on a Unix socket inside the temporary
  directory (no other directory is touched);
* `fsync`, `synchronous_commit` and `full_page_writes` are off; `max_connections` is 200;
* no autovacuum (the tests make hundreds of short-lived databases, and the launcher kept
  starting a worker for each), minimal WAL (nothing replicates from it) and no JIT;
* the superuser is `okr_admin`, trusted over the Unix socket only (`admin()` uses it); over TCP
  every role needs its password (`scram-sha-256`), so the superuser cannot log in there at all;
* the login role `okr` (not a superuser) has the password `okr-test-password` (`password`) and
  owns the database `okr`; `url()` gives a `postgresql://` URL without the password.

Root: PostgreSQL refuses to run as root, and CI runs the suite as root. When the effective user
is root, initdb, pg_ctl and the server run as an unprivileged user instead: the `postgres` system
user when it exists (Debian's package creates it), else a system user `okr-pg-test` that this
module creates once with `useradd --system`. The commands go through `runuser -u USER --` (or
`setpriv` where runuser is missing), the temporary directory is chowned to that user, and it is
made under a parent directory that the user can traverse (the temporary directory root, else
/tmp). Root itself still connects over the socket and removes the directory at the end.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import re
import shutil
import socket
import stat
import subprocess
import tempfile
import time
import uuid
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

BINARIES = ("initdb", "pg_ctl", "postgres")
DEBIAN_LIB = Path("/usr/lib/postgresql")
ADMIN_USER = "okr_admin"
APP_USER = "okr"
APP_PASSWORD = "okr-test-password"
APP_DATABASE = "okr"
DEDICATED_USER = "okr-pg-test"
HOST = "127.0.0.1"
START_TIMEOUT = 60  # seconds pg_ctl waits for the server to accept connections
_MAX_PORT_TRIES = 5


@dataclass(frozen=True)
class Binaries:
    """The directory holding initdb, pg_ctl and postgres, and the server's major version."""

    bindir: Path
    version: int

    def __getitem__(self, name: str) -> str:
        return str(self.bindir / name)


def _version_of(bindir: Path) -> int:
    out = subprocess.run(
        [str(bindir / "postgres"), "--version"], capture_output=True, text=True, check=True
    ).stdout
    found = re.search(r"(\d+)(?:\.\d+)?", out)
    if not found:
        raise RuntimeError(f"cannot read the PostgreSQL version from {out!r}")
    return int(found.group(1))


def _complete(bindir: Path) -> bool:
    return all(os.access(bindir / name, os.X_OK) for name in BINARIES)


def find_binaries() -> Binaries | None:
    """Where the server binaries are: PATH first, then the newest /usr/lib/postgresql/*/bin.

    Returns None when no directory holds all of initdb, pg_ctl and postgres.
    """
    candidates: list[Path] = []
    initdb = shutil.which("initdb")
    if initdb:
        # Resolve symlinks (e.g. /usr/local/bin/initdb -> /usr/lib/postgresql/15/bin/initdb):
        # the three must come from one installation.
        candidates.append(Path(os.path.realpath(initdb)).parent)
        candidates.append(Path(initdb).parent)

    def major(path: Path) -> tuple[int, str]:
        name = path.parent.name
        return (int(name), name) if name.isdigit() else (-1, name)

    candidates += sorted(DEBIAN_LIB.glob("*/bin"), key=major, reverse=True)
    for bindir in candidates:
        if _complete(bindir):
            try:
                return Binaries(bindir, _version_of(bindir))
            except (OSError, subprocess.CalledProcessError, RuntimeError):
                continue
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class _RunAs:
    """The unprivileged user the server runs as when we are root (None: run as ourselves)."""

    name: str
    uid: int
    gid: int

    def wrap(self, argv: Sequence[str]) -> list[str]:
        if shutil.which("runuser"):
            return ["runuser", "-u", self.name, "--", *argv]
        if shutil.which("setpriv"):
            return [
                "setpriv",
                f"--reuid={self.uid}",
                f"--regid={self.gid}",
                "--init-groups",
                "--",
                *argv,
            ]
        raise RuntimeError("running PostgreSQL as root needs runuser or setpriv to drop to a user")


def _server_user() -> _RunAs | None:
    if os.geteuid() != 0:
        return None
    for name in ("postgres", DEDICATED_USER):
        with contextlib.suppress(KeyError):
            entry = pwd.getpwnam(name)
            if entry.pw_uid != 0:
                return _RunAs(name, entry.pw_uid, entry.pw_gid)
    useradd = shutil.which("useradd")
    if not useradd:
        raise RuntimeError(
            "PostgreSQL refuses to run as root and there is neither a postgres user nor "
            "useradd to create one"
        )
    done = subprocess.run(
        [
            useradd,
            "--system",
            "--user-group",
            "--no-create-home",
            "--home-dir",
            "/nonexistent",
            "--shell",
            "/usr/sbin/nologin",
            "--comment",
            "okr-sync tests (throwaway PostgreSQL servers)",
            DEDICATED_USER,
        ],
        capture_output=True,
        text=True,
    )
    # 9: the user exists (another test session created it in the meantime).
    if done.returncode not in (0, 9):
        raise RuntimeError(f"useradd {DEDICATED_USER} failed: {done.stderr.strip()}")
    entry = pwd.getpwnam(DEDICATED_USER)
    return _RunAs(DEDICATED_USER, entry.pw_uid, entry.pw_gid)


def _traversable(path: Path, user: _RunAs) -> bool:
    """Whether `user` can reach entries inside `path` (search permission on it and its parents)."""
    groups = {user.gid} | {g.gr_gid for g in grp.getgrall() if user.name in g.gr_mem}
    for directory in (path, *path.parents):
        try:
            st = directory.stat()
        except OSError:
            return False
        if st.st_uid == user.uid:
            ok = bool(st.st_mode & stat.S_IXUSR)
        elif st.st_gid in groups:
            ok = bool(st.st_mode & stat.S_IXGRP)
        else:
            ok = bool(st.st_mode & stat.S_IXOTH)
        if not ok:
            return False
    return True


def _make_workdir(user: _RunAs | None) -> Path:
    prefix = "okr-pg-"
    if user is None:
        return Path(tempfile.mkdtemp(prefix=prefix))
    for parent in (Path(tempfile.gettempdir()), Path("/tmp")):
        if _traversable(parent.resolve(), user):
            workdir = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
            os.chown(workdir, user.uid, user.gid)
            return workdir
    raise RuntimeError(
        f"no temporary directory that the user {user.name} can reach: "
        f"{tempfile.gettempdir()} and /tmp are closed to it"
    )


def _stop_quietly(pg_ctl: list[str], cwd: str) -> None:
    """Last-resort shutdown (garbage collection or interpreter exit) of a server left running."""
    with contextlib.suppress(OSError, subprocess.TimeoutExpired):
        subprocess.run(
            [*pg_ctl, "stop", "-m", "immediate", "-w", "-t", "30"],
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=60,
        )


@dataclass(frozen=True)
class PgTarget:
    """One test's own database on the session's server (the `postgres_db` fixture)."""

    url: str  # postgresql://okr@127.0.0.1:PORT/DATABASE, without the password
    password: str
    server: PostgresServer
    database: str


class PostgresServer:
    """A throwaway PostgreSQL server: `start()`, use, `stop()`."""

    def __init__(self, binaries: Binaries | None = None) -> None:
        found = binaries or find_binaries()
        if found is None:
            raise RuntimeError("no PostgreSQL server binaries (initdb, pg_ctl, postgres) found")
        self.binaries = found
        self.host = HOST
        self.port = 0
        self.password = APP_PASSWORD
        self.workdir: Path | None = None
        self.startup_seconds: float | None = None
        self._user: _RunAs | None = None
        self._finalizer: weakref.finalize[Any, Any] | None = None

    # -- paths ---------------------------------------------------------------------------------

    @property
    def datadir(self) -> Path:
        return self._workdir / "data"

    @property
    def socket_dir(self) -> Path:
        return self._workdir

    @property
    def logfile(self) -> Path:
        return self._workdir / "postgres.log"

    @property
    def _workdir(self) -> Path:
        if self.workdir is None:
            raise RuntimeError("the PostgreSQL server is not started")
        return self.workdir

    @property
    def running(self) -> bool:
        return self._finalizer is not None and self._finalizer.alive

    # -- life cycle ----------------------------------------------------------------------------

    def _run(self, argv: Sequence[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        command = self._user.wrap(argv) if self._user else list(argv)
        # cwd: the server's user may not be allowed into ours (e.g. a home directory).
        return subprocess.run(
            command,
            cwd=self._workdir,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=START_TIMEOUT + 30,
            **kwargs,
        )

    def _pg_ctl(self) -> list[str]:
        base = [self.binaries["pg_ctl"], "-D", str(self.datadir)]
        return self._user.wrap(base) if self._user else base

    def start(self) -> PostgresServer:
        """Create a fresh cluster in a new temporary directory and start the server on it."""
        if self.running:
            return self
        began = time.monotonic()
        self._user = _server_user()
        self.workdir = _make_workdir(self._user)
        try:
            self._initdb()
            self._start_on_free_port()
            self._finalizer = weakref.finalize(
                self, _stop_quietly, self._pg_ctl(), str(self._workdir)
            )
            self._bootstrap()
        except BaseException:
            self._teardown()
            raise
        self.startup_seconds = time.monotonic() - began
        return self

    def _initdb(self) -> None:
        done = self._run(
            [
                self.binaries["initdb"],
                "--pgdata",
                str(self.datadir),
                "--username",
                ADMIN_USER,
                "--auth-local",
                "trust",
                "--auth-host",
                "scram-sha-256",
                "--encoding",
                "UTF8",
                "--locale",
                "C",
                "--no-sync",
            ]
        )
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed:\n{done.stdout}\n{done.stderr}")
        # Our own authentication rules: the superuser over the socket only; TCP needs a password.
        (self.datadir / "pg_hba.conf").write_text(
            "# TYPE  DATABASE  USER       ADDRESS        METHOD\n"
            f"local   all       {ADMIN_USER}  {'':13}  trust\n"
            f"host    all       all        {HOST}/32   scram-sha-256\n"
        )
        settings = {
            "listen_addresses": f"'{HOST}'",
            "unix_socket_directories": f"'{self.socket_dir}'",
            "unix_socket_permissions": "0777",
            "password_encryption": "'scram-sha-256'",
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "autovacuum": "off",
            "wal_level": "minimal",
            "max_wal_senders": "0",
            "jit": "off",
            "max_connections": "200",
            "shared_buffers": "'32MB'",
            "max_wal_size": "'1GB'",
            "logging_collector": "off",
            "log_min_messages": "warning",
            "log_connections": "off",
            "log_disconnections": "off",
        }
        with (self.datadir / "postgresql.conf").open("a") as conf:
            conf.write("\n# okr-sync tests: a throwaway server\n")
            for key, value in settings.items():
                conf.write(f"{key} = {value}\n")

    def _start_on_free_port(self) -> None:
        for _ in range(_MAX_PORT_TRIES):
            self.port = _free_port()
            done = self._run(
                [
                    self.binaries["pg_ctl"],
                    "-D",
                    str(self.datadir),
                    "-l",
                    str(self.logfile),
                    "-o",
                    f"-p {self.port}",
                    "-w",
                    "-t",
                    str(START_TIMEOUT),
                    "start",
                ]
            )
            if done.returncode == 0:
                return
            log = self.logfile.read_text(errors="replace") if self.logfile.exists() else ""
            if "could not bind" not in log and "in use" not in log:
                raise RuntimeError(f"PostgreSQL did not start:\n{done.stdout}{done.stderr}\n{log}")
        raise RuntimeError(f"PostgreSQL found no free port in {_MAX_PORT_TRIES} tries")

    def _bootstrap(self) -> None:
        self.admin(
            sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER PASSWORD {}").format(
                sql.Identifier(APP_USER), sql.Literal(APP_PASSWORD)
            ),
            dbname="postgres",
        )
        self.create_database(APP_DATABASE, owner=APP_USER)

    def stop(self) -> None:
        """Shut the server down (fast mode: clients are disconnected) and remove its directory."""
        if self.workdir is None:
            return
        self._teardown()

    def _teardown(self) -> None:
        if self._finalizer is not None:
            self._finalizer.detach()
            self._finalizer = None
        if self.workdir is not None and (self.datadir / "postmaster.pid").exists():
            pg_ctl = [self.binaries["pg_ctl"], "-D", str(self.datadir)]
            with contextlib.suppress(subprocess.TimeoutExpired):
                done = self._run([*pg_ctl, "stop", "-m", "fast", "-w", "-t", "60"])
                if done.returncode == 0:
                    pg_ctl = []
            if pg_ctl:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self._run([*pg_ctl, "stop", "-m", "immediate", "-w", "-t", "30"])
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

    def restart(self) -> None:
        """Restart the server on the same port and data (clients are disconnected)."""
        # -l: the server's output must go to the log, not to our pipe (which would never close).
        done = self._run(
            [
                self.binaries["pg_ctl"],
                "-D",
                str(self.datadir),
                "-l",
                str(self.logfile),
                "-m",
                "fast",
                "-w",
                "-t",
                str(START_TIMEOUT),
                "restart",
            ]
        )
        if done.returncode != 0:
            raise RuntimeError(f"PostgreSQL did not restart:\n{done.stdout}{done.stderr}")

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- clients -------------------------------------------------------------------------------

    def url(self, database: str = APP_DATABASE, user: str = APP_USER) -> str:
        """A `postgresql://user@127.0.0.1:PORT/database` URL, without the password."""
        return f"postgresql://{user}@{self.host}:{self.port}/{database}"

    def connect(self, database: str = APP_DATABASE, **kwargs: Any) -> psycopg.Connection[Any]:
        """A psycopg connection as `okr` over TCP, with the password."""
        return psycopg.connect(
            self.url(database), password=self.password, connect_timeout=10, **kwargs
        )

    def admin_connect(self, dbname: str = APP_DATABASE) -> psycopg.Connection[Any]:
        """An autocommit psycopg connection as the superuser over the Unix socket."""
        return psycopg.connect(
            host=str(self.socket_dir),
            port=self.port,
            user=ADMIN_USER,
            dbname=dbname,
            autocommit=True,
            application_name="okr-test-admin",
            connect_timeout=10,
        )

    def admin(
        self,
        query: str | sql.Composable,
        dbname: str = APP_DATABASE,
        *,
        params: Sequence[Any] | dict[str, Any] | None = None,
    ) -> list[tuple[Any, ...]]:
        """Run SQL as the superuser over the Unix socket (autocommit); returns its rows, if any."""
        with self.admin_connect(dbname) as conn, conn.cursor() as cur:
            cur.execute(query, params)  # type: ignore[arg-type]
            return list(cur.fetchall()) if cur.description is not None else []

    def create_database(
        self, name: str, owner: str = APP_USER, *, template: str | None = None
    ) -> None:
        """Create a database; ``template``: as a copy of that one (which nobody may be using)."""
        copy = sql.SQL(" TEMPLATE {}").format(sql.Identifier(template)) if template else sql.SQL("")
        self.admin(
            sql.SQL("CREATE DATABASE {} OWNER {}{}").format(
                sql.Identifier(name), sql.Identifier(owner), copy
            ),
            dbname="postgres",
        )

    def drop_database(self, name: str) -> None:
        """Drop a database (if it exists), disconnecting its clients first."""
        self.terminate(database=name)
        force = sql.SQL(" WITH (FORCE)") if self.binaries.version >= 13 else sql.SQL("")
        self.admin(
            sql.SQL("DROP DATABASE IF EXISTS {}{}").format(sql.Identifier(name), force),
            dbname="postgres",
        )

    def terminate(
        self, application_name_like: str | None = None, *, database: str | None = None
    ) -> int:
        """Kill client connections (not the admin's own); returns how many were killed.

        `application_name_like` keeps only clients whose application_name is LIKE the pattern;
        `database` only those connected to that database.
        """
        rows = self.admin(
            """
            SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))
              FROM pg_stat_activity
             WHERE backend_type = 'client backend'
               AND pid <> pg_backend_pid()
               AND (%(app)s::text IS NULL OR application_name LIKE %(app)s::text)
               AND (%(db)s::text IS NULL OR datname = %(db)s::text)
            """,
            dbname="postgres",
            params={"app": application_name_like, "db": database},
        )
        return int(rows[0][0])

    def unique_database_name(self, prefix: str = "okr_test") -> str:
        return f"{prefix}_{uuid.uuid4().hex[:12]}"

    def __repr__(self) -> str:
        state = f"{self.host}:{self.port}" if self.running else "stopped"
        return (
            f"PostgresServer({self.binaries.bindir}, PostgreSQL {self.binaries.version}, {state})"
        )
