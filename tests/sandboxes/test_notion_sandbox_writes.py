"""The Notion sandbox with the real `notion_client.Client`: writes, comments, errors, limits, faults."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from notion_client import (
    APIResponseError,
    Client,
    RetryOptions,
    UnknownHTTPResponseError,
    collect_paginated_api,
)

from sandboxes import NotionSandbox
from tests.sandboxes.fake_clock import FakeClock
from tests.sandboxes.notion_helpers import Okr, client, raw

FAST_RETRY = RetryOptions(max_retries=2, initial_retry_delay_ms=1, max_retry_delay_ms=10)
_clients: dict[str, Client] = {}  # one client per sandbox URL: building one costs ~20 ms


# -- pages.update ------------------------------------------------------------------------------


def test_update_writes_number_status_date_and_marks_the_bot(
    sb: NotionSandbox, okr: Okr, clock: FakeClock
) -> None:
    kr = sb.add_page(okr.krs, {"Name": "KR", "Current": 1, "Target": 4, "Status": "Not started"})
    assert sb.page(kr)["last_edited_by"]["id"] != sb.bot_id
    clock.advance(minutes=3, seconds=20)
    page = client(sb).pages.update(
        kr,
        properties={
            "Current": {"number": 3},
            "Status": {"status": {"name": "At risk"}},
            "Last synced": {"date": {"start": "2026-09-27T09:33:35Z"}},
            "Jira epics": {"rich_text": [{"type": "text", "text": {"content": "PAY-7"}}]},
            "Done?": {"type": "checkbox", "checkbox": True},
            "Link": {"url": "https://example.com/kr"},
        },
    )
    props = page["properties"]
    assert props["Current"]["number"] == 3
    assert props["Status"]["status"]["name"] == "At risk"
    assert props["Last synced"]["date"]["start"] == "2026-09-27T09:33:35.000+00:00"
    assert props["Jira epics"]["rich_text"][0]["plain_text"] == "PAY-7"
    assert props["Jira epics"]["rich_text"][0]["annotations"]["bold"] is False
    assert props["Progress"]["formula"]["number"] == 0.75
    assert props["Done?"]["checkbox"] is True
    assert page["last_edited_by"] == {"object": "user", "id": sb.bot_id}
    assert page["last_edited_time"] == "2026-09-27T09:33:00.000Z"  # floored to the minute
    assert page["request_id"]
    assert sb.requests["PATCH /v1/pages/{id}"] == 1
    # A human edit afterwards is visible as such.
    human = sb.add_user("Grace Hopper")
    sb.update_page(kr, {"Current": 4}, edited_by=human)
    after = sb.page(kr)
    assert after["last_edited_by"]["id"] == human
    assert after["properties"]["Current"]["number"] == 4


def test_update_accepts_property_ids_and_clears(sb: NotionSandbox, okr: Okr) -> None:
    kr = sb.add_page(okr.krs, {"Name": "KR", "Current": 2, "Due": "2026-10-01"})
    props = sb.page(kr)["properties"]
    page = client(sb).pages.update(
        kr, properties={props["Current"]["id"]: {"number": None}, "Due": {"date": None}}
    )
    assert page["properties"]["Current"]["number"] is None
    assert page["properties"]["Due"]["date"] is None


def _refusal(sb: NotionSandbox, page_id: str, properties: dict[str, object]) -> APIResponseError:
    if sb.url not in _clients:
        _clients[sb.url] = client(sb)
    notion = _clients[sb.url]
    with pytest.raises(APIResponseError) as err:
        notion.pages.update(page_id, properties=properties)
    assert err.value.status == 400
    assert err.value.code == "validation_error"
    return err.value


def test_update_validation_errors(sb: NotionSandbox, okr: Okr) -> None:
    kr = sb.add_page(okr.krs, {"Name": "KR", "Current": 1, "Target": 2})
    before = sb.page(kr)
    error = _refusal(sb, kr, {"Progress": {"formula": {"number": 0.5}}})
    assert str(error).startswith("body failed validation. Fix one:\n")
    assert "body.properties.Progress.number should be defined" in str(error)
    error = _refusal(sb, kr, {"Progress": {"number": 0.5}})
    assert str(error) == "Progress is expected to be formula."
    error = _refusal(sb, kr, {"Status": {"status": {"name": "Blocked"}}})
    assert "Blocked" in str(error) and "On track" in str(error)
    error = _refusal(sb, kr, {"Velocity": {"number": 1}})
    assert str(error) == "Velocity is not a property that exists."
    error = _refusal(sb, kr, {"Current": {"number": "12"}})
    assert "body.properties.Current.number should be a number" in str(error)
    _refusal(sb, kr, {"KR ID": {"unique_id": {"number": 9}}})
    _refusal(sb, kr, {"Done share": {"rollup": {"number": 1}}})
    _refusal(sb, kr, {"Edited": {"last_edited_time": "2026-01-01"}})
    _refusal(sb, kr, {"Last synced": {"date": {"start": "yesterday-ish"}}})
    _refusal(sb, kr, {"Jira epics": {"rich_text": [{"text": {"content": "x" * 2001}}]}})
    # Nothing was written, not even partly.
    assert sb.page(kr) == before


def test_unknown_select_option_is_created_but_status_is_not(sb: NotionSandbox, okr: Okr) -> None:
    kr = sb.add_page(okr.krs, {"Name": "KR"})
    notion = client(sb)
    page = notion.pages.update(kr, properties={"Confidence": {"select": {"name": "Medium"}}})
    assert page["properties"]["Confidence"]["select"]["name"] == "Medium"
    options = notion.data_sources.retrieve(okr.krs)["properties"]["Confidence"]["select"]["options"]
    assert [o["name"] for o in options] == ["High", "Low", "Medium"]
    _refusal(sb, kr, {"Status": {"status": {"name": "Medium"}}})
    statuses = notion.data_sources.retrieve(okr.krs)["properties"]["Status"]["status"]["options"]
    assert "Medium" not in [o["name"] for o in statuses]


def test_relation_writes_keep_two_way_relations_in_sync(sb: NotionSandbox, okr: Okr) -> None:
    o1 = sb.add_page(okr.objectives, {"Name": "O1"})
    o2 = sb.add_page(okr.objectives, {"Name": "O2"})
    kr = sb.add_page(okr.krs, {"Name": "KR", "Objective": [o1]})
    notion = client(sb)
    notion.pages.update(kr, properties={"Objective": {"relation": [{"id": o2}], "has_more": False}})
    assert notion.pages.retrieve(o1)["properties"]["Key Results"]["relation"] == []
    assert notion.pages.retrieve(o2)["properties"]["Key Results"]["relation"] == [{"id": kr}]
    _refusal(sb, kr, {"Objective": {"relation": [{"id": kr}]}})  # not an objective


def test_create_page_in_a_data_source(sb: NotionSandbox, okr: Okr) -> None:
    page = client(sb).pages.create(
        parent={"type": "data_source_id", "data_source_id": okr.krs},
        properties={"Name": {"title": [{"text": {"content": "New KR"}}]}, "Target": {"number": 5}},
    )
    assert page["created_by"] == {"object": "user", "id": sb.bot_id}
    assert page["properties"]["KR ID"]["unique_id"]["number"] == 1
    assert page["properties"]["Target"]["number"] == 5


# -- comments ---------------------------------------------------------------------------------


def test_comments_create_and_list(sb: NotionSandbox, okr: Okr) -> None:
    kr = sb.add_page(okr.krs, {"Name": "KR"})
    notion = client(sb)
    made = notion.comments.create(
        parent={"page_id": kr},
        rich_text=[{"text": {"content": "At risk: 12 of 40 done [okr-sync:KR-1]"}}],
    )
    assert made["object"] == "comment"
    assert made["parent"] == {"type": "page_id", "page_id": kr}
    assert made["created_by"] == {"object": "user", "id": sb.bot_id}
    assert made["rich_text"][0]["plain_text"].endswith("[okr-sync:KR-1]")
    assert made["display_name"]["type"] == "integration"
    assert made["discussion_id"]
    reply = notion.comments.create(
        discussion_id=made["discussion_id"], rich_text=[{"text": {"content": "second"}}]
    )
    assert reply["discussion_id"] == made["discussion_id"]
    sb.add_comment(kr, "a human reply")
    listed = notion.comments.list(block_id=kr)
    assert listed["type"] == "comment" and listed["comment"] == {}
    assert [c["id"] for c in listed["results"][:2]] == [made["id"], reply["id"]]
    paged = collect_paginated_api(notion.comments.list, block_id=kr, page_size=1)
    assert len(paged) == 3
    assert [c["id"] for c in sb.comments(kr)] == [c["id"] for c in paged]
    assert sb.comments(kr)[2]["display_name"]["type"] == "user"
    assert sb.requests["POST /v1/comments"] == 2
    assert sb.requests["GET /v1/comments"] == 4


def test_comment_capabilities_can_be_withdrawn(sb: NotionSandbox, okr: Okr) -> None:
    kr = sb.add_page(okr.krs, {"Name": "KR"})
    sb.capabilities.discard("insert_comments")
    with pytest.raises(APIResponseError) as err:
        client(sb).comments.create(parent={"page_id": kr}, rich_text=[{"text": {"content": "x"}}])
    assert (err.value.status, err.value.code) == (403, "restricted_resource")


# -- errors -------------------------------------------------------------------------------------


def test_bad_token_is_unauthorized(sb: NotionSandbox) -> None:
    with pytest.raises(APIResponseError) as err:
        client(sb, token="ntn_wrong").users.me()
    assert (err.value.status, err.value.code) == (401, "unauthorized")
    assert str(err.value) == "API token is invalid."
    assert err.value.request_id


def test_missing_version_and_bad_urls(sb: NotionSandbox, okr: Okr) -> None:
    resp = raw(sb, "GET", "/v1/users/me", version=None)
    assert resp.status_code == 400
    assert resp.json()["code"] == "missing_version"
    bad = raw(sb, "GET", "/v1/invalid")
    assert bad.status_code == 400
    assert {k: v for k, v in bad.json().items() if k != "request_id"} == {
        "object": "error",
        "status": 400,
        "code": "invalid_request_url",
        "message": "Invalid request URL.",
    }
    with pytest.raises(APIResponseError) as err:
        client(sb).pages.retrieve("not-a-uuid")
    assert err.value.code == "validation_error"
    assert "path.page_id should be a valid uuid" in str(err.value)
    dashless = sb.add_page(okr.krs, {"Name": "KR"}).replace("-", "")
    assert client(sb).pages.retrieve(dashless)["id"].replace("-", "") == dashless
    with pytest.raises(APIResponseError) as err:
        client(sb).pages.retrieve("00000000-0000-0000-0000-000000000000")
    assert err.value.status == 404


def test_unshared_database_reads_as_not_found(sb: NotionSandbox, okr: Okr) -> None:
    ini = sb.add_page(okr.initiatives, {"Name": "I"})
    kr = sb.add_page(okr.krs, {"Name": "KR", "Initiatives": [ini]})
    sb.share(okr.initiatives_db, False)
    notion = client(sb)
    for call in (
        lambda: notion.databases.retrieve(okr.initiatives_db),
        lambda: notion.data_sources.retrieve(okr.initiatives),
        lambda: notion.data_sources.query(okr.initiatives),
        lambda: notion.pages.retrieve(ini),
    ):
        with pytest.raises(APIResponseError) as err:
            call()
        assert (err.value.status, err.value.code) == (404, "object_not_found")
        assert "Make sure the relevant pages and databases are shared with your integration" in str(
            err.value
        )
    with pytest.raises(APIResponseError) as err:
        notion.databases.retrieve(okr.initiatives_db)
    assert str(err.value).startswith(f"Could not find database with ID: {okr.initiatives_db}.")
    assert err.value.additional_data == {"integration_id": sb.bot_id}
    # A relation into a database the integration cannot see reads as empty.
    assert notion.pages.retrieve(kr)["properties"]["Initiatives"]["relation"] == []
    sb.share(okr.initiatives_db, True)
    assert notion.pages.retrieve(ini)["id"] == ini


def test_rate_limit_answers_429_with_retry_after() -> None:
    with NotionSandbox(rate_limit=1.0, burst=3) as sb:
        notion = client(sb)
        for _ in range(3):
            notion.users.me()
        with pytest.raises(APIResponseError) as err:
            notion.users.me()
        assert (err.value.status, err.value.code) == (429, "rate_limited")
        assert int(err.value.headers["retry-after"]) >= 1
        assert err.value.additional_data == {"rate_limit_reason": "public_api_request_rate_limit"}
        assert sb.requests["GET /v1/users/me"] == 4
        assert sb.server_errors == []


# -- faults -------------------------------------------------------------------------------------


def test_status_faults_carry_notion_codes(sb: NotionSandbox, okr: Okr) -> None:
    kr = sb.add_page(okr.krs, {"Name": "KR"})
    notion = client(sb)
    sb.faults.add("PATCH /v1/pages/{id}", 409)
    with pytest.raises(APIResponseError) as err:
        notion.pages.update(kr, properties={"Current": {"number": 1}})
    assert (err.value.status, err.value.code) == (409, "conflict_error")
    sb.faults.add("POST /v1/data_sources/{id}/query", 503, retry_after=7)
    with pytest.raises(APIResponseError) as err:
        notion.data_sources.query(okr.krs)
    assert (err.value.code, err.value.headers["retry-after"]) == ("service_unavailable", "7")
    sb.faults.add("*", 429, retry_after=2)
    with pytest.raises(APIResponseError) as err:
        notion.users.me()
    assert (err.value.code, err.value.headers["retry-after"]) == ("rate_limited", "2")
    sb.faults.add("GET /v1/users/me", 504)
    with pytest.raises(APIResponseError) as err:
        notion.users.me()
    assert err.value.code == "gateway_timeout"
    sb.faults.add("GET /v1/users/me", 502)
    with pytest.raises(UnknownHTTPResponseError) as unknown:
        notion.users.me()
    assert unknown.value.status == 502
    assert "cloudflare" in unknown.value.body
    sb.faults.add("GET /v1/users/me", 529)
    with pytest.raises(UnknownHTTPResponseError) as unknown:
        notion.users.me()
    assert json.loads(unknown.value.body)["code"] == "service_overload"
    sb.faults.add("/v1/pages/{id}", 500, code="internal_server_error")
    with pytest.raises(APIResponseError) as err:
        notion.pages.retrieve(kr)
    assert err.value.code == "internal_server_error"
    assert sb.faults.pending == 0


def test_client_retries_what_notion_client_retries(sb: NotionSandbox, okr: Okr) -> None:
    kr = sb.add_page(okr.krs, {"Name": "KR"})
    notion = client(sb, retry=FAST_RETRY)
    sb.faults.add("POST /v1/data_sources/{id}/query", 429, retry_after=0)
    assert notion.data_sources.query(okr.krs)["results"]
    assert sb.requests["POST /v1/data_sources/{id}/query"] == 2
    sb.faults.add("GET /v1/pages/{id}", 500, times=2)
    assert notion.pages.retrieve(kr)["id"] == kr
    assert sb.requests["GET /v1/pages/{id}"] == 3
    sb.faults.add("PATCH /v1/pages/{id}", 500)
    with pytest.raises(APIResponseError):
        notion.pages.update(kr, properties={"Current": {"number": 1}})
    assert sb.requests["PATCH /v1/pages/{id}"] == 1  # writes are not retried on 500


def test_malformed_body_and_latency(sb: NotionSandbox, okr: Okr) -> None:
    kr = sb.add_page(okr.krs, {"Name": "KR"})
    notion = client(sb)
    sb.faults.malformed("PATCH /v1/pages/{id}")
    with pytest.raises(json.JSONDecodeError):
        notion.pages.update(kr, properties={"Current": {"number": 9}})
    assert sb.page(kr)["properties"]["Current"]["number"] == 9  # the write happened
    sb.latency = 0.2
    started = time.monotonic()
    notion.users.me()
    assert time.monotonic() - started >= 0.2


def test_request_counting_uses_templates(sb: NotionSandbox, okr: Okr) -> None:
    kr = sb.add_page(okr.krs, {"Name": "KR"})
    notion = client(sb)
    notion.users.me()
    notion.databases.retrieve(okr.krs_db)
    notion.data_sources.retrieve(okr.krs)
    notion.data_sources.query(okr.krs)
    notion.pages.retrieve(kr)
    notion.pages.update(kr, properties={"Current": {"number": 1}})
    notion.pages.properties.retrieve(kr, "title")
    httpx.get(f"{sb.url}/v1/nowhere", headers={"Notion-Version": "2025-09-03"})
    assert dict(sb.requests) == {
        "GET /v1/users/me": 1,
        "GET /v1/databases/{id}": 1,
        "GET /v1/data_sources/{id}": 1,
        "POST /v1/data_sources/{id}/query": 1,
        "GET /v1/pages/{id}": 1,
        "PATCH /v1/pages/{id}": 1,
        "GET /v1/pages/{id}/properties/{property_id}": 1,
        "GET /v1/nowhere": 1,
    }


def test_seeding_errors_are_clear(sb: NotionSandbox, okr: Okr) -> None:
    with pytest.raises(ValueError, match="no option 'Blocked'"):
        sb.add_page(okr.krs, {"Status": "Blocked"})
    with pytest.raises(ValueError, match="computed"):
        sb.add_page(okr.krs, {"Progress": 0.5})
    with pytest.raises(ValueError, match="title"):
        sb.add_database("No title", {"Target": {"number": {}}})
    with pytest.raises(ValueError, match="no property 'Nope'"):
        sb.add_database(
            "Bad", {"Name": {"title": {}}, "F": {"formula": {"expression": 'prop("Nope")'}}}
        )
