"""Bad input the corpus and the fuzzers found: each now gives a located error or a sane value."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from connectors._filters import query_problem
from connectors.files import JsonItemsConfig, JsonItemSource, YamlOkrConfig, YamlOkrSource
from connectors.jira.issues import FieldIds
from connectors.jira.issues import to_item as jira_item
from connectors.notion.config import KeyResultProperties
from connectors.notion.items import RowReader
from connectors.notion.items import to_item as notion_item
from connectors.notion.okrs import build_key_results, resolve_schema
from connectors.notion.values import number, plain
from okr_sync.cli.main import main
from okr_sync.config.loading import load_config
from okr_sync.core.evaluate import fingerprint
from okr_sync.errors import ConfigError, SourceError
from okr_sync.yamlpos import load_yaml


def problems(text: str | bytes) -> list[str]:
    doc, found = load_yaml(text, "f.yaml")
    assert doc is None
    return [str(p) for p in found]


# --- YAML ----------------------------------------------------------------------------------


def test_an_unclosed_bracket_points_at_its_own_line_and_key() -> None:
    [problem] = problems("a: 1\nitems: [work\ncycle: x\n")
    assert problem.startswith("f.yaml:2: items: YAML syntax error: in the [ … ] list that starts")


def test_a_syntax_error_names_the_field_it_is_in() -> None:
    [problem] = problems("write:\n  report:\n\tkey_results: [a]\n")
    assert problem.startswith("f.yaml:3: write.report: YAML syntax error: found character '\\t'")


def test_an_impossible_date_names_its_field() -> None:
    [problem] = problems("cycle:\n  start: 2026-10-01\n  end: 2026-13-01\n")
    assert problem.startswith("f.yaml:3: cycle.end: invalid date '2026-13-01'")
    assert "YYYY-MM-DD" in problem


def test_bytes_that_are_not_utf8_are_a_problem_at_their_line() -> None:
    [problem] = problems(b"version: 1\nokrs: caf\xe9\n")
    assert problem.startswith("f.yaml:2: not UTF-8 text: byte 0xe9")


def test_a_control_character_is_a_problem_at_its_line() -> None:
    [problem] = problems("version: 1\nokrs: a\x07b\n")
    assert problem.startswith("f.yaml:2: YAML error: special characters are not allowed")


def test_an_alias_inside_itself_is_a_problem_not_a_recursion_error() -> None:
    [problem] = problems("a: &x\n  b: *x\n")
    assert "an alias refers to a collection that contains it" in problem


def test_aliases_that_expand_into_millions_of_values_are_refused_quickly() -> None:
    lines = ["a0: &a0 [1, 2, 3, 4, 5, 6, 7, 8, 9]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
    [problem] = problems("\n".join(lines) + "\n")
    assert "grows past 100000 values once its aliases are expanded" in problem


def test_nesting_deeper_than_the_parser_is_a_problem() -> None:
    [problem] = problems("[" * 5000)
    assert "nested too deeply" in problem


# --- the config file -------------------------------------------------------------------------


def test_a_config_that_is_not_utf8_exits_2_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "okr-sync.yaml"
    path.write_bytes(b"version: 1\nokrs: caf\xe9\n")
    result = CliRunner().invoke(main, ["validate", "-c", str(path)])
    assert result.exit_code == 2 and f"{path}:2: not UTF-8 text" in result.stderr
    assert "Traceback" not in result.output


def test_a_literal_secret_is_reported_once(tmp_path: Path) -> None:
    path = tmp_path / "okr-sync.yaml"
    path.write_text(
        "connections:\n  jira: {type: jira, url: 'https://x.atlassian.net', email: a@b.c,"
        " token: hunter2-swordfish}\nokrs: jira\n"
    )
    with pytest.raises(ConfigError) as info:
        load_config(path)
    token = [p for p in info.value.problems if p.field == "connections.jira.token"]
    assert [p.message for p in token] == ["a literal secret is not allowed in the config file"]


@pytest.mark.parametrize("hours", [".inf", "1e300", "100000"])
def test_a_full_pull_period_beyond_a_year_is_a_config_error(example: Path, hours: str) -> None:
    text = example.read_text().replace("state:\n", f"pull: {{full_every_hours: {hours}}}\nstate:\n")
    example.write_text(text)
    result = CliRunner().invoke(main, ["plan", "-c", str(example)])
    assert result.exit_code == 2, result.output  # was an OverflowError in the middle of the run
    assert "pull.full_every_hours: Input should be less than or equal to 8784" in result.stderr


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"label": {"a": 1}}, "label: expected a value or a list of values"),
        ({"fields.arr": "many"}, "fields.arr: compares a numeric field, so give numbers"),
        ({"status": []}, "status: expected a value or a list of values"),
    ],
)
def test_a_local_query_with_an_unusable_value_is_refused(query: Any, message: str) -> None:
    assert message in (query_problem(query) or "")


def test_a_query_mixing_key_types_still_has_a_fingerprint() -> None:
    assert fingerprint({"queries": [{"query": {0: "a", "label": "b"}}]})


# --- local OKR and item files -------------------------------------------------------------


def okr_problems(tmp_path: Path, text: str) -> list[str]:
    (tmp_path / "okrs.yaml").write_text(text)
    source = YamlOkrSource("okrs", YamlOkrConfig(type="yaml_okrs", path="okrs.yaml"), tmp_path)
    with pytest.raises(ConfigError) as info:
        source.pull_okrs()
    return [f"{p.line}: {p.field}: {p.message}" for p in info.value.problems]


def test_okr_file_unknown_objective_and_parent_are_located(tmp_path: Path) -> None:
    found = okr_problems(
        tmp_path,
        "objectives:\n  - {id: O-1, title: a, parent: O-9}\n"
        "key_results:\n  - {id: KR-1, title: b, objective: O-7}\n",
    )
    assert found == [
        "4: key_results[0].objective: no objective 'O-7'",
        "2: objectives[0].parent: no objective 'O-9'",
    ]


@pytest.mark.parametrize(("epics", "line"), [("7", 4), ("PAY-1", 4), ("[{a: 1}]", 4)])
def test_okr_file_epics_must_be_a_list_of_keys(tmp_path: Path, epics: str, line: int) -> None:
    # A bare key used to be split into one link per character.
    found = okr_problems(
        tmp_path, f"key_results:\n  - id: KR-1\n    title: b\n    epics: {epics}\n"
    )
    assert found == [f"{line}: key_results[0].epics: expected a list of item keys"]


@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf", "1e999"])
def test_okr_file_numbers_must_be_finite(tmp_path: Path, value: str) -> None:
    found = okr_problems(tmp_path, f"key_results:\n  - {{id: KR-1, title: b, target: {value}}}\n")
    assert found == ["2: key_results[0].target: Input should be a finite number"]


def test_items_file_with_nan_story_points_is_a_source_error(tmp_path: Path) -> None:
    # json.loads accepts NaN; one NaN estimate would have made a KR's progress NaN.
    (tmp_path / "items.json").write_text('{"items": [{"key": "A-1", "story_points": NaN}]}')
    source = JsonItemSource("work", JsonItemsConfig(type="json_items", path="items.json"), tmp_path)
    with pytest.raises(SourceError, match=r"items\[0\] \(A-1\): story_points: .*finite number"):
        source.load()


def test_items_file_that_is_not_utf8_is_a_source_error(tmp_path: Path) -> None:
    (tmp_path / "items.json").write_bytes(b'{"items": [{"key": "caf\xe9"}]}')
    source = JsonItemSource("work", JsonItemsConfig(type="json_items", path="items.json"), tmp_path)
    with pytest.raises(SourceError, match="not UTF-8 text"):
        source.load()


# --- Jira issues ---------------------------------------------------------------------------

IDS = FieldIds(story_points=("points",), numeric={"arr": "arr"})


def issue(**fields: Any) -> dict[str, Any]:
    base = {"summary": "S", "issuetype": {"name": "Story", "hierarchyLevel": 0},
            "status": {"statusCategory": {"key": "done"}}, "labels": ["a"]}  # fmt: skip
    return {"key": "PAY-7", "fields": base | fields}


@pytest.mark.parametrize("points", [math.nan, math.inf, -math.inf, 10**400, -3, "NaN", "1e999"])
def test_jira_story_points_that_are_no_estimate_count_as_unestimated(points: Any) -> None:
    item = jira_item(issue(points=points, arr=points), "jira", "https://x", IDS)
    assert item.story_points is None  # listed as unestimated, never a NaN in a sum
    assert item.fields["arr"] is None or item.fields["arr"] == -3


@pytest.mark.parametrize(
    ("field", "value"),
    [("issuetype", "Story"), ("status", ["done"]), ("parent", 7), ("labels", "okr:KR-1")],
)
def test_jira_malformed_structure_is_a_source_error_naming_issue_and_field(
    field: str, value: Any
) -> None:
    # These used to raise AttributeError, or (labels) silently split a string into characters.
    with pytest.raises(SourceError, match=f"issue PAY-7: field '{field}' is malformed"):
        jira_item(issue(**{field: value}), "jira", "https://x", IDS)


def test_jira_timestamp_without_offset_is_utc() -> None:
    item = jira_item(issue(updated="2026-11-02T10:00:00"), "jira", "https://x", IDS)
    assert item.updated == dt.datetime(2026, 11, 2, 10, tzinfo=dt.UTC)


# --- Notion values and pages -------------------------------------------------------------


@pytest.mark.parametrize(
    "prop",
    [
        {"type": "number", "number": 10**400},  # was an OverflowError
        {"type": "number", "number": math.nan},
        {"type": "rich_text", "rich_text": [{"plain_text": "NaN"}]},
        {"type": "rich_text", "rich_text": [{"plain_text": "1e999"}]},
        {"type": "formula", "formula": {"type": "number", "number": math.inf}},
        {"type": "rollup", "rollup": {"type": "number", "number": -math.inf}},
    ],
)
def test_notion_numbers_are_finite_or_none(prop: dict[str, Any]) -> None:
    assert number(prop) is None


@pytest.mark.parametrize(
    ("prop", "expected"),
    [
        ({"type": "rich_text", "rich_text": 5}, ""),  # was a TypeError
        ({"type": "multi_select", "multi_select": "abc"}, []),
        ({"type": "relation", "relation": [{"id": "p1"}, {}, "x"]}, ["p1"]),
        ({"type": "checkbox", "checkbox": [[]]}, None),
        ({"type": "unique_id", "unique_id": {"prefix": "KR", "number": "x"}}, None),
        ([1, 2], None),
    ],
)
def test_notion_values_of_the_wrong_shape_read_as_empty(prop: Any, expected: Any) -> None:
    assert plain(prop) == expected


KR_SCHEMA = resolve_schema(
    "Key Results",
    {"Name": {"type": "title"}, "Objective": {"type": "relation"}, "Weight": {"type": "number"}},
    KeyResultProperties(weight="Weight"),
)


def kr_page(**props: Any) -> dict[str, Any]:
    return {"id": "p-1", "url": "https://www.notion.so/p-1", "properties": props}


def test_notion_kr_with_a_negative_weight_names_page_and_property() -> None:
    page = kr_page(Weight={"type": "number", "number": -2})
    with pytest.raises(SourceError, match=r"key result page p-1 \(.*\): Weight: .*greater than"):
        build_key_results([page], KR_SCHEMA, {}, {}, source="notion", epics_source=None)


def test_notion_kr_whose_relation_holds_another_type_has_no_objective() -> None:
    page = kr_page(Objective={"type": "number", "number": 3.0})  # was a TypeError
    [kr] = build_key_results([page], KR_SCHEMA, {}, {}, source="notion", epics_source=None)
    assert kr.objective_id is None


def test_notion_row_with_odd_values_still_reads() -> None:
    spec = RowReader(key_results="KRs", labels="Tags")
    page = {
        "id": "row-1", "url": 12, "last_edited_time": "yesterday",  # was a ValueError
        "properties": {"KRs": {"type": "relation", "relation": [{"id": "p-1"}, {"id": ["x"]}]},
                       "Tags": {"type": "number", "number": 4}},
    }  # fmt: skip
    item = notion_item(page, spec, "notion", {"p-1": "KR-1"})
    assert (item.updated, item.url, item.labels) == (None, None, ())
    assert item.kr_refs == ("KR-1",)


def test_recorded_json_with_nan_decodes_as_python_would() -> None:
    # The premise of the tests above: a client's JSON decoder hands these over as floats.
    assert math.isnan(json.loads('{"n": NaN}')["n"]) and json.loads("1e999") == math.inf


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("connections.jira.overlap_minutes", "10" * 12),  # each was an OverflowError at run time
        ("connections.jira.max_wait_seconds", ".inf"),
        ("connections.jira.timeout_seconds", ".inf"),
        ("connections.notion.overlap_minutes", "100000000000000000000"),
        ("connections.notion.requests_per_second", "1e-300"),
        ("schedule.jitter_seconds", "100000000000000000000"),
    ],
)
def test_time_settings_beyond_any_use_are_config_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, field: str, value: str
) -> None:
    monkeypatch.setenv("FUZZ_TOKEN", "t")

    def get(name: str, default: str) -> str:
        return value if name == field else default

    path = tmp_path / "okr-sync.yaml"
    path.write_text(
        "connections:\n"
        "  jira: {type: jira, url: 'https://x.atlassian.net', email: a@b.c, token: '${FUZZ_TOKEN}',"
        f" overlap_minutes: {get('connections.jira.overlap_minutes', '10')},"
        f" max_wait_seconds: {get('connections.jira.max_wait_seconds', '120')},"
        f" timeout_seconds: {get('connections.jira.timeout_seconds', '30')}}}\n"
        "  notion: {type: notion, token: '${FUZZ_TOKEN}', key_results: abc,"
        f" overlap_minutes: {get('connections.notion.overlap_minutes', '2')},"
        f" requests_per_second: {get('connections.notion.requests_per_second', '2')}}}\n"
        "okrs: notion\nitems: [jira]\n"
        f"schedule: {{cron: '@hourly', jitter_seconds: {get('schedule.jitter_seconds', '0')}}}\n"
    )
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert [p.field for p in info.value.problems] == [field]
