"""The Jira sandbox, driven end to end by the real `jira` client (plus direct JQL tests)."""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from jira import JIRA, JIRAError

from sandboxes import JiraSandbox, JqlError
from sandboxes.jira.jql import parse_jql
from tests.sandboxes.fake_clock import FakeClock

START = datetime(2026, 9, 27, 0, 0, tzinfo=UTC)  # 10:00 in Sydney (AEST, +10)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def cloud(clock: FakeClock) -> Iterator[JiraSandbox]:
    with JiraSandbox("cloud", clock=clock) as sb:
        sb.add_project("PAY", "Payments")
        sb.add_project("OPS", "Operations")
        yield sb
        assert sb.server_errors == []


@pytest.fixture
def dc(clock: FakeClock) -> Iterator[JiraSandbox]:
    with JiraSandbox("datacenter", clock=clock, max_page_size=40) as sb:
        sb.add_project("PAY", "Payments")
        yield sb
        assert sb.server_errors == []


def cloud_client(sb: JiraSandbox) -> JIRA:
    return JIRA(sb.url, basic_auth=(sb.email, sb.api_token), max_retries=0)


def dc_client(sb: JiraSandbox) -> JIRA:
    return JIRA(sb.url, token_auth=sb.pat, max_retries=0)


def seed_epic(sb: JiraSandbox, children: int) -> tuple[str, list[str]]:
    epic = sb.add_issue("PAY", "Checkout v2", issuetype="Epic", labels=["okr:KR-1"])
    keys = [
        sb.add_issue(
            "PAY",
            f"Story {n}",
            parent=epic,
            story_points=n % 5,
            status="Done" if n % 3 else "To Do",
        )
        for n in range(children)
    ]
    return epic, keys


def raw_json(client: JIRA, method: str, url: str, body: Any = None) -> Any:
    resp = client._session.request(method, url, data=None if body is None else json.dumps(body))
    return resp.json() if resp.content else None


# -- site metadata ------------------------------------------------------------------


def test_server_info_tells_cloud_from_datacenter(cloud: JiraSandbox, dc: JiraSandbox) -> None:
    c, d = cloud_client(cloud), dc_client(dc)
    assert c._is_cloud and not d._is_cloud
    assert c.server_info()["deploymentType"] == "Cloud"
    assert d.server_info()["deploymentType"] == "Server"
    assert c.server_info()["serverTime"].endswith("-0700")  # Los Angeles, PDT in September
    assert cloud.requests["GET /rest/api/2/serverInfo"] == 3  # construction + 2 explicit calls


def test_myself_carries_the_user_time_zone(cloud: JiraSandbox, dc: JiraSandbox) -> None:
    me = cloud_client(cloud).myself()
    assert me["timeZone"] == "Australia/Sydney"
    assert me["accountId"] and me["emailAddress"] == cloud.email and "name" not in me
    dc_me = dc_client(dc).myself()
    assert dc_me["name"] and dc_me["key"] and dc_me["timeZone"] == "Australia/Sydney"


def test_field_list_offers_both_story_point_fields(cloud: JiraSandbox, dc: JiraSandbox) -> None:
    fields = {f["id"]: f for f in cloud_client(cloud).fields()}
    assert fields["customfield_10016"]["schema"]["custom"].endswith(":jsw-story-points")
    assert "Story point estimate" in fields["customfield_10016"]["clauseNames"]
    assert fields["customfield_10026"]["schema"]["custom"].endswith(":float")
    assert "customfield_10014" not in fields
    dc_fields = {f["id"]: f for f in dc_client(dc).fields()}
    assert dc_fields["customfield_10014"]["schema"]["custom"].endswith(":gh-epic-link")
    assert "Epic Link" in dc_fields["customfield_10014"]["clauseNames"]


# -- Cloud search -------------------------------------------------------------------


def test_enhanced_search_fetches_every_page(cloud: JiraSandbox) -> None:
    epic, keys = seed_epic(cloud, 250)
    client = cloud_client(cloud)
    found = client.enhanced_search_issues(
        f"parent = {epic} ORDER BY key ASC",
        maxResults=False,
        fields=["summary", "status", "Story point estimate"],
    )
    assert [i.key for i in found] == keys
    assert cloud.requests["GET /rest/api/2/search/jql"] == 3  # pages of 100, 100, 50
    assert cloud.requests["GET /rest/api/2/field"] == 1  # the client maps clause names
    first = found[0].raw["fields"]
    assert first["customfield_10016"] == 0.0 and first["Story point estimate"] == 0.0
    assert found[1].raw["fields"]["status"]["statusCategory"]["key"] == "done"
    assert found.nextPageToken is None


def test_search_jql_returns_ids_by_default_and_smaller_pages_for_all_fields(
    cloud: JiraSandbox,
) -> None:
    seed_epic(cloud, 120)
    client = cloud_client(cloud)
    bare = raw_json(client, "GET", f"{cloud.url}/rest/api/3/search/jql?jql=project%3DPAY")
    assert set(bare["issues"][0]) == {"id"} and len(bare["issues"]) == 50
    full = client.enhanced_search_issues("project = PAY", maxResults=100, json_result=True)
    assert len(full["issues"]) == 50 and full["isLast"] is False
    assert full["issues"][0]["fields"]["updated"].endswith("-0700")


def test_manual_paging_with_json_result_get_and_post(cloud: JiraSandbox) -> None:
    _, keys = seed_epic(cloud, 120)
    client = cloud_client(cloud)
    for use_post in (False, True):
        seen: list[str] = []
        token: str | None = None
        while True:
            page = client.enhanced_search_issues(
                "project = PAY AND issuetype = Story ORDER BY key ASC",
                nextPageToken=token,
                maxResults=100,
                fields=["summary"],
                json_result=True,
                use_post=use_post,
            )
            seen += [i["key"] for i in page["issues"]]
            token = page.get("nextPageToken")
            if token is None:
                assert page["isLast"] is True
                break
            assert page["isLast"] is False
        assert seen == keys
    assert cloud.requests["POST /rest/api/2/search/jql"] == 2


def test_page_token_is_bound_to_its_query(cloud: JiraSandbox) -> None:
    seed_epic(cloud, 60)
    client = cloud_client(cloud)
    page = client.enhanced_search_issues("project = PAY", json_result=True, maxResults=10)
    with pytest.raises(JIRAError) as err:
        client.enhanced_search_issues(
            "project = OPS", nextPageToken=page["nextPageToken"], json_result=True
        )
    assert err.value.status_code == 400


def test_approximate_count_and_unbounded_queries(cloud: JiraSandbox) -> None:
    seed_epic(cloud, 30)
    client = cloud_client(cloud)
    assert client.approximate_issue_count("project = PAY AND statusCategory = Done") == 20
    with pytest.raises(JIRAError) as err:
        client.enhanced_search_issues("order by key desc", maxResults=1)
    assert err.value.status_code == 400
    assert err.value.text == (
        "Unbounded JQL queries are not allowed here. Please add a search restriction to your query."
    )


def test_old_search_answers_410_on_cloud(cloud: JiraSandbox) -> None:
    client = cloud_client(cloud)
    for method in ("GET", "POST"):
        with pytest.raises(JIRAError) as err:
            client._session.request(
                method, f"{cloud.url}/rest/api/2/search", params={"jql": "project = PAY"}
            )
        assert err.value.status_code == 410
        assert "CHANGE-2046" in err.value.text


def test_cloud_ignores_unknown_keys_datacenter_rejects_them(
    cloud: JiraSandbox, dc: JiraSandbox
) -> None:
    cloud.add_issue("PAY", "one")
    dc.add_issue("PAY", "one")
    found = cloud_client(cloud).enhanced_search_issues("key in (PAY-1, NOPE-9)")
    assert [i.key for i in found] == ["PAY-1"]
    with pytest.raises(JIRAError) as err:
        dc_client(dc).search_issues("key in (PAY-1, NOPE-9)")
    assert err.value.status_code == 400
    assert err.value.text == "An issue with key 'NOPE-9' does not exist for field 'key'."


def test_jql_errors_are_400_with_jira_wording(cloud: JiraSandbox) -> None:
    client = cloud_client(cloud)
    with pytest.raises(JIRAError) as err:
        client.enhanced_search_issues("project foo")
    assert err.value.status_code == 400
    assert err.value.text.startswith("Error in the JQL Query: Expecting operator but got 'foo'.")
    assert err.value.text.endswith("(line 1, character 9)")
    with pytest.raises(JIRAError) as err:
        client.enhanced_search_issues("assignee = me")
    assert "Field 'assignee' does not exist" in err.value.text


# -- Data Center ----------------------------------------------------------------------


def test_datacenter_search_pages_by_the_size_the_server_returns(dc: JiraSandbox) -> None:
    epic, keys = seed_epic(dc, 105)
    client = dc_client(dc)
    found = client.search_issues(f'"Epic Link" = {epic} ORDER BY key', maxResults=False)
    assert [i.key for i in found] == keys and found.total == 105
    assert dc.requests["GET /rest/api/2/search"] == 3  # asked 100, got 40: 40 + 40 + 25
    assert found[0].raw["fields"]["customfield_10014"] == epic
    assert "parent" not in found[0].raw["fields"]
    assert client.enhanced_search_issues("project = PAY") is None  # @cloud_api
    with pytest.raises(JIRAError) as err:
        client._session.get(f"{dc.url}/rest/api/3/myself")  # DC has no REST v3
    assert err.value.status_code == 404


def test_datacenter_parent_finds_subtasks_only(dc: JiraSandbox) -> None:
    epic, (story, *_) = seed_epic(dc, 2)
    sub = dc.add_issue("PAY", "sub", issuetype="Sub-task", parent=story)
    client = dc_client(dc)
    assert [i.key for i in client.search_issues(f"parent = {story}")] == [sub]
    assert client.search_issues(f"parent = {epic}") == []
    assert client.issue(sub).raw["fields"]["parent"]["key"] == story


# -- issue reads and writes --------------------------------------------------------------


def test_issue_shape_and_404(cloud: JiraSandbox) -> None:
    epic, (_, child) = seed_epic(cloud, 2)
    client = cloud_client(cloud)
    fields = client.issue(child).raw["fields"]
    assert (
        fields["parent"]["key"] == epic and fields["parent"]["fields"]["summary"] == "Checkout v2"
    )
    assert fields["issuetype"]["hierarchyLevel"] == 0 and fields["status"]["name"] == "Done"
    assert fields["resolution"]["name"] == "Done" and fields["resolutiondate"]
    assert "parent" not in client.issue(epic).raw["fields"]
    with pytest.raises(JIRAError) as err:
        client.issue("PAY-999")
    assert err.value.status_code == 404
    assert err.value.text == "Issue does not exist or you do not have permission to see it."


def test_done_without_resolution_is_possible(cloud: JiraSandbox) -> None:
    key = cloud.add_issue("PAY", "closed", status="Closed")
    fields = cloud_client(cloud).issue(key).raw["fields"]
    assert fields["status"]["statusCategory"]["key"] == "done"
    assert fields["resolution"] is None and fields["resolutiondate"] is None


def test_update_adds_label_and_bumps_updated(cloud: JiraSandbox, clock: FakeClock) -> None:
    key = cloud.add_issue("PAY", "epic", issuetype="Epic", labels=["keep"])
    client = cloud_client(cloud)
    issue = client.issue(key)
    before = issue.fields.updated
    clock.advance(minutes=5)
    issue.update(update={"labels": [{"add": "okr:KR-1"}, {"add": "keep"}]}, notify=False)
    assert issue.fields.labels == ["keep", "okr:KR-1"]
    assert issue.fields.updated != before
    assert cloud.requests["PUT /rest/api/2/issue/{key}"] == 1
    assert cloud.requests["GET /rest/api/2/issue/{key}"] == 2  # update() reloads


def test_update_of_unknown_field_is_400(cloud: JiraSandbox) -> None:
    key = cloud.add_issue("PAY", "story")
    issue = cloud_client(cloud).issue(key)
    with pytest.raises(JIRAError) as err:
        issue.update(fields={"customfield_99999": 3}, notify=False)
    assert err.value.status_code == 400
    body = err.value.response.json()
    assert body["errors"] == {
        "customfield_99999": "Field 'customfield_99999' cannot be set. It is not on the "
        "appropriate screen, or unknown."
    }


def test_issue_properties_round_trip_without_touching_updated(
    cloud: JiraSandbox, clock: FakeClock
) -> None:
    key = cloud.add_issue("PAY", "epic", issuetype="Epic")
    client = cloud_client(cloud)
    before = cloud.issue(key)["updated"]
    clock.advance(minutes=1)
    first = client.add_issue_property(key, "okr-sync", {"kr": "KR-1", "progress": 0.4})
    again = client.add_issue_property(key, "okr-sync", {"kr": "KR-1", "progress": 0.5})
    assert (first.status_code, again.status_code) == (201, 200)
    assert client.issue_property(key, "okr-sync").raw["value"] == {"kr": "KR-1", "progress": 0.5}
    assert [p.key for p in client.issue_properties(key)] == ["okr-sync"]
    assert cloud.issue(key)["updated"] == before
    page = client.enhanced_search_issues(f"key = {key}", properties="okr-sync", json_result=True)
    assert page["issues"][0]["properties"] == {"okr-sync": {"kr": "KR-1", "progress": 0.5}}
    with pytest.raises(JIRAError) as err:
        client.add_issue_property(key, "big", {"x": "y" * 40000})
    assert err.value.status_code == 400
    assert cloud.requests["PUT /rest/api/2/issue/{key}/properties/{prop}"] == 3


def test_comments_v2_text_and_v3_adf(cloud: JiraSandbox) -> None:
    key = cloud.add_issue("PAY", "epic", issuetype="Epic")
    client = cloud_client(cloud)
    assert client.add_comment(key, "At risk: 12 of 40 done").body == "At risk: 12 of 40 done"
    adf = {
        "type": "doc",
        "version": 1,
        "content": [{"type": "paragraph", "content": [{"type": "text", "text": "On track"}]}],
    }
    url = f"{cloud.url}/rest/api/3/issue/{key}/comment"
    resp = client._session.post(url, data=json.dumps({"body": adf}))
    assert resp.status_code == 201 and resp.json()["body"] == adf
    with pytest.raises(JIRAError) as err:
        client._session.post(url, data=json.dumps({"body": "plain"}))
    assert err.value.status_code == 400
    assert err.value.response.json()["errors"] == {"comment": "Comment body is not valid!"}
    v3 = raw_json(client, "GET", url)
    assert v3["total"] == 2 and v3["comments"][0]["body"]["type"] == "doc"
    assert [c.body for c in client.comments(key)] == ["At risk: 12 of 40 done", "On track"]


def test_remote_link_with_global_id_is_an_upsert(cloud: JiraSandbox) -> None:
    key = cloud.add_issue("PAY", "epic", issuetype="Epic")
    client = cloud_client(cloud)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the client warns that applinks answered 404
        first = client.add_remote_link(
            key, {"url": "https://n.so/kr1", "title": "KR-1"}, globalId="okr-sync:KR-1"
        )
        second = client.add_remote_link(
            key, {"url": "https://n.so/kr1", "title": "KR-1 (70%)"}, globalId="okr-sync:KR-1"
        )
    assert first.id == second.id
    links = client.remote_links(key)
    assert len(links) == 1 and links[0].object.title == "KR-1 (70%)"
    assert first.raw["self"] == f"{cloud.url}/rest/api/issue/{key}/remotelink/{first.id}"
    assert cloud.requests["GET /rest/applinks/latest/listApplicationlinks"] == 2
    url = f"{cloud.url}/rest/api/2/issue/{key}/remotelink"
    upsert = client._session.post(
        url, data=json.dumps({"globalId": "okr-sync:KR-1", "object": {"title": "t"}})
    )
    assert upsert.status_code == 200
    with pytest.raises(JIRAError) as err:
        client._session.post(url, data=json.dumps({"globalId": "g", "object": {"url": "u"}}))
    assert err.value.response.json()["errors"] == {"title": "'title' is required."}


def test_moved_issue_gets_a_new_key_and_keeps_its_id(cloud: JiraSandbox) -> None:
    key = cloud.add_issue("PAY", "story")
    old_id = cloud.issue(key)["id"]
    new_key = cloud.move_issue(key, "OPS")
    assert new_key == "OPS-1"
    client = cloud_client(cloud)
    assert client.issue(key).key == new_key and client.issue(new_key).id == old_id
    assert [i.key for i in client.enhanced_search_issues("project = OPS")] == [new_key]


# -- auth -------------------------------------------------------------------------------


def test_wrong_credentials_are_401(cloud: JiraSandbox, dc: JiraSandbox) -> None:
    with pytest.raises(JIRAError) as err:
        JIRA(cloud.url, basic_auth=(cloud.email, "wrong-token"), max_retries=0)
    assert err.value.status_code == 401 and "wrong-token" not in err.value.text
    with pytest.raises(JIRAError) as err:
        JIRA(dc.url, token_auth="wrong-pat", max_retries=0)
    assert err.value.status_code == 401
    assert "You are not authenticated" in err.value.text
    with pytest.raises(JIRAError):  # Cloud does not take a bearer PAT
        JIRA(cloud.url, token_auth=cloud.api_token, max_retries=0)
    assert cloud.requests["GET /rest/api/2/serverInfo"] == 2


# -- faults -----------------------------------------------------------------------------


def test_429_carries_retry_after_and_is_counted(cloud: JiraSandbox) -> None:
    key = cloud.add_issue("PAY", "story")
    client = cloud_client(cloud)
    cloud.faults.add("GET /rest/api/2/issue/{key}", 429, retry_after=7)
    with pytest.raises(JIRAError) as err:
        client.issue(key)
    headers = err.value.response.headers
    assert err.value.status_code == 429 and headers["Retry-After"] == "7"
    assert headers["RateLimit-Reason"] == "jira-burst-based" and "X-RateLimit-Reset" in headers
    assert client.issue(key).key == key  # one-shot
    assert cloud.requests["GET /rest/api/2/issue/{key}"] == 2


def test_status_faults_match_by_method_and_wildcard(cloud: JiraSandbox) -> None:
    key = cloud.add_issue("PAY", "story")
    client = cloud_client(cloud)
    cloud.faults.add("PUT /rest/api/*/issue/{key}/properties/{prop}", 503, times=2)
    assert client.issue(key).key == key  # other endpoints untouched
    for _ in range(2):
        with pytest.raises(JIRAError) as err:
            client.add_issue_property(key, "p", {"v": 1})
        assert err.value.status_code == 503 and "Retry-After" not in err.value.response.headers
    assert client.add_issue_property(key, "p", {"v": 1}).status_code == 201
    cloud.faults.add("*", 502)
    with pytest.raises(JIRAError) as err:
        client.myself()
    assert err.value.status_code == 502
    cloud.faults.add("*", 401)
    with pytest.raises(JIRAError) as err:
        client.myself()
    assert err.value.status_code == 401
    assert cloud.faults.pending == 0


def test_malformed_body_is_a_json_error_not_a_jira_error(cloud: JiraSandbox) -> None:
    key = cloud.add_issue("PAY", "story")
    client = cloud_client(cloud)
    cloud.faults.malformed("GET /rest/api/2/issue/{key}")
    with pytest.raises(requests.exceptions.JSONDecodeError):
        client.issue(key)
    assert client.issue(key).key == key


def test_repeated_token_fault(cloud: JiraSandbox) -> None:
    seed_epic(cloud, 30)
    client = cloud_client(cloud)
    jql = "project = PAY ORDER BY key"
    first = client.enhanced_search_issues(jql, maxResults=10, json_result=True)
    cloud.faults.repeat_token()
    second = client.enhanced_search_issues(
        jql, nextPageToken=first["nextPageToken"], maxResults=10, json_result=True
    )
    assert second["nextPageToken"] == first["nextPageToken"]
    again = client.enhanced_search_issues(
        jql, nextPageToken=second["nextPageToken"], maxResults=10, json_result=True
    )
    assert again["issues"] == second["issues"] and again["nextPageToken"] != first["nextPageToken"]


def test_empty_page_with_token_fault(cloud: JiraSandbox) -> None:
    _, keys = seed_epic(cloud, 5)
    client = cloud_client(cloud)
    cloud.faults.empty_page_with_token()
    jql = "project = PAY AND issuetype = Story ORDER BY key"
    empty = client.enhanced_search_issues(jql, maxResults=10, json_result=True)
    assert empty["issues"] == [] and empty["nextPageToken"] and empty["isLast"] is False
    rest = client.enhanced_search_issues(
        jql, nextPageToken=empty["nextPageToken"], maxResults=10, json_result=True
    )
    assert [i["key"] for i in rest["issues"]] == keys and "nextPageToken" not in rest


def test_latency_applies_at_runtime(cloud: JiraSandbox) -> None:
    client = cloud_client(cloud)
    cloud.faults.latency = 0.05
    started = time.perf_counter()
    client.myself()
    assert time.perf_counter() - started >= 0.05
    cloud.latency = 0.0


# -- JQL evaluator, directly ---------------------------------------------------------------


@pytest.fixture
def jql_site(clock: FakeClock) -> JiraSandbox:
    sb = JiraSandbox("cloud", clock=clock)  # never started: search_keys needs no HTTP
    sb.add_project("PAY", "Payments")
    epic = sb.add_issue("PAY", "Checkout epic", issuetype="Epic", labels=["okr:KR-1"])  # PAY-1
    sb.add_issue(
        "PAY", "Card form tests", parent=epic, labels=["ui"], updated=START + timedelta(minutes=10)
    )
    sb.add_issue(
        "PAY", "Refund flow", parent=epic, status="In Progress", updated=START - timedelta(hours=3)
    )
    sb.add_issue(
        "PAY", "Old bug", issuetype="Bug", status="Closed", updated=START - timedelta(days=3)
    )
    sb.add_issue(
        "PAY", "Ancient task", issuetype="Task", status="Done", updated=START - timedelta(days=10)
    )
    return sb


def test_date_literals_are_in_the_users_time_zone(jql_site: JiraSandbox) -> None:
    # PAY-2 was updated at 00:10 UTC = 10:10 in Sydney = 17:10 the day before in LA.
    assert "PAY-2" in jql_site.search_keys('updated >= "2026/09/27 10:03"')
    assert "PAY-2" not in jql_site.search_keys('updated >= "2026/09/27 10:11"')
    assert "PAY-2" in jql_site.search_keys('updated > "2026-09-27 10:09"')
    # Midnight in Sydney is 14:00 UTC the day before: PAY-3 (21:00 UTC) is in, PAY-4 is not.
    assert jql_site.search_keys('updated >= "2026/09/27"') == ["PAY-3", "PAY-2", "PAY-1"]
    assert jql_site.search_keys('updated < 2026-09-20 AND updated >= "2026/09/17"') == ["PAY-5"]
    with pytest.raises(JqlError, match="Date value '27/09/2026' for field 'updated' is invalid"):
        jql_site.search_keys('updated > "27/09/2026"')


def test_relative_dates_count_from_the_clock(jql_site: JiraSandbox, clock: FakeClock) -> None:
    clock.advance(minutes=20)  # PAY-2 now 10 minutes old, PAY-3 3h20m old
    assert jql_site.search_keys('updated >= "-15m"') == ["PAY-2"]
    assert jql_site.search_keys('updated >= "-4h" AND updated < "-2h"') == ["PAY-3"]
    assert jql_site.search_keys("updated >= -1w ORDER BY key") == [
        "PAY-1",
        "PAY-2",
        "PAY-3",
        "PAY-4",
    ]
    assert jql_site.search_keys("updated <= -1w") == ["PAY-5"]


def test_order_by(jql_site: JiraSandbox) -> None:
    assert jql_site.search_keys("project = PAY") == ["PAY-5", "PAY-4", "PAY-3", "PAY-2", "PAY-1"]
    assert jql_site.search_keys("project = PAY ORDER BY updated ASC, key ASC") == [
        "PAY-5",
        "PAY-4",
        "PAY-3",
        "PAY-1",
        "PAY-2",
    ]
    assert jql_site.search_keys("project = PAY ORDER BY resolutiondate DESC, key")[:3] == [
        "PAY-1",
        "PAY-2",
        "PAY-3",  # empty values first when descending
    ]


def test_parent_labels_and_categories(jql_site: JiraSandbox) -> None:
    s = jql_site.search_keys
    assert s("parent in (PAY-1, PAY-999) ORDER BY key") == ["PAY-2", "PAY-3"]
    assert s("parent = PAY-1 AND statusCategory = 'In Progress'") == ["PAY-3"]
    assert s("labels in (ui, 'okr:KR-1') ORDER BY key") == ["PAY-1", "PAY-2"]
    assert s("labels != ui") == ["PAY-1"]  # != skips unlabelled issues, as in Jira
    assert s("labels is EMPTY AND statusCategory = done ORDER BY key") == ["PAY-4", "PAY-5"]
    assert s("statusCategory = Done AND resolution is EMPTY") == ["PAY-4"]
    assert s("statusCategory in (new, indeterminate) AND NOT issuetype = Epic") == [
        "PAY-3",
        "PAY-2",
    ]
    assert s("hierarchyLevel = 1 OR (issuetype in (Bug, Task) AND status != Done)") == [
        "PAY-4",
        "PAY-1",
    ]
    assert s('summary ~ "test" ORDER BY key') == ["PAY-2"]
    assert s("text ~ 'check*'") == ["PAY-1"]
    assert s("key >= PAY-4") == ["PAY-5", "PAY-4"]


def test_datacenter_epic_link_clause(dc: JiraSandbox) -> None:
    epic, keys = seed_epic(dc, 3)
    assert dc.search_keys(f'"Epic Link" in ({epic}) ORDER BY key') == keys
    assert dc.search_keys(f"cf[10014] = {epic} ORDER BY key") == keys
    assert dc.search_keys('"Epic Link" is EMPTY') == [epic]
    with pytest.raises(JqlError, match="does not exist for field 'parent'"):
        dc.search_keys("parent = PAY-404")


def test_parse_errors_have_positions() -> None:
    with pytest.raises(
        JqlError, match=r"Expecting either 'OR' or 'AND' but got 'bar'\. \(line 1, character 15\)"
    ):
        parse_jql("project = PAY bar")
    with pytest.raises(JqlError, match="quoted string 'PAY' has not been completed"):
        parse_jql('project = "PAY')
    with pytest.raises(JqlError, match=r"Expecting '\)' before the end of the query"):
        parse_jql("key in (PAY-1, PAY-2")
    with pytest.raises(JqlError, match="does not support the JQL function 'currentUser\\(\\)'"):
        parse_jql("assignee = currentUser()")
    with pytest.raises(JqlError, match="does not support the operator 'WAS'"):
        parse_jql("status WAS Done")
    query = parse_jql(
        "project = PAY and (labels is not EMPTY or NOT key in (PAY-1)) order by updated desc"
    )
    assert query.where is not None and query.order_by[0].descending


def test_semantic_errors(jql_site: JiraSandbox) -> None:
    with pytest.raises(JqlError, match="The value 'NOPE' does not exist for the field 'project'"):
        jql_site.search_keys("project = NOPE")
    with pytest.raises(JqlError, match="The operator '~' is not supported by the 'project' field"):
        jql_site.search_keys("project ~ PAY")
    with pytest.raises(JqlError, match="Field 'Epic Link' does not exist"):
        jql_site.search_keys('"Epic Link" = PAY-1')  # Cloud: use parent
    with pytest.raises(JqlError, match="Field 'labels' does not support sorting"):
        jql_site.search_keys("project = PAY ORDER BY labels")


# -- more writes and simulated humans ----------------------------------------------------


def test_datacenter_writes_epic_link_not_parent(dc: JiraSandbox) -> None:
    epic, _ = seed_epic(dc, 0)
    story = dc.add_issue("PAY", "loose story")
    issue = dc_client(dc).issue(story)
    issue.update(fields={"customfield_10014": epic}, notify=False)
    assert issue.raw["fields"]["customfield_10014"] == epic
    assert dc.issue(story)["parent"] == epic
    with pytest.raises(JIRAError) as err:
        issue.update(fields={"parent": {"key": epic}}, notify=False)
    assert err.value.response.json()["errors"]["parent"].startswith("Field 'parent' cannot be set")


def test_cloud_parent_set_and_clear_through_update(cloud: JiraSandbox) -> None:
    epic = cloud.add_issue("PAY", "epic", issuetype="Epic")
    story = cloud.add_issue("PAY", "story")
    client = cloud_client(cloud)
    issue = client.issue(story)
    issue.update(fields={"parent": {"key": epic}}, notify=False)
    assert issue.raw["fields"]["parent"]["key"] == epic
    issue.update(update={"parent": [{"set": {"none": True}}]}, notify=False)
    assert "parent" not in issue.raw["fields"]
    with pytest.raises(JIRAError) as err:  # a story cannot parent a story
        issue.update(fields={"parent": {"key": cloud.add_issue("PAY", "other")}}, notify=False)
    assert err.value.status_code == 400


def test_bulkfetch(cloud: JiraSandbox) -> None:
    _, keys = seed_epic(cloud, 3)
    client = cloud_client(cloud)
    body = {"issueIdsOrKeys": [*keys, "PAY-404"], "fields": ["summary", "status"]}
    found = raw_json(client, "POST", f"{cloud.url}/rest/api/3/issue/bulkfetch", body)
    assert [i["key"] for i in found["issues"]] == keys
    assert set(found["issues"][0]["fields"]) == {"summary", "status"}
    assert found["issueErrors"][0]["id"] == "PAY-404"


def test_human_changes_show_in_incremental_pulls(cloud: JiraSandbox, clock: FakeClock) -> None:
    epic, (todo, done) = seed_epic(cloud, 2)
    clock.advance(hours=1)
    cloud.update_issue(todo, status="Done", story_points=8, labels=["late"])
    changed = cloud.issue(todo)
    assert changed["updated"] == clock.now and changed["resolution"] == "Done"
    assert changed["story_points"] == 8.0 and changed["fields"]["customfield_10016"] == 8.0
    assert cloud.search_keys('updated >= "-5m"') == [todo]
    fields = cloud_client(cloud).issue(todo).raw["fields"]
    assert fields["statuscategorychangedate"] == fields["updated"]
    cloud.delete_issue(epic)
    assert cloud.issue(done)["parent"] is None
    assert cloud.search_keys("project = PAY") == [done, todo]
    with pytest.raises(KeyError):
        cloud.issue(epic)


def test_story_points_field_is_selectable(cloud: JiraSandbox, dc: JiraSandbox) -> None:
    a = cloud.add_issue("PAY", "a", story_points=3)
    b = cloud.add_issue("PAY", "b", fields={"Story Points": 5})
    assert cloud.issue(a)["fields"]["customfield_10016"] == 3.0
    assert cloud.issue(b)["fields"] == {"customfield_10016": None, "customfield_10026": 5}
    assert dc.issue(dc.add_issue("PAY", "c", story_points=2))["fields"]["customfield_10026"] == 2.0
    assert cloud.search_keys('"Story Points" > 4') == [b]
    assert cloud.search_keys("cf[10016] is not EMPTY") == [a]


# -- page caps as the real services set them ---------------------------------------------


def test_search_jql_serves_5000_keys_a_page_but_100_issues_with_fields(
    cloud: JiraSandbox,
) -> None:
    # "The greatest number of items returned per page is achieved when requesting id or
    # key only. It returns max 5000 issues" (search/jql); with fields: 100.
    seed_epic(cloud, 5200)
    client = cloud_client(cloud)
    # Raw: the jira client would send `fields=issuekey` (it maps clause names to field ids).
    url = f"{cloud.url}/rest/api/3/search/jql?jql=project%3DPAY&fields=key&maxResults=10000"
    keys = raw_json(client, "GET", url)
    assert len(keys["issues"]) == 5000 and keys["isLast"] is False
    assert set(keys["issues"][0]) >= {"id", "key"}
    full = client.enhanced_search_issues(
        "project = PAY", maxResults=5000, fields=["summary"], json_result=True
    )
    assert len(full["issues"]) == 100 and full["nextPageToken"]


def test_datacenter_clamps_every_page_to_its_default_max(clock: FakeClock) -> None:
    # jira.search.views.default.max, 1000 unless an admin changed it, whatever the fields.
    with JiraSandbox("datacenter", clock=clock) as sb:
        sb.add_project("PAY", "Payments")
        for n in range(1100):
            sb.add_issue("PAY", f"Story {n}")
        client = dc_client(sb)
        for fields in (["key"], ["summary", "status"]):
            page = client.search_issues(
                "project = PAY", maxResults=5000, fields=fields, json_result=True
            )
            assert (len(page["issues"]), page["maxResults"], page["total"]) == (1000, 1000, 1100)


# -- boards (Jira Software) ---------------------------------------------------------------


def test_a_project_has_a_board_estimating_by_the_story_points_field(
    cloud: JiraSandbox, dc: JiraSandbox
) -> None:
    for sb, client, field in (
        (cloud, cloud_client(cloud), "customfield_10016"),
        (dc, dc_client(dc), "customfield_10026"),
    ):
        listed = raw_json(client, "GET", f"{sb.url}/rest/agile/1.0/board?projectKeyOrId=PAY")
        assert listed["isLast"] is True and listed["maxResults"] == 50
        (board,) = listed["values"]
        assert board["location"]["projectKey"] == "PAY"
        config = raw_json(
            client, "GET", f"{sb.url}/rest/agile/1.0/board/{board['id']}/configuration"
        )
        assert config["estimation"]["type"] == "field"
        assert config["estimation"]["field"]["fieldId"] == field
        assert config["location"]["key"] == "PAY"


def test_boards_can_estimate_by_another_field_or_by_issue_count(cloud: JiraSandbox) -> None:
    client = cloud_client(cloud)
    team = cloud.add_board("OPS", "OPS kanban", estimation=None, type="kanban")
    listed = raw_json(client, "GET", f"{cloud.url}/rest/agile/1.0/board?projectKeyOrId=OPS")
    assert [b["id"] for b in listed["values"]] == [2, team]
    config = raw_json(client, "GET", f"{cloud.url}/rest/agile/1.0/board/{team}/configuration")
    assert config["estimation"] == {"type": "issueCount"}
    cloud.set_board_estimation(team, "Story Points")
    config = raw_json(client, "GET", f"{cloud.url}/rest/agile/1.0/board/{team}/configuration")
    assert config["estimation"]["field"] == {
        "fieldId": "customfield_10026",
        "displayName": "Story Points",
    }
    with pytest.raises(JIRAError) as err:
        raw_json(client, "GET", f"{cloud.url}/rest/agile/1.0/board/99/configuration")
    assert err.value.status_code == 404


def test_a_project_without_a_board(clock: FakeClock) -> None:
    with JiraSandbox("cloud", clock=clock) as sb:
        sb.add_project("BIZ", "Business", board=False)
        listed = raw_json(
            cloud_client(sb), "GET", f"{sb.url}/rest/agile/1.0/board?projectKeyOrId=BIZ"
        )
        assert listed["values"] == [] and listed["total"] == 0


# -- JQL literals as real Jira reads them ---------------------------------------------------


def test_reserved_words_must_be_quoted(jql_site: JiraSandbox) -> None:
    jql_site.update_issue("PAY-2", labels=["update", "empty", "team alpha", "a.b"])
    for bare in ("labels = update", "labels in (select)", "labels = order"):
        with pytest.raises(JqlError, match=r"is a reserved JQL word\. You must surround it"):
            jql_site.search_keys(bare)
    assert jql_site.search_keys('labels = "update"') == ["PAY-2"]
    assert jql_site.search_keys('labels in ("empty", "team alpha")') == ["PAY-2"]
    assert jql_site.search_keys('labels = "a.b"') == ["PAY-2"]
    # Bare EMPTY is the keyword: issues without labels, not the label "empty".
    assert "PAY-2" not in jql_site.search_keys("project = PAY AND labels = empty")


def test_reserved_characters_and_escapes(jql_site: JiraSandbox) -> None:
    jql_site.update_issue("PAY-2", labels=['say"hi\\'])
    for bad in ("labels = a+b", "labels = a*b", "labels = a/b", "labels = a@b"):
        with pytest.raises(JqlError, match="is a reserved JQL character"):
            jql_site.search_keys(bad)
    with pytest.raises(JqlError, match=r"'\\q' is an illegal JQL escape sequence"):
        jql_site.search_keys('labels = "a\\q"')
    assert jql_site.search_keys('labels = "say\\"hi\\\\"') == ["PAY-2"]
    assert jql_site.search_keys("labels = 'say\"hi\\\\'") == ["PAY-2"]
    assert jql_site.search_keys('labels = "say\\u0022hi\\\\"') == ["PAY-2"]


def test_order_by_inside_a_string_is_text(jql_site: JiraSandbox) -> None:
    jql_site.update_issue("PAY-3", summary="sort order by date")
    assert jql_site.search_keys('summary ~ "sort order by date" ORDER BY key') == ["PAY-3"]
