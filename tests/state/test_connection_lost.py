"""The PostgreSQL state store's connection lost in the middle of a sync, then a clean rerun.

The demo organisation on the Jira and Notion sandboxes, synced by real
``okr-sync sync`` processes whose state store is a namespace of the suite's
server. At the Nth write request the server ends the run's session (as a
failover, a restart or an admin's ``pg_terminate_backend`` would): the write
itself lands, but the run cannot record it. The run must stop with a clear
message and exit 1; the next run (the server fine) must finish with no false
conflict (okr-sync's own values are never taken for a human's) and leave both
services holding what an uninterrupted sync leaves.
"""

from __future__ import annotations

import functools
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.backends import PASSWORD_VAR, pg_state_yaml, with_state
from tests.postgres import PgTarget
from tests.reliability.crash_world import CrashWorld
from tests.reliability.sandbox_hooks import around_request

NAMESPACE = "demo"


@functools.cache
def reference() -> dict[str, Any]:
    """What one uninterrupted sync leaves in both services (state in a SQLite file)."""
    with tempfile.TemporaryDirectory(prefix="okr-sync-lost-ref-") as folder:
        world = CrashWorld(Path(folder), latency=0.0)
        try:
            code, output = world.sync()
            assert code == 0, output
            return world.snapshot()
        finally:
            world.close()


class PgWorld:
    """A :class:`CrashWorld` whose state store is a PostgreSQL namespace."""

    def __init__(self, folder: Path, pg: PgTarget) -> None:
        self.pg = pg
        self.world = CrashWorld(folder, latency=0.0)
        config = self.world.config
        config.write_text(with_state(config.read_text(), pg_state_yaml(pg.url, NAMESPACE)))

    def sync(self) -> tuple[int, str, str]:
        return self.world.cli("sync", "-q", env={PASSWORD_VAR: self.pg.password})

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        return self.pg.server.admin(sql.replace("{ns}", f"okr_sync_{NAMESPACE}"), self.pg.database)


@pytest.fixture
def pg_world(tmp_path: Path, postgres_db: PgTarget) -> Iterator[PgWorld]:
    world = PgWorld(tmp_path, postgres_db)
    yield world
    world.world.close()


#: Where the connection is lost: (service, method, nth such request, after it was applied?).
POINTS = [
    ("notion", "PATCH", 1, False),  # the first write of the run
    ("notion", "PATCH", 5, True),  # a write applied, its answer not yet back
    ("jira", "PUT", 2, False),  # an epic's property, after the Notion pages
]


@pytest.mark.parametrize(("service", "method", "nth", "answered"), POINTS)
def test_a_connection_lost_mid_run_fails_clearly_and_the_next_run_converges(
    pg_world: PgWorld, service: str, method: str, nth: int, answered: bool
) -> None:
    world = pg_world.world
    killed: list[int] = []

    def lose_the_store() -> None:  # only the run's session; the lock's stays
        killed.append(pg_world.pg.server.terminate("okr-sync run", database=pg_world.pg.database))

    sandbox = world.notion if service == "notion" else world.jira
    remove = around_request(sandbox, method, lose_the_store, nth=nth, answered=answered)
    try:
        code, out, err = pg_world.sync()
    finally:
        remove()
    assert killed == [1], "the run's own session was ended, once"
    assert code == 1, (out, err)
    assert "lost the connection to the state store postgresql://" in err, err
    assert f"(namespace {NAMESPACE}): " in err
    assert "the next run re-plans the rest" in err
    assert pg_world.pg.password not in out + err
    assert "Traceback" not in err

    code, out, err = pg_world.sync()
    assert code == 0, (out, err)
    false_conflicts = pg_world.query(
        "SELECT run_id, owner, field, before, last_written FROM {ns}.changes WHERE conflict = 1"
    )
    assert false_conflicts == []
    snap, ref = world.snapshot(), reference()
    diff = {k: (snap.get(k), v) for k, v in ref.items() if snap.get(k) != v}
    assert not diff, diff
    outcomes = [r[0] for r in pg_world.query("SELECT outcome FROM {ns}.runs ORDER BY id")]
    assert outcomes == ["interrupted", "ok"]  # the lost run, then the clean one
    # Every write whose answer was lost is settled: nothing is left pending.
    assert pg_world.query("SELECT target, record, field FROM {ns}.pending") == []
