"""Faults on the Notion sandbox: every fault kind on reads and writes, nothing lost.

One workspace serves the whole matrix, case after case (see the Jira module
for the pattern). In each case a human flips 10 initiatives (KR-1 moves between
At risk and On track: new numbers, a check-in comment), then a sync meets one
fault kind in one phase. It must either finish with the values a fault-free
sync computes on the same data, or mark the KRs it could not compute stale or
failed and say so, write nothing from partial data and keep the cursor where
it was (the item databases are read in full each run); a failure of the OKR databases themselves stops the run
before anything is written (the CLI's exit 1). With the fault cleared, one more
sync converges: the reference values on every page, exactly one new check-in
comment, no conflict. The sandbox answers at most 4 rows a page, so the
initiatives the pull reads arrive in eight pages.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from notion_client import Client

from connectors.notion.connector import NotionConnector
from okr_sync.config.loading import load_config
from okr_sync.engine.engine import Engine
from okr_sync.errors import EXIT_FAILED, OkrSyncError
from okr_sync.models import DEFAULT_STATUS_LABELS, RunSummary
from okr_sync.state.store import StateStore
from sandboxes import NotionSandbox
from tests.reliability.fault_matrix import (
    KINDS,
    MAX_RETRIES,
    START,
    TIMEOUT,
    Clock,
    Ledger,
    arm,
)

LEDGER = Ledger()
STATUSES = ["Not started", "On track", "At risk", "Off track", "Achieved"]
CONFIG = f"""
connections:
  notion:
    type: notion
    token: "${{FAULT_NOTION_TOKEN}}"
    base_url: URL
    objectives: OBJ
    key_results: KRS
    items: [{{database: INI, status: Status}}]
    requests_per_second: 1000
    max_retries: {MAX_RETRIES}
    max_wait_seconds: 60
    timeout_seconds: TIMEOUT
okrs: notion
items: [notion]
cycle: {{start: 2026-10-01, end: 2026-12-31}}
measures: {{default: initiatives_done, KR-3: manual}}
write:
  notion:
    key_results: [progress, current, status, last_synced, comment]
    objectives: [progress, status, last_synced]
"""
QUERY = "POST /v1/data_sources/{id}/query"
Values = dict[str, tuple[Any, ...]]


class NotionWorld:
    """Objectives, Key Results (KR-1 relates 30 initiatives, past the 25 a page shows), Initiatives."""

    def __init__(self, tmp: Path, env: pytest.MonkeyPatch) -> None:
        self.clock = Clock()  # the sandbox's and the connector's: cursors, edit times
        self.now = START  # the engine's: expected progress stays put from case to case
        sb = self.sandbox = NotionSandbox(rate_limit=None, clock=self.clock, max_page_size=4)
        url = sb.start()
        status = {"status": {"options": [{"name": n} for n in STATUSES]}}
        obj_db, obj_ds = sb.add_database("Objectives", {
            "Name": {"title": {}}, "ID": {"unique_id": {"prefix": "O"}},
            "Progress": {"number": {"format": "percent"}}, "Status": status, "Last synced": {"date": {}},
        })  # fmt: skip
        ini_db, ini_ds = sb.add_database("Initiatives", {
            "Name": {"title": {}},
            "Status": {"status": {"options": [{"name": n} for n in ["Not started", "In progress", "Done"]]}},
        })  # fmt: skip
        kr_db, kr_ds = sb.add_database("Key Results", {
            "Name": {"title": {}}, "ID": {"unique_id": {"prefix": "KR"}},
            "Objective": {"relation": {"data_source_id": obj_ds, "type": "single_property", "single_property": {}}},
            "Start": {"number": {}}, "Target": {"number": {}}, "Current": {"number": {}},
            "Progress": {"number": {"format": "percent"}}, "Status": status, "Last synced": {"date": {}},
            "Initiatives": {"relation": {"data_source_id": ini_ds, "type": "single_property", "single_property": {}}},
        })  # fmt: skip
        self.initiatives = ini_ds
        old = START - dt.timedelta(days=2)
        self.objective = sb.add_page(obj_ds, {"Name": "Make customers happy"}, last_edited_time=old)
        self.rows = [
            sb.add_page(ini_ds, {"Name": f"Initiative {i}",
                                 "Status": "Done" if i % 3 == 0 else "In progress"}, last_edited_time=old)
            for i in range(32)
        ]  # fmt: skip
        self.krs = [
            sb.add_page(kr_ds, {"Name": name, "Objective": [self.objective], **extra}, last_edited_time=old)
            for name, extra in [
                ("Ship the initiatives", {"Start": 0.0, "Target": 100.0, "Initiatives": self.rows[:30]}),
                ("Small bets", {"Start": 0.0, "Target": 100.0, "Initiatives": self.rows[30:]}),
                ("NPS from 20 to 50", {"Start": 20.0, "Target": 50.0, "Current": 35.0}),
            ]
        ]  # fmt: skip
        for i in range(5):  # people talk on KR-1: its comments come in two pages
            sb.add_comment(self.krs[0], f"Looking good, week {i}")
        env.setenv("FAULT_NOTION_TOKEN", sb.token)
        text = CONFIG.replace("URL", url).replace("OBJ", obj_db).replace("KRS", kr_db)
        self.config = text.replace("INI", ini_db)
        self.tmp = tmp
        self.sleeps: list[float] = []
        self.state = StateStore.open(tmp / "state.db")
        self.done = False  # whether the flipped initiatives are done now
        self.refs: dict[bool, Values] = {}
        self.dirty = False

    def run(self, state: StateStore | None = None, *, apply: bool = True,
            timeout: float = 30.0) -> RunSummary:  # fmt: skip
        """One sync (or plan) through a fresh connector, as a new process would."""
        (self.tmp / "okr-sync.yaml").write_text(self.config.replace("TIMEOUT", str(timeout)))
        loaded = load_config(self.tmp / "okr-sync.yaml")
        notion = NotionConnector("notion", loaded.connections["notion"], self.tmp,  # type: ignore[arg-type]
                                 sleep=self.sleeps.append, clock=self.clock)  # fmt: skip
        engine = Engine(loaded, {"notion": notion}, state or self.state, now=lambda: self.now)
        LEDGER.runs += 1
        return engine.run(apply=apply)

    def reference(self) -> Values:
        """What a fault-free full pull computes on the data as it is now (writes nothing)."""
        if self.done not in self.refs:
            summary = self.run(StateStore.in_memory(), apply=False)
            assert not summary.failed, summary.failed
            self.refs[self.done] = values(summary)
        return self.refs[self.done]

    def held(self) -> Values:
        """What the KR and objective pages hold: Progress, Current, Status."""
        out: Values = {}
        for ident, page in [("KR-1", self.krs[0]), ("KR-2", self.krs[1]), ("KR-3", self.krs[2]),
                            ("O-1", self.objective)]:  # fmt: skip
            props = self.sandbox.page(page)["properties"]
            status = props["Status"]["status"]
            current = props["Current"]["number"] if "Current" in props else None
            out[ident] = (props["Progress"]["number"], current, status and status["name"])
        return out

    def comments(self) -> int:
        """Comments on the KR pages (people's and check-ins)."""
        return sum(len(self.sandbox.comments(page)) for page in self.krs)

    def work(self) -> None:
        """A human flips 10 initiatives of KR-1: At risk ↔ On track."""
        self.done = not self.done
        for row in self.rows[1:30:3]:
            self.sandbox.update_page(row, {"Status": "Done" if self.done else "In progress"})

    def settle(self) -> None:
        """After a case that stopped half-way: no fault left, one clean sync."""
        self.sandbox.faults.clear()
        assert self.sandbox.wait_idle()
        if self.dirty:
            self.clock.advance()
            self.run()
        self.dirty = True


def values(summary: RunSummary) -> Values:
    """Each KR's and objective's numbers as the pages hold them (objectives have no Current)."""
    out: Values = {
        r.kr_id: (
            round(r.progress or 0.0, 4),
            None if r.current is None else round(r.current, 4),  # as okr-sync writes it
            r.status and DEFAULT_STATUS_LABELS[r.status],
        )
        for r in summary.key_results
    }
    for o in summary.objectives:
        out[o.objective_id] = (
            round(o.progress or 0.0, 4),
            None,
            o.status and DEFAULT_STATUS_LABELS[o.status],
        )
    return out


@pytest.fixture(scope="module", autouse=True)
def ledger() -> Iterator[Ledger]:
    yield LEDGER
    print("\n" + LEDGER.report("Notion faults"))


@pytest.fixture(scope="module", autouse=True)
def one_tls_context() -> Iterator[None]:
    # Each run builds a fresh notion-client, whose httpx client loads the CA bundle
    # (some 20 ms) though the sandbox speaks plain HTTP: load it once for the module.
    with pytest.MonkeyPatch.context() as patch:
        create = functools.cache(httpx._config.create_ssl_context)
        patch.setattr("httpx._transports.default.create_ssl_context", create)
        yield


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NotionWorld]:
    with pytest.MonkeyPatch.context() as env:
        w = NotionWorld(tmp_path_factory.mktemp("notion-faults"), env)
        first = w.run()
        assert not first.failed and w.comments() == 5  # the first sync never comments
        yield w
        w.sandbox.stop()


# --- the phases ----------------------------------------------------------------------


@dataclass(frozen=True)
class Phase:
    """Where a fault lands: ``target`` endpoint, armed when ``trigger`` (endpoint, nth) arrives.

    ``stage``: ``okrs`` (the OKR databases: the run stops), ``items`` (an item
    source: its KRs go stale), ``recheck`` (the query for pages humans edited
    since the read, made just before the first write: no page is written) or
    ``write`` (one page). ``fails`` are the kinds
    the retry policy gives up on there: reads and PATCHes retry 409/429/5xx/529,
    timeouts and lost connections, reads a broken body too (a PATCH whose answer
    was cut is reported); repeated cursors fail the read; an empty page with
    ``has_more`` is just followed; comments (not idempotent) are retried only on
    429/529.
    """

    target: str
    trigger: tuple[str, int] | None
    stage: str
    kinds: frozenset[str]
    fails: frozenset[str]


_GIVE_UP = frozenset({"429-quota", "500-exhausts", "503-exhausts"})
PHASES = {
    # The second page of the initiatives (queries: objectives, key results, initiatives).
    "items": Phase(QUERY, (QUERY, 4), "items", frozenset(KINDS) - {"reset-after"},
                   _GIVE_UP | {"repeat-token"}),
    "okrs": Phase(QUERY, (QUERY, 2), "okrs", frozenset({"503-exhausts", "malformed"}), _GIVE_UP),
    # Then the rest of the initiatives' eight pages (32 rows, read in full every run),
    # then the re-check before the first write.
    "recheck": Phase(QUERY, (QUERY, 11), "recheck", frozenset({"503-exhausts", "malformed"}),
                     _GIVE_UP),
    "write": Phase("PATCH /v1/pages/{id}", None, "write",
                   frozenset({"429-storm", "500", "reset-after", "malformed"}), _GIVE_UP | {"malformed"}),
    # The search for the check-in's marker among KR-1's comments, before posting it.
    "comment-check": Phase("GET /v1/comments", ("GET /v1/comments", 1), "write",
                           frozenset({"503-exhausts", "reset", "repeat-token"}),
                           frozenset({"503-exhausts", "repeat-token"})),
    "comment": Phase("POST /v1/comments", None, "write",
                     frozenset({"429-storm", "500", "503-exhausts", "reset-after", "timeout", "truncated"}),
                     frozenset({"500", "503-exhausts", "reset-after", "timeout", "truncated"})),
}  # fmt: skip
CASES = [(kind, name) for name, phase in PHASES.items() for kind in KINDS if kind in phase.kinds]
ITEM_KRS = {"KR-1", "KR-2"}  # the KRs computed from initiatives (KR-3 is manual)


@pytest.mark.parametrize(("kind", "phase_name"), CASES)
def test_a_fault_loses_nothing(world: NotionWorld, kind: str, phase_name: str) -> None:
    phase = PHASES[phase_name]
    world.settle()
    held_before, comments_before = world.held(), world.comments()
    runs_before = len(world.state.runs())
    world.clock.advance()
    world.work()
    ref = world.reference()
    cursor_before = world.state.cursor("notion")
    world.clock.advance()

    slept = len(world.sleeps)
    pending = arm(world.sandbox.faults, kind, phase.target, phase.trigger)
    failed = kind in phase.fails
    timeout = TIMEOUT if kind == "timeout" else 30.0
    if failed and phase.stage == "okrs":
        # Without the OKRs there is nothing to compute: the run stops before any write.
        with pytest.raises(OkrSyncError) as stopped:
            world.run(timeout=timeout)
        assert stopped.value.exit_code == EXIT_FAILED
        assert len(world.state.runs()) == runs_before
        summary = None
    else:
        summary = world.run(timeout=timeout)
    assert world.sandbox.wait_idle()  # a timed-out request lands late: let it
    injected = pending()
    assert injected >= 1, "the fault never fired"

    held = world.held()
    if summary is None:
        assert all(LEDGER.compare(held[k], held_before[k]) for k in held_before)
        assert world.state.cursor("notion") == cursor_before
    elif failed and phase.stage == "items":
        # Nothing computed from partial data: the KRs fed by initiatives are stale and
        # keep their pages; the manual KR is computed as usual; the cursor stays.
        assert set(summary.source_errors) == {"notion"}, summary.source_errors
        assert {r.kr_id for r in summary.key_results if r.stale} == ITEM_KRS
        assert set(summary.failed) == ITEM_KRS
        assert all(LEDGER.compare(held[k], held_before[k]) for k in held_before)
        assert world.state.cursor("notion") == cursor_before
    else:
        assert not summary.source_errors, summary.source_errors
        got = values(summary)
        assert all(LEDGER.compare(got[k], ref[k]) for k in ref)
        if failed and phase.stage == "recheck":
            # Whether a human edited a page since the read is unknown: none is written,
            # each is reported (before this was caught, the error ended the run).
            assert {f.owner for f in summary.failures} == {"KR-1", "O-1"}, summary.failures
            assert all("re-reading what changed" in f.error for f in summary.failures)
            assert summary.writes == 0
            assert all(LEDGER.compare(held[k], held_before[k]) for k in held_before)
        elif failed:
            # One page's write failed and is reported by its owner; the page holds the old
            # values or, when only the answer was lost, the new ones: never anything else.
            (failure,) = summary.failures
            owner = failure.owner
            assert held[owner] in (held_before[owner], ref[owner])
            assert all(LEDGER.compare(held[k], ref[k]) for k in ref if k != owner)
        else:
            assert not summary.failed, summary.failed
            assert all(LEDGER.compare(held[k], ref[k]) for k in ref)
    assert world.comments() <= comments_before + 1

    world.sandbox.faults.clear()
    world.clock.advance()
    again = world.run()
    assert not again.failed and not again.source_errors, (again.failed, again.source_errors)
    assert again.plan.conflicts == ()  # okr-sync's own value never reads as a human's
    assert all(LEDGER.compare(v, ref[k]) for k, v in values(again).items())
    held = world.held()
    assert all(LEDGER.compare(held[k], ref[k]) for k in ref)
    # One check-in for the one status change, whatever failed on the way.
    assert LEDGER.compare(world.comments(), comments_before + 1)
    if kind == "429-storm":
        assert world.sleeps[slept:].count(2.0) == 3  # Retry-After honoured, every time
    assert all(s <= 60 for s in world.sleeps)  # a quota 429 is never slept on
    world.dirty = False
    LEDGER.case(kind, phase_name, "failed" if failed else "recovered", injected)


def test_a_row_trashed_between_two_pages_skips_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A full pull of the 32 initiatives, eight pages of four: a row of the first page
    # goes to the trash as the second page is asked for. Notion's cursor names the
    # next page's first row, so no row slips between the pages.
    world = NotionWorld(tmp_path, monkeypatch)
    try:
        before = world.reference()
        # The first page the pull will get (the connector's sorts), and a row of it that
        # KR-1 relates to.
        client = Client(auth=world.sandbox.token, base_url=world.sandbox.url, retry=False)
        sorts = [{"timestamp": "last_edited_time", "direction": "ascending"}]
        first = client.data_sources.query(world.initiatives, sorts=sorts, page_size=100)
        victim = next(r["id"] for r in first["results"] if r["id"] in world.rows[:30])
        fired: list[str] = []

        def trash() -> None:
            fired.append(victim)
            world.sandbox.trash_page(victim)

        world.sandbox.faults.on_request(QUERY, trash, nth=4)  # objectives, KRs, page 1, page 2
        summary = world.run()
        assert fired == [victim]
        assert not summary.failed, (summary.failed, summary.source_errors)
        assert all(LEDGER.compare(v, before[k]) for k, v in values(summary).items())
        # A day later the full pull no longer finds the row KR-1 relates to: KR-1 is
        # reported and not written (a related row that is gone is never counted as
        # zero), as a fault-free full pull of the same data says; O-1 goes on with
        # KR-1's last recorded progress.
        world.now += dt.timedelta(hours=25)
        world.clock.advance(25)
        fresh = world.run(StateStore.in_memory(), apply=False)
        again = world.run()
        assert "KR-1" in fresh.failed and set(again.failed) == {"KR-1"}
        assert victim in str(next(r.error for r in again.key_results if r.kr_id == "KR-1"))
        held = world.held()
        assert LEDGER.compare(held["KR-1"], before["KR-1"])
        LEDGER.case("vanish", "items", "recovered", len(fired))
    finally:
        world.sandbox.stop()
