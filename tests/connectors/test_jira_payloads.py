"""The Jira connector, driving the real ``jira`` client, on real recorded Jira payloads.

HTTP is mocked with ``responses``; every body served comes from
``tests/fixtures/jira/`` (see its README for sources and licences). Where a test
needs a variant of a real body (an extra field definition, a real status
category swapped in, a marker appended to a real comment) it builds it in memory
from the real file and says so.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import json
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pytest
import requests
import responses

from connectors.jira.connector import JiraConfig, JiraConnector
from connectors.jira.jql import jql_value, strip_order_by
from connectors.jira.pull import Cursor
from okr_sync.errors import AuthError, SourceError, WriteError
from okr_sync.models import (
    ItemKind,
    PullRequest,
    PullResult,
    QuerySelector,
    RecordRef,
    StatusCategory,
    WorkItem,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "jira"
SITE = "https://example.atlassian.net"
API = f"{SITE}/rest/api/2"
SEARCH = f"{API}/search/jql"
EMAIL = "user1@example.com"
TOKEN = "tracer-secret-123"
RULE = "project = X"
EPIC_KEY = "TESTKEY13-1"  # the real epic of search_issues_epic_all_fields.json
#: What every search asks for when the site has no story point fields.
BASE_FIELDS = ["summary", "issuetype", "status", "parent", "labels", "updated"]
PLUS_0100 = dt.timezone(dt.timedelta(hours=1))


def payload(name: str) -> dict[str, Any]:
    """One stored request/response pair."""
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def body(name: str) -> Any:
    """The response body of a stored pair (a fresh copy: tests may derive from it)."""
    return copy.deepcopy(payload(name)["response"])


SERVER_INFO = "rest-api-2/server_info_cloud.json"
FIELD_LIST = "rest-api-3/field_list.json"
PAGE_1 = "rest-api-3/search_jql_page1_of_3.json"
PAGE_2 = "rest-api-3/search_jql_page2_of_3.json"
PAGE_3 = "rest-api-3/search_jql_page3_of_3_last.json"
SINGLE_PAGE = "rest-api-3/search_jql_single_page.json"
EPIC = "rest-api-3/search_issues_epic_all_fields.json"
COMMENTS = "rest-api-3/issue_comments_adf.json"
STATUS_CATEGORIES = "rest-api-2/statuscategory_list.json"
BOARD_CONFIG = "agile-1.0/board_configuration.json"
AGILE = f"{SITE}/rest/agile/1.0"


def real_epic() -> dict[str, Any]:
    return body(EPIC)["issues"][0]


def myself() -> dict[str, Any]:
    """GET /myself: the real Cloud user object of the epic's assignee (has a timeZone)."""
    return real_epic()["fields"]["assignee"]


def real_category(key: str) -> dict[str, Any]:
    """A real statusCategory object (from the full status category list)."""
    return next(c for c in body(STATUS_CATEGORIES) if c["key"] == key)


#: Field definitions in the shape Jira Cloud lists them (the real field_list.json is
#: trimmed to three fields and holds no story point field); only used where a test
#: needs a site that has them, on top of the real list.
STORY_POINT_ESTIMATE = {
    "id": "customfield_10016", "key": "customfield_10016", "name": "Story point estimate",
    "untranslatedName": "Story point estimate", "custom": True, "orderable": True,
    "navigable": True, "searchable": True, "clauseNames": ["cf[10016]", "Story point estimate"],
    "schema": {"type": "number", "custom": "com.pyxis.greenhopper.jira:jsw-story-points",
               "customId": 10016},
}  # fmt: skip
STORY_POINTS = {
    "id": "customfield_10026", "key": "customfield_10026", "name": "Story Points",
    "untranslatedName": "Story Points", "custom": True, "orderable": True, "navigable": True,
    "searchable": True, "clauseNames": ["cf[10026]", "Story Points"],
    "schema": {"type": "number",
               "custom": "com.atlassian.jira.plugin.system.customfieldtypes:float",
               "customId": 10026},
}  # fmt: skip
EPIC_LINK = {
    "id": "customfield_10014", "key": "customfield_10014", "name": "Epic Link",
    "untranslatedName": "Epic Link", "custom": True, "orderable": True, "navigable": True,
    "searchable": True, "clauseNames": ["cf[10014]", "Epic Link"],
    "schema": {"type": "any", "custom": "com.pyxis.greenhopper.jira:gh-epic-link",
               "customId": 10014},
}  # fmt: skip

#: Jira Cloud's answer on the removed search endpoints (developer changelog CHANGE-2046).
GONE_BODY = {
    "errorMessages": [
        "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. "
        "A full migration guideline is available at "
        "https://developer.atlassian.com/changelog/#CHANGE-2046"
    ],
    "errors": {},
}


# --- fixtures -------------------------------------------------------------------------


@pytest.fixture
def sleeps() -> list[float]:
    """Every wait the connector asked for (the injected sleep records instead of sleeping)."""
    return []


@pytest.fixture
def make(monkeypatch: pytest.MonkeyPatch, sleeps: list[float]) -> Callable[..., JiraConnector]:
    monkeypatch.setenv("JIRA_TEST_TOKEN", TOKEN)

    def build(**overrides: Any) -> JiraConnector:
        config = JiraConfig(
            type="jira", url=SITE, email=EMAIL, token="${JIRA_TEST_TOKEN}", **overrides
        )
        return JiraConnector("jira", config, sleep=sleeps.append)

    return build


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def serve_site(rsps: responses.RequestsMock, *, fields: list[dict[str, Any]] | None = None) -> None:
    """serverInfo (real Cloud), myself, and the field list (real, or given)."""
    rsps.get(f"{API}/serverInfo", json=body(SERVER_INFO))
    rsps.get(f"{API}/myself", json=myself())
    rsps.get(f"{API}/field", json=body(FIELD_LIST) if fields is None else fields)


def serve_search(rsps: responses.RequestsMock, routes: dict[tuple[str, str | None], Any]) -> None:
    """GET /search/jql answering by (jql, nextPageToken); unknown requests get a 400.

    A route's value is a JSON body (status 200) or ``(status, body)``, the body being
    raw text when it is a str.
    """

    def answer(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        query = parse_qs(urlsplit(str(request.url)).query)
        jql = query["jql"][0]
        token = query.get("nextPageToken", [None])[0]
        found = routes.get((jql, token))
        if found is None:
            return 400, {}, json.dumps({"errorMessages": [f"unexpected search {jql!r} {token}"]})
        status, content = found if isinstance(found, tuple) else (200, found)
        text = content if isinstance(content, str) else json.dumps(content)
        return status, {}, text

    rsps.add_callback(responses.GET, SEARCH, callback=answer, content_type="application/json")


def search_calls(rsps: responses.RequestsMock) -> list[dict[str, list[str]]]:
    """The query strings of every search request, in order."""
    return [
        parse_qs(urlsplit(str(c.request.url)).query)
        for c in rsps.calls
        if urlsplit(str(c.request.url)).path == "/rest/api/2/search/jql"
    ]


def calls_to(rsps: responses.RequestsMock, method: str, path: str) -> list[Any]:
    return [
        c
        for c in rsps.calls
        if c.request.method == method and urlsplit(str(c.request.url)).path == path
    ]


def rule_pull() -> PullRequest:
    return PullRequest(queries=(QuerySelector(id="rule-1", query=RULE),))


def by_key(items: tuple[WorkItem, ...]) -> dict[str, WorkItem]:
    return {i.key: i for i in items}


# --- 1. a rule's pull over the real 3-page token chain ---------------------------------


def test_pull_over_three_real_pages(make: Callable[..., JiraConnector], rsps: Any) -> None:
    serve_site(rsps)
    serve_search(
        rsps,
        {
            (RULE, None): body(PAGE_1),
            (RULE, "token-page-2"): body(PAGE_2),
            (RULE, "token-page-3"): body(PAGE_3),
            # TEST-4 (page 3) is an Epic: its children are asked for; it has none.
            ('parent in ("TEST-4")', None): {"issues": [], "isLast": True},
        },
    )

    result = make().pull_items(rule_pull())

    keys = [i.key for i in result.items]
    assert sorted(keys) == ["TEST-1", "TEST-2", "TEST-3", "TEST-4"]  # each exactly once
    items = by_key(result.items)
    assert {k: i.title for k, i in items.items()} == {
        "TEST-1": "Bug summary",
        "TEST-2": "Story summary",
        "TEST-3": "Task summary",
        "TEST-4": "Epic summary",
    }
    # No hierarchyLevel in these reduced bodies: the issue type name decides.
    assert {k: i.kind for k, i in items.items()} == {
        "TEST-1": ItemKind.ISSUE,
        "TEST-2": ItemKind.ISSUE,
        "TEST-3": ItemKind.ISSUE,
        "TEST-4": ItemKind.EPIC,
    }
    # The hand-written bodies carry a status name ("Done", "In Progress") but no
    # statusCategory; done is decided by statusCategory.key alone, never by a name.
    assert {i.status_category for i in result.items} == {StatusCategory.TODO}
    assert {i.parent_key for i in result.items} == {None}
    assert {k: i.labels for k, i in items.items()} == {
        "TEST-1": (),
        "TEST-2": ("critical", "feature"),
        "TEST-3": (),
        "TEST-4": ("roadmap",),
    }
    assert {i.updated for i in result.items} == {
        dt.datetime(2020, 12, 3, 14, 5, 20, 974000, tzinfo=PLUS_0100)
    }
    assert items["TEST-2"].url == f"{SITE}/browse/TEST-2"
    assert {i.selectors for i in result.items} == {("rule-1",)}
    assert result.missing_keys == frozenset()
    assert not result.incremental
    assert result.description == f"4 issues from {SITE}"

    searches = search_calls(rsps)
    rule_searches = [q for q in searches if q["jql"] == [RULE]]
    assert len(rule_searches) == 3  # one request per page, no more
    assert [q.get("nextPageToken") for q in rule_searches] == [
        None,
        ["token-page-2"],
        ["token-page-3"],
    ]
    for query in searches:
        assert query["fields"] == BASE_FIELDS  # repeated params, only what okr-sync reads
        assert "*all" not in query["fields"]
        assert query["maxResults"] == ["100"]
    # Besides the rule's three pages, only the epic's children query went out.
    assert [q["jql"] for q in searches if q["jql"] != [RULE]] == [['parent in ("TEST-4")']]


def test_session_uses_basic_auth_from_the_environment_and_the_users_zone(
    make: Callable[..., JiraConnector], rsps: Any
) -> None:
    serve_site(rsps)
    connector = make()

    session = connector.session()

    assert session.cloud is True  # from the real serverInfo (deploymentType "Cloud")
    assert session.zone == ZoneInfo("America/Los_Angeles")  # from /myself's timeZone
    expected = "Basic " + base64.b64encode(f"{EMAIL}:{TOKEN}".encode()).decode()
    assert {c.request.headers["Authorization"] for c in rsps.calls} == {expected}


def test_incremental_pull_writes_the_cursor_in_the_users_zone(
    make: Callable[..., JiraConnector], rsps: Any
) -> None:
    serve_site(rsps)
    since = '(project = X) AND updated >= "2024/05/06 02:50"'  # 10:00 UTC − 10 min, in LA (PDT)
    serve_search(rsps, {(since, None): body(SINGLE_PAGE), (RULE, None): body(SINGLE_PAGE)})
    cursor = Cursor("2024-05-06T10:00:00+00:00", rules={"rule-1": set()})
    request = PullRequest(queries=(QuerySelector(id="rule-1", query=RULE),), cursor=cursor.encode())

    result = make().pull_items(request)

    assert result.incremental
    assert sorted(i.key for i in result.items) == ["TEST-1", "TEST-2", "TEST-3"]
    assert result.members == {"TEST-1", "TEST-2", "TEST-3"}
    # The rule's members (keys only, the biggest pages), then what changed, in full.
    assert [q["jql"] for q in search_calls(rsps)] == [[RULE], [since]]
    assert next(q["fields"] for q in search_calls(rsps)) == ["key"]
    assert next(q["maxResults"] for q in search_calls(rsps)) == ["5000"]


def test_a_time_zone_okr_sync_cannot_resolve_fails_the_pull_naming_it(
    make: Callable[..., JiraConnector], rsps: Any
) -> None:
    """Never UTC in place of the API user's zone: every incremental window would shift."""
    rsps.get(f"{API}/serverInfo", json=body(SERVER_INFO))
    rsps.get(f"{API}/myself", json={**myself(), "timeZone": "Mars/Olympus_Mons"})
    rsps.get(f"{API}/field", json=body(FIELD_LIST))
    serve_search(rsps, {})

    with pytest.raises(SourceError) as caught:
        make().pull_items(PullRequest(cursor=Cursor("2024-05-06T10:00:00+00:00").encode()))

    assert "'Mars/Olympus_Mons'" in str(caught.value)
    assert search_calls(rsps) == []


def test_the_time_zone_database_is_a_dependency() -> None:
    """Zones must resolve where the OS has no IANA database (Windows, slim images)."""
    import tomllib

    project = tomllib.loads((FIXTURES.parents[2] / "pyproject.toml").read_text())["project"]
    assert any(d.split(">")[0].strip() == "tzdata" for d in project["dependencies"])


def test_a_missing_time_zone_database_is_an_error_not_utc(
    make: Callable[..., JiraConnector], rsps: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import connectors.jira.issues as issues

    def no_database(name: str) -> Any:
        raise ZoneInfoNotFoundError(f"No time zone found with key {name}")

    monkeypatch.setattr(issues, "ZoneInfo", no_database)
    serve_site(rsps)
    serve_search(rsps, {})

    with pytest.raises(SourceError) as caught:
        make().pull_items(PullRequest(cursor=Cursor("2024-05-06T10:00:00+00:00").encode()))

    assert repr(myself()["timeZone"]) in str(caught.value)
    assert search_calls(rsps) == []


# --- 2. single page, the full Cloud epic, story points, done --------------------------


def test_single_real_page(make: Callable[..., JiraConnector], rsps: Any) -> None:
    serve_site(rsps)
    serve_search(rsps, {(RULE, None): body(SINGLE_PAGE)})

    result = make().pull_items(rule_pull())

    items = by_key(result.items)
    assert sorted(items) == ["TEST-1", "TEST-2", "TEST-3"]
    assert {i.kind for i in result.items} == {ItemKind.ISSUE}  # no epic: no children query
    # TEST-3's status is named "Done" but has no statusCategory: not counted as done.
    assert items["TEST-3"].status_category is StatusCategory.TODO
    assert items["TEST-2"].labels == ("critical", "feature")
    assert len(search_calls(rsps)) == 1  # isLast: true, no nextPageToken


def test_real_field_list_has_no_story_point_field(
    make: Callable[..., JiraConnector], rsps: Any
) -> None:
    serve_site(rsps)
    serve_search(
        rsps,
        {
            (f'key in ("{EPIC_KEY}")', None): body(EPIC),
            (f'parent in ("{EPIC_KEY}")', None): {"issues": [], "isLast": True},
        },
    )
    connector = make()

    result = connector.pull_items(PullRequest(keys=frozenset({EPIC_KEY})))

    assert connector.session().ids.story_points == ()
    assert connector.session().ids.epic_link is None  # Cloud: children by parent
    (epic,) = result.items
    assert epic.key == EPIC_KEY
    assert epic.kind is ItemKind.EPIC  # issuetype.hierarchyLevel == 1
    assert epic.title == "My Summary"
    assert epic.status_category is StatusCategory.TODO  # statusCategory.key "new"
    assert epic.parent_key is None
    assert epic.labels == ("test",)
    assert epic.story_points is None
    assert epic.updated == dt.datetime(
        2022, 12, 8, 2, 22, 18, 889000, tzinfo=dt.timezone(dt.timedelta(hours=-8))
    )
    assert epic.selectors == ()  # asked for by key, not by a rule
    # 36 custom fields in the real body, none requested and none in the way.
    assert all(q["fields"] == BASE_FIELDS for q in search_calls(rsps))


def child_of_real_epic(key: str, category: str, **custom: Any) -> dict[str, Any]:
    """A story under the real epic: the real issue body, retyped, with Cloud's ``parent``."""
    issue = real_epic()
    epic_fields = issue["fields"]
    child = copy.deepcopy(issue)
    child["key"] = key
    child["id"] = "10628"
    fields = child["fields"]
    fields["issuetype"].update(name="Story", hierarchyLevel=0, id="10001")
    fields["parent"] = {
        "id": issue["id"], "key": issue["key"], "self": issue["self"],
        "fields": {"summary": epic_fields["summary"], "status": epic_fields["status"],
                   "priority": epic_fields["priority"], "issuetype": epic_fields["issuetype"]},
    }  # fmt: skip
    fields["status"]["statusCategory"] = real_category(category)
    fields["summary"] = f"Story {key}"
    fields.update(custom)
    return child


def serve_board(rsps: responses.RequestsMock, project: str, estimation: str | None) -> None:
    """One board of ``project``: the real board configuration, located in ``project``, and
    with Jira Software's documented ``estimation`` block added in memory when the board
    estimates by a field (the real one has none). The board list around it is built in
    the documented shape of GET /rest/agile/1.0/board (values, startAt, isLast)."""
    config = body(BOARD_CONFIG)
    config["location"]["key"] = project
    if estimation:
        name = {"customfield_10016": "Story point estimate", "customfield_10026": "Story Points"}
        config["estimation"] = {
            "type": "field",
            "field": {"fieldId": estimation, "displayName": name[estimation]},
        }
    board = {
        "id": config["id"], "self": f"{AGILE}/board/{config['id']}", "name": config["name"],
        "type": config["type"], "location": {"projectId": int(config["location"]["id"]),
        "projectKey": project, "projectName": config["location"]["name"]},
    }  # fmt: skip
    rsps.get(f"{AGILE}/board", json={"maxResults": 50, "startAt": 0, "total": 1,
                                     "isLast": True, "values": [board]})  # fmt: skip
    rsps.get(f"{AGILE}/board/{config['id']}/configuration", json=config)


def serve_no_board(rsps: responses.RequestsMock) -> None:
    rsps.get(f"{AGILE}/board", json={"maxResults": 50, "startAt": 0, "total": 0,
                                     "isLast": True, "values": []})  # fmt: skip


def pull_epic(
    make: Callable[..., JiraConnector], rsps: Any, *children: dict[str, Any]
) -> tuple[JiraConnector, PullResult]:
    """The real epic and ``children``, on a site with both story-point fields."""
    serve_site(rsps, fields=[*body(FIELD_LIST), STORY_POINT_ESTIMATE, STORY_POINTS])
    serve_search(
        rsps,
        {
            (f'key in ("{EPIC_KEY}")', None): body(EPIC),
            (f'parent in ("{EPIC_KEY}")', None): {"issues": list(children), "isLast": True},
        },
    )
    connector = make()
    return connector, connector.pull_items(PullRequest(keys=frozenset({EPIC_KEY})))


def test_epic_children_parent_story_points_and_done(
    make: Callable[..., JiraConnector], rsps: Any
) -> None:
    serve_board(rsps, "TESTKEY13", "customfield_10016")
    connector, result = pull_epic(
        make, rsps,
        child_of_real_epic("TESTKEY13-2", "done", customfield_10016=5.0),
        # Only the company-managed "Story Points" set: the board does not show it.
        child_of_real_epic("TESTKEY13-3", "indeterminate", customfield_10026=3.0),
        child_of_real_epic("TESTKEY13-4", "new"),  # not estimated: both null
    )  # fmt: skip
    items = by_key(result.items)

    assert connector.session().ids.story_points == ("customfield_10016", "customfield_10026")
    for query in search_calls(rsps):
        assert query["fields"] == [*BASE_FIELDS, "customfield_10016", "customfield_10026"]
    assert items[EPIC_KEY].kind is ItemKind.EPIC
    assert items[EPIC_KEY].story_points is None  # both candidates null on the real epic
    assert {k: i.parent_key for k, i in items.items()} == {
        EPIC_KEY: None,
        "TESTKEY13-2": EPIC_KEY,
        "TESTKEY13-3": EPIC_KEY,
        "TESTKEY13-4": EPIC_KEY,
    }
    assert {k: i.kind for k, i in items.items() if k != EPIC_KEY} == dict.fromkeys(
        ["TESTKEY13-2", "TESTKEY13-3", "TESTKEY13-4"], ItemKind.ISSUE
    )
    # The board's field, for every issue of the project: never the other one's value.
    assert items["TESTKEY13-2"].story_points == 5.0
    assert items["TESTKEY13-3"].story_points is None
    assert items["TESTKEY13-4"].story_points is None
    assert "TESTKEY13: Story point estimate (customfield_10016), from board 'Test board'" in (
        result.description
    )
    assert "differs on TESTKEY13-3" in result.description
    assert items["TESTKEY13-2"].status_category is StatusCategory.DONE
    assert items["TESTKEY13-3"].status_category is StatusCategory.IN_PROGRESS
    assert items["TESTKEY13-4"].status_category is StatusCategory.TODO


def test_a_stale_estimate_does_not_override_the_field_the_board_shows(
    make: Callable[..., JiraConnector], rsps: Any
) -> None:
    """A company-managed board estimating by "Story Points": an old "Story point estimate"
    left on an issue is not what Jira shows, so it does not count (before: it won)."""
    serve_board(rsps, "TESTKEY13", "customfield_10026")
    _, result = pull_epic(
        make, rsps,
        child_of_real_epic("TESTKEY13-2", "done", customfield_10016=5.0, customfield_10026=8.0),
        child_of_real_epic("TESTKEY13-3", "new", customfield_10016=2.0),
    )  # fmt: skip
    items = by_key(result.items)

    assert items["TESTKEY13-2"].story_points == 8.0
    assert items["TESTKEY13-3"].story_points is None
    assert "differs on TESTKEY13-2, TESTKEY13-3" in result.description


def test_without_a_board_the_one_field_the_projects_issues_use(
    make: Callable[..., JiraConnector], rsps: Any
) -> None:
    serve_no_board(rsps)
    _, result = pull_epic(
        make, rsps,
        child_of_real_epic("TESTKEY13-2", "done", customfield_10026=8.0),
        child_of_real_epic("TESTKEY13-3", "new"),
    )  # fmt: skip

    assert by_key(result.items)["TESTKEY13-2"].story_points == 8.0
    assert "TESTKEY13: Story Points (customfield_10026), from its issues" in result.description


@pytest.mark.parametrize(("where", "status"), [("list", 401), ("configuration", 403)])
def test_boards_jira_will_not_show_leave_the_choice_to_the_issues(
    make: Callable[..., JiraConnector], rsps: Any, where: str, status: int
) -> None:
    """A token without the agile scopes (401 on the board list), or a board whose
    configuration only project admins may read (403): the issues decide, no failure."""
    config = body(BOARD_CONFIG)
    if where == "list":
        rsps.get(f"{AGILE}/board", status=status, json={"errorMessages": ["Unauthorized"]})
    else:
        board = {"id": config["id"], "name": config["name"], "type": config["type"],
                 "location": {"projectKey": "TESTKEY13"}}  # fmt: skip
        rsps.get(f"{AGILE}/board", json={"maxResults": 50, "startAt": 0, "total": 1,
                                         "isLast": True, "values": [board]})  # fmt: skip
        rsps.get(f"{AGILE}/board/{config['id']}/configuration", status=status,
                 json={"errorMessages": ["You do not have permission"]})  # fmt: skip
    _, result = pull_epic(
        make, rsps,
        child_of_real_epic("TESTKEY13-2", "done", customfield_10026=8.0),
        child_of_real_epic("TESTKEY13-3", "new"),
    )  # fmt: skip
    assert by_key(result.items)["TESTKEY13-2"].story_points == 8.0
    assert "TESTKEY13: Story Points (customfield_10026), from its issues" in result.description


def test_without_a_board_issues_using_both_fields_fail_the_pull(
    make: Callable[..., JiraConnector], rsps: Any
) -> None:
    """A stale "Story Points" value where "Story point estimate" is empty: counting either
    would be a guess (before: each issue took the first field with a value)."""
    serve_no_board(rsps)
    with pytest.raises(SourceError) as caught:
        pull_epic(
            make, rsps,
            child_of_real_epic("TESTKEY13-2", "done", customfield_10016=5.0),
            child_of_real_epic("TESTKEY13-3", "new", customfield_10026=3.0),
        )  # fmt: skip

    text = str(caught.value)
    assert "project TESTKEY13" in text and "the project has no board" in text
    assert "Story point estimate (customfield_10016)" in text
    assert "Story Points (customfield_10026)" in text
    assert "story_points_field" in text


def test_configured_story_points_field_is_resolved_by_name(
    make: Callable[..., JiraConnector], rsps: Any
) -> None:
    serve_site(rsps, fields=[*body(FIELD_LIST), STORY_POINT_ESTIMATE, STORY_POINTS])
    connector = make(story_points_field="Story Points")

    assert connector.session().ids.story_points == ("customfield_10026",)


# --- 3. paging guards ------------------------------------------------------------------


def pull_error(connector: JiraConnector) -> SourceError:
    with pytest.raises(SourceError) as caught:
        connector.pull_items(rule_pull())
    assert type(caught.value) is SourceError  # nothing else (no KeyError, no AuthError)
    return caught.value


def test_repeated_page_token_stops_with_an_error(
    make: Callable[..., JiraConnector], rsps: Any
) -> None:
    serve_site(rsps)
    # The page asked for with token-page-2 hands out token-page-2 again.
    serve_search(rsps, {(RULE, None): body(PAGE_1), (RULE, "token-page-2"): body(PAGE_1)})

    error = pull_error(make())

    assert "repeated a page token" in str(error)
    assert error.selector == "rule-1"
    assert len(search_calls(rsps)) == 2  # no loop


def test_empty_page_claiming_more_is_an_error(
    make: Callable[..., JiraConnector], rsps: Any
) -> None:
    serve_site(rsps)
    empty = {"isLast": False, "nextPageToken": "token-page-3", "issues": []}
    serve_search(rsps, {(RULE, None): body(PAGE_1), (RULE, "token-page-2"): empty})

    error = pull_error(make())

    assert "empty page" in str(error)
    assert error.selector == "rule-1"
    assert len(search_calls(rsps)) == 2


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(json.dumps(body(PAGE_2))[:400], id="truncated-json"),
        pytest.param("<html><body>Atlassian login</body></html>", id="html"),
    ],
)
def test_unparsable_page_is_malformed(
    make: Callable[..., JiraConnector], rsps: Any, text: str
) -> None:
    serve_site(rsps)
    serve_search(rsps, {(RULE, None): body(PAGE_1), (RULE, "token-page-2"): (200, text)})

    error = pull_error(make())

    assert "malformed" in str(error)
    assert SITE in str(error)
    assert error.selector == "rule-1"


def test_page_without_issues_list_is_malformed(
    make: Callable[..., JiraConnector], rsps: Any
) -> None:
    serve_site(rsps)
    page = body(PAGE_1)
    del page["issues"]
    serve_search(rsps, {(RULE, None): page})

    error = pull_error(make())

    assert "malformed page" in str(error)
    assert error.selector == "rule-1"


# --- 4. errors -------------------------------------------------------------------------


def test_401_on_server_info_is_an_auth_error_without_secrets(
    make: Callable[..., JiraConnector], rsps: Any
) -> None:
    rsps.get(
        f"{API}/serverInfo",
        status=401,
        body="Client must be authenticated to access this resource.",
        content_type="text/html;charset=UTF-8",
    )

    with pytest.raises(AuthError) as caught:
        make().pull_items(rule_pull())

    error = caught.value
    text = str(error)
    assert SITE in text
    assert "401" in text
    assert "Check the API token" in text
    assert "account email" in text
    basic = base64.b64encode(f"{EMAIL}:{TOKEN}".encode()).decode()
    rendered = "".join(traceback.format_exception(error))
    for secret in (TOKEN, basic, "Authorization"):
        assert secret not in text
        assert secret not in rendered
        assert secret not in repr(error.args)
    assert error.__cause__ is None  # the JIRAError (it carries headers) is not chained
    assert error.__context__ is None
    assert len(rsps.calls) == 1  # not retried


JQL_ERROR = (
    "Error in the JQL Query: Expecting either 'OR' or 'AND' but got 'bogus'. (line 1, character 13)"
)


def test_400_jql_error_fails_only_that_rule(make: Callable[..., JiraConnector], rsps: Any) -> None:
    """A rule Jira cannot run fails only its own selector; the other rule's items stand."""
    serve_site(rsps)
    bad = "project = X bogus"
    serve_search(
        rsps,
        {
            (bad, None): (400, {"errorMessages": [JQL_ERROR], "errors": {}}),
            (RULE, None): body(SINGLE_PAGE),
        },
    )
    request = PullRequest(
        queries=(QuerySelector(id="rule-1", query=bad), QuerySelector(id="rule-2", query=RULE))
    )

    result = make().pull_items(request)

    assert set(result.failed_selectors) == {"rule-1"}
    assert JQL_ERROR in result.failed_selectors["rule-1"]
    assert "400" in result.failed_selectors["rule-1"]
    assert sorted(i.key for i in result.items) == ["TEST-1", "TEST-2", "TEST-3"]
    assert {i.selectors for i in result.items} == {("rule-2",)}
    assert [q["jql"] for q in search_calls(rsps)] == [[bad], [RULE]]  # a 400 is not retried


def test_410_on_the_removed_search_endpoint_is_explained(
    make: Callable[..., JiraConnector], rsps: Any
) -> None:
    """The translation of Jira's 410 (CHANGE-2046), through the connector's own caller."""
    serve_site(rsps)
    rsps.get(f"{API}/search", status=410, json=GONE_BODY)
    connector = make()
    client = connector.session().client

    with pytest.raises(SourceError) as caught:
        connector.caller.call(
            "search", client._get_json, "search", params={"jql": RULE}, selector="rule-1"
        )

    text = str(caught.value)
    assert "410" in text
    assert "removed the old /search endpoint" in text
    assert "deployment: datacenter" in text
    assert caught.value.selector == "rule-1"


def test_forced_datacenter_on_cloud_explains_the_removed_endpoint(
    make: Callable[..., JiraConnector], rsps: Any
) -> None:
    # Forcing Data Center needs an Epic Link field: a (Cloud-shaped) one is added to the list.
    serve_site(rsps, fields=[*body(FIELD_LIST), EPIC_LINK])
    rsps.get(f"{API}/search", status=410, json=GONE_BODY)  # what Cloud answers on /search
    serve_search(rsps, {(RULE, None): body(SINGLE_PAGE)})  # and on /search/jql

    with pytest.raises(SourceError) as caught:
        make(deployment="datacenter").pull_items(rule_pull())

    text = str(caught.value)
    assert "removed the old /search endpoint" in text or "deployment" in text


def rate_limited(seconds: str) -> dict[str, Any]:
    return {
        "status": 429,
        "headers": {"Retry-After": seconds},
        "json": {"errorMessages": ["Rate limit exceeded."]},
    }


def test_429_waits_what_retry_after_says_then_succeeds(
    make: Callable[..., JiraConnector], rsps: Any, sleeps: list[float]
) -> None:
    serve_site(rsps)
    rsps.get(SEARCH, **rate_limited("2"))
    rsps.get(SEARCH, **rate_limited("2"))
    rsps.get(SEARCH, json=body(SINGLE_PAGE))

    result = make().pull_items(rule_pull())

    assert sorted(i.key for i in result.items) == ["TEST-1", "TEST-2", "TEST-3"]
    assert sleeps == [2.0, 2.0]
    assert len(search_calls(rsps)) == 3


def test_429_asking_for_half_an_hour_gives_up_at_once(
    make: Callable[..., JiraConnector], rsps: Any, sleeps: list[float]
) -> None:
    serve_site(rsps)
    rsps.get(SEARCH, **rate_limited("1847"))
    rsps.get(SEARCH, json=body(SINGLE_PAGE))  # never reached
    connector = make()

    error = pull_error(connector)

    assert sleeps == []  # nothing close to 1847 s (max_wait_seconds is 120)
    assert "429" in str(error)
    assert "Retry-After 1847" in str(error)
    assert error.retriable
    assert error.selector == "rule-1"
    assert len(search_calls(rsps)) == 1


def test_give_up_message_counts_this_calls_retries(
    make: Callable[..., JiraConnector], rsps: Any, sleeps: list[float]
) -> None:
    serve_site(rsps)
    rsps.get(SEARCH, **rate_limited("2"))
    rsps.get(SEARCH, **rate_limited("2"))
    rsps.get(SEARCH, json=body(SINGLE_PAGE))
    rsps.get(SEARCH, **rate_limited("1847"))
    connector = make()
    connector.pull_items(rule_pull())  # two retries, then fine
    assert sleeps == [2.0, 2.0]

    error = pull_error(connector)  # the next run's first search: refused at once

    assert "gave up after 0 retries" in str(error)


def test_comment_post_is_never_retried_on_503(
    make: Callable[..., JiraConnector], rsps: Any, sleeps: list[float]
) -> None:
    serve_site(rsps)
    url = f"{API}/issue/{EPIC_KEY}/comment"
    rsps.post(url, status=503, body="Service Unavailable", content_type="text/plain")
    rsps.post(url, status=201, json=body(COMMENTS)["comments"][0])
    connector = make()
    http = connector.session().client._session

    with pytest.raises(WriteError) as caught:
        connector.caller.call(
            f"POST comment on {EPIC_KEY}", http.post, url,
            data=json.dumps({"body": "KR-1 is now At risk"}), idempotent=False, write=True,
        )  # fmt: skip

    assert "503" in str(caught.value)
    assert len(calls_to(rsps, "POST", f"/rest/api/2/issue/{EPIC_KEY}/comment")) == 1
    assert sleeps == []


def test_idempotent_get_is_retried_on_503(
    make: Callable[..., JiraConnector], rsps: Any, sleeps: list[float]
) -> None:
    serve_site(rsps)
    url = f"{API}/issue/{EPIC_KEY}/comment"
    rsps.get(url, status=503, body="Service Unavailable", content_type="text/plain")
    rsps.get(url, json=body(COMMENTS))
    connector = make()
    http = connector.session().client._session

    response = connector.caller.call(f"GET comments on {EPIC_KEY}", http.get, url, write=True)

    assert len(response.json()["comments"]) == 2
    assert len(sleeps) == 1
    assert 0.0 < sleeps[0] <= 1.3  # no Retry-After: first backoff step, with jitter


# --- 5. write-back ---------------------------------------------------------------------

ISSUE_PATH = f"/rest/api/2/issue/{EPIC_KEY}"
PROPERTY_PATH = f"{ISSUE_PATH}/properties/okr-sync"
COMMENT_PATH = f"{ISSUE_PATH}/comment"
KR_PROPERTY = {
    "key_results": [
        {
            "id": "KR-1",
            "title": "Cut checkout p95 latency to 300 ms",
            "progress": 0.42,
            "status": "At risk",
            "url": "https://www.notion.so/kr-1",
        }
    ],
    "synced_on": "2024-05-06",
}


def serve_writes(rsps: responses.RequestsMock) -> None:
    """What Jira Cloud answers: 204 on an issue edit, 200 on a property update."""
    rsps.put(f"{SITE}{ISSUE_PATH}", status=204)
    rsps.put(f"{SITE}{PROPERTY_PATH}", status=200)


def test_write_labels_then_property(make: Callable[..., JiraConnector], rsps: Any) -> None:
    serve_site(rsps)
    serve_writes(rsps)
    connector = make()
    connector.session()
    before = len(rsps.calls)

    connector.writer._day = "2024-05-06"  # set by desired() from the outcome's sync date
    connector.writer.write(
        RecordRef(kind="item", id=EPIC_KEY), {"property": KR_PROPERTY, "label": ["okr:KR-1"]}
    )

    writes = rsps.calls[before:]
    assert [(c.request.method, urlsplit(str(c.request.url)).path) for c in writes] == [
        ("PUT", ISSUE_PATH),
        ("PUT", PROPERTY_PATH),  # the property goes last
    ]
    labels, prop = (c.request for c in writes)
    assert parse_qs(urlsplit(str(labels.url)).query) == {"notifyUsers": ["false"]}
    assert json.loads(labels.body) == {"update": {"labels": [{"add": "okr:KR-1"}]}}
    assert json.loads(prop.body) == KR_PROPERTY
    for request in (labels, prop):
        assert request.headers["Content-Type"].startswith("application/json")


def serve_stored(
    rsps: responses.RequestsMock,
    stored: dict[str, Any],
    comments: list[Any] | None = None,
    total: int | None = None,
) -> None:
    """The batched read: the real epic, carrying the stored okr-sync property and, when
    given, ``comments`` in its ``comment`` field (the real epic has none)."""
    page = body(EPIC)
    issue = page["issues"][0]
    issue["properties"] = {"okr-sync": stored}
    if comments is not None:
        issue["fields"]["comment"].update(
            comments=comments, maxResults=len(comments), total=total or len(comments)
        )
    page["isLast"] = True
    serve_search(rsps, {(f'key in ("{EPIC_KEY}")', None): page})


def comments_with(*texts: str) -> list[dict[str, Any]]:
    """The real comment list, its first ADF comment extended with one paragraph per text."""
    comments: list[dict[str, Any]] = body(COMMENTS)["comments"]
    for text in texts:
        comments[0]["body"]["content"].append(
            {"type": "paragraph", "content": [{"type": "text", "text": text}]}
        )
    return comments


MARKER = "[okr-sync:KR-1:At risk:#2]"


def status_change(
    make: Callable[..., JiraConnector],
    rsps: Any,
    comments: list[dict[str, Any]],
    total: int | None = None,
) -> tuple[JiraConnector, int]:
    """The epic's comments carry okr-sync's check-ins; read them, set today's date."""
    serve_site(rsps)
    serve_writes(rsps)
    serve_stored(rsps, KR_PROPERTY, comments, total)
    rsps.post(f"{SITE}{COMMENT_PATH}", status=201, json=body(COMMENTS)["comments"][0])
    connector = make()
    ref = RecordRef(kind="item", id=EPIC_KEY)
    current = connector.writer.read([ref])
    assert current[ref]["label"] == []  # the real epic has only the label "test"
    assert search_calls(rsps)[-1]["properties"] == ["okr-sync"]
    assert search_calls(rsps)[-1]["fields"] == ["labels", "comment"]
    connector.writer._day = "2024-05-06"  # set by desired() from the outcome's sync date
    return connector, len(rsps.calls)


def test_status_change_posts_one_comment_with_marker(
    make: Callable[..., JiraConnector], rsps: Any
) -> None:
    announced = "KR-1 Cut checkout p95 latency is now On track: 60 %.\n[okr-sync:KR-1:On track:#1]"
    connector, before = status_change(make, rsps, comments_with(announced))
    ref = RecordRef(kind="item", id=EPIC_KEY)
    assert connector.writer.read([ref])[ref]["comment"] == {"KR-1": "On track"}

    connector.writer.write(ref, {"comment": {"KR-1": "At risk"}})

    writes = rsps.calls[before + 1 :]  # after the second read
    # One comment, and nothing else: the receipt is the marker, not the property.
    assert [(c.request.method, urlsplit(str(c.request.url)).path) for c in writes] == [
        ("POST", COMMENT_PATH),
    ]
    posted = json.loads(writes[0].request.body)["body"]
    assert posted.count("[okr-sync:KR-1:At risk:") == 1
    assert posted.endswith(MARKER)


def test_marker_already_in_comments_posts_nothing(
    make: Callable[..., JiraConnector], rsps: Any
) -> None:
    # A previous attempt posted the comment but its answer was lost.
    text = f"KR-1 Cut checkout p95 latency to 300 ms is now At risk: 42 %.\n{MARKER}"
    connector, before = status_change(
        make, rsps, comments_with("[okr-sync:KR-1:On track:#1]", text)
    )
    ref = RecordRef(kind="item", id=EPIC_KEY)
    assert connector.writer.read([ref])[ref]["comment"] == {"KR-1": "At risk"}

    connector.writer.write(ref, {"comment": {"KR-1": "At risk"}})

    assert rsps.calls[before + 1 :] == []


def test_a_long_comment_list_is_read_in_full(make: Callable[..., JiraConnector], rsps: Any) -> None:
    """The search shows fewer comments than the epic has: every page is read, so a marker
    behind a hundred newer comments still counts (before: only the newest 100 were)."""
    real = comments_with()[0]
    marked = comments_with(MARKER)[0]
    pages = [[marked] + [real] * 99, [real] * 60]  # the marker is the oldest of 160

    def answer(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        query = parse_qs(urlsplit(str(request.url)).query)
        start = int(query["startAt"][0])
        page = pages[start // 100]
        return 200, {}, json.dumps({"startAt": start, "maxResults": 100, "total": 160,
                                    "comments": page})  # fmt: skip

    rsps.add_callback(responses.GET, f"{SITE}{COMMENT_PATH}", callback=answer)
    connector, _before = status_change(make, rsps, [real] * 20, total=160)
    ref = RecordRef(kind="item", id=EPIC_KEY)
    calls = len(rsps.calls)
    assert connector.writer.read([ref])[ref]["comment"] == {"KR-1": "At risk"}
    gets = [parse_qs(urlsplit(str(c.request.url)).query) for c in rsps.calls[calls:]
            if urlsplit(str(c.request.url)).path == COMMENT_PATH]  # fmt: skip
    assert [(q["startAt"], q["maxResults"]) for q in gets] == [(["0"], ["100"]), (["100"], ["100"])]

    connector.writer.write(ref, {"comment": {"KR-1": "At risk"}})

    assert [c for c in rsps.calls[calls:] if c.request.method == "POST"] == []


def test_first_link_of_a_kr_announces_it_once(
    make: Callable[..., JiraConnector], rsps: Any
) -> None:
    connector, before = status_change(make, rsps, comments_with())
    ref = RecordRef(kind="item", id=EPIC_KEY)
    assert connector.writer.read([ref])[ref]["comment"] is None

    connector.writer.write(ref, {"comment": {"KR-1": "On track"}})

    writes = rsps.calls[before + 1 :]
    assert [(c.request.method, urlsplit(str(c.request.url)).path) for c in writes] == [
        ("POST", COMMENT_PATH)
    ]
    assert json.loads(writes[0].request.body)["body"].endswith("[okr-sync:KR-1:On track:#1]")


# --- JQL literals -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "literal"),
    [
        ("PAY-1", '"PAY-1"'),
        ("empty", '"empty"'),  # bare, EMPTY is the keyword: issues without labels
        ("update", '"update"'),  # a reserved word: a 400 bare
        ("team alpha", '"team alpha"'),
        ("a.b+c", '"a.b+c"'),
        ('say "hi"', '"say \\"hi\\""'),
        ("back\\slash", '"back\\\\slash"'),
        ("tab\tand\nline", '"tab\\tand\\nline"'),
        ("bell\x07", '"bell\\u0007"'),
    ],
)
def test_every_literal_is_quoted_and_escaped_as_jira_encodes_it(value: str, literal: str) -> None:
    assert jql_value(value) == literal


@pytest.mark.parametrize(
    ("jql", "stripped"),
    [
        ("project = X ORDER BY key", "project = X"),
        ("project = X order  by key desc", "project = X"),
        ('summary ~ "sort order by date"', 'summary ~ "sort order by date"'),
        ('summary ~ "sort order by date" ORDER BY key', 'summary ~ "sort order by date"'),
        ("summary ~ 'it\\'s order by' order by rank", "summary ~ 'it\\'s order by'"),
        ("ORDER BY created", ""),
    ],
)
def test_order_by_is_found_outside_quoted_strings_only(jql: str, stripped: str) -> None:
    assert strip_order_by(jql) == stripped


def test_a_label_edit_refused_for_its_quiet_flag_is_sent_again_without_it(
    make: Callable[..., JiraConnector], rsps: Any
) -> None:
    """Jira refuses ``notifyUsers=false`` from an API user who is no (project) admin."""
    serve_site(rsps)
    refusal = {
        "errorMessages": [
            "To discard the user notification either admin or project admin permissions "
            "are required."
        ],
        "errors": {},
    }
    rsps.put(f"{SITE}{ISSUE_PATH}", status=403, json=refusal)
    rsps.put(f"{SITE}{ISSUE_PATH}", status=204)
    rsps.put(f"{SITE}{ISSUE_PATH}", status=204)
    connector = make()
    connector.session()
    before = len(rsps.calls)
    for _ in range(2):
        connector.writer.write(RecordRef(kind="item", id=EPIC_KEY), {"label": ["okr:KR-1"]})
    queries = [parse_qs(urlsplit(str(c.request.url)).query) for c in rsps.calls[before:]]
    # Refused once with the flag, then sent without it, and never asked for again.
    assert queries == [{"notifyUsers": ["false"]}, {}, {}]


@pytest.mark.parametrize(
    "body",
    [
        "KR-1 is on track. [okr-sync:KR-1:on_track:#3]",  # as posted
        "KR-1 is on track. \\[okr-sync:KR-1:on_track:#3\\]",  # brackets escaped
        "KR-1 is on track. [okr-sync:KR-1:on_track:#3|okr-sync:KR-1:on_track:#3]",  # a link
    ],
)
def test_a_check_in_marker_reads_back_however_jira_renders_it(body: str) -> None:
    """On Cloud the body is stored as ADF and returned as wiki markup, where square
    brackets are link syntax: the receipt must survive the round trip."""
    from connectors.jira.write import Announced, latest_markers

    assert latest_markers([body, "a human's comment"]) == {"KR-1": Announced("on_track", 3)}


def test_an_approximate_count_without_a_count_is_no_zero(
    make: Callable[..., JiraConnector], rsps: Any
) -> None:
    """The ``jira`` client reads a missing ``count`` as 0; a count KR must not."""
    serve_site(rsps)
    rsps.post(f"{SITE}/rest/api/2/search/approximate-count", json={})
    connector = make()
    with pytest.raises(SourceError, match="no count"):
        connector.count("project = PAY", "rule-1")
    rsps.replace(responses.POST, f"{SITE}/rest/api/2/search/approximate-count", json={"count": 7})
    assert connector.count("project = PAY", "rule-1") == 7
