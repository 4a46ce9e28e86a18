"""End to end: the engine, the real `jira` client and the Jira sandbox over loopback."""

from __future__ import annotations

import datetime as dt
import logging
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.files import YamlOkrSource
from connectors.jira.connector import JiraConnector
from okr_sync.config.loading import load_config
from okr_sync.engine.engine import Engine
from okr_sync.models import RunSummary
from okr_sync.state.store import StateStore
from sandboxes import JiraSandbox

NOW = dt.datetime(2026, 11, 15, 12, tzinfo=dt.UTC)
OKRS = """
objectives:
  - {id: O-1, title: Ship payments}
key_results:
  - {id: KR-1, title: Finish the checkout epic, objective: O-1, epics: [PAY-1], url: "https://notion.example/kr-1"}
  - {id: KR-2, title: Platform epics, objective: O-1}
  - {id: KR-3, title: Close bugs, objective: O-1, start: 0, target: 10, measure: "count:done"}
  - {id: KR-4, title: Bugs reported, objective: O-1, start: 0, target: 10, measure: count}
"""
CONFIG = """
connections:
  okrs: {type: yaml_okrs, path: okrs.yaml}
  jira:
    type: jira
    url: URL
    EMAIL
    token: "${E2E_JIRA_TOKEN}"
okrs: okrs
items: [jira]
cycle: {start: 2026-10-01, end: 2026-12-31}
mapping:
  rules:
    - kr: KR-3
      source: jira
      query: QUERY
    - kr: KR-4
      source: jira
      query: "project = PAY AND labels = bug"
write:
  jira:
    items: [property, label, remote_link, comment]
"""


class World:
    """A sandbox seeded with two epics (one with 250 children), bugs, and a config."""

    def __init__(self, tmp: Path, monkeypatch: pytest.MonkeyPatch, mode: str = "cloud",
                 query: str = "project = PAY AND labels = bug") -> None:  # fmt: skip
        self.sandbox = JiraSandbox(mode)  # type: ignore[arg-type]
        url = self.sandbox.start()
        sb = self.sandbox
        old = {"updated": dt.datetime.now(dt.UTC) - dt.timedelta(days=2)}  # seeded two days ago
        sb.add_project("PAY", "Payments")
        self.epic1 = sb.add_issue("PAY", "Checkout", issuetype="Epic", **old)
        self.epic2 = sb.add_issue("PAY", "Platform", issuetype="Epic", labels=["okr:KR-2"], **old)
        self.children = [
            sb.add_issue(
                "PAY",
                f"Story {i}",
                parent=self.epic1,
                status="Done" if i < 100 else "To Do",
                story_points=2,
                **old,
            )
            for i in range(250)
        ]
        for i in range(4):
            sb.add_issue(
                "PAY",
                f"Platform task {i}",
                parent=self.epic2,
                status="Done" if i == 0 else "In Progress",
                **old,
            )
        for i in range(3):
            sb.add_issue(
                "PAY",
                f"Bug {i}",
                issuetype="Bug",
                labels=["bug"],
                status="Done" if i < 2 else "To Do",
                **old,
            )
        cloud = mode == "cloud"
        monkeypatch.setenv("E2E_JIRA_TOKEN", sb.api_token if cloud else sb.pat)
        (tmp / "okrs.yaml").write_text(OKRS)
        text = CONFIG.replace("URL", url).replace("QUERY", f'"{query}"')
        text = text.replace("EMAIL", f"email: {sb.email}" if cloud else "")
        (tmp / "okr-sync.yaml").write_text(text)
        self.tmp = tmp
        self.sleeps: list[float] = []
        self.state = StateStore.open(tmp / "state.db")

    def run(self, apply: bool = True) -> tuple[RunSummary, Counter[str]]:
        loaded = load_config(self.tmp / "okr-sync.yaml")
        jira = JiraConnector("jira", loaded.connections["jira"], self.tmp, sleep=self.sleeps.append)  # type: ignore[arg-type]
        okrs = YamlOkrSource("okrs", loaded.connections["okrs"], self.tmp)  # type: ignore[arg-type]
        before = Counter(self.sandbox.requests)
        summary = Engine(loaded, {"okrs": okrs, "jira": jira}, self.state, now=lambda: NOW).run(
            apply=apply
        )
        return summary, Counter(self.sandbox.requests) - before

    def prop(self, key: str) -> dict[str, object]:
        return self.sandbox.issue(key)["properties"].get("okr-sync")  # type: ignore[no-any-return]


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    w = World(tmp_path, monkeypatch)
    yield w
    w.sandbox.stop()


def kr(summary: RunSummary, kr_id: str):  # type: ignore[no-untyped-def]
    return next(r for r in summary.key_results if r.kr_id == kr_id)


def searches(requests: Counter[str]) -> int:
    return sum(n for endpoint, n in requests.items() if "/search" in endpoint)


def writes(requests: Counter[str]) -> int:
    return sum(n for endpoint, n in requests.items() if endpoint.split()[0] in ("PUT", "POST", "DELETE")
               and "/search" not in endpoint)  # fmt: skip


def test_full_sync_pages_through_every_child_and_writes_back(world: World) -> None:
    summary, requests = world.run()
    assert not summary.failed and not summary.source_errors
    one = kr(summary, "KR-1")
    assert (one.done, one.total) == (100, 250) and one.progress == pytest.approx(0.4)
    assert kr(summary, "KR-2").progress == pytest.approx(0.25)
    assert kr(summary, "KR-3").current == 2
    # a count KR linked by one query is answered by Jira's approximate-count, not a search
    assert kr(summary, "KR-4").current == 3
    assert requests["POST /rest/api/2/search/approximate-count"] == 1
    # roots (keys and labels in one query), the rule's query, 250 children at 100 a
    # page, and one read of the epics' values before writing
    assert requests["GET /rest/api/2/search/jql"] == 1 + 1 + 3 + 1
    prop = world.prop(world.epic1)
    assert prop["key_results"] == [  # type: ignore[index]
        {"id": "KR-1", "title": "Finish the checkout epic", "progress": 0.4, "status": "On track",
         "url": "https://notion.example/kr-1"}
    ]  # fmt: skip
    issue = world.sandbox.issue(world.epic1)
    assert "okr:KR-1" in issue["labels"]
    assert [link["globalId"] for link in issue["remote_links"]] == ["okr-sync:KR-1"]


def test_rerun_with_nothing_changed_writes_nothing(world: World) -> None:
    world.run()
    summary, requests = world.run()
    assert summary.writes == 0 and summary.plan.changes == ()
    assert writes(requests) == 0
    # incremental: the rule's members (keys only), one page for what changed on every
    # path (the epics okr-sync just labelled), the members by key, label and epic (keys
    # only: 5,000 a page), and one read of the epics' values back
    assert requests["GET /rest/api/2/search/jql"] == 4


def test_incremental_pull_sees_only_what_changed(world: World) -> None:
    world.run()
    world.sandbox.update_issue(world.children[200], status="Done")
    summary, requests = world.run()
    assert kr(summary, "KR-1").done == 101 and kr(summary, "KR-1").total == 250
    assert world.prop(world.epic1)["key_results"][0]["progress"] == pytest.approx(0.404)  # type: ignore[index]
    assert requests["PUT /rest/api/2/issue/{key}/properties/{prop}"] == 1


def test_status_change_comments_once_even_through_a_429_storm(world: World) -> None:
    world.run()
    first = world.sandbox.issue(world.epic1)["comments"]  # the first link is announced
    assert len(first) == 1 and "[okr-sync:KR-1:On track:#1]" in str(first[0]["body"])
    for key in world.children[100:]:
        world.sandbox.update_issue(key, status="Done")
    world.sandbox.faults.add("*", 429, times=6, retry_after=1)
    summary, _ = world.run()
    assert not summary.failed and kr(summary, "KR-1").status is not None
    assert world.sleeps and all(s == 1.0 for s in world.sleeps)
    comments = world.sandbox.issue(world.epic1)["comments"]
    assert len(comments) == 2 and "[okr-sync:KR-1:Achieved:#2]" in str(comments[1]["body"])
    world.run()
    assert len(world.sandbox.issue(world.epic1)["comments"]) == 2


def test_a_comment_whose_answer_was_lost_is_not_posted_again(world: World) -> None:
    world.run()
    for key in world.children[100:]:
        world.sandbox.update_issue(key, status="Done")
    world.sandbox.faults.add("PUT /rest/api/2/issue/{key}/properties/{prop}", 500, times=1)
    first, _ = world.run()  # the comment is posted, then the property write fails
    assert [f.owner for f in first.failures] == ["KR-1"]
    world.run()
    assert len(world.sandbox.issue(world.epic1)["comments"]) == 2  # the first link's, this one


def test_a_check_in_is_never_posted_twice_behind_many_newer_comments(world: World) -> None:
    """The comment is posted, the write after it fails, humans edit the epic and add 120
    comments: the next run still sees its marker (before: it searched the newest 100
    comments only, and posted the same check-in again)."""
    world.run()
    for key in world.children[100:]:
        world.sandbox.update_issue(key, status="Done")
    world.sandbox.faults.add("PUT /rest/api/2/issue/{key}/properties/{prop}", 500, times=1)
    first, _ = world.run()
    assert [f.owner for f in first.failures] == ["KR-1"]
    world.sandbox.update_issue(world.epic1, summary="Checkout, reworded by a human")
    for i in range(120):
        world.sandbox.add_comment(world.epic1, f"human note {i}")
    world.run()
    bodies = [str(c["body"]) for c in world.sandbox.issue(world.epic1)["comments"]]
    assert sum("[okr-sync:KR-1:Achieved:" in b for b in bodies) == 1


def test_only_the_named_fields_are_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``items: [label]`` adds the label and touches nothing else: no entity property
    (before: every epic also got the okr-sync property, as a receipt)."""
    world = World(tmp_path, monkeypatch)
    try:
        config = world.tmp / "okr-sync.yaml"
        text = config.read_text().replace("[property, label, remote_link, comment]", "[label]")
        config.write_text(text)
        summary, requests = world.run()
        assert not summary.failed
        issue = world.sandbox.issue(world.epic1)
        assert "okr:KR-1" in issue["labels"]
        assert issue["properties"] == {} and issue["comments"] == [] and issue["remote_links"] == []
        assert not [e for e in requests if "/properties/" in e or "/comment" in e]
        again, requests = world.run()
        assert again.writes == 0 and writes(requests) == 0
    finally:
        world.sandbox.stop()


def test_remote_links_without_the_property_are_read_from_the_epic(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = World(tmp_path, monkeypatch)
    try:
        config = world.tmp / "okr-sync.yaml"
        text = config.read_text().replace(
            "[property, label, remote_link, comment]", "[remote_link]"
        )
        config.write_text(text)
        world.run()
        issue = world.sandbox.issue(world.epic1)
        assert issue["properties"] == {}
        assert [link["globalId"] for link in issue["remote_links"]] == ["okr-sync:KR-1"]
        again, requests = world.run()
        assert again.writes == 0 and writes(requests) == 0
        assert requests["GET /rest/api/2/issue/{key}/remotelink"] == 1  # one per epic
    finally:
        world.sandbox.stop()


def test_data_center_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    world = World(tmp_path, monkeypatch, mode="datacenter")
    try:
        summary, requests = world.run()
        assert not summary.failed
        assert (kr(summary, "KR-1").done, kr(summary, "KR-1").total) == (100, 250)
        assert (
            requests["GET /rest/api/2/search"] >= 3 and requests["GET /rest/api/2/search/jql"] == 0
        )
        assert kr(summary, "KR-4").current == 3  # a zero-size search on Data Center
        assert world.prop(world.epic1)["key_results"][0]["progress"] == 0.4  # type: ignore[index]
    finally:
        world.sandbox.stop()


def test_wrong_token_is_reported_with_the_site_and_no_secret(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("E2E_JIRA_TOKEN", "tracer-wrong-token-42")
    summary, _ = world.run()
    error = summary.source_errors["jira"]
    assert world.sandbox.url in error and "Check the API token" in error
    assert "tracer-wrong-token-42" not in summary.model_dump_json()
    assert all(kr(summary, k).stale for k in ("KR-1", "KR-2", "KR-3"))


def test_bad_jql_fails_only_its_kr_naming_jiras_message_and_the_rule_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A typo in KR-3's rule fails KR-3 alone (before: every KR of the source went stale)."""
    world = World(tmp_path, monkeypatch, query="project = PAY AND labels = (")
    try:
        for _ in range(2):  # the full pull, then an incremental one
            summary, _ = world.run()
            assert summary.source_errors == {}
            error = kr(summary, "KR-3").error or ""
            assert "Error in the JQL Query" in error and "(in rule 1 (okr-sync.yaml:14)" in error
            assert not kr(summary, "KR-3").stale and kr(summary, "KR-3").progress is None
            assert [k for k in summary.failed if k.startswith("KR-")] == ["KR-3"]
            assert (kr(summary, "KR-1").done, kr(summary, "KR-1").total) == (100, 250)
            assert kr(summary, "KR-4").current == 3
    finally:
        world.sandbox.stop()


def test_many_epics_on_data_center_are_read_back_with_their_property(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The jira client drops `properties` from a POSTed Data Center search; a long
    # read-back must still see them, or every rerun would rewrite every epic.
    world = World(tmp_path, monkeypatch, mode="datacenter")
    try:
        epics = [world.sandbox.add_issue("PAY", f"Epic {i}", issuetype="Epic") for i in range(200)]
        okrs = OKRS.replace("epics: [PAY-1]", f"epics: [PAY-1, {', '.join(epics)}]")
        (tmp_path / "okrs.yaml").write_text(okrs)
        first, _ = world.run()
        assert first.writes >= 200
        second, requests = world.run()
        assert second.writes == 0 and second.plan.conflicts == ()
        assert writes(requests) == 0
    finally:
        world.sandbox.stop()


def test_a_new_day_alone_does_not_rewrite_the_epics(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = sys.modules[__name__]
    monkeypatch.setattr(module, "NOW", dt.datetime(2026, 11, 10, 23, 59, tzinfo=dt.UTC))
    world.run()
    monkeypatch.setattr(module, "NOW", dt.datetime(2026, 11, 11, 0, 1, tzinfo=dt.UTC))
    summary, requests = world.run()
    assert summary.writes == 0 and writes(requests) == 0


def test_an_unparsable_answer_is_reported_once_not_dumped_by_the_client(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    # One garbled answer to a read is retried; one that persists past every retry is
    # reported (this case was a single garbled answer while reads were not retried on it).
    world.sandbox.faults.malformed("GET /rest/api/*/search/jql", times=20)
    summary, _ = world.run()
    assert summary.source_errors and "malformed response" in summary.source_errors["jira"]
    assert "gave up after" in summary.source_errors["jira"]
    assert not [
        r for r in caplog.records if r.name.startswith("jira") and r.levelno >= logging.ERROR
    ]
