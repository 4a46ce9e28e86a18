"""Humans edit KR pages while okr-sync runs: every order of events, both policies.

The demo organisation on the Notion and Jira sandboxes, synced in-process with
the real clients. A manager types Current = 80 on KR-1 (okr-sync computes
71.43 for it in the second sync) at one of these moments:

- before the run reads the pages;
- after the read, while the run is still pulling work items (so the plan was made
  from the old value; the re-check before writing must see the edit);
- between two writes of the run (caught by the re-check when it runs before
  every write);
- after okr-sync's write to KR-1 was answered (the next run sees it).

In every case the policy is honoured (overwrite: okr-sync's value ends up on the
page; skip: the human's stays), and the human's 80 is in the state store's history.
Every order and policy runs on both state-store backends (``backend``: a SQLite
file, a PostgreSQL namespace), the store opened through its location as a run does.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from okr_sync.cli.common import location_of
from okr_sync.cli.demo.config import demo_config
from okr_sync.cli.demo.org import DemoOrg, seed, simulate_week
from okr_sync.config.loading import load_config
from okr_sync.engine.engine import Engine, build_connectors
from okr_sync.models import RunSummary
from sandboxes import JiraSandbox, NotionSandbox
from tests.backends import Backend
from tests.reliability.sandbox_hooks import around_request

COMPUTED = 71.43  # KR-1's Current after the week of work: 0.7143 (as written) of 0..100
NOW = dt.datetime(2026, 11, 23, 12, tzinfo=dt.UTC)


class World:
    def __init__(
        self, folder: Path, policy: str, backend: Backend, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        self.jira = JiraSandbox("cloud")
        self.notion = NotionSandbox(rate_limit=None)
        self.jira.start()
        self.notion.start()
        now = dt.datetime.now(dt.UTC)
        self.org: DemoOrg = seed(self.jira, self.notion, now - dt.timedelta(days=1))
        text = demo_config(
            jira_url=self.jira.url, jira_email=self.jira.email, notion_url=self.notion.url,
            databases=self.org.databases,
            cycle=(dt.date(2026, 9, 28), dt.date(2026, 12, 28)),
        ).replace("conflicts: overwrite", f"conflicts: {policy}")  # fmt: skip
        (folder / "okr-sync.yaml").write_text(backend.config(text))
        monkeypatch.setenv("JIRA_API_TOKEN", self.jira.api_token)
        monkeypatch.setenv("NOTION_TOKEN", self.notion.token)
        self.loaded = load_config(folder / "okr-sync.yaml")
        location = location_of(self.loaded)
        assert location.backend == backend.name, location
        self.state = location.open()
        self.ann = self.org.people["Ann"]

    def close(self) -> None:
        self.state.close()
        self.jira.stop()
        self.notion.stop()

    def run(self, refresh_seconds: float = 20.0, at: dt.datetime = NOW) -> RunSummary:
        connectors = build_connectors(self.loaded, sleep=lambda _: None)
        engine = Engine(
            self.loaded, connectors, self.state,
            now=lambda: at, refresh_seconds=refresh_seconds,
        )  # fmt: skip
        return engine.run(apply=True)

    def human_edit(self) -> None:
        self.notion.update_page(self.org.kr_pages["KR-1"], {"Current": 80.0}, edited_by=self.ann)

    def on_request(self, method: str, path_part: str, action: Callable[[], None], *,
                   answered: bool = False) -> None:  # fmt: skip
        """Run ``action`` (once) when a matching request reaches the Notion sandbox."""
        around_request(self.notion, method, action, path_part=path_part, answered=answered)

    def current(self) -> Any:
        return self.org.kr_value("KR-1", "Current")

    def human_values(self) -> list[Any]:
        return [c["before"] for c in self.state.changes_for("KR-1") if c["field"] == "current"]


@pytest.fixture(params=["overwrite", "skip"])
def world(
    request: pytest.FixtureRequest, tmp_path: Path, backend: Backend,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[World]:  # fmt: skip
    w = World(tmp_path, request.param, backend, monkeypatch)
    assert not w.run().failed  # okr-sync has written KR-1 once
    simulate_week_without_the_edit(w.org)
    yield w
    w.close()


def simulate_week_without_the_edit(org: DemoOrg) -> None:
    """The demo's week of work, then KR-1's Current put back: the tests choose when Ann edits."""
    before = org.kr_value("KR-1", "Current")
    simulate_week(org)
    org.notion.update_page(org.kr_pages["KR-1"], {"Current": before})


def policy(world: World) -> str:
    return world.loaded.config.conflicts


def assert_policy_honoured(world: World, summary: RunSummary) -> None:
    (conflict,) = [c for c in summary.plan.conflicts if c.ref.id == "KR-1"]
    assert (conflict.field, conflict.before) == ("current", 80.0)
    assert world.current() == pytest.approx(COMPUTED if policy(world) == "overwrite" else 80.0)
    assert 80.0 in world.human_values()


def test_edit_before_the_read(world: World) -> None:
    world.human_edit()
    summary = world.run()
    assert_policy_honoured(world, summary)


def test_edit_after_the_read_while_the_run_pulls_work(world: World) -> None:
    # Work items are pulled after the OKR pages: the plan is made from the old value.
    world.on_request("POST", world.org.data_sources["initiatives"], world.human_edit)
    summary = world.run()
    assert_policy_honoured(world, summary)


def test_edit_between_two_writes(world: World) -> None:
    # The first page write goes to KR-7; Ann edits KR-1 as it lands.
    world.on_request("PATCH", "/v1/pages/", world.human_edit, answered=True)
    summary = world.run(refresh_seconds=0)  # re-checked before every write
    assert_policy_honoured(world, summary)


def test_edit_after_okr_sync_wrote_it(world: World) -> None:
    world.on_request("PATCH", world.org.kr_pages["KR-1"], world.human_edit, answered=True)
    first = world.run()
    assert not [c for c in first.plan.conflicts if c.ref.id == "KR-1"]
    assert world.current() == 80.0  # Ann's edit came after okr-sync's write
    summary = world.run()
    assert_policy_honoured(world, summary)


def test_a_policy_of_skip_keeps_reporting_without_writing(world: World) -> None:
    if policy(world) != "skip":
        pytest.skip("skip policy only")
    world.human_edit()
    world.run()
    again = world.run()
    assert world.current() == 80.0
    assert [c.action.value for c in again.plan.conflicts if c.ref.id == "KR-1"] == ["skip"]


@pytest.fixture
def synced(tmp_path: Path, backend: Backend, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    w = World(tmp_path, "overwrite", backend, monkeypatch)
    assert not w.run().failed
    yield w
    w.close()


def test_deleted_epics_never_turn_into_zero_percent(synced: World) -> None:
    before = synced.org.kr_value("KR-1", "Progress")
    for epic in list(synced.org.children)[:2]:  # KR-1's epics, listed on its page
        synced.jira.delete_issue(epic)
    # An incremental pull cannot see a deletion; the daily full pull does.
    summary = synced.run(at=NOW + dt.timedelta(days=2))
    (kr1,) = [k for k in summary.key_results if k.kr_id == "KR-1"]
    assert "KR-1" in summary.failed and (kr1.stale or kr1.error), kr1
    assert synced.org.kr_value("KR-1", "Progress") == before  # left as it was, not 0 %
    assert not [c for c in summary.plan.changes if c.ref.id == "KR-1" and c.field == "progress"]


def test_an_unshared_initiatives_database_never_turns_into_zero_percent(synced: World) -> None:
    before = {k: synced.org.kr_value(k, "Progress") for k in ("KR-6", "KR-7")}
    synced.notion.share(synced.org.databases["initiatives"], False)
    summary = synced.run()
    assert {"KR-6", "KR-7"} <= set(summary.failed)
    assert {k: synced.org.kr_value(k, "Progress") for k in before} == before
    assert "KR-1" not in summary.failed  # the Jira-backed KRs are still synced
