"""Key order of the sandbox's objects against real recorded Notion payloads.

The expected lists are copied from ../shared/real-payloads/notion, beside the project
folder (recorded against api.notion.com, MIT-licensed sources named in each constant's
comment).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from notion_client import APIResponseError

from sandboxes import NotionSandbox
from tests.sandboxes.notion_helpers import Okr, client

# 2025-09-03/sdk_databases_retrieve.json
DATABASE = [
    "object", "id", "title", "description", "parent", "is_inline", "in_trash", "is_locked",
    "created_time", "last_edited_time", "data_sources", "icon", "cover", "url", "public_url",
    "archived", "request_id",
]  # fmt: skip
# 2025-09-03/sdk_data_sources_retrieve.json
DATA_SOURCE = [
    "object", "id", "cover", "icon", "created_time", "created_by", "last_edited_by",
    "last_edited_time", "title", "description", "is_inline", "properties", "parent",
    "database_parent", "url", "public_url", "in_trash", "archived", "request_id",
]  # fmt: skip
# 2022-06-28/search_databases_schemas_and_status_groups.json (+ request_id of a retrieve)
DATABASE_2022 = [
    "object", "id", "cover", "icon", "created_time", "created_by", "last_edited_by",
    "last_edited_time", "title", "description", "is_inline", "properties", "parent", "url",
    "public_url", "in_trash", "archived", "request_id",
]  # fmt: skip
# 2025-09-03/data_sources_query_every_property_type.json
QUERY = [
    "object",
    "results",
    "next_cursor",
    "has_more",
    "type",
    "page_or_data_source",
    "request_id",
]
PAGE = [
    "object", "id", "created_time", "last_edited_time", "created_by", "last_edited_by", "cover",
    "icon", "parent", "in_trash", "is_archived", "is_locked", "properties", "url", "public_url",
    "archived",
]  # fmt: skip
# 2025-09-03/pages_properties_retrieve_relation_paged.json
PROPERTY_LIST = [
    "object", "results", "next_cursor", "has_more", "type", "property_item", "request_id",
]  # fmt: skip
PROPERTY_ITEM = ["object", "type", "id", "relation"]
PROPERTY_SUMMARY = ["id", "next_url", "type", "relation"]
# 2025-09-03/sdk_comments_create.json
COMMENT = [
    "object", "id", "parent", "discussion_id", "created_time", "last_edited_time", "created_by",
    "rich_text", "display_name", "request_id",
]  # fmt: skip
RICH_TEXT = ["type", "text", "annotations", "plain_text", "href"]
# 2025-09-03/error_404_object_not_found.json
ERROR = ["object", "status", "code", "message", "additional_data", "request_id"]
# 2025-09-03/search_data_sources_schemas_and_status_groups.json
SCHEMA_PROPERTY = ["id", "name", "description", "type"]
STATUS_OPTION = ["id", "name", "color", "description"]
STATUS_GROUP = ["id", "name", "color", "option_ids"]
# 2025-09-03/data_sources_update_add_rollups.json
ROLLUP_SCHEMA = [
    "rollup_property_name", "relation_property_name", "rollup_property_id",
    "relation_property_id", "function",
]  # fmt: skip


def keys(obj: dict[str, Any]) -> list[str]:
    return list(obj)


def test_database_and_data_source_keys(sb: NotionSandbox, okr: Okr) -> None:
    notion = client(sb)
    assert keys(notion.databases.retrieve(okr.krs_db)) == DATABASE
    ds = notion.data_sources.retrieve(okr.krs)
    assert keys(ds) == DATA_SOURCE
    for prop in ds["properties"].values():
        assert keys(prop) == [*SCHEMA_PROPERTY, prop["type"]]
    status = ds["properties"]["Status"]["status"]
    assert keys(status) == ["options", "groups"]
    assert keys(status["options"][0]) == STATUS_OPTION
    assert keys(status["groups"][0]) == STATUS_GROUP
    assert keys(ds["properties"]["Points"]["rollup"]) == ROLLUP_SCHEMA
    assert keys(client(sb, version="2022-06-28").databases.retrieve(okr.krs_db)) == DATABASE_2022


def test_query_page_property_and_comment_keys(sb: NotionSandbox, okr: Okr) -> None:
    ini = sb.add_page(okr.initiatives, {"Name": "I", "Done": True})
    kr = sb.add_page(
        okr.krs, {"Name": "KR", "Initiatives": [ini], "Status": "On track", "Owner": [okr.owner]}
    )
    notion = client(sb)
    query = notion.data_sources.query(okr.krs)
    assert keys(query) == QUERY
    assert keys(query["results"][0]) == PAGE
    assert keys(notion.pages.retrieve(kr)) == [*PAGE, "request_id"]
    props = query["results"][0]["properties"]
    for value in props.values():
        expected = ["id", "type", value["type"]]
        assert keys(value) == ([*expected, "has_more"] if value["type"] == "relation" else expected)
    assert keys(props["Status"]["status"]) == ["id", "name", "color"]
    assert keys(props["Name"]["title"][0]) == RICH_TEXT
    assert keys(props["Owner"]["people"][0]) == [
        "object",
        "id",
        "name",
        "avatar_url",
        "type",
        "person",
    ]
    assert keys(props["Done share"]["rollup"]) == ["type", "number", "function"]
    assert keys(props["Progress"]["formula"]) == ["type", "number"]
    items = notion.pages.properties.retrieve(kr, props["Initiatives"]["id"], page_size=100)
    assert keys(items) == PROPERTY_LIST
    assert keys(items["results"][0]) == PROPERTY_ITEM
    assert keys(items["property_item"]) == PROPERTY_SUMMARY
    comment = notion.comments.create(parent={"page_id": kr}, rich_text=[{"text": {"content": "x"}}])
    assert keys(comment) == COMMENT
    assert keys(comment["rich_text"][0]) == RICH_TEXT
    with pytest.raises(APIResponseError) as err:
        notion.pages.retrieve("00000000-0000-0000-0000-000000000000")
    assert keys(json.loads(err.value.body)) == ERROR
