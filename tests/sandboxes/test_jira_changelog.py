"""The Jira sandbox's change history: recorded for every edit, served with Jira's limits."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from sandboxes import JiraSandbox
from tests.sandboxes.fake_clock import FakeClock

START = datetime(2026, 10, 1, 8, tzinfo=UTC)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def cloud(clock: FakeClock) -> Iterator[JiraSandbox]:
    with JiraSandbox("cloud", clock=clock) as sb:
        sb.add_project("PAY", "Payments")
        yield sb


def call(sb: JiraSandbox, method: str, path: str, **kw: Any) -> requests.Response:
    auth = (sb.email, sb.api_token) if sb.mode == "cloud" else None
    headers = {} if auth else {"Authorization": f"Bearer {sb.pat}"}
    return requests.request(method, sb.url + path, auth=auth, headers=headers, timeout=10, **kw)


def test_every_edit_is_recorded_with_its_clock_time(cloud: JiraSandbox, clock: FakeClock) -> None:
    epic = cloud.add_issue("PAY", "Epic", issuetype="Epic")
    key = cloud.add_issue("PAY", "Story", story_points=3)
    clock.advance(hours=2)
    cloud.update_issue(key, status="In Progress", parent=epic, story_points=5, labels=["x"])
    clock.advance(days=1)
    # An edit through the API is recorded too.
    put = call(cloud, "PUT", f"/rest/api/3/issue/{key}", json={"fields": {"labels": ["x", "y"]}})
    assert put.status_code == 204
    page = call(cloud, "GET", f"/rest/api/3/issue/{key}/changelog").json()
    assert page["total"] == 2 and page["isLast"] is True
    first, second = page["values"]
    assert first["created"].startswith("2026-10-01T03:00:00.000")  # 10:00 UTC in Los Angeles
    fields = {i["field"]: (i["fromString"], i["toString"]) for i in first["items"]}
    assert fields == {
        "status": ("To Do", "In Progress"),
        "IssueParentAssociation": (None, epic),
        "Story point estimate": ("3", "5"),
        "labels": (None, "x"),
    }
    assert second["items"] == [
        {"field": "labels", "fieldtype": "jira", "fieldId": "labels", "from": None,
         "fromString": "x", "to": None, "toString": "x y"}
    ]  # fmt: skip


def test_issue_changelog_pages_by_100(cloud: JiraSandbox, clock: FakeClock) -> None:
    key = cloud.add_issue("PAY", "Busy")
    for i in range(130):
        clock.advance(minutes=1)
        cloud.update_issue(key, labels=[f"l{i}"])
    page = call(cloud, "GET", f"/rest/api/3/issue/{key}/changelog", params={"maxResults": 500})
    body = page.json()
    assert (body["maxResults"], body["total"], len(body["values"]), body["isLast"]) == (
        100,
        130,
        100,
        False,
    )
    rest = call(cloud, "GET", f"/rest/api/3/issue/{key}/changelog", params={"startAt": 100}).json()
    assert len(rest["values"]) == 30 and rest["isLast"] is True
    # expand=changelog on GET issue embeds only the latest 100 on Cloud, and says so.
    embedded = call(cloud, "GET", f"/rest/api/3/issue/{key}", params={"expand": "changelog"})
    log = embedded.json()["changelog"]
    assert (log["total"], len(log["histories"])) == (130, 100)


def test_bulk_changelog_limits_filter_order_and_pages(cloud: JiraSandbox, clock: FakeClock) -> None:
    a = cloud.add_issue("PAY", "A")
    b = cloud.add_issue("PAY", "B")
    for i in range(3):
        clock.advance(hours=1)
        cloud.update_issue(b, status="In Progress" if i % 2 == 0 else "To Do")
        cloud.update_issue(a, labels=[f"l{i}"], status="In Progress" if i % 2 == 0 else "To Do")
    path = "/rest/api/3/changelog/bulkfetch"
    too_many = call(cloud, "POST", path, json={"issueIdsOrKeys": [a] * 1001})
    assert too_many.status_code == 400
    fields = call(cloud, "POST", path, json={"issueIdsOrKeys": [a], "fieldIds": ["f"] * 11})
    assert fields.status_code == 400
    body = {"issueIdsOrKeys": [a, b], "fieldIds": ["status"], "maxResults": 4}
    first = call(cloud, "POST", path, json=body).json()
    ids = [(log["issueId"], len(log["changeHistories"])) for log in first["issueChangeLogs"]]
    id_a, id_b = cloud.issue(a)["id"], cloud.issue(b)["id"]
    # By changelog date, then issue id: each hour's edits share a time, and A has the smaller id.
    assert ids == [(id_a, 1), (id_b, 1), (id_a, 1), (id_b, 1)]
    items = [
        i for log in first["issueChangeLogs"] for h in log["changeHistories"] for i in h["items"]
    ]
    assert {i["field"] for i in items} == {"status"}  # labels filtered out
    second = call(
        cloud, "POST", path, json={**body, "nextPageToken": first["nextPageToken"]}
    ).json()
    assert sum(len(log["changeHistories"]) for log in second["issueChangeLogs"]) == 2
    assert "nextPageToken" not in second


def test_data_center_has_no_changelog_resource_but_embeds_every_history(clock: FakeClock) -> None:
    with JiraSandbox("datacenter", clock=clock) as dc:
        dc.add_project("PAY", "Payments")
        key = dc.add_issue("PAY", "Busy")
        for i in range(120):
            clock.advance(minutes=1)
            dc.update_issue(key, labels=[f"l{i}"])
        assert call(dc, "GET", f"/rest/api/2/issue/{key}/changelog").status_code == 404
        assert call(dc, "POST", "/rest/api/2/changelog/bulkfetch", json={}).status_code == 404
        log = call(dc, "GET", f"/rest/api/2/issue/{key}", params={"expand": "changelog"}).json()
        assert (log["changelog"]["total"], len(log["changelog"]["histories"])) == (120, 120)
        assert "fieldId" not in log["changelog"]["histories"][0]["items"][0]
