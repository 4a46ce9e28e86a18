"""How Notion rows and KR pages are read: status groups, missing properties, measures, direction.

Pure functions on real recorded schemas and pages (``tests/fixtures/notion/``,
see its README): ``search_data_sources_schemas_and_status_groups.json`` holds a
status made in Notion's UI ("All Properties DB": Not started / In progress / Done,
one per group) and one made through the API ("Task DB": every option in To-do).
Where a test needs a variant (an option added to a group) it builds it in memory.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from connectors.notion.config import ItemDatabase, KeyResultProperties
from connectors.notion.items import check_item_database, row_reader, to_item
from connectors.notion.okrs import build_key_results, resolve_schema
from okr_sync.errors import SourceError
from okr_sync.models import Direction, StatusCategory

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "notion" / "2025-09-03"
ALL_PROPS_DS = "3839ce7b-60a4-802c-b152-000ba814957b"
TASK_DS = "3839ce7b-60a4-8148-99ed-000b1e2cf103"


def schema(ident: str) -> dict[str, Any]:
    found = json.loads(
        (FIXTURES / "search_data_sources_schemas_and_status_groups.json").read_text()
    )
    source = next(ds for ds in found["response"]["results"] if ds["id"] == ident)
    return copy.deepcopy(source["properties"])  # type: ignore[no-any-return]


def row(status: str | None, **props: Any) -> dict[str, Any]:
    """A row of "All Properties DB" (the real "Item 2") with its Status set to ``status``."""
    page = json.loads((FIXTURES / "data_sources_query_every_property_type.json").read_text())
    item = copy.deepcopy(page["response"]["results"][0])
    item["properties"]["Status"]["status"] = (
        {"id": "x", "name": status, "color": "green"} if status else None
    )
    item["properties"].update(props)
    return item  # type: ignore[no-any-return]


# --- 11. status groups ------------------------------------------------------------------------


def test_the_complete_group_is_done_and_the_in_progress_group_in_progress() -> None:
    reader, problems = check_item_database(ItemDatabase(database="db"), 0, schema(ALL_PROPS_DS))
    assert problems == []
    assert (reader.done, reader.in_progress) == ({"Done"}, {"In progress"})
    assert to_item(row("Done"), reader, "notion", {}).status_category is StatusCategory.DONE
    assert (
        to_item(row("In progress"), reader, "notion", {}).status_category
        is StatusCategory.IN_PROGRESS
    )
    assert to_item(row("Not started"), reader, "notion", {}).status_category is StatusCategory.TODO


def test_an_option_a_team_put_in_the_complete_group_counts_as_done() -> None:
    props = schema(ALL_PROPS_DS)
    status = props["Status"]["status"]
    status["options"].append({"id": "5b1c7f0e-0000-4000-8000-000000000001", "name": "Shipped",
                              "color": "green", "description": None})  # fmt: skip
    complete = next(g for g in status["groups"] if g["name"] == "Complete")
    complete["option_ids"].append("5b1c7f0e-0000-4000-8000-000000000001")
    reader = row_reader(ItemDatabase(database="db"), 0, "All Properties DB", props, source="notion")
    assert to_item(row("Shipped"), reader, "notion", {}).status_category is StatusCategory.DONE


def test_done_in_the_config_overrides_the_groups() -> None:
    spec = ItemDatabase(database="db", done=("In progress",))
    reader = row_reader(spec, 0, "All Properties DB", schema(ALL_PROPS_DS), source="notion")
    assert to_item(row("In progress"), reader, "notion", {}).status_category is StatusCategory.DONE
    assert to_item(row("Done"), reader, "notion", {}).status_category is StatusCategory.TODO


def test_a_status_made_through_the_api_falls_back_to_the_default_done_names() -> None:
    props = schema(TASK_DS)  # Backlog, Blocked, In Progress, Done: all in To-do
    reader = row_reader(ItemDatabase(database="db"), 2, "Task DB", props, source="notion")
    assert reader.done == {"Done"}  # the Complete group is empty: the default names decide
    assert "In Progress" in reader.in_progress


def test_an_empty_complete_group_and_no_default_name_needs_done() -> None:
    props = copy.deepcopy(schema(TASK_DS))
    for option in props["Status"]["status"]["options"]:
        if option["name"] == "Done":
            option["name"] = "Shipped"
    with pytest.raises(SourceError) as err:
        row_reader(ItemDatabase(database="db"), 2, "Task DB", props, source="notion")
    text = str(err.value)
    assert "items[2] database 'Task DB'" in text and "'Status'" in text
    assert "no option is in Notion's Complete group" in text and "items[2].done" in text
    reader = row_reader(
        ItemDatabase(database="db", done=("Shipped",)), 2, "Task DB", props, source="notion"
    )
    assert reader.done == {"Shipped"}


def test_a_done_list_matching_no_option_is_a_problem() -> None:
    _, problems = check_item_database(
        ItemDatabase(database="db", done=("Finished",)), 0, schema(ALL_PROPS_DS)
    )
    (problem,) = problems
    assert problem.name == "Status" and "none of 'Finished' is an option" in problem.message
    assert "Not started, In progress, Done" in problem.hint


def test_a_select_status_uses_the_default_names() -> None:
    props = schema(ALL_PROPS_DS)
    props["Select"]["select"]["options"].append({"id": "d", "name": "Done", "color": "green"})
    reader = row_reader(
        ItemDatabase(database="db", status="Select"), 0, "db", props, source="notion"
    )
    assert reader.done == {"Done"}


# --- 3. a property that vanished ----------------------------------------------------------------


def test_a_missing_status_fails_the_pull_unless_the_config_says_there_is_none() -> None:
    props = schema(ALL_PROPS_DS)
    props["Stage"] = props.pop("Status")  # renamed in Notion
    with pytest.raises(SourceError) as err:
        row_reader(ItemDatabase(database="db"), 0, "All Properties DB", props, source="notion")
    assert "'Status' no such property (status)" in str(err.value)
    assert "'Stage'" in str(err.value) and "or null if its rows have no status" in str(err.value)
    reader = row_reader(ItemDatabase(database="db", status=None), 0, "db", props, source="notion")
    assert to_item(row(None), reader, "notion", {}).status_category is StatusCategory.TODO


@pytest.mark.parametrize(
    ("spec", "named"),
    [
        (ItemDatabase(database="db", numbers={"arr": "ARR"}), "numbers.arr"),
        (ItemDatabase(database="db", numbers={"arr": "Text"}), "numbers.arr"),  # a rich_text
        (ItemDatabase(database="db", key_results="Key results"), "key_results"),
        (ItemDatabase(database="db", labels="Tags"), "labels"),
    ],
)
def test_a_configured_row_property_missing_or_of_another_type_fails_the_pull(
    spec: ItemDatabase, named: str
) -> None:
    with pytest.raises(SourceError, match=rf"items\[0\] database 'db': .*\({named}|{named} must"):
        row_reader(spec, 0, "db", schema(ALL_PROPS_DS), source="notion")


def test_a_checkbox_is_done_when_checked() -> None:
    reader = row_reader(ItemDatabase(database="db", status="Checkbox"), 0, "db", schema(ALL_PROPS_DS),
                        source="notion")  # fmt: skip
    ticked = row(None, Checkbox={"id": "c", "type": "checkbox", "checkbox": True})
    assert to_item(ticked, reader, "notion", {}).status_category is StatusCategory.DONE


# --- 4 and 5. measure and direction on KR pages ---------------------------------------------------

KR_SCHEMA = {
    "Name": {"type": "title"}, "Start": {"type": "number"}, "Target": {"type": "number"},
    "Current": {"type": "number"}, "Measure": {"type": "select"}, "Direction": {"type": "select"},
    "Lower is better": {"type": "checkbox"},
}  # fmt: skip


def kr_page(**values: Any) -> dict[str, Any]:
    props = {"Name": {"type": "title", "title": [{"plain_text": "Keep P1 incidents at 0"}]},
             "Start": {"type": "number", "number": None}, "Target": {"type": "number", "number": None},
             "Current": {"type": "number", "number": 3}}  # fmt: skip
    for name, value in values.items():
        kind = KR_SCHEMA[name]["type"]
        props[name] = {"type": kind, kind: {"name": value} if kind == "select" else value}
    return {"id": "p-1", "url": "https://www.notion.so/p1", "properties": props}


def read_kr(page: dict[str, Any], **names: str) -> Any:
    schema = resolve_schema(
        "Key Results", KR_SCHEMA, KeyResultProperties(measure="Measure", **names)
    )
    (kr,) = build_key_results([page], schema, {}, {}, source="notion", epics_source=None)
    return kr


def test_empty_start_and_target_are_none_not_0_and_100() -> None:
    kr = read_kr(kr_page())
    assert (kr.start, kr.target, kr.current, kr.problem) == (None, None, 3.0, None)


@pytest.mark.parametrize(("option", "measure"), [("count", "count"), ("Issues done", "issues_done"),
                                                 ("sum:arr", "sum:arr"), ("Count:done", "count:done")])  # fmt: skip
def test_measure_options_okr_sync_knows(option: str, measure: str) -> None:
    assert read_kr(kr_page(Measure=option)).measure == measure


def test_an_unknown_measure_option_is_the_krs_problem() -> None:
    kr = read_kr(kr_page(Measure="Velocity"))
    assert kr.problem is None and kr.measure == "Velocity"  # the config may override it


@pytest.mark.parametrize(("value", "direction"), [("Decrease", Direction.DECREASE), ("increase", Direction.INCREASE),
                                                  ("Lower is better", Direction.DECREASE), (None, None)])  # fmt: skip
def test_direction_from_a_select(value: str | None, direction: Direction | None) -> None:
    assert read_kr(kr_page(Direction=value)).direction is direction


def test_direction_from_a_lower_is_better_checkbox() -> None:
    assert (
        read_kr(kr_page(**{"Lower is better": True}), direction="Lower is better").direction
        is Direction.DECREASE
    )
    assert (
        read_kr(kr_page(**{"Lower is better": False}), direction="Lower is better").direction
        is Direction.INCREASE
    )


def test_an_unknown_direction_is_the_krs_problem() -> None:
    kr = read_kr(kr_page(Direction="Maintain"))
    assert kr.direction is None and kr.problem and "'Maintain'" in kr.problem


def test_a_kr_property_of_another_type_fails_each_kr_not_the_pull() -> None:
    props = dict(KR_SCHEMA, Target={"type": "rich_text"})
    schema = resolve_schema(
        "Key Results", props, KeyResultProperties(), per_record=frozenset({"target"})
    )
    (kr,) = build_key_results([kr_page()], schema, {}, {}, source="notion", epics_source=None)
    assert kr.problem and "the Key Results database property 'Target' is a rich_text" in kr.problem


def test_a_status_schema_without_groups_is_read_like_a_select() -> None:
    props = schema(ALL_PROPS_DS)
    del props["Status"]["status"]["groups"]  # every recorded status has them; be safe without
    reader = row_reader(ItemDatabase(database="db"), 0, "db", props, source="notion")
    assert reader.done == {"Done"} and "In progress" in reader.in_progress
