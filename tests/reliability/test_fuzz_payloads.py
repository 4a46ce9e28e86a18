"""Fuzzing the payload parsers: odd Jira and Notion JSON gives a sensible value or a typed error.

The bases are real recorded payloads (``tests/fixtures``). Each example swaps in
odd values where the parsers read: wrong types, nulls, NaN and infinities (a
JSON decoder accepts ``NaN``, ``Infinity`` and ``1e999``), huge integers,
non-ASCII and very long text. A parser must return a value that cannot poison a
KR (finite numbers, strings where strings go) or raise ``SourceError`` naming
the record and the field; never another exception.
"""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.jira.issues import FieldIds
from connectors.jira.issues import to_item as jira_item
from connectors.notion.config import KeyResultProperties, ObjectiveProperties
from connectors.notion.items import RowReader
from connectors.notion.items import to_item as notion_item
from connectors.notion.okrs import build_key_results, build_objectives, resolve_schema
from connectors.notion.values import date_range, number, plain
from okr_sync.errors import SourceError
from okr_sync.models import KeyResult, WorkItem
from tests.reliability.mutations import EDGES, FUZZ, ODD_TEXT, documents, mutated

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SITE = "https://example.atlassian.net"

JSON_KEYS = st.one_of(
    st.sampled_from(["type", "name", "id", "key", "value", "plain_text", "start", "end",
                     "number", "prefix", "statusCategory", "hierarchyLevel", "array", "string"]),
    st.text(max_size=8),
)  # fmt: skip
JSON = documents(JSON_KEYS)
VALUES = st.one_of(EDGES, JSON)


def recorded(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))["response"]


# --- Jira: one issue's JSON → WorkItem ---------------------------------------------------

EPIC = recorded("jira/rest-api-3/search_issues_epic_all_fields.json")["issues"][0]
ISSUE = copy.deepcopy(EPIC)
ISSUE["fields"].update(
    customfield_10016=5, customfield_10210=1200.5, customfield_10215="KR-1, KR-2"
)  # a story point estimate, a numeric field and a KR field, as a site would send them
IDS = FieldIds(
    story_points=("customfield_10016", "customfield_10026"),
    epic_link="customfield_10014",
    kr_field="customfield_10215",
    numeric={"arr": "customfield_10210"},
)
POINTS = "customfield_10016"  # the field chosen for the issue's project (one per project)
READ = ("summary", "issuetype", "status", "parent", "labels", "updated", *IDS.request()[6:])


def check_jira(raw: Any, field: str | None = None) -> WorkItem | None:
    """The item, sane; or a SourceError naming the issue (and the field, when one is odd)."""
    try:
        item = jira_item(raw, "jira", SITE, IDS, POINTS)
    except SourceError as exc:
        assert exc.source == "jira"
        key = raw.get("key") if isinstance(raw, dict) else None
        if isinstance(key, str):
            assert key in str(exc)
        if field is not None:
            assert field in str(exc) or field.startswith("customfield"), str(exc)
        return None
    points = item.story_points
    assert points is None or (math.isfinite(points) and points >= 0)
    assert all(v is None or math.isfinite(v) for v in item.fields.values())
    assert all(isinstance(label, str) for label in item.labels)
    assert all(isinstance(ref, str) for ref in item.kr_refs)
    assert isinstance(item.title, str)
    return item


def test_the_recorded_issue_reads() -> None:
    item = check_jira(ISSUE)
    assert item is not None and item.story_points == 5 and item.fields == {"arr": 1200.5}
    assert item.kr_refs == ("KR-1", "KR-2") and item.labels == ("test",)


@FUZZ
@given(field=st.sampled_from(READ), value=VALUES)
def test_jira_issue_with_one_odd_field(field: str, value: Any) -> None:
    raw = copy.deepcopy(ISSUE)
    raw["fields"][field] = value
    check_jira(raw, field)


@FUZZ
@given(raw=mutated({"key": ISSUE["key"], "fields": {f: ISSUE["fields"].get(f) for f in READ}},
                   VALUES))  # fmt: skip
def test_jira_issue_mutated_anywhere(raw: Any) -> None:
    check_jira(raw)


@settings(FUZZ, max_examples=50)
@given(raw=JSON)
def test_jira_issue_that_is_any_json(raw: Any) -> None:
    check_jira(raw)


# --- Notion: property values → Python values ----------------------------------------------

TYPES = ("title", "rich_text", "number", "select", "status", "multi_select", "date", "people",
         "relation", "checkbox", "url", "email", "phone_number", "created_time",
         "last_edited_time", "unique_id", "formula", "rollup", "files", "button", "place")  # fmt: skip


def check_value(prop: Any) -> None:
    """No exception; numbers finite; text, lists and dates of the right type."""
    value = plain(prop)
    found = number(prop) if isinstance(prop, dict) else None
    assert found is None or math.isfinite(found)
    kind = prop.get("type") if isinstance(prop, dict) else None
    if kind in ("title", "rich_text"):
        assert isinstance(value, str)
    if kind in ("multi_select", "people", "relation"):
        assert isinstance(value, list) and all(isinstance(v, str) for v in value)
    if kind == "number":
        assert value is None or math.isfinite(value)
    if isinstance(prop, dict):
        start, end = date_range(prop)
        assert all(d is None or hasattr(d, "isoformat") for d in (start, end))


@FUZZ
@given(kind=st.one_of(st.sampled_from(TYPES), st.text(max_size=8)), value=VALUES)
def test_notion_property_of_any_type_with_any_value(kind: str, value: Any) -> None:
    check_value({"id": "x", "type": kind, kind: value})


@FUZZ
@given(kind=st.sampled_from(("formula", "rollup")), inner=st.sampled_from((*TYPES, "array")),
       value=VALUES)  # fmt: skip
def test_notion_formula_and_rollup_results(kind: str, inner: str, value: Any) -> None:
    check_value({"id": "x", "type": kind, kind: {"type": inner, inner: value}})


@settings(FUZZ, max_examples=50)
@given(prop=JSON)
def test_notion_property_that_is_any_json(prop: Any) -> None:
    check_value(prop)


def runs(text: str, size: int) -> list[dict[str, Any]]:
    """Text as Notion rich-text runs of ``size`` characters."""
    return [{"type": "text", "text": {"content": text[i : i + size]},
             "plain_text": text[i : i + size]} for i in range(0, len(text), size)]  # fmt: skip


@FUZZ
@given(text=st.one_of(st.text(), ODD_TEXT), size=st.integers(min_value=1, max_value=50))
def test_notion_text_is_kept_exactly(text: str, size: int) -> None:
    """Emoji, RTL and combining marks come back as written, however the runs split them."""
    assert plain({"type": "title", "title": runs(text, size)}) == text
    assert plain({"type": "rich_text", "rich_text": runs(text, size)}) == text


def test_notion_long_rich_text_reads_whole() -> None:
    text = ("🚀 e\u0301 \u05e9\u05dc\u05d5\u05dd " * 10_000)[:100_000]
    assert plain({"type": "rich_text", "rich_text": runs(text, 2_000)}) == text
    assert plain({"type": "rich_text", "rich_text": runs(text[:20_000], 1)}) == text[:20_000]


# --- Notion: pages → objectives, key results and rows -------------------------------------

ROW = recorded("notion/2025-09-03/data_sources_query_every_property_type.json")["results"][0]
SHAPES = {prop["type"]: prop for prop in ROW["properties"].values()}  # recorded value shapes


def prop(kind: str, value: Any) -> dict[str, Any]:
    """A recorded property of ``kind`` carrying ``value``."""
    out = copy.deepcopy(SHAPES.get(kind, {"id": "x", "type": kind}))
    out[kind] = value
    return out


def text_runs(text: str) -> list[dict[str, Any]]:
    return runs(text, 100)


KR_PROPERTIES = {
    "Name": "title", "ID": "unique_id", "Objective": "relation", "Start": "number",
    "Target": "number", "Current": "number", "Progress": "number", "Status": "status",
    "Due": "date", "Last synced": "date", "Jira epics": "rich_text", "Initiatives": "relation",
    "Weight": "number", "Measure": "select", "Unit": "rich_text",
}  # fmt: skip
KR_SCHEMA = resolve_schema(
    "Key Results",
    {name: {"id": name, "type": kind, kind: {}} for name, kind in KR_PROPERTIES.items()},
    KeyResultProperties(weight="Weight", measure="Measure", unit="Unit"),
)
KR_PAGE = {
    "object": "page", "id": "2f5e8d2a-0000-4000-8000-000000000001",
    "url": "https://www.notion.so/KR-1-2f5e8d2a", "last_edited_time": ROW["last_edited_time"],
    "properties": {
        "Name": prop("title", text_runs("Close 12 customer bugs 🐞")),
        "ID": prop("unique_id", {"prefix": "KR", "number": 1}),
        "Objective": prop("relation", [{"id": "0f1c0000-0000-4000-8000-000000000001"}]),
        "Start": prop("number", 0), "Target": prop("number", 12), "Current": prop("number", 3),
        "Progress": prop("number", 0.25),
        "Status": prop("status", {"id": "s1", "name": "On track", "color": "green"}),
        "Due": prop("date", {"start": "2026-10-01", "end": "2026-12-31", "time_zone": None}),
        "Last synced": prop("date", None),
        "Jira epics": prop("rich_text", text_runs("PAY-1, PAY-2")),
        "Initiatives": prop("relation", [{"id": "9a4c0000-0000-4000-8000-000000000001"}]),
        "Weight": prop("number", 2), "Measure": prop("select", {"name": "issues_done"}),
        "Unit": prop("rich_text", text_runs("bugs")),
    },
}  # fmt: skip
OBJ_SCHEMA = resolve_schema(
    "Objectives",
    {"Name": {"type": "title"}, "Parent objective": {"type": "relation"},
     "Owner": {"type": "people"}, "Weight": {"type": "number"}},
    ObjectiveProperties(weight="Weight"),
)  # fmt: skip
OBJ_PAGE = {
    "object": "page", "id": "0f1c0000-0000-4000-8000-000000000001", "url": None,
    "properties": {
        "Name": prop("title", text_runs("Make paying effortless")),
        "Parent objective": prop("relation", []),
        "Owner": prop("people", [{"object": "user", "id": "u1"}]),
        "Weight": prop("number", 1),
    },
}  # fmt: skip
ITEMS = RowReader(title="Name", status="Status", done=frozenset({"Done"}), labels="Tags",
                  key_results="Key results", numbers={"arr": "ARR"})  # fmt: skip
ITEM_PAGE = {
    "object": "page", "id": "9a4c0000-0000-4000-8000-000000000001",
    "url": "https://www.notion.so/Initiative-9a4c", "last_edited_time": ROW["last_edited_time"],
    "properties": {
        "Name": prop("title", text_runs("Partner deal")),
        "Status": prop("status", {"name": "Done"}),
        "Tags": prop("multi_select", [{"name": "partner-deal"}]),
        "Key results": prop("relation", [{"id": KR_PAGE["id"]}]),
        "ARR": prop("number", 1200),
    },
}  # fmt: skip


def check_okrs(kr_page: Any, obj_page: Any) -> None:
    """Objectives and KRs with finite numbers, or a SourceError naming the database and page."""
    try:
        objectives = build_objectives([obj_page], OBJ_SCHEMA)
        krs = build_key_results([kr_page], KR_SCHEMA, {obj_page["id"]: objectives[0].id}, {},
                                source="notion", epics_source="jira")  # fmt: skip
    except SourceError as exc:
        assert exc.source in ("Objectives", "Key Results")
        page = obj_page if exc.source == "Objectives" else kr_page
        assert str(page["id"]) in str(exc)
        return
    for kr in krs:
        assert isinstance(kr, KeyResult)
        assert math.isfinite(kr.weight)  # start and target may be unset, never non-finite
        assert all(v is None or math.isfinite(v) for v in (kr.start, kr.target, kr.current))
        assert all(isinstance(link.key, str) for link in kr.links)
    assert all(math.isfinite(o.weight) for o in objectives)


def test_the_base_pages_read() -> None:
    [obj] = build_objectives([OBJ_PAGE], OBJ_SCHEMA)
    [kr] = build_key_results([KR_PAGE], KR_SCHEMA, {OBJ_PAGE["id"]: obj.id}, {},
                             source="notion", epics_source="jira")  # fmt: skip
    assert (kr.id, kr.start, kr.target, kr.current, kr.weight) == ("KR-1", 0, 12, 3, 2)
    assert kr.title == "Close 12 customer bugs 🐞" and kr.objective_id == obj.id
    assert [link.key for link in kr.links][:2] == ["PAY-1", "PAY-2"]
    item = notion_item(ITEM_PAGE, ITEMS, "notion", {KR_PAGE["id"]: "KR-1"})
    assert item.status_category == "done" and item.fields == {"arr": 1200}
    assert item.labels == ("partner-deal",) and item.kr_refs == ("KR-1",)


@FUZZ
@given(name=st.sampled_from(sorted(KR_PROPERTIES)), kind=st.sampled_from(TYPES), value=VALUES)
def test_notion_kr_page_with_one_odd_property(name: str, kind: str, value: Any) -> None:
    page = copy.deepcopy(KR_PAGE)
    page["properties"][name] = prop(kind, value)  # any type where the schema says another
    check_okrs(page, OBJ_PAGE)


@FUZZ
@given(kr_page=mutated(KR_PAGE["properties"], VALUES), obj_page=mutated(OBJ_PAGE["properties"],
       VALUES))  # fmt: skip
def test_notion_okr_pages_mutated_anywhere(kr_page: Any, obj_page: Any) -> None:
    check_okrs({**KR_PAGE, "properties": kr_page}, {**OBJ_PAGE, "properties": obj_page})


def check_row(page: Any) -> None:
    try:
        item = notion_item(page, ITEMS, "notion", {KR_PAGE["id"]: "KR-1"})
    except SourceError as exc:
        assert exc.source == "notion"
        named = page.get("id")
        assert str(named) in str(exc) if named else "a row without an id" in str(exc)
        return
    assert all(v is None or math.isfinite(v) for v in item.fields.values())
    assert all(isinstance(x, str) for x in (*item.labels, *item.kr_refs))


@FUZZ
@given(name=st.sampled_from(sorted(ITEM_PAGE["properties"])), kind=st.sampled_from(TYPES),
       value=VALUES)  # fmt: skip
def test_notion_row_with_one_odd_property(name: str, kind: str, value: Any) -> None:
    page = copy.deepcopy(ITEM_PAGE)
    page["properties"][name] = prop(kind, value)
    check_row(page)


@FUZZ
@given(page=mutated(ITEM_PAGE, VALUES))
def test_notion_row_mutated_anywhere(page: Any) -> None:
    check_row(page)
