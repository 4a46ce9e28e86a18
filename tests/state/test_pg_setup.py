"""What a PostgreSQL server needs: a role that may CREATE in the database, or a schema made for it.

A role with neither is refused with what to grant; once an administrator creates
the namespace's schema for it, the role syncs there without any right on the
database itself, and okr-sync reads and writes only inside that schema.
"""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from psycopg import sql

from okr_sync.errors import StateError
from okr_sync.models import RunSummary
from okr_sync.state.location import PostgresLocation
from tests.postgres import PgTarget

PASSWORD = "limited-role-password"


def test_a_role_without_create_needs_a_schema_made_for_it(
    postgres_db: PgTarget, monkeypatch: pytest.MonkeyPatch
) -> None:
    server, database = postgres_db.server, postgres_db.database
    role = f"okr_limited_{uuid.uuid4().hex[:8]}"
    server.admin(
        sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
            sql.Identifier(role), sql.Literal(PASSWORD)
        ),
        dbname="postgres",
    )
    monkeypatch.setenv("OKR_LIMITED_PASSWORD", PASSWORD)
    location = PostgresLocation(
        server.url(database, user=role), "payments", "${OKR_LIMITED_PASSWORD}"
    )
    try:
        with pytest.raises(StateError) as refused:
            location.open()
        message = str(refused.value)
        assert "permission denied for database" in message
        assert "CREATE SCHEMA okr_sync_payments AUTHORIZATION <role>" in message
        assert PASSWORD not in message
        assert not location.exists()

        server.admin(
            sql.SQL("CREATE SCHEMA okr_sync_payments AUTHORIZATION {}").format(
                sql.Identifier(role)
            ),
            dbname=database,
        )
        store = location.open()  # migrated inside the schema made for it
        started = dt.datetime(2026, 11, 2, 9, tzinfo=dt.UTC)
        run_id = store.start_run(started)
        store.finish_run(RunSummary(run_id=run_id, started_at=started), "ok", [], [], {})
        store.close()
        with location.run_lock():
            pass
        assert location.exists()
        reader = location.open_readonly()
        assert [r["outcome"] for r in reader.runs()] == ["ok"]
        reader.close()
        tables = server.admin(
            "SELECT table_schema, count(*) FROM information_schema.tables "
            "WHERE table_catalog = current_database() AND table_schema NOT IN "
            "('pg_catalog', 'information_schema') GROUP BY table_schema",
            dbname=database,
        )
        assert [t[0] for t in tables] == ["okr_sync_payments"]
    finally:
        server.admin("DROP SCHEMA IF EXISTS okr_sync_payments CASCADE", dbname=database)
        server.admin(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)), dbname="postgres")
