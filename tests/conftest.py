from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import pytest
from hypothesis import settings

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


@pytest.fixture(autouse=True)
def _loggers_as_they_were() -> Iterator[None]:
    """Every logger's level and handlers (the root's handlers aside) put back after a test.

    Commands run in the test process (``tests/cli_runner.py``) and benchmarks run
    through runpy set up logging as a process of their own would; tests are spread
    over processes in any order, so what one sets must not reach the next. (The
    root's handlers are pytest's own during a test; ``cli_runner`` restores those.)
    """
    loggers = logging.Logger.manager.loggerDict
    saved = {
        name: (logger.level, list(logger.handlers))
        for name, logger in loggers.items()
        if isinstance(logger, logging.Logger)
    }
    root_level = logging.getLogger().level
    yield
    for name, logger in list(loggers.items()):
        if not isinstance(logger, logging.Logger):
            continue
        level, handlers = saved.get(name, (logging.NOTSET, []))
        if logger.level != level:
            logger.setLevel(level)
        if logger.handlers != handlers:
            logger.handlers[:] = handlers
    if logging.getLogger().level != root_level:
        logging.getLogger().setLevel(root_level)


# No Hypothesis example database: nothing is written into the repository tree, and the
# suite's processes (`make test` runs it in several, with pytest-xdist) share no files.
# A failing example is still printed, with the call that reproduces it.
settings.register_profile("okr-sync", database=None)
settings.load_profile("okr-sync")

#: Tests that take the longest, in the order they start: two processes share the suite
#: (`pytest -n 2`), and a long test started last would leave one of them idle while it
#: runs. Everything else keeps its collection order after these. Each entry is the
#: start of a test id.
LONGEST_FIRST = (
    "tests/reliability/test_crash.py::test_a_sync_killed_anywhere",
    "tests/reliability/test_crash.py::test_many_kills_in_a_row",
    "tests/reliability/test_soak.py",
    "tests/reliability/test_differential.py",
    "tests/reliability/test_secrets.py",
    "tests/cli/test_state_copy.py",
    "tests/reliability/test_crash.py",
    "tests/test_benchmarks.py",
    "tests/state/test_connection_lost.py",
    "tests/cli/test_interrupt.py",
    "tests/cli/test_report_browser.py",
    "tests/reliability/test_fuzz.py",
)


def _start_rank(item: pytest.Item) -> int:
    for rank, prefix in enumerate(LONGEST_FIRST):
        if item.nodeid.startswith(prefix):
            return rank
    return len(LONGEST_FIRST)


#: Modules whose tests share a module-scoped fixture (a history built once, a browser
#: started once, a world its tests change in turn): under pytest-xdist each runs whole,
#: in its order, in one process (``ModuleGroups``). Collection under xdist stops with a
#: message when a module with such a fixture is missing here.
SHARED_FIXTURE_MODULES = frozenset(
    {
        "tests/cli/test_report_browser.py",
        "tests/cli/test_state_copy.py",
        "tests/e2e/test_demo.py",
        "tests/reliability/test_faults_jira.py",
        "tests/reliability/test_faults_notion.py",
        "tests/reliability/test_fuzz.py",
    }
)


def _module_of(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def _shares_a_fixture(item: pytest.Item) -> bool:
    info = getattr(item, "_fixtureinfo", None)
    return info is not None and any(
        fixture.scope in ("class", "module", "package")
        for defs in info.name2fixturedefs.values()
        for fixture in defs
    )


_UNLISTED = pytest.StashKey[set[str]]()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The longest tests first (LONGEST_FIRST); the others in collection order."""
    items.sort(key=_start_rank)  # stable
    if hasattr(config, "workerinput"):  # a pytest-xdist worker: the groups must be known
        shared = {_module_of(i.nodeid) for i in items if _shares_a_fixture(i)}
        config.stash[_UNLISTED] = shared - SHARED_FIXTURE_MODULES


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Under pytest-xdist, a module with a shared fixture must be in SHARED_FIXTURE_MODULES."""
    if _module_of(item.nodeid) in item.config.stash.get(_UNLISTED, set()):
        pytest.fail(
            f"{_module_of(item.nodeid)} has a module-scoped fixture: add it to "
            "SHARED_FIXTURE_MODULES in tests/conftest.py, so that its tests run in one process",
            pytrace=False,
        )


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object | None:
    """``--dist loadgroup``: whole modules for SHARED_FIXTURE_MODULES, single tests otherwise."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from tests.xdist_groups import ModuleGroups

    return ModuleGroups(config, log, SHARED_FIXTURE_MODULES)


# The two state-store backends (tests/backends.py), for tests that must hold on both.
from tests.backends import backend  # noqa: E402, F401
