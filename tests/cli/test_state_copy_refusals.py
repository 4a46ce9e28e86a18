"""``okr-sync state copy`` refuses what would lose or leak something (the quickstart example).

A destination that holds anything, the config's own store however it is spelled,
a password in ``--to`` (never echoed, never made into a file name), a PostgreSQL
destination without a valid namespace or with an unset password variable, a
destination file that is no okr-sync store (left untouched), a store without runs,
and a lock held by a sync on either side (exit 3, nothing written).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from okr_sync.cli.common import location_of
from okr_sync.cli.main import main
from okr_sync.config.loading import load_config
from okr_sync.state.location import PostgresLocation, SqliteLocation
from tests.backends import NAMESPACE as BACKEND_NAMESPACE
from tests.backends import PASSWORD_VAR, Backend, pg_state_yaml, with_state
from tests.postgres import PgTarget

NAMESPACE = "payments"


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def synced(example: Path, state_yaml: str, name: str = "okr-sync.yaml") -> Path:
    """The example with this ``state:`` section, synced once; returns the config."""
    config = example.with_name(name)
    config.write_text(with_state(example.read_text(), state_yaml))
    code, _, err = invoke("sync", "-q", "-c", str(config))
    assert code == 0, err
    return config


def run_count(config: Path) -> int:
    code, out, _ = invoke("status", "--json", "-c", str(config))
    assert code == 0
    return len(json.loads(out)["runs"])


def copy(config: Path, *args: str) -> tuple[int, str, str]:
    return invoke("state", "copy", "-c", str(config), "--to", *args)


def test_a_destination_holding_runs_is_refused_and_named(
    example: Path, postgres_db: PgTarget, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PASSWORD_VAR, postgres_db.password)
    lite = synced(example, "state:\n  path: .okr-sync/state.db\n")
    pg = synced(example, pg_state_yaml(postgres_db.url, NAMESPACE), "okr-sync-pg.yaml")
    shown_pg = postgres_db.url.replace("://okr@", "://***@") + f" (namespace {NAMESPACE})"
    code, out, err = copy(lite, postgres_db.url, "--namespace", NAMESPACE,
                          "--password-env", PASSWORD_VAR)  # fmt: skip
    assert code == 1 and out == ""
    assert f"the destination {shown_pg} already holds runs" in err
    lite_path = str(example.parent / ".okr-sync" / "state.db")
    code, out, err = copy(pg, lite_path)
    assert code == 1 and f"the destination {lite_path} already holds runs" in err
    assert run_count(lite) == run_count(pg) == 1  # neither was written


def test_a_destination_with_rows_but_no_run_is_refused(example: Path, tmp_path: Path) -> None:
    config = synced(example, "state:\n  path: .okr-sync/state.db\n")
    claimed, cached = tmp_path / "claimed.db", tmp_path / "cached.db"
    store = SqliteLocation(claimed).open()
    store.check_source("yaml_okrs:elsewhere/okrs.yaml", claim=True)  # a sync that died at once
    store.close()
    store = SqliteLocation(cached).open()
    store.database.execute(
        "INSERT INTO cursors (source, cursor, fingerprint, updated_at) VALUES ('w', 'c', 'f', 'now')"
    )
    store.close()
    code, _, err = copy(config, str(claimed))
    assert code == 1 and "is claimed by another OKR source (yaml_okrs:elsewhere/okrs.yaml)" in err
    code, _, err = copy(config, str(cached))
    assert code == 1 and f"the destination {cached} is not empty (its table cursors" in err


def test_the_configs_own_store_is_refused_however_it_is_spelled(
    example: Path, backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = synced(example, backend.state_yaml)
    if isinstance(backend.location, PostgresLocation):
        url = backend.location.url.replace("postgresql://", "postgres://") + "?sslmode=disable"
        args: tuple[str, ...] = (url, "--namespace", BACKEND_NAMESPACE,
                                  "--password-env", PASSWORD_VAR)  # fmt: skip
    else:
        assert isinstance(backend.location, SqliteLocation)
        folder = backend.location.path.parent
        monkeypatch.chdir(folder)
        args = (f"../{folder.name}/./{backend.location.path.name}",)
    code, out, err = copy(config, *args)
    assert code == 2 and out == "", err
    assert "the destination is the config's own state store" in err
    assert run_count(config) == 1


@pytest.mark.parametrize(
    "to",
    [
        "postgresql://okr:S3cret-pw@127.0.0.1:5432/okr",
        "postgresql://okr@127.0.0.1:5432/okr?sslmode=require&password=S3cret-pw",
        "host=127.0.0.1 user=okr password=S3cret-pw dbname=okr",
    ],
)
def test_a_password_in_the_destination_is_refused_and_never_echoed(
    example: Path, to: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = synced(example, "state:\n  path: .okr-sync/state.db\n")
    monkeypatch.chdir(example.parent)
    for namespace in (("--namespace", "payments"), ()):
        code, out, err = copy(config, to, *namespace)
        assert code == 2 and "password" in err
        assert "S3cret-pw" not in out + err
    assert sorted(p.name for p in example.parent.iterdir()) == sorted(
        ["okr-sync.yaml", "okrs.yaml", "work-items.json", "okr-status.json", ".okr-sync"]
    )  # nothing made of it, not even a file


def test_a_postgresql_destination_needs_a_valid_namespace(example: Path) -> None:
    config = synced(example, "state:\n  path: .okr-sync/state.db\n")
    url = "postgresql://okr@127.0.0.1:5432/okr"
    code, out, err = copy(config, url)
    assert code == 2 and out == "" and "needs --namespace" in err
    code, _, err = copy(config, url, "--namespace", "Team-A")
    assert code == 2 and "lower-case letters" in err
    code, _, err = copy(config, url, "--namespace", "team_a", "--password-env", "NO_SUCH_VAR_X")
    assert code == 2 and "NO_SUCH_VAR_X" in err and "not set" in err


def test_a_sync_holding_a_lock_makes_the_copy_wait(
    example: Path, backend: Backend, tmp_path: Path
) -> None:
    config = synced(example, backend.state_yaml)
    source = location_of(load_config(config, check_env=False))
    destination = tmp_path / "copy" / "state.db"
    with source.run_lock():
        code, out, err = copy(config, str(destination))
    assert code == 3 and out == ""
    assert f"pid {os.getpid()}" in err and "wait for it to finish, then copy" in err
    with SqliteLocation(destination).run_lock():
        code, _, err = copy(config, str(destination))
    assert code == 3 and "holds the lock" in err
    assert not destination.exists()
    code, out, _ = copy(config, str(destination))  # once the locks are free
    assert code == 0 and "1 runs" in out


def test_a_store_without_runs_has_nothing_to_copy(example: Path, tmp_path: Path) -> None:
    code, _, err = copy(example, str(tmp_path / "copy.db"))
    assert code == 1 and "no runs recorded yet" in err
    assert not (tmp_path / "copy.db").exists()


def test_a_destination_file_that_is_no_state_store_is_left_alone(example: Path) -> None:
    config = synced(example, "state:\n  path: .okr-sync/state.db\n")
    okrs = example.with_name("okrs.yaml")
    text, mode = okrs.read_text(), okrs.stat().st_mode
    code, _, err = copy(config, str(okrs))
    assert code == 1 and f"{okrs} is not an okr-sync state store" in err
    assert (okrs.read_text(), okrs.stat().st_mode) == (text, mode)
