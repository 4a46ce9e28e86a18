"""The Notion sandbox with the real `notion_client.Client`: data source queries."""

from __future__ import annotations

from datetime import timedelta

import pytest
from notion_client import APIResponseError, collect_paginated_api

from sandboxes import NotionSandbox
from tests.sandboxes.fake_clock import FakeClock
from tests.sandboxes.notion_helpers import START, Okr, client, raw

# -- queries ---------------------------------------------------------------------------------


def test_query_pages_250_rows_in_three_requests(sb: NotionSandbox, okr: Okr) -> None:
    for n in range(250):
        sb.add_page(okr.initiatives, {"Name": f"Item {n}", "Points": n})
    notion = client(sb)
    first = notion.data_sources.query(okr.initiatives, page_size=100)
    assert first["object"] == "list"
    assert first["type"] == "page_or_data_source"
    assert first["page_or_data_source"] == {}
    assert first["has_more"] is True
    assert first["next_cursor"].startswith("s:")
    assert [p["properties"]["Name"]["title"][0]["plain_text"] for p in first["results"][:2]] == [
        "Item 249",
        "Item 248",
    ]  # newest first without sorts, as the recorded queries show
    sb.requests.clear()
    rows = collect_paginated_api(
        notion.data_sources.query, data_source_id=okr.initiatives, page_size=100
    )
    assert len(rows) == 250
    assert len({r["id"] for r in rows}) == 250
    assert sb.requests["POST /v1/data_sources/{id}/query"] == 3
    last = notion.data_sources.query(
        okr.initiatives, page_size=100, start_cursor=first["next_cursor"]
    )
    assert len(last["results"]) == 100


def test_query_cursor_belongs_to_its_query(sb: NotionSandbox, okr: Okr) -> None:
    for n in range(3):
        sb.add_page(okr.initiatives, {"Name": f"Item {n}"})
    notion = client(sb)
    page = notion.data_sources.query(okr.initiatives, page_size=1)
    with pytest.raises(APIResponseError) as err:
        notion.data_sources.query(
            okr.initiatives,
            page_size=1,
            start_cursor=page["next_cursor"],
            sorts=[{"property": "Name", "direction": "ascending"}],
        )
    assert err.value.code == "validation_error"
    with pytest.raises(APIResponseError) as err:
        notion.data_sources.query(okr.initiatives, page_size=101)
    assert err.value.status == 400
    assert "page_size" in str(err.value)


def test_incremental_pull_with_last_edited_time(
    sb: NotionSandbox, okr: Okr, clock: FakeClock
) -> None:
    old = sb.add_page(okr.krs, {"Name": "old"}, last_edited_time=START - timedelta(days=3))
    recent = sb.add_page(okr.krs, {"Name": "recent"})
    clock.advance(minutes=5)
    later = sb.add_page(okr.krs, {"Name": "later"})
    notion = client(sb)

    def since(moment: str) -> list[str]:
        body = notion.data_sources.query(
            okr.krs,
            filter={"timestamp": "last_edited_time", "last_edited_time": {"on_or_after": moment}},
            sorts=[{"timestamp": "last_edited_time", "direction": "ascending"}],
        )
        return [p["id"] for p in body["results"]]

    assert since("2026-09-27T09:00:00Z") == [recent, later]
    assert since("2026-09-27T09:35:00Z") == [later]
    # Page timestamps are floored to the minute, and filters see the floored value.
    assert since("2026-09-27T09:30:10Z") == [later]
    assert since("2026-09-27") == [recent, later]
    page = notion.pages.retrieve(recent)
    assert page["last_edited_time"] == "2026-09-27T09:30:00.000Z"
    assert old not in since("2026-09-26")


def test_filters(sb: NotionSandbox, okr: Okr) -> None:
    ini = sb.add_page(okr.initiatives, {"Name": "Init", "Done": True})
    a = sb.add_page(
        okr.krs,
        {
            "Name": "Grow revenue",
            "Status": "On track",
            "Confidence": "High",
            "Current": 5,
            "Target": 10,
            "Tags": ["growth"],
            "Due": "2026-12-31",
            "Owner": [okr.owner],
            "Initiatives": [ini],
            "Done?": True,
            "Jira epics": "PAY-1, PAY-2",
        },
    )
    b = sb.add_page(
        okr.krs,
        {"Name": "Cut costs", "Status": "At risk", "Confidence": "Low", "Current": 1, "Target": 10},
    )
    c = sb.add_page(okr.krs, {"Name": "Hire", "Status": "Done", "Current": 10, "Target": 10})
    notion = client(sb)

    def ids(flt: dict[str, object]) -> set[str]:
        return {p["id"] for p in notion.data_sources.query(okr.krs, filter=flt)["results"]}

    assert ids({"property": "Status", "status": {"equals": "At risk"}}) == {b}
    assert ids({"property": "Status", "status": {"does_not_equal": "Done"}}) == {a, b}
    assert ids({"property": "Confidence", "select": {"equals": "High"}}) == {a}
    assert ids({"property": "Confidence", "select": {"is_empty": True}}) == {c}
    assert ids({"property": "Current", "number": {"greater_than_or_equal_to": 5}}) == {a, c}
    assert ids({"property": "Tags", "multi_select": {"contains": "growth"}}) == {a}
    assert ids({"property": "Due", "date": {"on_or_after": "2026-12-01"}}) == {a}
    assert ids({"property": "Owner", "people": {"contains": okr.owner}}) == {a}
    assert ids({"property": "Initiatives", "relation": {"contains": ini}}) == {a}
    assert ids({"property": "Initiatives", "relation": {"is_empty": True}}) == {b, c}
    assert ids({"property": "Done?", "checkbox": {"equals": True}}) == {a}
    assert ids({"property": "Jira epics", "rich_text": {"contains": "pay-2"}}) == {a}
    assert ids({"property": "Name", "title": {"starts_with": "Cut"}}) == {b}
    assert ids({"property": "KR ID", "unique_id": {"greater_than": 1}}) == {b, c}
    assert ids({"property": "Progress", "formula": {"number": {"equals": 1}}}) == {c}
    assert ids({"property": "Done share", "rollup": {"number": {"equals": 1}}}) == {a}
    assert ids(
        {
            "and": [
                {"property": "Target", "number": {"equals": 10}},
                {
                    "or": [
                        {"property": "Status", "status": {"equals": "Done"}},
                        {"property": "Current", "number": {"less_than": 2}},
                    ]
                },
            ]
        }
    ) == {b, c}
    too_deep = {"and": [{"or": [{"and": [{"property": "Name", "title": {"is_not_empty": True}}]}]}]}
    with pytest.raises(APIResponseError) as err:
        ids(too_deep)
    assert err.value.code == "validation_error"
    with pytest.raises(APIResponseError) as err:
        ids({"property": "Nope", "number": {"equals": 1}})
    assert str(err.value) == "Could not find property with name or id: Nope"
    with pytest.raises(APIResponseError) as err:
        ids({"property": "Status", "select": {"equals": "Done"}})
    assert err.value.code == "validation_error"


def test_sorts(sb: NotionSandbox, okr: Okr, clock: FakeClock) -> None:
    first = sb.add_page(okr.krs, {"Name": "b", "Current": 2, "Status": "Done"})
    clock.advance(minutes=2)
    second = sb.add_page(okr.krs, {"Name": "a", "Current": 7, "Status": "Not started"})
    clock.advance(minutes=2)
    empty = sb.add_page(okr.krs, {"Name": "c"})
    notion = client(sb)

    def order(*sorts: dict[str, str]) -> list[str]:
        return [p["id"] for p in notion.data_sources.query(okr.krs, sorts=list(sorts))["results"]]

    assert order({"property": "Current", "direction": "ascending"}) == [first, second, empty]
    assert order({"property": "Current", "direction": "descending"}) == [second, first, empty]
    assert order({"property": "Name", "direction": "ascending"}) == [second, first, empty]
    # Status sorts by the schema's option order.
    assert order({"property": "Status", "direction": "ascending"}) == [second, first, empty]
    assert order({"timestamp": "created_time", "direction": "ascending"}) == [first, second, empty]
    assert order({"timestamp": "last_edited_time", "direction": "descending"}) == [
        empty,
        second,
        first,
    ]


def test_filter_properties_trims_pages(sb: NotionSandbox, okr: Okr) -> None:
    page_id = sb.add_page(okr.krs, {"Name": "KR", "Current": 3})
    notion = client(sb)
    schema = notion.data_sources.retrieve(okr.krs)["properties"]
    wanted = [schema["Current"]["id"], "title"]
    rows = notion.data_sources.query(okr.krs, filter_properties=wanted)["results"]
    assert set(rows[0]["properties"]) == {"Current", "Name"}
    page = notion.pages.retrieve(page_id, filter_properties=[schema["Status"]["id"]])
    assert set(page["properties"]) == {"Status"}


def test_filter_properties_bracket_form_and_names(sb: NotionSandbox, okr: Okr) -> None:
    sb.add_page(okr.krs, {"Name": "KR", "Current": 3})
    resp = raw(
        sb,
        "POST",
        f"/v1/data_sources/{okr.krs}/query?filter_properties[]=Current&filter_properties[]=title",
        json={},
    )
    assert resp.status_code == 200
    assert set(resp.json()["results"][0]["properties"]) == {"Current", "Name"}
    unknown = raw(sb, "POST", f"/v1/data_sources/{okr.krs}/query?filter_properties=nope", json={})
    assert unknown.json()["message"] == "Could not find property with name or id: nope"


def test_seeded_sandboxes_repeat_their_ids() -> None:
    def ids() -> tuple[str, ...]:
        sandbox = NotionSandbox(seed=7)
        db, ds = sandbox.add_database("T", {"Name": {"title": {}}, "N": {"number": {}}})
        page = sandbox.add_page(ds, {"Name": "x"})
        return db, ds, page, sandbox.page(page)["properties"]["N"]["id"], sandbox.bot_id

    assert ids() == ids()
