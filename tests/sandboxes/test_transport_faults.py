"""The sandboxes' network faults and paging quirks, as the real clients see them.

A reset connection, a body cut short, an answer later than the client's
timeout, request hooks, Notion's empty pages and repeated cursors, and Jira
Cloud's page tokens, which resume after the last issue seen (search after).
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import requests
from jira import JIRA
from notion_client import Client
from notion_client.errors import RequestTimeoutError

from sandboxes import JiraSandbox, NotionSandbox


@pytest.fixture
def jira() -> Iterator[JiraSandbox]:
    with JiraSandbox("cloud") as sandbox:
        sandbox.add_project("PAY", "Payments")
        yield sandbox
        assert sandbox.server_errors == []


@pytest.fixture
def notion() -> Iterator[NotionSandbox]:
    with NotionSandbox(rate_limit=None, max_page_size=4) as sandbox:
        yield sandbox
        assert sandbox.server_errors == []


def jira_client(sb: JiraSandbox, timeout: float = 5.0) -> JIRA:
    return JIRA(sb.url, basic_auth=(sb.email, sb.api_token), max_retries=0, timeout=timeout)


def notion_rows(sb: NotionSandbox, count: int) -> tuple[Client, str, list[str]]:
    _, ds = sb.add_database("Rows", {"Name": {"title": {}}})
    rows = [sb.add_page(ds, {"Name": f"Row {i}"}) for i in range(count)]
    return Client(auth=sb.token, base_url=sb.url, retry=False, timeout_ms=5000), ds, rows


def test_a_reset_connection_is_a_connection_error_and_the_request_may_have_happened(
    jira: JiraSandbox,
) -> None:
    key = jira.add_issue("PAY", "story")
    client = jira_client(jira)
    endpoint = "PUT /rest/api/2/issue/{key}/properties/{prop}"
    jira.faults.reset(endpoint)
    with pytest.raises(requests.ConnectionError):
        client.add_issue_property(key, "p", {"v": 1})
    assert "p" not in jira.issue(key)["properties"]  # dropped before it was handled
    jira.faults.reset(endpoint, after=True)
    with pytest.raises(requests.ConnectionError):
        client.add_issue_property(key, "p", {"v": 2})
    assert jira.issue(key)["properties"]["p"] == {"v": 2}  # done; only the answer was lost
    assert client.issue(key).key == key and jira.faults.pending == 0


def test_a_truncated_body_is_a_broken_connection_not_bad_json(
    jira: JiraSandbox, notion: NotionSandbox
) -> None:
    key = jira.add_issue("PAY", "story")
    jira.faults.truncated("GET /rest/api/2/issue/{key}")
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        jira_client(jira).issue(key)
    client, ds, _ = notion_rows(notion, 3)
    notion.faults.truncated("POST /v1/data_sources/{id}/query")
    with pytest.raises(httpx.RemoteProtocolError):
        client.data_sources.query(ds)
    assert len(client.data_sources.query(ds)["results"]) == 3


def test_an_answer_later_than_the_timeout_still_takes_effect(notion: NotionSandbox) -> None:
    client, _, rows = notion_rows(notion, 1)
    hurried = Client(auth=notion.token, base_url=notion.url, retry=False, timeout_ms=100)
    notion.faults.slow("PATCH /v1/pages/{id}", 0.2)
    with pytest.raises(RequestTimeoutError):
        hurried.pages.update(
            rows[0], properties={"Name": {"title": [{"text": {"content": "Renamed"}}]}}
        )
    assert notion.wait_idle()
    assert notion.page(rows[0])["properties"]["Name"]["title"][0]["plain_text"] == "Renamed"
    assert client.pages.retrieve(rows[0])["id"] == rows[0]


def test_a_request_hook_runs_once_on_the_nth_match(jira: JiraSandbox) -> None:
    key = jira.add_issue("PAY", "story")
    client = jira_client(jira)
    seen: list[int] = []
    jira.faults.on_request("GET /rest/api/2/issue/{key}", lambda: seen.append(len(seen)), nth=2)
    # A hook may schedule a fault for the very request that triggered it.
    jira.faults.on_request("GET /rest/api/2/myself", lambda: jira.faults.add("*", 503))
    client.issue(key)
    assert seen == [] and jira.faults.pending_hooks == 2
    client.issue(key)
    client.issue(key)
    assert seen == [0]
    with pytest.raises(Exception, match="503"):
        client.myself()
    assert jira.faults.pending_hooks == 0 and jira.faults.pending == 0


def test_cloud_tokens_resume_after_the_last_issue_seen(jira: JiraSandbox) -> None:
    keys = [jira.add_issue("PAY", f"story {i}") for i in range(9)]
    client = jira_client(jira)
    jql = "project = PAY"  # key DESC
    first = client.enhanced_search_issues(jql, maxResults=3, fields=["summary"], json_result=True)
    assert [i["key"] for i in first["issues"]] == keys[:-4:-1]
    jira.delete_issue(keys[8])  # seen on the first page: no shift of the next one
    jira.delete_issue(keys[5])  # would have been next
    second = client.enhanced_search_issues(jql, nextPageToken=first["nextPageToken"], maxResults=3,
                                           fields=["summary"], json_result=True)  # fmt: skip
    assert [i["key"] for i in second["issues"]] == [keys[4], keys[3], keys[2]]


def test_notion_empty_page_and_repeated_cursor(notion: NotionSandbox) -> None:
    client, ds, rows = notion_rows(notion, 6)
    notion.faults.empty_page()
    empty = client.data_sources.query(ds)
    assert empty["results"] == [] and empty["has_more"] is True and empty["next_cursor"]
    first = client.data_sources.query(ds, start_cursor=empty["next_cursor"])
    assert len(first["results"]) == 4 and first["next_cursor"] != empty["next_cursor"]
    notion.faults.repeat_cursor()
    again = client.data_sources.query(ds, start_cursor=first["next_cursor"])
    assert again["next_cursor"] == first["next_cursor"] and again["has_more"] is True
    last = client.data_sources.query(ds, start_cursor=again["next_cursor"])
    seen = [r["id"] for r in [*first["results"], *last["results"]]]
    assert sorted(seen) == sorted(rows) and last["has_more"] is False
    assert notion.faults.pending == 0


def test_notion_reset_is_a_transport_error(notion: NotionSandbox) -> None:
    client, ds, _ = notion_rows(notion, 1)
    notion.faults.reset("POST /v1/data_sources/{id}/query")
    with pytest.raises(httpx.TransportError):
        client.data_sources.query(ds)
    assert len(client.data_sources.query(ds)["results"]) == 1
