"""Incremental Jira pulls count exactly what a full pull would (the engine, the real client,
the Jira sandbox): issues that leave or join the selection without showing in an
``updated >=`` window, and rules whose tags change on cached issues."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.files import YamlOkrSource
from connectors.jira.connector import JiraConnector
from okr_sync.config.loading import load_config
from okr_sync.engine.engine import Engine
from okr_sync.models import RunSummary
from tests.e2e.test_jira_sync import NOW, OKRS, World

OLD = dt.datetime.now(dt.UTC) - dt.timedelta(days=2)
KR5 = "  - {id: KR-5, title: Labelled stories, objective: O-1}\n"


def numbers(summary: RunSummary) -> dict[str, tuple[object, ...]]:
    return {
        r.kr_id: (r.done, r.total, r.current, r.progress, r.stale, r.error)
        for r in summary.key_results
    }


def full_pull(world: World) -> RunSummary:
    """What a full pull computes now (a dry run: nothing written, nothing recorded)."""
    loaded = load_config(world.tmp / "okr-sync.yaml")
    jira = JiraConnector("jira", loaded.connections["jira"], world.tmp, sleep=lambda _s: None)  # type: ignore[arg-type]
    okrs = YamlOkrSource("okrs", loaded.connections["okrs"], world.tmp)  # type: ignore[arg-type]
    engine = Engine(loaded, {"okrs": okrs, "jira": jira}, world.state, now=lambda: NOW, full=True)
    return engine.run(apply=False)


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    w = World(tmp_path, monkeypatch)
    (tmp_path / "okrs.yaml").write_text(OKRS + KR5)
    yield w
    w.sandbox.stop()


def kr(summary: RunSummary, kr_id: str):  # type: ignore[no-untyped-def]
    return next(r for r in summary.key_results if r.kr_id == kr_id)


def test_children_moved_to_an_unlinked_epic_stop_counting_at_once(world: World) -> None:
    other = world.sandbox.add_issue("PAY", "Unlinked epic", issuetype="Epic", updated=OLD)
    world.run()
    for key in world.children[200:203]:  # three open children leave the linked epic
        world.sandbox.update_issue(key, parent=other)
    summary, _ = world.run()
    assert (kr(summary, "KR-1").done, kr(summary, "KR-1").total) == (100, 247)
    assert numbers(summary) == numbers(full_pull(world))


def labelled_stories(world: World) -> list[str]:
    """Four stories labelled okr:KR-5, the first done: KR-5 at 25 %."""
    return [
        world.sandbox.add_issue(
            "PAY",
            f"Labelled {i}",
            labels=["okr:KR-5"],
            updated=OLD,
            status="Done" if i == 0 else "To Do",
        )
        for i in range(4)
    ]


def test_a_removed_label_stops_counting_at_once(world: World) -> None:
    stories = labelled_stories(world)
    first, _ = world.run()
    assert kr(first, "KR-5").progress == pytest.approx(0.25)
    for key in stories[1:]:
        world.sandbox.update_issue(key, labels=[])
    summary, _ = world.run()
    assert kr(summary, "KR-5").progress == pytest.approx(1.0)  # before: still 25 %
    assert numbers(summary) == numbers(full_pull(world))


def test_a_deleted_child_stops_counting_at_once(world: World) -> None:
    world.run()
    world.sandbox.delete_issue(world.children[0])  # a done one
    summary, _ = world.run()
    assert (kr(summary, "KR-1").done, kr(summary, "KR-1").total) == (99, 249)
    assert numbers(summary) == numbers(full_pull(world))


def test_an_issue_that_joins_a_rule_without_changing_is_counted(world: World) -> None:
    """As through a rule's relative date: the issue matches now, its ``updated`` is old."""
    world.run()
    key = world.sandbox.add_issue("PAY", "Old bug", issuetype="Bug", status="Done", updated=OLD)
    world.sandbox.update_issue(key, labels=["bug"], updated=OLD)
    summary, _ = world.run()
    assert kr(summary, "KR-3").current == 3  # done bugs: 2 before, this one
    assert numbers(summary) == numbers(full_pull(world))


def test_a_cached_issue_that_leaves_a_rule_without_changing_loses_the_rules_tag(
    world: World,
) -> None:
    """A child of the linked epic is also a done bug (KR-3's rule). It leaves the rule
    without its ``updated`` moving: it stays selected (a child of a linked epic), but no
    longer counts for KR-3."""
    world.sandbox.update_issue(world.children[0], labels=["bug"], updated=OLD)
    first, _ = world.run()
    assert kr(first, "KR-3").current == 3
    world.sandbox.update_issue(world.children[0], labels=[], updated=OLD)
    summary, _ = world.run()
    assert kr(summary, "KR-3").current == 2
    assert (kr(summary, "KR-1").done, kr(summary, "KR-1").total) == (100, 250)
    assert numbers(summary) == numbers(full_pull(world))


def test_a_no_op_rerun_asks_members_by_key_only(world: World) -> None:
    world.run()
    summary, requests = world.run()
    assert summary.writes == 0
    # The rule's members, what changed (the epics okr-sync labelled, inside the overlap
    # window), the members by key, label and epic, and the read-back: keys-only searches
    # serve 5,000 a page, so 257 members take one.
    assert requests["GET /rest/api/2/search/jql"] + requests["POST /rest/api/2/search/jql"] == 4
    # The epics read again are of one project: its board is asked once.
    assert requests["GET /rest/agile/1.0/board"] == 1


def test_labels_and_rules_are_quoted_as_jira_reads_them(world: World) -> None:
    """Labels spelled like JQL keywords or holding spaces, and a rule with ``order by``
    inside a string: before, the labels went bare (``labels in (empty, team alpha,
    update)``: a 400, every KR stale) and ORDER BY was cut inside the string."""
    config = world.tmp / "okr-sync.yaml"
    rules = (
        "  rules:\n"
        "    - {kr: KR-5, source: jira, label: update}\n"
        "    - {kr: KR-5, source: jira, label: empty}\n"
        '    - {kr: KR-5, source: jira, label: "team alpha"}\n'
        "    - kr: KR-6\n"
        "      source: jira\n"
        "      query: 'project = PAY AND summary ~ \"sort order by date\" ORDER BY key'\n"
    )
    config.write_text(config.read_text().replace("  rules:\n", rules))
    okrs = world.tmp / "okrs.yaml"
    okrs.write_text(okrs.read_text() + "  - {id: KR-6, title: Sorted, objective: O-1}\n")
    sb = world.sandbox
    for label in ("update", "empty", "team alpha", "unrelated"):
        sb.add_issue("PAY", f"Labelled {label}", labels=[label], status="Done", updated=OLD)
    sb.add_issue("PAY", "sort order by date", updated=OLD)
    for _ in range(2):  # full, then incremental
        summary, _ = world.run()
        assert summary.source_errors == {}
        assert (kr(summary, "KR-5").done, kr(summary, "KR-5").total) == (3, 3)
        assert kr(summary, "KR-6").total == 1
        assert (kr(summary, "KR-1").done, kr(summary, "KR-1").total) == (100, 250)


def test_a_changed_connection_config_forces_a_full_pull(world: World) -> None:
    """Items are cached interpreted: a config edit must reach them at the next run."""
    world.run()
    _, noop = world.run()  # nothing changed: an incremental pull
    first = world.state.cursor("jira")
    config = world.tmp / "okr-sync.yaml"
    config.write_text(
        config.read_text().replace("type: jira\n", "type: jira\n    overlap_minutes: 11\n")
    )
    summary, after = world.run()
    search = "GET /rest/api/2/search/jql"
    # The 250 children of PAY-1 are read again in full (pages of 100 with fields).
    assert after[search] > noop[search], (noop, after)
    changed = world.state.cursor("jira")
    assert first is not None and changed is not None
    assert changed.fingerprint != first.fingerprint
    assert numbers(summary) == numbers(full_pull(world))
    _, rerun = world.run()  # and the run after is incremental again
    assert rerun[search] == noop[search]


@pytest.mark.parametrize("mode", ["cloud", "datacenter"])
def test_a_deleted_cached_epic_does_not_fail_the_incremental_pull(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    """Data Center refuses a JQL naming a deleted key, even in ``cf[…] in (…)``."""
    world = World(tmp_path, monkeypatch, mode=mode)
    try:
        world.run()
        world.sandbox.delete_issue(world.epic2)  # labelled okr:KR-2: cached, then gone
        summary, _ = world.run()
        assert not summary.source_errors, summary.source_errors
        assert "KR-1" not in summary.failed and "KR-3" not in summary.failed
        assert numbers(summary) == numbers(full_pull(world))
    finally:
        world.sandbox.stop()
