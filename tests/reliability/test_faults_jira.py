"""Faults on the Jira sandbox: every fault kind on reads and writes, nothing lost.

One world serves the whole matrix, case after case. In each case a human
flips 10 issues of the checkout epic (KR-1 moves between At risk and On track:
new numbers and a check-in comment), then a sync meets one fault kind in one
phase. It must either finish with the values a fault-free sync computes on
the same data, or mark the KRs it could not compute stale/failed, report it
(the CLI's exit 1), write nothing from partial data and keep the incremental
cursor where it was. With the fault cleared, one more sync converges: the
reference values everywhere, exactly one new comment, no conflict. The human's
edits are an hour older than the faulted run, beyond the pull overlap, so a
cursor moved on by a failed pull would lose them for good.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from connectors.files import YamlOkrSource
from connectors.jira.connector import JiraConnector
from okr_sync.config.loading import load_config
from okr_sync.engine.engine import Engine
from okr_sync.models import DEFAULT_STATUS_LABELS, RunSummary
from okr_sync.state.store import StateStore
from sandboxes import JiraSandbox
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
KRS = ("KR-1", "KR-2", "KR-3", "KR-4")
OKRS = """
objectives:
  - {id: O-1, title: Ship payments}
key_results:
  - {id: KR-1, title: Finish the checkout epic, objective: O-1, epics: [PAY-1], url: "https://okrs.example/kr-1"}
  - {id: KR-2, title: Platform epics, objective: O-1}
  - {id: KR-3, title: Close bugs, objective: O-1, start: 0, target: 10, measure: "count:done"}
  - {id: KR-4, title: Bugs reported, objective: O-1, start: 0, target: 10, measure: count}
"""
CONFIG = f"""
connections:
  okrs: {{type: yaml_okrs, path: okrs.yaml}}
  jira:
    type: jira
    url: URL
    EMAIL
    token: "${{FAULT_JIRA_TOKEN}}"
    page_size: PAGE
    max_retries: {MAX_RETRIES}
    max_wait_seconds: 60
    timeout_seconds: TIMEOUT
okrs: okrs
items: [jira]
cycle: {{start: 2026-10-01, end: 2026-12-31}}
mapping:
  rules:
    - {{kr: KR-3, source: jira, query: "project = PAY AND labels = bug"}}
    - {{kr: KR-4, source: jira, query: "project = PAY AND labels = bug"}}
write:
  jira:
    items: [property, label, remote_link, comment]
"""
SEARCH = "GET /rest/api/2/search/jql"
Values = dict[str, tuple[Any, ...]]


class JiraWorld:
    """Two epics (15 and 4 children), three bugs, a config with small pages and timeouts."""

    def __init__(self, tmp: Path, env: pytest.MonkeyPatch, mode: str = "cloud") -> None:
        self.clock = Clock()  # the sandbox's and the connector's: cursors, `updated`
        self.now = START  # the engine's: expected progress stays put from case to case
        sb = self.sandbox = JiraSandbox(mode, clock=self.clock)  # type: ignore[arg-type]
        url = sb.start()
        old = {"updated": START - dt.timedelta(days=2)}
        sb.add_project("PAY", "Payments")
        self.epic1 = sb.add_issue("PAY", "Checkout", issuetype="Epic", **old)
        self.epic2 = sb.add_issue("PAY", "Platform", issuetype="Epic", labels=["okr:KR-2"], **old)
        self.children = [
            sb.add_issue("PAY", f"Story {i}", parent=self.epic1,
                         status="Done" if i % 3 == 0 else "To Do", story_points=2, **old)
            for i in range(15)
        ]  # fmt: skip
        for i in range(4):
            status = "Done" if i == 0 else "In Progress"
            sb.add_issue("PAY", f"Platform task {i}", parent=self.epic2, status=status, **old)
        for i in range(3):
            status = "Done" if i < 2 else "To Do"
            sb.add_issue("PAY", f"Bug {i}", issuetype="Bug", labels=["bug"], status=status, **old)
        cloud = mode == "cloud"
        env.setenv("FAULT_JIRA_TOKEN", sb.api_token if cloud else sb.pat)
        (tmp / "okrs.yaml").write_text(OKRS)
        self.config = CONFIG.replace("URL", url).replace(
            "EMAIL", f"email: {sb.email}" if cloud else ""
        )
        self.tmp = tmp
        self.sleeps: list[float] = []
        self.state = StateStore.open(tmp / "state.db")
        self.done = False  # whether the flipped issues are done now
        self.refs: dict[bool, Values] = {}
        self.dirty = False

    def run(self, state: StateStore | None = None, *, apply: bool = True, page: int = 4,
            timeout: float = 30.0) -> RunSummary:  # fmt: skip
        """One sync (or plan) through fresh connectors, as a new process would."""
        text = self.config.replace("PAGE", str(page)).replace("TIMEOUT", str(timeout))
        (self.tmp / "okr-sync.yaml").write_text(text)
        loaded = load_config(self.tmp / "okr-sync.yaml")
        jira = JiraConnector("jira", loaded.connections["jira"], self.tmp,  # type: ignore[arg-type]
                             sleep=self.sleeps.append, clock=self.clock)  # fmt: skip
        okrs = YamlOkrSource("okrs", loaded.connections["okrs"], self.tmp)  # type: ignore[arg-type]
        connectors = {"okrs": okrs, "jira": jira}
        engine = Engine(loaded, connectors, state or self.state, now=lambda: self.now)
        LEDGER.runs += 1
        return engine.run(apply=apply)

    def reference(self) -> Values:
        """What a fault-free full pull computes on the data as it is now (writes nothing)."""
        if self.done not in self.refs:
            summary = self.run(StateStore.in_memory(), apply=False, page=100)
            assert not summary.failed, summary.failed
            self.refs[self.done] = values(summary)
        return self.refs[self.done]

    def held(self) -> Values:
        """What the epics hold: each KR's progress and status in the property."""
        out: Values = {}
        for epic in (self.epic1, self.epic2):
            prop = self.sandbox.issue(epic)["properties"].get("okr-sync") or {}
            for kr in prop.get("key_results") or ():
                out[kr["id"]] = (kr["progress"], kr["status"])
        return out

    def comments(self) -> int:
        """Check-in comments on the epics."""
        return sum(len(self.sandbox.issue(e)["comments"]) for e in (self.epic1, self.epic2))

    def work(self) -> None:
        """A human flips ten issues of the checkout epic: KR-1 At risk ↔ On track."""
        self.done = not self.done
        for i, key in enumerate(self.children):
            if i % 3 and i < 14:
                self.sandbox.update_issue(key, status="Done" if self.done else "To Do")

    def settle(self) -> None:
        """After a case that stopped half-way: no fault left, one clean sync."""
        self.sandbox.faults.clear()
        assert self.sandbox.wait_idle()
        if self.dirty:
            self.clock.advance()
            self.run()
        self.dirty = True


def values(summary: RunSummary) -> Values:
    """Each KR's numbers: progress as the epics' property holds it, current, status label."""
    return {
        r.kr_id: (
            round(r.progress or 0.0, 4),
            r.current,
            r.status and DEFAULT_STATUS_LABELS[r.status],
        )
        for r in summary.key_results
    }


@pytest.fixture(scope="module", autouse=True)
def ledger() -> Iterator[Ledger]:
    yield LEDGER
    print("\n" + LEDGER.report("Jira faults"))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JiraWorld]:
    with pytest.MonkeyPatch.context() as env:
        w = JiraWorld(tmp_path_factory.mktemp("jira-faults"), env)
        w.run(page=100)
        assert w.comments() == 2  # the first sync announces each epic's KR, once
        yield w
        w.sandbox.stop()


# --- the phases ----------------------------------------------------------------------


@dataclass(frozen=True)
class Phase:
    """Where a fault lands: ``target`` endpoint, armed when ``trigger`` (endpoint, nth) arrives.

    ``stage`` is what a failure there costs: the pull (``pull``), the read of the
    target's values before writing (``read``), or one record's write (``write``).
    ``fails`` are the kinds Jira's retry policy gives up on there: reads retry a
    500 and a broken body too, writes do not (they may have landed), paging quirks
    fail the pull, comments (not idempotent) are retried only on 429, refused
    before anything happened. Any other outcome is a change of behaviour.
    """

    target: str
    trigger: tuple[str, int] | None
    stage: str
    kinds: frozenset[str]
    fails: frozenset[str]


_GIVE_UP = frozenset({"429-quota", "500-exhausts", "503-exhausts"})
PHASES = {
    # The second page of the first search of the pull: one page is already in.
    "pull": Phase(SEARCH, (SEARCH, 2), "pull", frozenset(KINDS),
                  _GIVE_UP | {"empty-page", "repeat-token"}),
    # The read of the epics' values before writing (the search after the count).
    "read-back": Phase(SEARCH, ("POST /rest/api/2/search/approximate-count", 1), "read",
                       frozenset({"reset", "malformed", "500", "500-exhausts"}), _GIVE_UP),
    # Property writes answer without a body: nothing to cut or garble there. A 500 on a
    # write is not retried: the write may have landed.
    "write": Phase("PUT /rest/api/2/issue/{key}/properties/{prop}", None, "write",
                   frozenset({"429-storm", "500", "503-exhausts", "reset-after"}),
                   _GIVE_UP | {"500"}),
    "comment": Phase("POST /rest/api/2/issue/{key}/comment", None, "write",
                     frozenset({"429-storm", "503-exhausts", "reset-after", "timeout", "truncated"}),
                     frozenset({"503-exhausts", "reset-after", "timeout", "truncated"})),
}  # fmt: skip
CASES = [(kind, name) for name, phase in PHASES.items() for kind in KINDS if kind in phase.kinds]


@pytest.mark.parametrize(("kind", "phase_name"), CASES)
def test_a_fault_loses_nothing(world: JiraWorld, kind: str, phase_name: str) -> None:
    phase = PHASES[phase_name]
    world.settle()
    held_before, comments_before = world.held(), world.comments()
    world.clock.advance()
    world.work()
    ref = world.reference()
    cursor_before = world.state.cursor("jira")
    world.clock.advance()

    slept = len(world.sleeps)
    pending = arm(world.sandbox.faults, kind, phase.target, phase.trigger)
    summary = world.run(timeout=TIMEOUT if kind == "timeout" else 30.0)
    assert world.sandbox.wait_idle()  # a timed-out request lands late: let it
    injected = pending()
    assert injected >= 1, "the fault never fired"

    failed = kind in phase.fails
    held = world.held()
    if failed and phase.stage == "pull":
        # Nothing computed from partial data: every KR reads from Jira, all are stale,
        # the epics keep what they held, the cursor stays for the next run.
        assert set(summary.source_errors) == {"jira"}, summary.source_errors
        assert set(summary.failed) >= set(KRS)
        assert all(r.stale for r in summary.key_results)
        assert all(LEDGER.compare(held[k], held_before[k]) for k in held_before)
        assert world.state.cursor("jira") == cursor_before
    else:
        assert not summary.source_errors, summary.source_errors
        got = values(summary)
        assert all(LEDGER.compare(got[k], ref[k]) for k in KRS)
        if failed and phase.stage == "read":
            # Jira's current values are unknown: no epic is written, the target is reported.
            assert [(f.target, f.owner) for f in summary.failures] == [("jira", "jira")]
            assert summary.writes == 0
            assert all(LEDGER.compare(held[k], held_before[k]) for k in held_before)
        elif failed:
            # The failed epic is reported, by the KRs it serves; it holds either the old
            # values or, when only the answer was lost, the new ones: never anything else.
            assert {f.owner for f in summary.failures} == {"KR-1"}
            assert held["KR-1"] in (held_before["KR-1"], ref["KR-1"][::2])
        else:
            assert not summary.failed, summary.failed
            assert all(LEDGER.compare(held[k], ref[k][::2]) for k in ("KR-1", "KR-2"))
    assert world.comments() <= comments_before + 1

    world.sandbox.faults.clear()
    world.clock.advance()
    again = world.run()
    assert not again.failed and not again.source_errors, (again.failed, again.source_errors)
    assert again.plan.conflicts == ()  # okr-sync's own value never reads as a human's
    assert all(LEDGER.compare(v, ref[k]) for k, v in values(again).items())
    held = world.held()
    assert all(LEDGER.compare(held[k], ref[k][::2]) for k in ("KR-1", "KR-2"))
    # One check-in for the one status change, whatever failed on the way.
    assert LEDGER.compare(world.comments(), comments_before + 1)
    if kind == "429-storm":
        assert world.sleeps[slept:].count(2.0) == 3  # Retry-After honoured, every time
    assert all(s <= 60 for s in world.sleeps)  # a quota 429 is never slept on
    world.dirty = False
    LEDGER.case(kind, phase_name, "failed" if failed else "recovered", injected)


@pytest.mark.parametrize("mode", ["cloud", "datacenter"])
def test_an_issue_deleted_between_two_pages_skips_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    # A full pull of the epics' children, three pages of four: an issue of the first
    # page is deleted when the second is asked for. Cloud's tokens resume after the
    # last issue seen; Data Center pages by offset, where the deletion would shift an
    # issue the pull never sees.
    world = JiraWorld(tmp_path, monkeypatch, mode)
    try:
        before = world.reference()
        children = world.sandbox.search_keys(f"parent = {world.epic1} OR parent = {world.epic2}")
        if mode == "datacenter":
            children = world.sandbox.search_keys(f'"Epic Link" in ({world.epic1}, {world.epic2})')
        victim = children[1]
        fired: list[str] = []

        def delete() -> None:
            fired.append(victim)
            world.sandbox.delete_issue(victim)

        # Searches: the roots, the rule's query (and the count, on Data Center), then
        # the children's pages: the hook fires as their second page is asked for.
        nth = 4 if mode == "cloud" else 5
        world.sandbox.faults.on_request("GET /rest/api/2/search*", delete, nth=nth)
        summary = world.run()
        assert fired == [victim]
        assert not summary.failed, (summary.failed, summary.source_errors)
        # Everything that existed when the pull began was counted (the victim too).
        assert all(LEDGER.compare(v, before[k]) for k, v in values(summary).items())
        # The next full pull (a day later) no longer sees the victim.
        world.now += dt.timedelta(hours=25)
        world.clock.advance(25)
        world.refs.clear()
        after = world.reference()
        again = world.run()
        assert all(LEDGER.compare(v, after[k]) for k, v in values(again).items())
        assert after["KR-1"] != before["KR-1"] or after["KR-2"] != before["KR-2"]
        LEDGER.case("vanish", "pull", "recovered", len(fired))
    finally:
        world.sandbox.stop()
