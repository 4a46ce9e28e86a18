"""Benchmark the state store's growth per run: bytes each sync of the demo organisation adds.

Seeds the demo organisation (``okr-sync demo``: 3 objectives, 7 KRs, two Jira
projects, a Notion workspace) into the local sandboxes, writes the demo's config
(a SQLite store next to it) and syncs it through the real engine and connectors,
``--runs`` times after the first sync, the clock moving on 30 minutes a run (the
demo's schedule). Every other run follows a little human work (one Jira story of
KR-1 closed, or an initiative's ARR changed); the others are no-op reruns.

After the first sync and after the last run the store is vacuumed and measured:
the file's size, and per table (indexes included) the bytes of its pages and of
its rows (SQLite's ``dbstat``). The headline figure is the file's growth per run
against the bytes of what genuinely changed per run (the floor; see
:func:`floor_bytes`)::

    python benchmarks/bench_state_bytes.py            # 40 runs after the first sync
    python benchmarks/bench_state_bytes.py --quick    # 12 runs
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sqlite3
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: the sandboxes live beside okr_sync
    sys.path.insert(0, str(ROOT))

from okr_sync.cli.demo.config import demo_config  # noqa: E402
from okr_sync.cli.demo.org import DemoClock, DemoOrg, seed  # noqa: E402
from okr_sync.cli.demo.run import environment, no_sleep  # noqa: E402
from okr_sync.config.loading import load_config  # noqa: E402
from okr_sync.engine.engine import Engine, build_connectors  # noqa: E402
from okr_sync.state.location import state_location  # noqa: E402
from sandboxes import JiraSandbox, NotionSandbox  # noqa: E402

try:
    from figures import figure
except ImportError:  # run through runpy from the repository root
    from benchmarks.figures import figure

TODAY = dt.datetime(2026, 5, 11, 9, tzinfo=dt.UTC)
STEP = dt.timedelta(minutes=30)
TARGET_BYTES = 4096


@dataclass(frozen=True)
class Sizes:
    """A vacuumed store: the file's bytes, and each table's page and row bytes."""

    file: int
    pages: dict[str, int]
    rows: dict[str, int]


def measure(path: Path) -> Sizes:
    """Vacuum a SQLite store and measure it (indexes counted with their table)."""
    db = sqlite3.connect(path)
    try:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        db.execute("VACUUM")
        owner = dict(db.execute("SELECT name, tbl_name FROM sqlite_master").fetchall())
        pages: dict[str, int] = {}
        rows: dict[str, int] = {}
        for name, pgsize, payload in db.execute(
            "SELECT name, SUM(pgsize), SUM(payload) FROM dbstat GROUP BY name"
        ):
            table = owner.get(name, name)
            pages[table] = pages.get(table, 0) + int(pgsize)
            rows[table] = rows.get(table, 0) + int(payload)
    finally:
        db.close()
    return Sizes(path.stat().st_size, pages, rows)


def _row_bytes(values: Sequence[Any]) -> int:
    """A row's bytes as a record holds them: each value's length, a number as 8."""
    size = 0
    for value in values:
        if isinstance(value, str):
            size += len(value.encode("utf-8"))
        elif value is not None:
            size += 8
    return size


def floor_bytes(path: Path, first_run: int) -> int:
    """The bytes of what genuinely changed in the runs after ``first_run``.

    Per run: its own row without any summary (times, outcome), each change it
    logged, its expected progress (8 bytes per distinct value: the elapsed share of
    a period moves with the clock), and for each KR and objective only the values
    that differ from its previous snapshot (the value, plus 8 bytes naming the KR
    and the column). A rerun where nothing moved costs its run row and its pace.
    Provenances count once per distinct text, as they are stored.
    """
    db = sqlite3.connect(path)
    try:
        total = 0
        for row in db.execute(
            "SELECT id, started_at, finished_at, dry_run, outcome, reason FROM runs WHERE id > ?",
            (first_run,),
        ):
            total += _row_bytes(row)
        paced = any(r[1] == "paces" for r in db.execute("PRAGMA table_info(runs)"))
        for (paces,) in db.execute(  # a store before migration 0010 keeps them in its rows
            f"SELECT {'paces' if paced else 'NULL'} FROM runs WHERE id > ?", (first_run,)
        ):
            total += 8 * len(json.loads(paces or "[]"))
        for row in db.execute("SELECT * FROM changes WHERE run_id > ?", (first_run,)):
            total += _row_bytes(row)
        skip = ("run_id", "last_run", "pace") + (("expected",) if paced else ())
        columns = [r[1] for r in db.execute("PRAGMA table_info(snapshots)") if r[1] not in skip]
        last: dict[tuple[str, str], tuple[Any, ...]] = {}
        for row in _snapshot_rows(db, columns):
            run_id, values = row[0], row[1:]
            key = (values[0], values[1])  # kind, id
            before = last.get(key)
            last[key] = values
            if run_id <= first_run:
                continue
            for i, value in enumerate(values):
                if before is None or before[i] != value:
                    total += 8 + _row_bytes((value,))
        seen = {
            r[0]
            for r in db.execute(
                "SELECT DISTINCT provenance FROM snapshots WHERE run_id <= ?", (first_run,)
            )
        }
        for key, text in db.execute("SELECT key, json FROM provenances"):
            if key not in seen:
                total += _row_bytes((key, text))
    finally:
        db.close()
    return total


def _snapshot_rows(db: sqlite3.Connection, columns: list[str]) -> Iterator[tuple[Any, ...]]:
    """Every run's snapshot of every KR and objective, in run order (run id first)."""
    yield from db.execute(
        f"SELECT run_id, {', '.join(columns)} FROM snapshots ORDER BY run_id, kind, id"
    )


def human_work(org: DemoOrg, run: int) -> str:
    """A little work before an odd run: a KR-1 story closes, or a deal's ARR moves."""
    if run % 4 == 1:
        for stories in org.children.values():
            open_ = [k for k in stories if org.jira.issue(k)["status"] != "Done"]
            if open_:
                org.jira.update_issue(open_[0], status="Done")
                return f"{open_[0]} closed"
    deal = "Partner deal: Marketplace payouts"
    org.notion.update_page(org.initiative_pages[deal], {"ARR": 20_000.0 + 1_000 * run})
    return f"{deal}: ARR {20_000 + 1_000 * run}"


def bench(folder: Path, runs: int, say: Any) -> tuple[Sizes, Sizes, int, int]:
    """Sync the demo organisation ``runs + 1`` times; the store measured after 1 and at the end."""
    clock = DemoClock(TODAY)
    jira = JiraSandbox("cloud", clock=clock)
    notion = NotionSandbox(rate_limit=None, clock=clock)
    jira.start()
    notion.start()
    try:
        start = clock.now.date() - dt.timedelta(days=42)
        org = seed(jira, notion, clock.now - dt.timedelta(days=1))
        config = folder / "okr-sync.yaml"
        config.write_text(
            demo_config(
                jira_url=jira.url, jira_email=jira.email, notion_url=notion.url,
                databases=org.databases, cycle=(start, start + dt.timedelta(days=91)),
            ),
            encoding="utf-8",
        )  # fmt: skip
        tokens = {"JIRA_API_TOKEN": jira.api_token, "NOTION_TOKEN": notion.token}
        with environment(tokens):
            loaded = load_config(config)
            path = folder / ".okr-sync" / "state.db"
            state = state_location(loaded.config.state, loaded.base_dir).open()
            try:
                engine = Engine(loaded, build_connectors(loaded, sleep=no_sleep), state, now=clock)
                first = engine.run(apply=True)
                assert first.run_id is not None
                after_first = measure(path)
                for run in range(1, runs + 1):
                    clock.advance(STEP)
                    if run % 2:
                        say(f"run {run + 1}: {human_work(org, run)}")
                    summary = engine.run(apply=True)
                    assert not summary.failed, summary.failed
            finally:
                state.close()
        return after_first, measure(path), floor_bytes(path, first.run_id), first.run_id
    finally:
        jira.stop()
        notion.stop()


def report(first: Sizes, last: Sizes, runs: int) -> list[str]:
    """Each table's growth per run (pages and rows), and the whole file's."""
    out = [
        f"{'table':<16}{'pages B/run':>14}{'rows B/run':>14}{'rows B (run 1)':>16}",
    ]
    for table in sorted(set(last.pages) | set(first.pages), key=lambda t: -last.rows.get(t, 0)):
        pages = (last.pages.get(table, 0) - first.pages.get(table, 0)) / runs
        rows = (last.rows.get(table, 0) - first.rows.get(table, 0)) / runs
        out.append(f"{table:<16}{pages:>14,.0f}{rows:>14,.0f}{first.rows.get(table, 0):>16,}")
    grown = (last.file - first.file) / runs
    row_total = (sum(last.rows.values()) - sum(first.rows.values())) / runs
    out.append(f"{'whole file':<16}{grown:>14,.0f}{row_total:>14,.0f}{first.file:>16,}")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=40, help="runs after the first sync")
    parser.add_argument("--quick", action="store_true", help="12 runs")
    parser.add_argument("--verbose", action="store_true", help="say what each run changed")
    args = parser.parse_args(argv)
    runs = 12 if args.quick else args.runs
    if runs < 2:
        parser.error("need at least 2 runs")

    def say(text: str) -> None:
        if args.verbose:
            print(text, file=sys.stderr, flush=True)

    with tempfile.TemporaryDirectory(prefix="okr-bench-bytes-") as folder:
        first, last, floor, _ = bench(Path(folder), runs, say)
    per_run = (last.file - first.file) / runs
    print(
        f"the demo organisation synced {runs + 1} times (30 minutes apart, human work before "
        f"every other run); SQLite store vacuumed after the first sync ({first.file:,} bytes) "
        f"and after the last ({last.file:,} bytes)"
    )
    print("\n".join(report(first, last, runs)))
    print(f"store growth per run: {per_run:,.0f} bytes (target <= {TARGET_BYTES:,})")
    figure(
        "state.bytes_per_run",
        "state store growth per run, the demo organisation (SQLite, vacuumed)",
        round(per_run),
        round(floor / runs),
        unit="bytes",
        floor_means="the run row, its logged changes and the snapshot values that changed",
        target=f"≤ {TARGET_BYTES:,} bytes",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
