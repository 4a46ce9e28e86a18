"""A state store on PostgreSQL that cannot be used: what ``okr-sync`` says, and that it writes nothing.

``okr-sync`` commands on the shipped quickstart (its write target is the file
``okr-status.json``), its ``state:`` pointed at a namespace of the suite's server:
an unreachable server, a wrong password, a missing database, an unset password
variable, a password inside the URL, a namespace written by a newer okr-sync and
a namespace that keeps another OKR source's history. Each is refused with a message
that names the store (never its password) and says what to do, and neither the
target nor the namespace is touched.

The commands run in the test process (``tests/cli_runner.py``): what is checked is
what they print and their exit codes, which come from the same entry point and error
handling as in a process of their own; every connection they open is a new one to
the server, and each command closes its own before it returns.
"""

from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path

import pytest

from tests.backends import PASSWORD_VAR, pg_state_yaml, with_state
from tests.cli_runner import okr_sync as run_cli
from tests.postgres import PgTarget

NOW = "2026-11-15T12:00:00+00:00"  # inside the quickstart's cycle
NAMESPACE = "payments"
#: A password no one uses: it must never be echoed.
WRONG = "wrong-pw-7f3a9c21"


def okr_sync(config: Path, *args: str, env: dict[str, str | None] | None = None
             ) -> tuple[int, str, str]:  # fmt: skip
    """``okr-sync ARGS -c CONFIG``; returns (exit code, stdout, stderr)."""
    return run_cli(*args, "-c", str(config), env={"OKR_SYNC_NOW": NOW, **(env or {})})


def point_at(config: Path, url: str, namespace: str = NAMESPACE) -> Path:
    """The config with its ``state:`` in a PostgreSQL namespace."""
    config.write_text(with_state(config.read_text(), pg_state_yaml(url, namespace)))
    return config


def target_of(config: Path) -> Path:
    """The quickstart's write target."""
    return config.parent / "okr-status.json"


def runs_in(pg: PgTarget, namespace: str = NAMESPACE) -> int:
    (row,) = pg.server.admin(f"SELECT count(*) FROM okr_sync_{namespace}.runs", pg.database)
    return int(row[0])


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def pg_env(postgres_db: PgTarget) -> dict[str, str | None]:
    return {PASSWORD_VAR: postgres_db.password}


def test_an_unreachable_server_stops_every_command_before_it_writes(example: Path) -> None:
    # The target as a sync a week ago left it (state in the default SQLite file):
    # a sync now would rewrite it (expected progress and Last synced move on).
    week_ago = {"OKR_SYNC_NOW": "2026-11-08T12:00:00+00:00"}
    assert okr_sync(example, "sync", "-q", env=week_ago)[0] == 0
    code, out, _ = okr_sync(example, "plan", "--json")
    assert code == 0 and json.loads(out)["changes"], "a sync now would write"
    before = target_of(example).read_bytes()

    port = closed_port()
    config = point_at(example, f"postgresql://okr@127.0.0.1:{port}/okr")
    for command in ("sync", "plan", "status", "history"):
        code, out, err = okr_sync(config, command, env={PASSWORD_VAR: "some-password"})
        assert code == 1, (command, err)
        assert err.startswith("error: cannot connect to the state store postgresql://"), err
        # The store by its URL (the redactor hides even the user name) and namespace.
        assert f"@127.0.0.1:{port}/okr (namespace {NAMESPACE}): " in err
        assert "Connection refused; is the server running and reachable from here?" in err
        assert "some-password" not in out + err
        assert len(err.splitlines()) == 1  # one line, not libpq's several
    assert target_of(config).read_bytes() == before  # the sync never reached its target


def test_a_wrong_password_says_so_and_how_to_give_it_without_echoing_it(
    example: Path, postgres_db: PgTarget
) -> None:
    config = point_at(example, postgres_db.url)
    for command in ("sync", "plan", "status"):
        code, out, err = okr_sync(config, command, env={PASSWORD_VAR: WRONG})
        assert code == 1, (command, err)
        assert err.startswith("error: cannot connect to the state store postgresql://")
        assert 'password authentication failed for user "okr"' in err
        assert "state.password names an environment variable" in err
        assert "PGPASSWORD, ~/.pgpass or PGSERVICE" in err
        assert WRONG not in out + err
        assert postgres_db.password not in out + err
    assert not target_of(config).exists()


def test_a_missing_database_is_named(example: Path, postgres_db: PgTarget) -> None:
    url = postgres_db.url.rsplit("/", 1)[0] + "/no_such_database"
    config = point_at(example, url)
    for command in ("sync", "plan"):
        code, _, err = okr_sync(config, command, env={PASSWORD_VAR: postgres_db.password})
        assert code == 1, (command, err)
        assert "/no_such_database (namespace payments): " in err
        assert 'database "no_such_database" does not exist; create the database (createdb) ' in err
    assert not target_of(config).exists()


def test_an_unset_password_variable_is_named(example: Path, postgres_db: PgTarget) -> None:
    config = point_at(example, postgres_db.url)
    line = config.read_text().splitlines().index(f'  password: "${{{PASSWORD_VAR}}}"') + 1
    code, out, err = okr_sync(config, "sync", env={PASSWORD_VAR: None})
    assert code == 2 and out == ""  # a config error, found before anything is opened
    assert f"{config}:{line}: state.password: environment variable {PASSWORD_VAR} is not set" in err
    assert f"export {PASSWORD_VAR}=... before running okr-sync" in err
    # Commands that only read (no check of the config's variables) say the same at the store.
    for command in ("status", "history"):
        code, out, err = okr_sync(config, command, env={PASSWORD_VAR: None})
        assert code == 1, (command, err)
        assert err == (
            f"error: state.password names environment variable {PASSWORD_VAR}, "
            "which is not set or empty\n"
        )
    assert not target_of(config).exists()


def test_a_password_inside_the_url_is_a_config_error_that_never_echoes_it(
    example: Path, postgres_db: PgTarget
) -> None:
    url = postgres_db.url.replace("okr@", f"okr:{WRONG}@")
    config = point_at(example, url)
    line = next(i for i, text in enumerate(config.read_text().splitlines(), 1) if WRONG in text)
    for command in ("validate", "sync", "plan", "status"):
        code, out, err = okr_sync(config, command, env={PASSWORD_VAR: postgres_db.password})
        assert code == 2, (command, err)
        assert (
            f"{config}:{line}: state.url: a password inside a PostgreSQL URL is not allowed" in err
        )
        assert 'password: "${OKR_STATE_PASSWORD}"' in err  # what to write instead
        assert WRONG not in out + err
    assert not target_of(config).exists()


def test_a_namespace_written_by_a_newer_okr_sync_is_refused(
    example: Path, postgres_db: PgTarget, pg_env: dict[str, str | None]
) -> None:
    config = point_at(example, postgres_db.url)
    assert okr_sync(config, "sync", "-q", env=pg_env)[0] == 0
    written = target_of(config).read_bytes()
    postgres_db.server.admin(
        f"INSERT INTO okr_sync_{NAMESPACE}.schema_migrations "
        "VALUES ('9999_from_the_future', '2030-01-01')",
        postgres_db.database,
    )
    for command in ("sync", "plan", "status", "history"):
        code, _, err = okr_sync(config, command, env=pg_env)
        assert code == 1, (command, err)
        assert err.startswith("error: the state store postgresql://"), err
        assert f"(namespace {NAMESPACE}) was written by a newer okr-sync" in err
        assert "9999_from_the_future" in err and err.rstrip().endswith("upgrade okr-sync")
    assert runs_in(postgres_db) == 1
    assert target_of(config).read_bytes() == written


def test_another_okr_source_on_the_same_namespace_is_refused_and_leaves_no_trace(
    example: Path, postgres_db: PgTarget, pg_env: dict[str, str | None], tmp_path: Path
) -> None:
    first = point_at(example, postgres_db.url)
    assert okr_sync(first, "sync", "-q", env=pg_env)[0] == 0
    # Another team's config: its own OKR file, the same database and namespace.
    other = tmp_path / "other"
    shutil.copytree(first.parent, other, ignore=shutil.ignore_patterns("okr-status.json"))
    (other / "okrs.yaml").rename(other / "other-okrs.yaml")
    config = other / "okr-sync.yaml"
    config.write_text(config.read_text().replace("path: okrs.yaml", "path: other-okrs.yaml"))
    before = runs_in(postgres_db)
    for command in ("sync", "plan"):
        code, _, err = okr_sync(config, command, env=pg_env)
        assert code == 2, (command, err)
        assert err.startswith("error: the state store postgresql://"), err
        assert f"(namespace {NAMESPACE}) keeps the history of another OKR source " in err
        assert "(yaml_okrs:okrs.yaml), not of this config's (yaml_okrs:other-okrs.yaml)" in err
        assert "another namespace or path" in err
    assert runs_in(postgres_db) == before == 1
    assert not target_of(config).exists()
    assert okr_sync(first, "sync", "-q", env=pg_env)[0] == 0  # the owner still syncs
    assert runs_in(postgres_db) == 2


@pytest.mark.parametrize(
    ("libpq", "said"),
    [
        (
            'connection failed: connection to server at "db", port 5432 failed: Connection '
            "refused\n\tIs the server running on that host and accepting TCP/IP connections?",
            'connection to server at "db", port 5432 failed: Connection refused',
        ),
        (
            'connection failed: connection to server at "db", port 5432 failed: FATAL:  '
            'password authentication failed for user "okr"',
            'connection to server at "db", port 5432 failed: password authentication failed '
            'for user "okr"',
        ),
        (
            "terminating connection due to administrator command\nserver closed the connection "
            "unexpectedly\n\tThis probably means the server terminated abnormally\n\tbefore or "
            "while processing the request.",
            "terminating connection due to administrator command; server closed the connection "
            "unexpectedly",
        ),
    ],
)
def test_libpq_messages_are_said_on_one_line_without_libpqs_own_advice(
    libpq: str, said: str
) -> None:
    from okr_sync.state.postgres import _reason

    assert _reason(Exception(libpq)) == said
