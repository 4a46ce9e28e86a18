"""The throwaway PostgreSQL server that the suite starts for itself (tests/postgres.py)."""

from __future__ import annotations

import psycopg
import pytest

from tests.postgres import PgTarget, PostgresServer


def test_okr_connects_over_tcp_with_its_password(postgres_db: PgTarget) -> None:
    assert postgres_db.url.startswith("postgresql://okr@127.0.0.1:")
    assert "okr-test-password" not in postgres_db.url
    with psycopg.connect(postgres_db.url, password=postgres_db.password) as conn:
        assert conn.execute("select 1").fetchone() == (1,)
        who = conn.execute(
            "select current_user, current_database(), current_setting('is_superuser')"
        ).fetchone()
    assert who == ("okr", postgres_db.database, "off")


def test_okr_owns_its_database_and_can_create_tables(postgres_db: PgTarget) -> None:
    with psycopg.connect(postgres_db.url, password=postgres_db.password) as conn:
        conn.execute("create table t (id int primary key, name text)")
        conn.execute("insert into t values (1, 'one')")
        assert conn.execute("select name from t").fetchall() == [("one",)]
    owner = postgres_db.server.admin(
        "select pg_get_userbyid(datdba) from pg_database where datname = current_database()",
        dbname=postgres_db.database,
    )
    assert owner == [("okr",)]


def test_wrong_password_is_refused(postgres_server: PostgresServer) -> None:
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(postgres_server.url(), password="not-the-password", connect_timeout=10)


def test_superuser_cannot_log_in_over_tcp(postgres_server: PostgresServer) -> None:
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(postgres_server.url(user="okr_admin"), password="", connect_timeout=10)


def test_the_server_listens_on_loopback_only(postgres_server: PostgresServer) -> None:
    rows = postgres_server.admin("select current_setting('listen_addresses')")
    assert rows == [("127.0.0.1",)]
    assert postgres_server.host == "127.0.0.1"


def test_admin_runs_as_superuser_over_the_unix_socket(postgres_server: PostgresServer) -> None:
    rows = postgres_server.admin(
        "select current_user, current_setting('is_superuser'), inet_server_addr() is null"
    )
    assert rows == [("okr_admin", "on", True)]  # no server address: a Unix-socket connection
    assert postgres_server.admin("set application_name = 'x'") == []
    settings = dict(
        postgres_server.admin(
            "select name, setting from pg_settings where name = any(%s)",
            params=(["fsync", "synchronous_commit", "full_page_writes", "max_connections"],),
        )
    )
    assert settings == {
        "fsync": "off",
        "synchronous_commit": "off",
        "full_page_writes": "off",
        "max_connections": "200",
    }


def test_two_databases_are_distinct(
    postgres_server: PostgresServer, postgres_db: PgTarget, request: pytest.FixtureRequest
) -> None:
    # A second database through the same machinery as the fixture.
    other = postgres_server.unique_database_name()
    postgres_server.create_database(other)
    request.addfinalizer(lambda: postgres_server.drop_database(other))
    assert other != postgres_db.database
    with psycopg.connect(postgres_db.url, password=postgres_db.password) as conn:
        conn.execute("create table only_here (x int)")
    with psycopg.connect(postgres_server.url(other), password=postgres_server.password) as conn:
        found = conn.execute("select to_regclass('only_here') is not null").fetchone()
    assert found == (False,)


_seen: list[str] = []


@pytest.mark.parametrize("round_", [1, 2])
def test_each_test_gets_a_fresh_database(postgres_db: PgTarget, round_: int) -> None:
    assert postgres_db.database not in _seen
    _seen.append(postgres_db.database)
    with psycopg.connect(postgres_db.url, password=postgres_db.password) as conn:
        tables = conn.execute(
            "select count(*) from pg_tables where schemaname = 'public'"
        ).fetchone()
    assert tables == (0,)


def test_terminate_kills_a_client_connection(postgres_db: PgTarget) -> None:
    server = postgres_db.server
    with (
        psycopg.connect(
            postgres_db.url, password=postgres_db.password, application_name="okr-victim"
        ) as victim,
        psycopg.connect(
            postgres_db.url, password=postgres_db.password, application_name="okr-bystander"
        ) as bystander,
    ):
        assert victim.execute("select 1").fetchone() == (1,)
        assert server.terminate("okr-vic%") == 1
        with pytest.raises(psycopg.OperationalError):
            victim.execute("select 1")
        assert bystander.execute("select 1").fetchone() == (1,)
        assert server.terminate("no-such-app%") == 0


def test_dropping_a_database_disconnects_its_clients(postgres_server: PostgresServer) -> None:
    name = postgres_server.unique_database_name()
    postgres_server.create_database(name)
    conn = psycopg.connect(postgres_server.url(name), password=postgres_server.password)
    try:
        postgres_server.drop_database(name)
        assert postgres_server.admin(
            "select count(*) from pg_database where datname = %s", params=(name,)
        ) == [(0,)]
        with pytest.raises(psycopg.OperationalError):
            conn.execute("select 1")
    finally:
        conn.close()


def test_a_second_server_starts_and_stops_cleanly(postgres_server: PostgresServer) -> None:
    server = PostgresServer(postgres_server.binaries).start()
    assert server.port != postgres_server.port
    workdir = server.workdir
    try:
        assert workdir is not None and workdir.is_dir()
        assert server.startup_seconds is not None and server.startup_seconds < 30
        with psycopg.connect(server.url(), password=server.password) as conn:
            assert conn.execute("select 1").fetchone() == (1,)
        server.restart()
        with psycopg.connect(server.url(), password=server.password) as conn:
            assert conn.execute("select 1").fetchone() == (1,)
    finally:
        server.stop()
    assert not workdir.exists()
    assert not server.running
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(server.url(), password=server.password, connect_timeout=5)
