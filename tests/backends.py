"""The two state-store backends, for tests that must hold on both.

``backend`` (a fixture parametrized ``sqlite`` / ``postgresql``) gives a
:class:`Backend`: its :class:`StateLocation`, the ``state:`` section a config
needs to use it, and the environment that section refers to (the password).
The PostgreSQL side is a fresh database on the suite's throwaway server
(``postgres_db`` in ``tests/conftest.py``), so every test starts empty.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from okr_sync.state.location import PostgresLocation, SqliteLocation, StateLocation

#: The variable a PostgreSQL ``state:`` section names for its password.
PASSWORD_VAR = "OKR_STATE_PASSWORD"
NAMESPACE = "team_a"


@dataclass(frozen=True)
class Backend:
    """One backend, ready for a test."""

    name: str
    location: StateLocation
    #: The config's ``state:`` section (YAML, no trailing newline issues).
    state_yaml: str
    #: Environment variables the section refers to.
    env: dict[str, str] = field(default_factory=dict)

    def config(self, text: str) -> str:
        """A config text with its ``state:`` section replaced by (or given) this backend's."""
        return with_state(text, self.state_yaml)

    def other_namespace(self, namespace: str) -> Backend:
        """The same database, another namespace (PostgreSQL only)."""
        assert isinstance(self.location, PostgresLocation)
        loc = PostgresLocation(self.location.url, namespace, self.location.password_ref)
        return Backend(self.name, loc, pg_state_yaml(loc.url, namespace), dict(self.env))


def pg_state_yaml(url: str, namespace: str) -> str:
    """A ``state:`` section for a PostgreSQL store."""
    return f'state:\n  url: "{url}"\n  namespace: {namespace}\n  password: "${{{PASSWORD_VAR}}}"\n'


def with_state(text: str, section: str) -> str:
    """Replace a top-level ``state:`` block (or append one)."""
    pattern = re.compile(r"^state:\n(?:[ \t]+.*\n?)*", re.M)
    if pattern.search(text):
        return pattern.sub(section, text, count=1)
    return text.rstrip("\n") + "\n" + section


def sqlite_backend(folder: Path) -> Backend:
    """A SQLite file in ``folder`` (``.okr-sync/state.db``), named by its absolute path.

    Absolute, so that any config using it finds the same file wherever the config is.
    """
    path = folder / ".okr-sync" / "state.db"
    return Backend("sqlite", SqliteLocation(path), f'state:\n  path: "{path}"\n')


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Backend:
    """Each backend in turn; the PostgreSQL one is a fresh database with its password set."""
    if request.param == "sqlite":
        return sqlite_backend(tmp_path)
    target = request.getfixturevalue("postgres_db")
    monkeypatch.setenv(PASSWORD_VAR, target.password)
    return postgres_backend(target.url, target.password)


def postgres_backend(url: str, password: str) -> Backend:
    """The namespace ``team_a`` of the PostgreSQL database at ``url``."""
    location = PostgresLocation(url, NAMESPACE, f"${{{PASSWORD_VAR}}}")
    return Backend("postgresql", location, pg_state_yaml(url, NAMESPACE), {PASSWORD_VAR: password})
