"""``okr-sync state copy``: a real history moved SQLite → PostgreSQL → SQLite reads the same.

The history is the demo organisation's on the Jira and Notion sandboxes, made by
real ``okr-sync`` processes (``tests/reliability/crash_world.py``): the days
before the first sync backfilled from Jira's changelogs, a full sync, a week of
work with a human edit kept as a conflict (``conflicts: skip``), that value
accepted with ``okr-sync accept``, a KR's target moved, an incremental sync, a
run that failed on a refused token, and a sync killed after a write landed (its
value left pending, the run left ``running``). Cursors and the item cache come
with it.

That store is copied to a PostgreSQL namespace, and back to a new SQLite file;
every command that reads the history (``history``, ``explain``, ``status``) and
the next ``plan`` must print the same on all three, and every table must hold
the same rows. The next ``sync`` on the copy continues the run ids and the
change log, and reports no conflict the original would not. The refusals are in
``test_state_copy_refusals.py``.

The history's syncs are processes of their own (one is killed); the copies and the
commands that read the stores run in the test process (``tests/cli_runner.py``):
they are checked by what they print and their exit codes, which come from the same
entry point and error handling either way.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from okr_sync.cli.main import main
from okr_sync.state.location import PostgresLocation, SqliteLocation, StateLocation
from tests.backends import PASSWORD_VAR, pg_state_yaml, with_state
from tests.cli_runner import Ran, okr_sync
from tests.postgres import PostgresServer
from tests.reliability.crash_world import CrashWorld

NAMESPACE = "payments"
RUN_COLUMNS = ("id", "started_at", "finished_at", "dry_run", "outcome", "summary", "reason")
CHANGE_COLUMNS = (
    "rowid", "run_id", "target", "kind", "record", "owner", "field", "before", "after",
    "last_written", "conflict", "action", "result", "error",
)  # fmt: skip
KILLED_RUN = 5  # the last run of the history: killed after a write landed

#: What each store is asked; only the store's own name may differ in the answers.
VIEWS: dict[str, tuple[str, ...]] = {
    "history --json": ("history", "--json"),
    "history": ("history",),
    "history KR-1": ("history", "KR-1"),
    "explain KR-1": ("explain", "KR-1"),
    "explain KR-3": ("explain", "KR-3"),
    "explain KR-6": ("explain", "KR-6"),
    "explain O-2": ("explain", "O-2"),
    "status --json": ("status", "--json"),
    "status": ("status",),
    "plan --json": ("plan", "--json"),
}


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@dataclass
class Stores:
    """The demo's history in its SQLite file, its PostgreSQL copy, and the copy back."""

    world: CrashWorld
    password: str
    pg_url: str
    source: Path  # the world's own config (SQLite)
    pg: Path  # a config on the PostgreSQL namespace
    back: Path  # a config on the SQLite file copied back
    copied: dict[str, Ran]

    def env(self) -> dict[str, str]:
        return {
            "JIRA_API_TOKEN": self.world.jira.api_token,
            "NOTION_TOKEN": self.world.notion.token,
            "OKR_SYNC_NOW": self.world.clock.now.isoformat(),
            PASSWORD_VAR: self.password,
        }

    def location(self, config: Path) -> StateLocation:
        if config == self.pg:
            return PostgresLocation(self.pg_url, NAMESPACE, f"${{{PASSWORD_VAR}}}")
        name = "back.db" if config == self.back else "state.db"
        return SqliteLocation(self.world.folder / ".okr-sync" / name)

    def shown(self, config: Path) -> str:
        """A store's name as okr-sync prints it (a URL's user name is redacted like any)."""
        return re.sub(r"(://)[^/@]*@", r"\1***@", str(self.location(config)))

    def cli(self, config: Path, *args: str, env: dict[str, str] | None = None) -> Ran:
        """An okr-sync command on one of the configs, with the world's environment."""
        return okr_sync(*args, "-c", str(config), env={**self.env(), **(env or {})})


def build_history(world: CrashWorld) -> None:
    def sync() -> None:
        code, out = world.sync()
        assert code == 0, out

    code, out, err = world.cli("backfill")  # the days before the first sync, from Jira
    assert code == 0, out + err
    sync()  # run 1: every value written, a full pull
    world.week()  # Ann types Current = 80 over KR-1's computed value
    sync()  # run 2: the conflict is kept (skip) and logged
    code, out, err = world.cli("accept", "KR-1")
    assert code == 0 and "accepted: notion KR-1 current = 80" in out, err
    world.notion.update_page(world.org.kr_pages["KR-4"], {"Target": 45.0})  # a moved target
    sync()  # run 3: incremental, the accepted value left alone, the new target recorded
    code, _, err = world.cli("sync", "-q", env={"NOTION_TOKEN": "ntn_" + "0" * 43})
    assert code == 1 and "refused the token" in err  # run 4: failed as a whole
    world.week()
    # Run 5: killed once Notion applied its second write, before the answer came back.
    assert world.sync_killed_on("notion", "PATCH", 2, answered=True)


@pytest.fixture(scope="module")
def stores(
    tmp_path_factory: pytest.TempPathFactory, postgres_server: PostgresServer
) -> Iterator[Stores]:
    database = postgres_server.unique_database_name("okr_copy")
    postgres_server.create_database(database, owner="okr")
    world = CrashWorld(tmp_path_factory.mktemp("copy"))
    try:
        text = world.config.read_text().replace("conflicts: overwrite", "conflicts: skip")
        world.config.write_text(text)
        build_history(world)
        url = postgres_server.url(database)
        pg = world.folder / "okr-sync-pg.yaml"
        pg.write_text(with_state(text, pg_state_yaml(url, NAMESPACE)))
        back = world.folder / "okr-sync-back.yaml"
        back.write_text(with_state(text, "state:\n  path: .okr-sync/back.db\n"))
        found = Stores(world, postgres_server.password, url, world.config, pg, back, {})
        found.copied["to postgresql"] = found.cli(
            world.config, "state", "copy", "--to", url, "--namespace", NAMESPACE,
            "--password-env", PASSWORD_VAR,
        )  # fmt: skip
        found.copied["back to sqlite"] = found.cli(
            pg, "state", "copy", "--to", str(world.folder / ".okr-sync" / "back.db")
        )
        yield found
    finally:
        world.close()
        postgres_server.drop_database(database)


@pytest.fixture
def world_env(stores: Stores, monkeypatch: pytest.MonkeyPatch) -> Stores:
    """The world's tokens, clock and database password, for commands run in this process."""
    for name, value in stores.env().items():
        monkeypatch.setenv(name, value)
    return stores


def views(stores: Stores, config: Path) -> dict[str, tuple[int, Any]]:
    """What each reading command prints on one store, its own name replaced by <state>."""
    name = stores.shown(config)
    out: dict[str, tuple[int, Any]] = {}
    for view, args in VIEWS.items():
        code, stdout, stderr = invoke(*args, "-c", str(config))
        assert not stderr.strip() or view == "plan --json", (view, stderr)
        text = stdout.replace(name, "<state>")
        out[view] = (code, json.loads(text) if "--json" in view else text)
    return out


# --- the copies ------------------------------------------------------------------------------


def test_the_copies_report_what_they_copied(stores: Stores) -> None:
    to_pg, back = stores.copied["to postgresql"], stores.copied["back to sqlite"]
    assert to_pg.code == 0, to_pg.stderr
    assert back.code == 0, back.stderr
    source, pg, sqlite = (stores.shown(c) for c in (stores.source, stores.pg, stores.back))
    assert to_pg.stdout.startswith(f"copied {source} to {pg}: 5 runs, ")
    assert back.stdout.startswith(f"copied {pg} to {sqlite}: 5 runs, ")
    for tables in ("snapshots", "changes", "written", "pending", "accepted", "cursors", "items"):
        assert f" {tables}" in to_pg.stdout.splitlines()[0]
    assert stores.password not in to_pg.stdout + to_pg.stderr + back.stdout + back.stderr
    assert "next: point the config's state: at" in to_pg.stdout


def test_the_history_reads_the_same_on_postgresql_and_back_on_sqlite(world_env: Stores) -> None:
    original = views(world_env, world_env.source)
    # The history is the one built above: four finished runs and the killed one.
    code, status = original["status --json"]
    assert code == 0 and status["state"] == "<state>"
    outcomes = [run["outcome"] for run in status["runs"]]
    assert outcomes == ["interrupted", "failed", "ok", "ok", "ok"]
    assert "accepted" in original["explain KR-1"][1] and "80" in original["explain KR-1"][1]
    assert original["plan --json"][1]["changes"]  # the second week is not all written yet
    for config in (world_env.pg, world_env.back):
        copied = views(world_env, config)
        for view in VIEWS:
            assert copied[view] == original[view], f"{view} differs on {config.name}"


def _sortable(row: tuple[Any, ...]) -> str:
    return json.dumps(row, default=str)


def table_rows(stores: Stores, config: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every table of a store (from the database's own catalogue), rows ordered."""
    location = stores.location(config)
    if isinstance(location, PostgresLocation):
        import psycopg

        conn = psycopg.connect(stores.pg_url, password=stores.password)
        conn.execute(f"SET search_path TO okr_sync_{NAMESPACE}")
        names = [r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        )]  # fmt: skip

        def columns(table: str) -> list[str]:
            return [r[0] for r in conn.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND table_name = %s ORDER BY ordinal_position",
                (table,),
            )]  # fmt: skip

        query = conn.execute
    else:
        assert isinstance(location, SqliteLocation)
        lite = sqlite3.connect(f"file:{location.path}?mode=ro", uri=True)
        names = [r[0] for r in lite.execute("SELECT name FROM sqlite_master WHERE type='table'")]

        def columns(table: str) -> list[str]:
            cols = [r[1] for r in lite.execute(f"PRAGMA table_info({table})")]
            return [*cols, "rowid"] if table == "changes" else cols  # PostgreSQL's is a column

        query = lite.execute  # type: ignore[assignment]
    out: dict[str, list[tuple[Any, ...]]] = {}
    for table in names:
        if table == "lock_holders":  # PostgreSQL's lock records: no history
            continue
        cols = sorted(columns(table))
        if table == "schema_migrations":  # each store was migrated when it was made
            cols = ["name"]
        rows = [tuple(r) for r in query(f"SELECT {', '.join(cols)} FROM {table}")]
        # The change log in its own order; any other table as a set (NULLs sort apart).
        if table == "changes":
            at = cols.index("rowid")
            out[table] = sorted(rows, key=lambda r: r[at])
        else:
            out[table] = sorted(rows, key=_sortable)
    return out


def test_every_table_holds_the_same_rows(stores: Stores) -> None:
    original = table_rows(stores, stores.source)
    # Every table has rows but one: no KR's period ended in these two weeks.
    assert {t for t, rows in original.items() if not rows} == {"closed_krs"}
    assert len(original["runs"]) == KILLED_RUN and original["pending"]
    for config in (stores.pg, stores.back):
        copied = table_rows(stores, config)
        assert set(copied) == set(original)
        for table, rows in original.items():
            assert copied[table] == rows, f"{table} differs on {config.name}"


def log_of(stores: Stores, config: Path) -> list[tuple[Any, ...]]:
    """The change log in its order: (rowid, run_id, target, record, field, result)."""
    rows = table_rows(stores, config)["changes"]
    cols = sorted(CHANGE_COLUMNS)
    pick = [cols.index(c) for c in ("rowid", "run_id", "target", "record", "field", "result")]
    return [tuple(row[i] for i in pick) for row in rows]


def outcomes(stores: Stores, config: Path) -> dict[int, str]:
    cols = sorted(RUN_COLUMNS)
    return {
        row[cols.index("id")]: row[cols.index("outcome")]
        for row in table_rows(stores, config)["runs"]
    }


def test_the_next_sync_on_the_copy_continues_runs_and_changes_without_false_conflicts(
    stores: Stores,
) -> None:
    before = log_of(stores, stores.pg)
    done = stores.cli(stores.pg, "sync", "--json")
    assert done.code == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["run_id"] == KILLED_RUN + 1  # max + 1
    # What okr-sync wrote, accepted and left pending came along: no value looks human.
    assert summary["changes"] and [c for c in summary["changes"] if c["conflict"]] == []
    after = log_of(stores, stores.pg)
    assert after[: len(before)] == before  # the log as it was, in its order
    new = after[len(before) :]
    assert new and {row[1] for row in new} == {KILLED_RUN + 1}
    assert min(row[0] for row in new) > max(row[0] for row in before)
    runs = outcomes(stores, stores.pg)
    assert (runs[KILLED_RUN], runs[KILLED_RUN + 1]) == ("interrupted", "ok")
    # The SQLite copy numbers its next run on from the copied ones too (one that fails
    # on a refused token: the targets now hold the PostgreSQL run's values).
    failed = stores.cli(stores.back, "sync", "-q", env={"NOTION_TOKEN": "ntn_" + "1" * 43})
    assert failed.code == 1
    assert outcomes(stores, stores.back)[KILLED_RUN + 1] == "failed"
