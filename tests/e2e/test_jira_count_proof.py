"""A selection without JQL rules is proven by one count (the engine, the real client, the
Jira sandbox, Cloud and Data Center): a no-op rerun costs five requests, and every way an
issue leaves without showing in the changes (deleted, moved to another epic or project, a
label removed) makes the count disagree, so the run counts exactly what a full pull does."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.files import YamlOkrSource
from connectors.jira.connector import JiraConnector
from okr_sync.config.loading import load_config
from okr_sync.engine.engine import Engine
from okr_sync.models import RunSummary
from tests.e2e.test_jira_incremental import full_pull, labelled_stories, numbers
from tests.e2e.test_jira_sync import World

OLD = dt.datetime.now(dt.UTC) - dt.timedelta(days=2)
OKRS = """
objectives:
  - {id: O-1, title: Ship payments}
key_results:
  - {id: KR-1, title: Finish the checkout epic, objective: O-1, epics: [PAY-1]}
  - {id: KR-2, title: Platform epics, objective: O-1}
  - {id: KR-5, title: Labelled stories, objective: O-1}
"""
SECTIONS = ("mapping:", "write:")


def no_rules(world: World) -> None:
    """The world's config without its JQL rules, writing only the property."""
    path = world.tmp / "okr-sync.yaml"
    text = path.read_text()
    text = text[: text.index(SECTIONS[0])] + "write:\n  jira:\n    items: [property]\n"
    path.write_text(text)
    (world.tmp / "okrs.yaml").write_text(OKRS)


@pytest.fixture(params=["cloud", "datacenter"])
def world(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:  # fmt: skip
    w = World(tmp_path, monkeypatch, mode=request.param)
    no_rules(w)
    w.labelled = labelled_stories(w)  # type: ignore[attr-defined]
    yield w
    w.sandbox.stop()


def kr(summary: RunSummary, kr_id: str):  # type: ignore[no-untyped-def]
    return next(r for r in summary.key_results if r.kr_id == kr_id)


def proved(caplog: pytest.LogCaptureFixture) -> bool:
    """Whether the count disagreed and the key-only membership proof ran (its log line)."""
    return any("proving which are members" in r.getMessage() for r in caplog.records)


def test_a_no_op_rerun_costs_five_requests_and_reads_no_epic(world: World) -> None:
    first, requests = world.run()
    assert first.writes == 2  # the property on both epics
    # The full pull brought the epics with their property: nothing was read back.
    assert not any("/issue/" in e and e.startswith("GET") for e in requests)
    summary, requests = world.run()
    assert summary.writes == 0
    assert numbers(summary) == numbers(first)
    # serverInfo, myself, the field list, one page of changes, one count: nothing else.
    assert sum(requests.values()) == 5, requests
    count = "POST /rest/api/2/search/approximate-count"
    assert requests[count] == (1 if world.sandbox.mode == "cloud" else 0)


def test_a_deleted_child_makes_the_count_disagree(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    world.run()
    caplog.set_level(logging.INFO, "connectors.jira.pull")
    world.sandbox.delete_issue(world.children[0])  # a done one
    summary, _ = world.run()
    assert (kr(summary, "KR-1").done, kr(summary, "KR-1").total) == (99, 249)
    assert proved(caplog)
    assert numbers(summary) == numbers(full_pull(world))


def test_a_child_moved_to_an_unlinked_epic_stops_counting(world: World) -> None:
    other = world.sandbox.add_issue("PAY", "Unlinked epic", issuetype="Epic", updated=OLD)
    world.run()
    for key in world.children[200:203]:
        world.sandbox.update_issue(key, parent=other)
    summary, _ = world.run()
    assert (kr(summary, "KR-1").done, kr(summary, "KR-1").total) == (100, 247)
    assert numbers(summary) == numbers(full_pull(world))


def test_a_child_moved_to_another_project_is_counted_once(world: World) -> None:
    world.sandbox.add_project("OPS", "Operations")
    world.run()
    moved = world.sandbox.move_issue(world.children[0], "OPS")
    summary, _ = world.run()
    assert numbers(summary) == numbers(full_pull(world))
    assert moved.startswith("OPS-")


def test_a_removed_label_stops_counting(world: World, caplog: pytest.LogCaptureFixture) -> None:
    first, _ = world.run()
    caplog.set_level(logging.INFO, "connectors.jira.pull")
    assert kr(first, "KR-5").progress == pytest.approx(0.25)
    for key in world.labelled[1:]:  # type: ignore[attr-defined]
        world.sandbox.update_issue(key, labels=[])
    summary, _ = world.run()
    assert kr(summary, "KR-5").progress == pytest.approx(1.0)
    assert proved(caplog)
    assert numbers(summary) == numbers(full_pull(world))


def test_an_issue_that_joins_is_counted_without_the_key_only_proof(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    world.run()
    caplog.set_level(logging.INFO, "connectors.jira.pull")
    world.sandbox.add_issue("PAY", "Late story", parent=world.epic1, status="Done")
    summary, requests = world.run()
    assert (kr(summary, "KR-1").done, kr(summary, "KR-1").total) == (101, 251)
    assert not proved(caplog)
    # The changes, the count, and the epic whose KR changed, read before it is written.
    assert sum(n for e, n in requests.items() if "/search" in e) == 3
    assert numbers(summary) == numbers(full_pull(world))


def test_a_count_that_lags_behind_falls_back_to_the_proof(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """Cloud's count is an estimate ("recent updates might not be immediately visible"):
    one that misses the issue just created disagrees with the cache, and the key-only
    proof decides."""
    world.run()
    world.sandbox.add_issue("PAY", "Late story", parent=world.epic1, status="Done")
    world.sandbox.set_count_error(-1)
    caplog.set_level(logging.INFO, "connectors.jira.pull")
    summary, _ = world.run()
    assert proved(caplog) == (world.sandbox.mode == "cloud")  # Data Center's total is exact
    assert numbers(summary) == numbers(full_pull(world))


def test_a_stale_count_that_hides_a_deletion_is_caught_once_it_catches_up(
    world: World,
) -> None:
    """The one case a count cannot tell: still counting an issue deleted since, exactly as
    many as left. Then it lags like the search index; the next run's count disagrees."""
    world.run()
    world.sandbox.delete_issue(world.children[0])
    world.sandbox.set_count_error(1)
    world.run()
    world.sandbox.set_count_error(0)
    summary, _ = world.run()
    assert (kr(summary, "KR-1").done, kr(summary, "KR-1").total) == (99, 249)
    assert numbers(summary) == numbers(full_pull(world))


@pytest.mark.parametrize("mode", ["cloud", "datacenter"])
def test_a_scope_that_lets_an_issue_in_without_an_edit_keeps_the_key_only_proof(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    """`scope: created <= "-1d"` admits a labelled issue when it turns a day old, with no
    edit; a label removed elsewhere the same day would leave the count unchanged. The count
    cannot prove such a selection: the key-only proof runs, and the numbers are a full
    pull's (a count had given KR-5 25 % where a full pull gives 50 %)."""
    import tests.e2e.test_jira_sync as sync_world

    clock = [dt.datetime.now(dt.UTC)]
    sandbox = sync_world.JiraSandbox
    monkeypatch.setattr(sync_world, "JiraSandbox", lambda m: sandbox(m, clock=lambda: clock[0]))
    world = World(tmp_path, monkeypatch, mode=mode)
    try:
        no_rules(world)
        path = tmp_path / "okr-sync.yaml"
        scoped = "    type: jira\n    scope: 'created <= \"-1d\"'\n"
        path.write_text(path.read_text().replace("    type: jira\n", scoped))
        old = clock[0] - dt.timedelta(days=3)
        labelled = [
            world.sandbox.add_issue("PAY", f"L{i}", labels=["okr:KR-5"], created=old,
                                    updated=old, status="Done" if i == 0 else "To Do")
            for i in range(4)
        ]  # fmt: skip
        young = clock[0] - dt.timedelta(hours=20)
        world.sandbox.add_issue(
            "PAY", "Young", labels=["okr:KR-5"], created=young, updated=young, status="Done"
        )

        def run() -> RunSummary:
            loaded = load_config(path)
            jira = JiraConnector(
                "jira", loaded.connections["jira"], tmp_path, sleep=lambda _s: None
            )  # type: ignore[arg-type]
            okrs = YamlOkrSource("okrs", loaded.connections["okrs"], tmp_path)  # type: ignore[arg-type]
            engine = Engine(loaded, {"okrs": okrs, "jira": jira}, world.state, now=lambda: clock[0])
            return engine.run(apply=True)

        assert kr(run(), "KR-5").progress == pytest.approx(0.25)
        clock[0] += dt.timedelta(hours=6)  # "Young" is older than a day now: in, unedited
        world.sandbox.update_issue(labelled[1], labels=[])  # and one leaves
        summary = run()
        assert kr(summary, "KR-5").progress == pytest.approx(0.5)
        assert numbers(summary) == numbers(full_pull(world))
    finally:
        world.sandbox.stop()


def test_a_label_removed_by_hand_on_a_rule_found_epic_is_seen_after_a_full_pull(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full pull brings epics found by a JQL rule without okr-sync's property, so it
    cannot vouch for them: they are read before writing, and a label a human removed is
    a conflict (then put back, by the default policy) instead of going unseen for good."""
    world = World(tmp_path, monkeypatch, query="issuetype = Epic AND summary ~ Ruled")
    try:
        epic = world.sandbox.add_issue("PAY", "Ruled epic", issuetype="Epic")
        world.sandbox.add_issue("PAY", "Ruled story", parent=epic, status="Done")
        path = tmp_path / "okr-sync.yaml"
        text = path.read_text()
        path.write_text(text.replace("items: [property, label, remote_link, comment]",
                                     "items: [property, label]"))  # fmt: skip

        def run(full: bool) -> RunSummary:
            loaded = load_config(path)
            jira = JiraConnector(
                "jira", loaded.connections["jira"], tmp_path, sleep=lambda _s: None
            )  # type: ignore[arg-type]
            okrs = YamlOkrSource("okrs", loaded.connections["okrs"], tmp_path)  # type: ignore[arg-type]
            engine = Engine(loaded, {"okrs": okrs, "jira": jira}, world.state, full=full)
            return engine.run(apply=True)

        run(True)
        assert "okr:KR-3" in world.sandbox.issue(epic)["labels"]
        an_hour_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
        world.sandbox.update_issue(epic, labels=[], updated=an_hour_ago)  # by hand
        summary = run(True)
        assert [(c.ref.id, c.field, c.conflict) for c in summary.plan.changes] == [
            (epic, "label", True)
        ]
        assert "okr:KR-3" in world.sandbox.issue(epic)["labels"]
    finally:
        world.sandbox.stop()
