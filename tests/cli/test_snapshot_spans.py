"""Migration 0010 on a real history: a store in the layout before it reads the same, migrated.

The demo organisation's history is made by real ``okr-sync`` processes on the
sandboxes (``tests/reliability/crash_world.py``): a full sync, no-op reruns half an
hour apart, a week of work with a human edit, a moved target, a run that failed on
a refused token. Every command that reads the history prints its answer. Then the
same store is put back into the layout okr-sync kept before migration 0010 — one
snapshot row per KR (and objective) and run, its expected progress in the row, and
each run's summary whole, repeating its KRs and objectives — and opened again, so
that 0010 converts it: every command must print what it printed, and the tables
must hold the very rows the present layout wrote. On both backends.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from okr_sync.cli.main import main
from okr_sync.state.snapshots import COMPUTED, run_rows
from tests.backends import Backend
from tests.reliability.crash_world import START, CrashWorld
from tests.state.raw import raw

HALF_HOUR = dt.timedelta(minutes=30)
#: What is asked of the store (the report's HTML is compared whole).
VIEWS: dict[str, tuple[str, ...]] = {
    "history --json": ("history", "--json"),
    "history": ("history",),
    "history KR-1": ("history", "KR-1"),
    "history KR-4 --json": ("history", "KR-4", "--json"),
    "explain KR-1": ("explain", "KR-1"),
    "explain KR-3": ("explain", "KR-3"),
    "explain KR-4": ("explain", "KR-4"),
    "explain O-2": ("explain", "O-2"),
    "explain O-1": ("explain", "O-1"),
    "status --json": ("status", "--json"),
    "status": ("status",),
}


def build_history(world: CrashWorld) -> None:
    def sync() -> None:
        code, out = world.sync()
        assert code == 0, out

    sync()  # run 1: a full pull, every value written
    world.clock.advance(HALF_HOUR)
    sync()  # run 2: nothing moved but the clock
    world.week()
    sync()  # run 3: a week of work, Ann's Current on KR-1 overwritten
    world.clock.advance(HALF_HOUR)
    world.notion.update_page(world.org.kr_pages["KR-4"], {"Target": 45.0})
    sync()  # run 4: KR-4's target moved
    code, _, err = world.cli("sync", "-q", env={"NOTION_TOKEN": "ntn_" + "0" * 43})
    assert code == 1 and "refused the token" in err  # run 5: failed as a whole
    world.clock.advance(HALF_HOUR)
    sync()  # run 6: nothing moved
    world.clock.advance(HALF_HOUR)
    world.jira.update_issue(world.org.incidents[0], status="Done")
    sync()  # run 7: one incident closed


def views(world: CrashWorld, monkeypatch: pytest.MonkeyPatch, tmp: Path) -> dict[str, Any]:
    """What each reading command prints, and the report it writes."""
    for name, value in world._env().items():
        monkeypatch.setenv(name, value)
    out: dict[str, Any] = {}
    runner = CliRunner()
    for view, args in VIEWS.items():
        result = runner.invoke(main, [*args, "-c", str(world.config)], catch_exceptions=False)
        assert result.exit_code == 0, (view, result.stdout, result.stderr)
        out[view] = json.loads(result.stdout) if "--json" in view else result.stdout
    day = START.date().isoformat()  # the first sync's
    result = runner.invoke(main, ["explain", "KR-1", "--at", day, "-c", str(world.config)])
    assert result.exit_code == 0, result.stdout + result.stderr
    out["explain KR-1 --at"] = result.stdout
    report = tmp / "report.html"
    result = runner.invoke(main, ["report", "-q", "--out", str(report), "-c", str(world.config)])
    assert result.exit_code == 0, result.stdout + result.stderr
    out["report"] = report.read_text(encoding="utf-8")
    return out


def tables(backend: Backend) -> dict[str, list[str]]:
    """The runs and snapshots, every column, as sorted JSON rows."""
    with raw(backend) as db:
        return {
            table: sorted(json.dumps(list(r)) for r in db.execute(f"SELECT * FROM {table}"))
            for table in ("runs", "snapshots")
        }


def to_old_layout(backend: Backend) -> None:
    """The store as okr-sync kept it before 0010: a row per run, whole summaries."""
    store = backend.location.open()
    try:
        ids = [run["id"] for run in store.runs(100)]
        summaries = {i: store.run_summary(i) for i in ids}
        rows = {i: run_rows(store.database, i) for i in ids}
    finally:
        store.close()
    columns = ("run_id", *COMPUTED)
    with raw(backend) as db:
        db.execute("DROP INDEX snapshots_by_last_run")
        for column in ("last_run", "seq", "detail", "pace"):
            db.execute(f"ALTER TABLE snapshots DROP COLUMN {column}")
        db.execute("ALTER TABLE runs DROP COLUMN paces")
        db.execute("DELETE FROM snapshots")
        for run_id, found in rows.items():
            db.executemany(
                f"INSERT INTO snapshots ({', '.join(columns)}) "
                f"VALUES ({', '.join('?' for _ in columns)})",
                [(run_id, *(r[c] for c in COMPUTED)) for r in found],
            )
            if summaries[run_id] is not None:  # as the summary was written: compact JSON
                text = json.dumps(summaries[run_id], separators=(",", ":"), ensure_ascii=False)
                db.execute("UPDATE runs SET summary = ? WHERE id = ?", (text, run_id))
        db.execute("DELETE FROM schema_migrations WHERE name = '0010_snapshot_spans'")


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
def test_a_store_from_before_0010_reads_the_same_once_migrated(
    backend: Backend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = CrashWorld(tmp_path, backend)
    try:
        build_history(world)
        before = views(world, monkeypatch, tmp_path)
        written = tables(backend)
        # Seven runs, six with results; the KRs' values moved in three of them.
        with raw(backend) as db:
            krs = db.execute("SELECT COUNT(*) FROM snapshots WHERE kind = 'kr'").fetchone()[0]
        assert krs < 6 * 7 // 2, krs
        assert "key_results" not in json.dumps(written["runs"])

        to_old_layout(backend)
        with raw(backend) as db:
            old = db.execute("SELECT COUNT(*) FROM snapshots WHERE kind = 'kr'").fetchone()[0]
            texts = [r[0] for r in db.execute("SELECT summary FROM runs WHERE summary IS NOT NULL")]
        assert old == 6 * 7 and all('"key_results":[{' in t for t in texts)
        backend.location.open().close()  # migration 0010 runs

        assert tables(backend) == written
        after = views(world, monkeypatch, tmp_path)
        for view in before:
            assert after[view] == before[view], view
    finally:
        world.close()
