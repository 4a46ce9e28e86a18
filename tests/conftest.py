from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import pytest

if TYPE_CHECKING:
    from tests.postgres import PgTarget, PostgresServer

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "quickstart"

NO_POSTGRES = "no PostgreSQL server binaries found (run `make test`, which installs them)"


@pytest.fixture
def example(tmp_path: Path) -> Path:
    """A fresh copy of the shipped quickstart example; returns its config path."""
    dest = tmp_path / "quickstart"
    shutil.copytree(EXAMPLE, dest, ignore=shutil.ignore_patterns(".okr-sync", "okr-status.json"))
    return dest / "okr-sync.yaml"


def _no_postgres(reason: str) -> NoReturn:
    """Skip, or fail when the run requires PostgreSQL (`make test` sets OKR_SYNC_REQUIRE_POSTGRES=1)."""
    if os.environ.get("OKR_SYNC_REQUIRE_POSTGRES") == "1":
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One real, throwaway PostgreSQL server for the whole test session (tests/postgres.py)."""
    try:
        from tests.postgres import PostgresServer, find_binaries
    except ImportError as error:  # psycopg missing
        _no_postgres(f"cannot use PostgreSQL from the tests: {error}")
    binaries = find_binaries()
    if binaries is None:
        _no_postgres(NO_POSTGRES)
    server = PostgresServer(binaries).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_db(postgres_server: PostgresServer) -> Iterator[PgTarget]:
    """A fresh database owned by `okr` for one test, dropped afterwards."""
    from tests.postgres import PgTarget

    name = postgres_server.unique_database_name()
    postgres_server.create_database(name, owner="okr")
    try:
        yield PgTarget(
            url=postgres_server.url(name),
            password=postgres_server.password,
            server=postgres_server,
            database=name,
        )
    finally:
        postgres_server.drop_database(name)  # disconnects the test's leftover clients first


# The two state-store backends (tests/backends.py), for tests that must hold on both.
from tests.backends import backend  # noqa: E402, F401
