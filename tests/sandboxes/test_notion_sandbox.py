"""The Notion sandbox, driven end to end by the real `notion_client.Client` (reads and queries)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import quote, unquote

import pytest
from notion_client import APIResponseError, collect_paginated_api

from sandboxes import NotionSandbox
from tests.sandboxes.notion_helpers import Okr, client, raw

# -- discovery ---------------------------------------------------------------------------


def test_users_me_is_the_bot_with_owner_and_workspace(sb: NotionSandbox) -> None:
    me = client(sb).users.me()
    assert me["object"] == "user"
    assert me["id"] == sb.bot_id
    assert me["type"] == "bot"
    assert me["bot"]["owner"] == {"type": "workspace", "workspace": True}
    assert me["bot"]["workspace_name"]
    assert me["request_id"]
    resp = raw(sb, "GET", "/v1/users/me")
    assert resp.headers["x-notion-request-id"] == resp.json()["request_id"]
    assert resp.headers["content-type"] == "application/json; charset=utf-8"


def test_users_retrieve_and_list(sb: NotionSandbox) -> None:
    ada = sb.add_user("Ada Lovelace")
    notion = client(sb)
    user = notion.users.retrieve(ada)
    assert user["type"] == "person"
    assert user["person"] == {"email": "ada.lovelace@example.com"}
    ids = [u["id"] for u in collect_paginated_api(notion.users.list, page_size=1)]
    assert ada in ids
    assert sb.bot_id in ids


def test_database_lists_its_data_source_and_no_properties(sb: NotionSandbox, okr: Okr) -> None:
    db = client(sb).databases.retrieve(okr.krs_db)
    assert db["object"] == "database"
    assert db["data_sources"] == [{"id": okr.krs, "name": "Key Results"}]
    assert "properties" not in db
    assert db["parent"]["type"] == "page_id"
    assert db["created_time"].endswith("+00:00")  # databases keep milliseconds
    assert db["title"][0]["plain_text"] == "Key Results"


def test_data_source_schema(sb: NotionSandbox, okr: Okr) -> None:
    ds = client(sb).data_sources.retrieve(okr.krs)
    assert ds["object"] == "data_source"
    assert ds["parent"] == {"type": "database_id", "database_id": okr.krs_db}
    props = ds["properties"]
    assert list(props)[-1] == "Name"  # Notion lists the title last
    assert props["Name"] == {
        "id": "title",
        "name": "Name",
        "description": None,
        "type": "title",
        "title": {},
    }
    assert props["Target"]["number"] == {"format": "number"}
    status = props["Status"]["status"]
    assert [o["name"] for o in status["options"]][:2] == ["Not started", "On track"]
    groups = {g["name"]: g["option_ids"] for g in status["groups"]}
    assert list(groups) == ["To-do", "In progress", "Complete"]
    done = next(o["id"] for o in status["options"] if o["name"] == "Done")
    assert groups["Complete"] == [done]
    relation = props["Initiatives"]["relation"]
    assert relation == {
        "database_id": okr.initiatives_db,
        "data_source_id": okr.initiatives,
        "type": "single_property",
        "single_property": {},
    }
    rollup = props["Done share"]["rollup"]
    assert rollup["function"] == "percent_checked"
    assert rollup["relation_property_name"] == "Initiatives"
    # Ids inside rollup configs are decoded; property ids elsewhere are URL-encoded.
    assert quote(rollup["relation_property_id"], safe="-_.!~*'()") == props["Initiatives"]["id"]
    assert props["KR ID"]["unique_id"] == {"prefix": "KR"}
    assert "notion:block_property" in props["Progress"]["formula"]["expression"]
    for prop in props.values():
        assert prop["id"] == "title" or len(unquote(prop["id"])) == 4


# -- pages and properties --------------------------------------------------------------------


def test_page_object_shape(sb: NotionSandbox, okr: Okr) -> None:
    objective = sb.add_page(okr.objectives, {"Name": "Win"})
    kr = sb.add_page(
        okr.krs,
        {"Name": "KR 1", "Current": 3, "Target": 4, "Objective": [objective], "Due": "2026-09-30"},
    )
    page = client(sb).pages.retrieve(kr)
    assert list(page)[:9] == [
        "object",
        "id",
        "created_time",
        "last_edited_time",
        "created_by",
        "last_edited_by",
        "cover",
        "icon",
        "parent",
    ]
    assert page["parent"] == {
        "type": "data_source_id",
        "data_source_id": okr.krs,
        "database_id": okr.krs_db,
    }
    assert page["created_time"] == "2026-09-27T09:30:00.000Z"
    assert page["archived"] is False and page["in_trash"] is False
    props = page["properties"]
    assert props["Progress"]["formula"] == {"type": "number", "number": 0.75}
    assert props["Current"]["number"] == 3
    assert props["KR ID"]["unique_id"] == {"prefix": "KR", "number": 1}
    assert props["Due"]["date"] == {"start": "2026-09-30", "end": None, "time_zone": None}
    assert props["Objective"] == {
        "id": props["Objective"]["id"],
        "type": "relation",
        "relation": [{"id": objective}],
        "has_more": False,
    }
    assert props["Status"]["status"] is None
    assert props["Edited"]["last_edited_time"] == "2026-09-27T09:30:00.000Z"
    assert page == sb.page(kr) | {"request_id": page["request_id"]}
    # The two-way relation shows on the objective too.
    synced = client(sb).pages.retrieve(objective)["properties"]["Key Results"]
    assert synced["relation"] == [{"id": kr}]


def test_relation_over_25_is_truncated_and_paged(sb: NotionSandbox, okr: Okr) -> None:
    items = [
        sb.add_page(okr.initiatives, {"Name": f"I{n}", "Done": n % 3 == 0, "Points": 1})
        for n in range(60)
    ]
    kr = sb.add_page(okr.krs, {"Name": "Big", "Initiatives": items})
    notion = client(sb)
    prop = notion.pages.retrieve(kr)["properties"]["Initiatives"]
    assert len(prop["relation"]) == 25
    assert prop["has_more"] is True
    assert [r["id"] for r in prop["relation"]] == items[:25]
    sb.requests.clear()
    full = collect_paginated_api(
        notion.pages.properties.retrieve, page_id=kr, property_id=prop["id"], page_size=25
    )
    assert [r["relation"]["id"] for r in full] == items
    assert sb.requests["GET /v1/pages/{id}/properties/{property_id}"] == 3
    one = notion.pages.properties.retrieve(kr, prop["id"], page_size=100)
    assert one["object"] == "list"
    assert one["type"] == "property_item"
    assert one["has_more"] is False and one["next_cursor"] is None
    assert one["property_item"] == {
        "id": prop["id"],
        "next_url": None,
        "type": "relation",
        "relation": {},
    }
    assert one["results"][0] == {
        "object": "property_item",
        "type": "relation",
        "id": prop["id"],
        "relation": {"id": items[0]},
    }
    first = notion.pages.properties.retrieve(kr, prop["id"], page_size=10)
    assert first["property_item"]["next_url"].startswith(f"{sb.url}/v1/pages/{kr}/properties/")
    # The decoded id works as well (httpx percent-encodes what needs it).
    decoded = unquote(prop["id"])
    if "?" not in decoded and "#" not in decoded:
        assert len(notion.pages.properties.retrieve(kr, decoded, page_size=100)["results"]) == 60
    # Rollups in page objects see 25 relations; the property endpoint sees all of them.
    points = notion.pages.retrieve(kr)["properties"]["Points"]["rollup"]
    assert points == {"type": "number", "number": 25, "function": "sum"}
    points_id = notion.data_sources.retrieve(okr.krs)["properties"]["Points"]["id"]
    full_points = notion.pages.properties.retrieve(kr, points_id, page_size=100)
    assert full_points["property_item"]["rollup"] == {
        "type": "number",
        "number": 60,
        "function": "sum",
    }
    done_share = notion.pages.retrieve(kr)["properties"]["Done share"]["rollup"]
    assert done_share["function"] == "percent_checked"
    assert done_share["number"] == pytest.approx(9 / 25)


def test_property_item_for_plain_values(sb: NotionSandbox, okr: Okr) -> None:
    kr = sb.add_page(okr.krs, {"Name": "KR", "Current": 1234})
    notion = client(sb)
    props = notion.pages.retrieve(kr)["properties"]
    item = notion.pages.properties.retrieve(kr, props["Current"]["id"])
    assert {k: v for k, v in item.items() if k != "request_id"} == {
        "object": "property_item",
        "id": props["Current"]["id"],
        "type": "number",
        "number": 1234,
    }
    title = notion.pages.properties.retrieve(kr, "title")
    assert title["results"][0]["title"]["plain_text"] == "KR"
    assert title["property_item"]["type"] == "title"


def test_rollup_and_formula_shapes(sb: NotionSandbox, okr: Okr) -> None:
    a = sb.add_page(okr.initiatives, {"Name": "A", "Done": True, "Points": 3})
    b = sb.add_page(okr.initiatives, {"Name": "B", "Done": False, "Points": 5})
    sb.add_property(
        okr.krs,
        "Titles",
        {
            "rollup": {
                "relation_property_name": "Initiatives",
                "rollup_property_name": "Name",
                "function": "show_original",
            }
        },
    )
    sb.add_property(
        okr.krs,
        "Count",
        {
            "rollup": {
                "relation_property_name": "Initiatives",
                "rollup_property_name": "Name",
                "function": "count",
            }
        },
    )
    sb.add_property(
        okr.krs,
        "Label",
        {"formula": {"expression": 'if(prop("Current") >= prop("Target"), "met", "open")'}},
    )
    sb.add_property(
        okr.krs, "Pct", {"formula": {"expression": 'round(prop("Current") / prop("Target") * 100)'}}
    )
    kr = sb.add_page(okr.krs, {"Name": "KR", "Initiatives": [a, b], "Current": 1, "Target": 3})
    empty = sb.add_page(okr.krs, {"Name": "Empty"})
    props = client(sb).pages.retrieve(kr)["properties"]
    assert props["Done share"]["rollup"] == {
        "type": "number",
        "number": 0.5,
        "function": "percent_checked",
    }
    assert props["Points"]["rollup"]["number"] == 8
    assert props["Count"]["rollup"] == {"type": "number", "number": 2, "function": "count"}
    titles = props["Titles"]["rollup"]
    assert titles["type"] == "array" and titles["function"] == "show_original"
    assert [t["title"][0]["plain_text"] for t in titles["array"]] == ["A", "B"]
    assert titles["array"][0]["type"] == "title"
    assert props["Label"]["formula"] == {"type": "string", "string": "open"}
    assert props["Pct"]["formula"] == {"type": "number", "number": 33}
    blank = client(sb).pages.retrieve(empty)["properties"]
    assert blank["Progress"]["formula"] == {"type": "number", "number": None}
    assert blank["Titles"]["rollup"] == {"type": "array", "array": [], "function": "show_original"}
    assert blank["Count"]["rollup"]["number"] == 0


# -- 2022-06-28 ---------------------------------------------------------------------------------


def test_legacy_version_database_query(sb: NotionSandbox, okr: Okr) -> None:
    for n in range(3):
        sb.add_page(okr.krs, {"Name": f"KR {n}", "Current": n})
    old = client(sb, version="2022-06-28")
    db = old.databases.retrieve(okr.krs_db)
    assert "data_sources" not in db
    assert db["properties"]["Current"]["type"] == "number"
    body = old.request(
        path=f"databases/{okr.krs_db}/query",
        method="POST",
        body={"page_size": 2, "filter": {"property": "Current", "number": {"greater_than": -1}}},
    )
    assert body["type"] == "page_or_database"
    assert body["page_or_database"] == {}
    assert body["has_more"] is True
    assert body["results"][0]["parent"] == {"type": "database_id", "database_id": okr.krs_db}
    rest = old.request(
        path=f"databases/{okr.krs_db}/query",
        method="POST",
        body={
            "page_size": 2,
            "start_cursor": body["next_cursor"],
            "filter": {"property": "Current", "number": {"greater_than": -1}},
        },
    )
    assert len(rest["results"]) == 1
    assert sb.requests["POST /v1/databases/{id}/query"] == 2
    with pytest.raises(APIResponseError) as err:
        old.data_sources.retrieve(okr.krs)
    assert err.value.code == "invalid_request_url"
    with pytest.raises(APIResponseError) as err:
        client(sb).request(path=f"databases/{okr.krs_db}/query", method="POST", body={})
    assert err.value.code == "invalid_request_url"


def test_legacy_version_refuses_multi_source_databases(sb: NotionSandbox, okr: Okr) -> None:
    second = sb.add_data_source(okr.krs_db, "Archive", {"Name": {"title": {}}})
    new = client(sb).databases.retrieve(okr.krs_db)
    assert [d["id"] for d in new["data_sources"]] == [okr.krs, second]
    old = client(sb, version="2022-06-28")
    with pytest.raises(APIResponseError) as err:
        old.databases.retrieve(okr.krs_db)
    assert err.value.code == "validation_error"
    assert (
        str(err.value)
        == "Databases with multiple data sources are not supported in this API version."
    )
    assert err.value.additional_data is not None
    assert err.value.additional_data["error_type"] == "multiple_data_sources_for_database"
    assert err.value.additional_data["child_data_source_ids"] == [okr.krs, second]


def test_latest_version_drops_archived(sb: NotionSandbox, okr: Okr) -> None:
    kr = sb.add_page(okr.krs, {"Name": "KR"})
    page = client(sb, version="2026-03-11").pages.retrieve(kr)
    assert "archived" not in page
    assert page["in_trash"] is False


def test_datetime_values_are_utc_with_milliseconds(sb: NotionSandbox, okr: Okr) -> None:
    when = datetime(2026, 9, 30, 17, 45, tzinfo=UTC)
    kr = sb.add_page(okr.krs, {"Name": "KR", "Due": (when, when + timedelta(days=1))})
    due = client(sb).pages.retrieve(kr)["properties"]["Due"]["date"]
    assert due == {
        "start": "2026-09-30T17:45:00.000+00:00",
        "end": "2026-10-01T17:45:00.000+00:00",
        "time_zone": None,
    }


def test_trash_and_restore(sb: NotionSandbox, okr: Okr) -> None:
    kr = sb.add_page(okr.krs, {"Name": "KR"})
    notion = client(sb)
    assert notion.pages.update(kr, in_trash=True)["in_trash"] is True
    assert notion.data_sources.query(okr.krs)["results"] == []
    assert [p["id"] for p in notion.data_sources.query(okr.krs, in_trash=True)["results"]] == [kr]
    with pytest.raises(APIResponseError) as err:
        notion.pages.update(kr, properties={"Current": {"number": 1}})
    assert "archived" in str(err.value)
    assert notion.pages.retrieve(kr)["in_trash"] is True
    restored = notion.pages.update(kr, in_trash=False, properties={"Current": {"number": 1}})
    assert restored["in_trash"] is False
    assert restored["properties"]["Current"]["number"] == 1


def test_dates_with_a_time_zone_come_back_in_utc(sb: NotionSandbox, okr: Okr) -> None:
    kr = sb.add_page(okr.krs, {"Name": "KR"})
    page = client(sb).pages.update(
        kr,
        properties={
            "Due": {"date": {"start": "2026-09-30T09:00:00", "time_zone": "Europe/Berlin"}}
        },
    )
    assert page["properties"]["Due"]["date"] == {
        "start": "2026-09-30T07:00:00.000+00:00",
        "end": None,
        "time_zone": None,
    }


def test_a_renamed_property_keeps_its_id_values_formulas_and_rollups(
    sb: NotionSandbox, okr: Okr
) -> None:
    row = sb.add_page(okr.initiatives, {"Name": "A", "Done": True, "Points": 3})
    kr = sb.add_page(okr.krs, {"Name": "KR", "Current": 2, "Target": 4, "Initiatives": [row]})
    before = client(sb).data_sources.retrieve(okr.krs)["properties"]
    sb.rename_property(okr.krs, "Current", "Current value")
    sb.rename_property(okr.krs, "Initiatives", "Projects")
    props = client(sb).data_sources.retrieve(okr.krs)["properties"]
    assert "Current" not in props and props["Current value"]["id"] == before["Current"]["id"]
    page = client(sb).pages.retrieve(kr)["properties"]
    assert page["Current value"]["number"] == 2
    assert page["Progress"]["formula"]["number"] == 0.5  # the formula follows the rename
    assert page["Points"]["rollup"]["number"] == 3  # rollups refer to the relation's id
    assert [r["id"] for r in page["Projects"]["relation"]] == [row]
    with pytest.raises(ValueError):
        sb.rename_property(okr.krs, "Target", "Name")
