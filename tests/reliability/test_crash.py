"""Crash safety: `okr-sync sync` killed with SIGKILL anywhere, then rerun, on both backends.

Each sync is a real process (python -m okr_sync sync) against the Jira and
Notion sandboxes holding the demo organisation, with its state store in a
SQLite file or in a namespace of the suite's PostgreSQL server (``backend``). A
kill point is "after N requests reached the sandboxes, plus a few milliseconds":
before the first pull, between pages, between a write's request and its record in
the state store, between a check-in comment and the status it announces, during
the final commit. The guarantee: after one clean rerun, both services hold exactly
what a run that was never interrupted leaves, no comment is posted twice, the
state store opens and checks clean, no run is left "running", the lock is taken
over (and is free again afterwards), and the value a human had typed over
okr-sync's is still in the history.

On PostgreSQL a run is also killed while one of its transactions waits on the
server (another session holds a lock on the table it writes): nothing of that
transaction becomes visible, and the next run converges once the block is lifted.

The organisation and its first sync are built once per test process and backend
(``Template``): a test starts from its sandboxes' saved contents and a copy of its
state store (a SQLite file, or a PostgreSQL database made from it as a template),
which is what the same first sync would have left.

``OKR_SYNC_CRASH_EXAMPLES`` sets the number of Hypothesis examples on SQLite
(default 10), ``OKR_SYNC_CRASH_EXAMPLES_PG`` on PostgreSQL (default: half as many,
to keep the suite fast; the kill points themselves are the same kinds).
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from okr_sync.state.location import PostgresLocation, SqliteLocation
from tests.backends import Backend, postgres_backend, sqlite_backend
from tests.postgres import PgTarget, PostgresServer
from tests.reliability.crash_world import CrashWorld, Saved

#: Faults active during the killed run (cleared before the rerun): (service, endpoint, status).
FAULTS: list[tuple[str, str, int] | None] = [
    None,
    ("notion", "PATCH /v1/pages/{id}", 503),
    ("notion", "POST /v1/comments", 500),
    ("jira", "PUT /rest/api/3/issue/{key}/properties/{prop}", 502),
    ("jira", "POST /rest/api/3/search/jql", 503),
]
EXAMPLES = int(os.environ.get("OKR_SYNC_CRASH_EXAMPLES", "10"))
PG_EXAMPLES = int(os.environ.get("OKR_SYNC_CRASH_EXAMPLES_PG", str(max(1, EXAMPLES // 2))))


@functools.cache
def reference() -> dict[str, Any]:
    """What two uninterrupted syncs a week apart leave in both services (any backend)."""
    world = CrashWorld(Path(tempfile.mkdtemp(prefix="okr-sync-ref-")))
    try:
        assert world.sync()[0] == 0
        world.week()
        assert world.sync()[0] == 0
        return world.snapshot()
    finally:
        world.close()
        shutil.rmtree(world.folder, ignore_errors=True)


@pytest.fixture
def world(tmp_path: Path, backend: Backend) -> Iterator[CrashWorld]:
    w = CrashWorld(tmp_path, backend)
    yield w
    w.close()


@dataclass(frozen=True)
class Template:
    """The demo organisation before and after its first sync (and a week), for a backend.

    Built once per test process and backend (and again if the process ran other
    modules' tests in between: see ``close_templates``): a first sync per test repeated
    the same requests and the same writes every time. Worlds made from it run on its
    sandboxes.
    """

    world: CrashWorld
    #: The sandboxes as seeding left them: what a world's first sync starts from.
    seeded: Saved
    #: The sandboxes after the first sync and a week of human work.
    synced: Saved
    #: The state store then: the SQLite folder, or the PostgreSQL database (a template).
    store: Path | str
    server: PostgresServer | None

    def world_in(self, folder: Path, backend: Backend, *, synced: bool) -> CrashWorld:
        """A world in ``folder`` on ``backend``, before its first sync or after it.

        After it (``synced``), the store must be a copy of the template's: on SQLite
        it is copied here; on PostgreSQL ``backend`` must be a database made by
        :meth:`copy_database`.
        """
        world = CrashWorld(folder, backend, sandboxes_of=self.world)
        world.restore(self.synced if synced else self.seeded)
        if synced and isinstance(self.store, Path):
            shutil.copytree(self.store, world.state.parent)
        return world

    def copy_database(self, name: str) -> None:
        """(Re)create the PostgreSQL database ``name`` as a copy of the template's store."""
        assert self.server is not None and isinstance(self.store, str)
        self.server.drop_database(name)
        self.server.create_database(name, template=self.store)


_TEMPLATES: dict[str, Template] = {}


def template_for(backend: Backend, request: pytest.FixtureRequest) -> Template:
    """The process's :class:`Template` for ``backend`` (built on first use)."""
    if backend.name in _TEMPLATES:
        return _TEMPLATES[backend.name]
    folder = Path(tempfile.mkdtemp(prefix="okr-sync-template-"))
    server: PostgresServer | None = None
    if backend.name == "sqlite":
        store: Path | str = folder / ".okr-sync"
        own = sqlite_backend(folder)
    else:
        server = request.getfixturevalue("postgres_server")
        assert server is not None
        store = server.unique_database_name("okr_template")
        server.create_database(store)
        own = postgres_backend(server.url(store), server.password)
    world = CrashWorld(folder, own)
    seeded = world.save()
    assert world.sync()[0] == 0
    world.week()
    _TEMPLATES[backend.name] = Template(world, seeded, world.save(), store, server)
    return _TEMPLATES[backend.name]


def close_templates() -> None:
    """Stop the templates' sandboxes: this process moves on to another module's tests.

    Idle, their servers' threads would still wake twice a second during other modules'
    tests (which may count what the collector sees). A later test here builds them again.
    Called by ``tests/reliability/conftest.py`` (a ``teardown_module`` would be a
    module-scoped fixture, which would keep the module's tests in one process).
    """
    for template in _TEMPLATES.values():
        template.world.close()
        shutil.rmtree(template.world.folder, ignore_errors=True)
        if template.server is not None and isinstance(template.store, str):
            template.server.drop_database(template.store)
    _TEMPLATES.clear()


@pytest.fixture
def synced_world(
    tmp_path: Path, backend: Backend, request: pytest.FixtureRequest
) -> Iterator[CrashWorld]:
    """A world after its first sync and a week of human work (made from the template)."""
    template = template_for(backend, request)
    if backend.name == "postgresql":
        template.copy_database(request.getfixturevalue("postgres_db").database)
    w = template.world_in(tmp_path, backend, synced=True)
    yield w
    w.close()


def okr_sync_sessions(world: CrashWorld) -> list[str]:
    """The okr-sync sessions still connected to the world's PostgreSQL database."""
    from okr_sync.state.postgres import connect

    location = world.location
    assert isinstance(location, PostgresLocation)
    conn = connect(location.url, location.password(), str(location), purpose="test")
    try:
        rows = conn.execute(
            "SELECT application_name FROM pg_stat_activity WHERE datname = current_database() "
            "AND application_name LIKE 'okr-sync %' AND pid <> pg_backend_pid()"
        ).fetchall()
    finally:
        conn.close()
    return [row[0] for row in rows]


def assert_converged(world: CrashWorld, *, failed_run: bool = False) -> None:
    """Both services hold the reference, and the store is whole and released.

    ``failed_run``: one run met an injected fault and was not killed (it finished
    first), so it is rightly recorded as ``failed``.
    """
    snap, ref = world.snapshot(), reference()
    diff = {k: (snap.get(k), v) for k, v in ref.items() if snap.get(k) != v}
    assert not diff, diff
    check, outcomes = world.integrity()
    assert check == "ok"
    assert outcomes[-1] == "ok" and "running" not in outcomes
    assert set(outcomes) <= {"ok", "interrupted", *(["failed"] if failed_run else [])}
    # The Current a human typed over okr-sync's value on KR-1 stays recoverable.
    assert 80.0 in world.human_values_in_history("KR-1", "current")
    # Every write's outcome is known now: none is left pending.
    assert world.pending() == 0
    # The last run released the lock: nobody holds it, no holder record is left.
    assert world.location.holder("run") is None
    if world.backend.name == "postgresql":  # and no session of a killed run lingers
        assert okr_sync_sessions(world) == []


def _inject(world: CrashWorld, fault: tuple[str, str, int] | None) -> None:
    if fault is None:
        return
    service, endpoint, status = fault
    plan = world.notion.faults if service == "notion" else world.jira.faults
    plan.add(endpoint, status, times=1)


#: Kill points at a write: (service, method, nth such request, answered?).
WRITES = st.tuples(
    st.sampled_from([("notion", "PATCH"), ("notion", "POST"), ("jira", "PUT"), ("jira", "POST")]),
    st.integers(min_value=1, max_value=10),
    st.booleans(),
).map(lambda t: (*t[0], t[1], t[2]))
#: Kill points in time: after N requests (+ a few ms), anywhere in the run.
MOMENTS = st.tuples(st.integers(min_value=0, max_value=48), st.integers(min_value=0, max_value=8))


def test_a_sync_killed_anywhere_then_rerun_ends_as_if_never_interrupted(
    backend: Backend, request: pytest.FixtureRequest
) -> None:
    worlds = itertools.count()
    template = template_for(backend, request)

    @contextlib.contextmanager
    def world_for(phase: str, folder: Path) -> Iterator[CrashWorld]:
        # Every example starts from its own store: a file in the example's own folder,
        # or on PostgreSQL a new namespace of the test's database (empty, before the
        # first sync) or a database copied from the template's (after it).
        if backend.name == "sqlite":
            yield template.world_in(folder, sqlite_backend(folder), synced=phase != "first sync")
        elif phase == "first sync":
            store = backend.other_namespace(f"crash_{next(worlds)}")
            yield template.world_in(folder, store, synced=False)
        else:
            assert template.server is not None
            name = template.server.unique_database_name("okr_crash")
            template.copy_database(name)
            try:
                url = template.server.url(name)
                yield template.world_in(
                    folder, postgres_backend(url, template.server.password), synced=True
                )
            finally:
                template.server.drop_database(name)

    @settings(
        max_examples=EXAMPLES if backend.name == "sqlite" else PG_EXAMPLES,
        deadline=None, derandomize=True, database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )  # fmt: skip
    @given(
        phase=st.sampled_from(["first sync", "second sync"]),
        point=st.one_of(WRITES, MOMENTS),
        fault=st.sampled_from(FAULTS),
    )
    def killed_then_rerun(
        phase: str, point: tuple[Any, ...], fault: tuple[str, str, int] | None
    ) -> None:
        with (
            tempfile.TemporaryDirectory(prefix="okr-sync-crash-") as folder,
            world_for(phase, Path(folder)) as world,
        ):
            try:
                # "second sync": the world starts after the first sync and the week.
                _inject(world, fault)
                if len(point) == 2:
                    killed = world.sync_killed(*point)
                else:
                    service, method, nth, answered = point
                    killed = world.sync_killed_on(service, method, nth, answered=answered)
                world.jira.faults.clear()
                world.notion.faults.clear()
                code, output = world.sync()
                assert code == 0, output
                if phase == "first sync":
                    world.week()
                    assert world.sync()[0] == 0
                # A kill point past the run's last request of its kind is never reached:
                # that run finishes, and fails if it met the injected fault.
                assert_converged(world, failed_run=not killed and fault is not None)
            finally:
                world.close()

    killed_then_rerun()


@pytest.mark.parametrize("nth", range(1, 11))
def test_killed_after_each_page_write_landed_but_before_the_answer(
    synced_world: CrashWorld, nth: int
) -> None:
    """The second sync writes 10 Notion pages (KR-1 carries the human's edit)."""
    world = synced_world  # after the first sync and a week of human work
    assert world.sync_killed_on("notion", "PATCH", nth, answered=True)
    code, output = world.sync()
    assert code == 0, output
    assert_converged(world)


def test_many_kills_in_a_row_then_one_clean_run(world: CrashWorld) -> None:
    """Each run is killed a little later than the one before, until one finishes."""
    assert world.sync()[0] == 0
    world.week()
    after = 1
    while world.sync_killed(after, extra_ms=after % 5):
        after += 1
    assert world.kills >= 20  # every request of the run was a kill point once
    code, output = world.sync()  # nothing left to do, or the rest
    assert code == 0, output
    assert_converged(world)
    assert "wrote 0 record(s)" in world.sync()[1]  # and a further run writes nothing


def test_a_killed_run_leaves_the_lock_to_the_next(world: CrashWorld) -> None:
    # Killed as its first page write goes out: the run is recorded and holds the lock.
    assert world.sync_killed_on("notion", "PATCH", 1, answered=False)
    killed = world.pid
    if isinstance(world.location, SqliteLocation):
        # The kernel dropped the flock; the file keeps the dead holder's record.
        lock = world.location.lock_path()
        assert lock.exists() and lock.stat().st_mode & 0o077 == 0
        assert (world.location.holder("run") or {}).get("pid") == killed
    else:
        # The server dropped the advisory lock with the killed run's sessions: nobody
        # holds it as soon as we can ask (a short grace for a loaded machine only).
        deadline = time.monotonic() + 1
        while world.location.holder("run") is not None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert world.location.holder("run") is None
        assert okr_sync_sessions(world) == []
    # Nobody is told the dead run still runs.
    code, out, err = world.cli("status", "--json")
    assert code == 0, err
    assert json.loads(out)["runs"][0]["outcome"] == "interrupted"
    code, output = world.sync("sync")  # not -q: the recovery is a warning
    assert code == 0, output
    # The dead holder's record was left behind, and the next run says it took over.
    assert f"recovered the lock left by pid {killed}" in output
    # Released cleanly this time: the next run takes it without recovering anything,
    # and finds nothing left to write.
    assert world.location.holder("run") is None
    code, output = world.sync("sync")
    assert code == 0, output
    assert "recovered" not in output and "wrote 0 record(s)" in output


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
@pytest.mark.parametrize(
    ("table", "statement"),
    [
        ("written", "INSERT INTO written"),  # recording a page write that landed
        ("snapshots", "INSERT INTO snapshots"),  # the run's final commit
    ],
)
def test_killed_while_its_transaction_waits_on_the_server(
    world: CrashWorld, postgres_db: PgTarget, table: str, statement: str
) -> None:
    """A run's session outlives it while blocked: it must commit nothing, and hold nothing up."""
    assert world.sync()[0] == 0
    world.week()
    namespace = world.location.namespace  # type: ignore[attr-defined]
    with (
        postgres_db.server.connect(postgres_db.database) as blocker,
        postgres_db.server.connect(postgres_db.database, autocommit=True) as watcher,
    ):
        # SHARE mode: everyone reads the table, nobody writes it until the rollback.
        blocker.execute(f'LOCK TABLE "okr_sync_{namespace}".{table} IN SHARE MODE')

        def blocked() -> bool:
            return bool(
                watcher.execute(
                    "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() "
                    "AND application_name = 'okr-sync run' AND wait_event_type = 'Lock' "
                    "AND query LIKE %s",
                    (statement + "%",),
                ).fetchall()
            )

        assert world.sync_killed_when(blocked)
        # The run lock went with the killed process's lock session, at once ...
        assert world.location.holder("run") is None
        # ... while its run session still waits inside the transaction, which shows nothing.
        assert okr_sync_sessions(world) == ["okr-sync run"]
        assert world.integrity()[1][-1] == "running"
        blocker.rollback()
    deadline = time.monotonic() + 5  # unblocked, the session meets its dead client and ends
    while okr_sync_sessions(world) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert okr_sync_sessions(world) == []
    code, output = world.sync()
    assert code == 0, output
    assert_converged(world)
