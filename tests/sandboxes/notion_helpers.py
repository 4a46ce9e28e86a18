"""Shared seeding and client helpers for the Notion sandbox tests."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from notion_client import Client, RetryOptions

from sandboxes import NotionSandbox

START = datetime(2026, 9, 27, 9, 30, 15, tzinfo=UTC)
# One quiet logger: notion-client adds a stderr handler to its own on every Client().
LOGGER = logging.getLogger("tests.notion_sandbox")


def client(
    sb: NotionSandbox,
    *,
    version: str | None = None,
    token: str | None = None,
    retry: RetryOptions | bool = False,
) -> Client:
    options: dict[str, Any] = {
        "auth": token or sb.token,
        "base_url": sb.url,
        "retry": retry,
        "logger": LOGGER,
    }
    if version:
        options["notion_version"] = version
    return Client(**options)


def raw(
    sb: NotionSandbox,
    method: str,
    path: str,
    *,
    version: str | None = "2025-09-03",
    token: str | None = None,
    json: Any = None,
) -> httpx.Response:
    """A request without notion-client, to look at headers and raw bodies."""
    headers = {"Authorization": f"Bearer {token or sb.token}"}
    if version:
        headers["Notion-Version"] = version
    return httpx.request(method, f"{sb.url}{path}", headers=headers, json=json)


@dataclass
class Okr:
    """An Objectives / Key Results / Initiatives workspace."""

    objectives_db: str
    objectives: str
    krs_db: str
    krs: str
    initiatives_db: str
    initiatives: str
    owner: str


def seed_okr(sb: NotionSandbox) -> Okr:
    owner = sb.add_user("Ada Lovelace")
    obj_db, obj_ds = sb.add_database("Objectives", {"Name": {"title": {}}, "Owner": {"people": {}}})
    ini_db, ini_ds = sb.add_database(
        "Initiatives",
        {
            "Name": {"title": {}},
            "Done": {"checkbox": {}},
            "Points": {"number": {"format": "number"}},
            "Stage": {"select": {"options": [{"name": "Now"}, {"name": "Next"}]}},
        },
    )
    kr_db, kr_ds = sb.add_database(
        "Key Results",
        {
            "Name": {"title": {}},
            "Current": {"number": {"format": "number"}},
            "Target": {"number": {"format": "number"}},
            "Progress": {"formula": {"expression": 'prop("Current") / prop("Target")'}},
            "Status": {
                "status": {
                    "options": [
                        {"name": "Not started"},
                        {"name": "On track"},
                        {"name": "At risk"},
                        {"name": "Off track"},
                        {"name": "Done"},
                    ]
                }
            },
            "Confidence": {"select": {"options": [{"name": "High"}, {"name": "Low"}]}},
            "Objective": {
                "relation": {
                    "data_source_id": obj_ds,
                    "type": "dual_property",
                    "dual_property": {"synced_property_name": "Key Results"},
                }
            },
            "Initiatives": {
                "relation": {
                    "data_source_id": ini_ds,
                    "type": "single_property",
                    "single_property": {},
                }
            },
            "Done share": {
                "rollup": {
                    "relation_property_name": "Initiatives",
                    "rollup_property_name": "Done",
                    "function": "percent_checked",
                }
            },
            "Points": {
                "rollup": {
                    "relation_property_name": "Initiatives",
                    "rollup_property_name": "Points",
                    "function": "sum",
                }
            },
            "KR ID": {"unique_id": {"prefix": "KR"}},
            "Due": {"date": {}},
            "Last synced": {"date": {}},
            "Jira epics": {"rich_text": {}},
            "Owner": {"people": {}},
            "Tags": {"multi_select": {"options": [{"name": "growth"}, {"name": "infra"}]}},
            "Done?": {"checkbox": {}},
            "Link": {"url": {}},
            "Edited": {"last_edited_time": {}},
        },
    )
    return Okr(obj_db, obj_ds, kr_db, kr_ds, ini_db, ini_ds, owner)
