"""One bad answer to a read costs a retry, not the run; writes are not repeated.

A single 500 or a body that is not valid JSON on a read — even Jira's field
list at connect — used to fail the whole pull and leave every KR of the source
stale for that run. Reads are now retried on them a bounded number of times
(``max_retries``, with backoff), as on 502/503/504; a fault that persists fails
the source once, with one message that says what was answered and how many
retries were made. Writes keep their policy (the matrices of
``test_faults_jira.py`` and ``test_faults_notion.py`` show a 500 on a Jira
property PUT and on a Notion comment POST reported, not repeated).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.reliability.crash_world import CrashWorld
from tests.reliability.fault_matrix import MAX_RETRIES
from tests.reliability.test_faults_jira import JiraWorld
from tests.reliability.test_faults_notion import QUERY, NotionWorld

FIELD = "GET /rest/api/2/field"
SEARCH = "GET /rest/api/2/search/jql"
PROPERTY_PUT = "PUT /rest/api/2/issue/{key}/properties/{prop}"


@pytest.fixture
def jira(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[JiraWorld]:
    world = JiraWorld(tmp_path, monkeypatch)
    yield world
    world.sandbox.stop()


@pytest.fixture
def notion(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[NotionWorld]:
    world = NotionWorld(tmp_path, monkeypatch)
    yield world
    world.sandbox.stop()


@pytest.mark.parametrize("fault", ["500", "malformed"])
def test_one_bad_answer_to_the_field_list_at_connect_is_retried(
    jira: JiraWorld, fault: str
) -> None:
    if fault == "500":
        jira.sandbox.faults.add(FIELD, 500)
    else:
        jira.sandbox.faults.malformed(FIELD)
    summary = jira.run()
    assert jira.sandbox.faults.pending == 0, "the fault never fired"
    assert not summary.source_errors and not summary.failed, (summary.source_errors, summary.failed)
    assert not [r.kr_id for r in summary.key_results if r.stale]
    assert jira.sandbox.requests[FIELD] == 2  # asked again, once
    assert len(jira.sleeps) == 1 and 0.7 <= jira.sleeps[0] <= 1.3  # backoff, with jitter


def test_one_500_on_a_search_page_is_retried(jira: JiraWorld) -> None:
    jira.sandbox.faults.on_request(SEARCH, lambda: jira.sandbox.faults.add(SEARCH, 500), nth=2)
    summary = jira.run()
    assert jira.sandbox.faults.pending == 0 and jira.sandbox.faults.pending_hooks == 0
    assert not summary.source_errors and not summary.failed, (summary.source_errors, summary.failed)
    assert summary.writes > 0


def test_a_persistent_500_fails_the_source_after_bounded_retries(jira: JiraWorld) -> None:
    jira.sandbox.faults.add(SEARCH, 500, times=50)
    summary = jira.run()
    assert 50 - jira.sandbox.faults.pending == MAX_RETRIES + 1  # tries, then gives up
    assert set(summary.source_errors) == {"jira"}
    message = summary.source_errors["jira"]
    assert "answered 500" in message and f"gave up after {MAX_RETRIES} retries" in message
    assert all(r.stale for r in summary.key_results)
    assert summary.writes == 0


def test_a_500_on_a_property_write_is_not_retried(jira: JiraWorld) -> None:
    jira.sandbox.faults.add(PROPERTY_PUT, 500)
    summary = jira.run()
    assert jira.sandbox.faults.pending == 0
    failed_epic = [f for f in summary.failures if f.target == "jira"]
    assert len(failed_epic) >= 1 and "answered 500" in failed_epic[0].error
    # One PUT per epic, the failed one included: never a second attempt.
    assert jira.sandbox.requests[PROPERTY_PUT] == 2
    assert jira.sleeps == []


def test_one_unparsable_notion_query_is_retried(notion: NotionWorld) -> None:
    # The second query reads the Key Results database: without it the run stops.
    notion.sandbox.faults.on_request(QUERY, lambda: notion.sandbox.faults.malformed(QUERY), nth=2)
    summary = notion.run()
    assert notion.sandbox.faults.pending == 0 and notion.sandbox.faults.pending_hooks == 0
    assert not summary.source_errors and not summary.failed, (summary.source_errors, summary.failed)
    assert not [r.kr_id for r in summary.key_results if r.stale]


def test_a_persistently_unparsable_notion_query_fails_the_source_after_bounded_retries(
    notion: NotionWorld,
) -> None:
    # The third query is the Initiatives database's first page: its KRs go stale. As many
    # bad answers as attempts: one more retry would have succeeded.
    notion.sandbox.faults.on_request(
        QUERY, lambda: notion.sandbox.faults.malformed(QUERY, times=MAX_RETRIES + 1), nth=3
    )
    summary = notion.run()
    assert notion.sandbox.faults.pending == 0
    assert set(summary.source_errors) == {"notion"}
    message = summary.source_errors["notion"]
    assert "malformed response from Notion" in message
    assert f"gave up after {MAX_RETRIES} retries" in message
    assert {r.kr_id for r in summary.key_results if r.stale} == {"KR-1", "KR-2"}


@pytest.fixture
def world(tmp_path: Path) -> Iterator[CrashWorld]:
    w = CrashWorld(tmp_path)
    # One retry keeps the real backoff (about a second) short.
    w.config.write_text(
        w.config.read_text().replace("type: jira", "type: jira\n    max_retries: 1")
    )
    yield w
    w.close()


def test_the_cli_sync_survives_one_500_and_reports_a_persistent_one_once(
    world: CrashWorld,
) -> None:
    assert "max_retries: 1" in world.config.read_text()
    world.jira.faults.add(FIELD, 500)
    code, out, err = world.cli("sync")
    assert (code, err) == (0, ""), out + err
    assert world.jira.faults.pending == 0

    world.week()
    world.jira.faults.add(FIELD, 500, times=2)
    code, out, err = world.cli("sync")
    assert code == 1, out + err
    assert world.jira.faults.pending == 0  # two attempts: the first and one retry
    # One message, the same wherever it is repeated (the stale KRs quote it), and one
    # "source failed" line for it.
    said = set(re.findall(r"jira: field list: [^)\n]*", out + err))
    assert said == {f"jira: field list: {world.jira.url} answered 500: Internal Server Error; "
                    "gave up after 1 retries"}, said  # fmt: skip
    assert out.count("source failed: jira:") == 1
