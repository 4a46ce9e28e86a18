"""End to end: `okr-sync check` against the Jira and Notion sandboxes, one planted problem at a time."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from okr_sync.cli.main import main
from okr_sync.engine import preflight
from sandboxes import JiraSandbox, NotionSandbox

STATUSES = ["Not started", "On track", "At risk", "Off track", "Achieved"]
JIRA_TOKEN_VAR = "CHECK_JIRA_TOKEN"
NOTION_TOKEN_VAR = "CHECK_NOTION_TOKEN"
CONFIG = """
connections:
  notion:
    type: notion
    token: "${CHECK_NOTION_TOKEN}"
    base_url: NOTION_URL
    objectives: OBJ_DB
    key_results: KR_DB
    epics_source: jira
    items:
      - database: INI_DB
  jira:
    type: jira
    url: JIRA_URL
    email: bot@example.com
    token: "${CHECK_JIRA_TOKEN}"
okrs: notion
items: [notion, jira]
cycle: {start: 2026-10-01, end: 2026-12-31}
measures: {KR-2: points_done, KR-3: count}
mapping:
  rules:
    - {kr: KR-1, source: jira, epics: [EPIC_KEY]}
    - kr: KR-3
      source: jira
      query: "QUERY"
write:
  notion:
    key_results: [progress, current, status, last_synced]
    objectives: [progress, status, last_synced]
  jira:
    items: [property]
"""


class World:
    """Notion holds the OKRs and initiatives, Jira the epics; `plant` breaks one thing."""

    def __init__(self, tmp: Path, monkeypatch: pytest.MonkeyPatch, *,
                 kr_props: Mapping[str, Any] | None = None, epic: str = "PAY-1",
                 kr2_epics: str = "PAY-2", query: str = "project = PAY AND labels = bug",
                 mode: str = "cloud") -> None:  # fmt: skip
        self.jira = JiraSandbox(mode)  # type: ignore[arg-type]
        self.notion = NotionSandbox(rate_limit=None)
        jira_url, notion_url = self.jira.start(), self.notion.start()
        sb = self.jira
        sb.add_project("PAY", "Payments")
        for title in ("Checkout", "Platform"):
            epic_key = sb.add_issue("PAY", title, issuetype="Epic")
            sb.add_issue("PAY", f"{title} story", parent=epic_key, story_points=3)
        sb.add_issue("PAY", "A bug", issuetype="Bug", labels=["bug"])
        nb = self.notion
        status = {"status": {"options": [{"name": n} for n in STATUSES]}}
        self.obj_db, obj_ds = nb.add_database("Objectives", {
            "Name": {"title": {}}, "ID": {"unique_id": {"prefix": "O"}},
            "Progress": {"number": {"format": "percent"}}, "Status": status, "Last synced": {"date": {}},
        })  # fmt: skip
        self.ini_db, ini_ds = nb.add_database("Initiatives", {
            "Name": {"title": {}},
            "Status": {"status": {"options": [{"name": n} for n in ["Not started", "In progress", "Done"]]}},
        })  # fmt: skip
        props: dict[str, Any] = {
            "Name": {"title": {}}, "ID": {"unique_id": {"prefix": "KR"}},
            "Objective": {"relation": {"data_source_id": obj_ds, "type": "single_property", "single_property": {}}},
            "Start": {"number": {}}, "Target": {"number": {}}, "Current": {"number": {}},
            "Progress": {"number": {"format": "percent"}}, "Status": status, "Due": {"date": {}},
            "Last synced": {"date": {}}, "Jira epics": {"rich_text": {}},
            "Initiatives": {"relation": {"data_source_id": ini_ds, "type": "single_property", "single_property": {}}},
        }  # fmt: skip
        for name, schema in (kr_props or {}).items():
            if schema is None:
                del props[name]
            else:
                props[name] = schema
        self.kr_db, kr_ds = nb.add_database("Key Results", props)
        o1 = nb.add_page(obj_ds, {"Name": "Ship payments"})
        row = nb.add_page(ini_ds, {"Name": "Wallets", "Status": "Done"})
        nb.add_page(kr_ds, {"Name": "Checkout", "Objective": [o1], "Initiatives": [row]})
        nb.add_page(kr_ds, {"Name": "Platform", "Objective": [o1], "Jira epics": kr2_epics})
        nb.add_page(kr_ds, {"Name": "Bugs", "Objective": [o1]})
        monkeypatch.setenv(JIRA_TOKEN_VAR, sb.api_token if mode == "cloud" else sb.pat)
        monkeypatch.setenv(NOTION_TOKEN_VAR, nb.token)
        text = CONFIG.replace("NOTION_URL", notion_url).replace("JIRA_URL", jira_url)
        text = text.replace("OBJ_DB", self.obj_db).replace("KR_DB", self.kr_db)
        text = text.replace("INI_DB", self.ini_db).replace("EPIC_KEY", epic)
        text = text.replace('"QUERY"', json.dumps(query))
        if mode != "cloud":
            text = text.replace("    email: bot@example.com\n", "")
        self.config = tmp / "okr-sync.yaml"
        self.config.write_text(text)

    def check(self, *args: str) -> tuple[int, str]:
        result = CliRunner().invoke(main, ["check", "-c", str(self.config), *args])
        return result.exit_code, result.stdout + result.stderr

    def stop(self) -> None:
        self.jira.stop()
        self.notion.stop()


@pytest.fixture(autouse=True)
def no_real_sleep(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The connectors' throttles and retries wait on a fake clock, never for real."""
    slept: list[float] = []
    real = preflight._quick_connectors

    def build(loaded: Any) -> dict[str, Any]:
        built = real(loaded)
        for connector in built.values():
            caller = getattr(connector, "caller", None)
            if caller is not None:
                caller.sleep = slept.append
                if getattr(caller, "bucket", None) is not None:
                    caller.bucket.sleep = slept.append
        return built

    monkeypatch.setattr(preflight, "_quick_connectors", build)
    return slept


@pytest.fixture
def make_world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    worlds: list[World] = []

    def make(**kw: Any) -> World:
        worlds.append(World(tmp_path, monkeypatch, **kw))
        return worlds[-1]

    yield make
    for w in worlds:
        w.stop()


def config_line(world: World, start: str) -> int:
    lines = world.config.read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if line.startswith(start))


def lines_with(out: str, mark: str) -> list[str]:
    return [line.strip() for line in out.splitlines() if line.strip().startswith(mark)]


def hint_after(out: str, text: str) -> str:
    lines = out.splitlines()
    index = next(i for i, line in enumerate(lines) if text in line)
    return lines[index + 1].strip()


def test_a_clean_setup_passes_every_check(make_world: Any) -> None:
    world = make_world()
    code, out = world.check()
    assert code == 0, out
    assert lines_with(out, "✘") == [] and lines_with(out, "!") == []
    for expected in (
        "✔ credentials: token accepted: integration 'okr-sync sandbox'",
        "✔ Key Results database: shared",
        "✔ Key Results › Status: has an option for every status okr-sync writes",
        "✔ Initiatives database: shared",
        "✔ OKRs: read 1 objectives and 3 key results",
        "✔ credentials: signed in to",
        "✔ story points: read from Story point estimate (customfield_10016)",
        "✔ linked epics: 2 of 2 found",
        "✔ JQL of KR-3: valid, 1 issue match now",
    ):
        assert expected in out, out
    assert "All checks passed" in out


def test_json_lists_every_result(make_world: Any) -> None:
    code, out = make_world(epic="PAY-404").check("--json")
    data = json.loads(out)
    assert code == 1 and data["ok"] is False and data["failures"] == 1
    (failure,) = [r for r in data["results"] if r["level"] == "fail"]
    assert failure["connection"] == "jira" and failure["subject"] == "epic PAY-404"
    assert set(failure) == {"connection", "subject", "level", "message", "hint"}


def test_a_bad_jira_token_names_the_variable_and_never_the_token(
    make_world: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = make_world()
    monkeypatch.setenv(JIRA_TOKEN_VAR, "wrong-jira-token-4711")
    code, out = world.check()
    assert code == 1
    (failure,) = lines_with(out, "✘")
    assert (
        failure.startswith("✘ credentials:")
        and "refused the credentials in CHECK_JIRA_TOKEN (401" in failure
    )
    hint = hint_after(out, failure)
    assert "CHECK_JIRA_TOKEN" in hint and "bot@example.com" in hint and "API tokens" in hint
    assert "wrong-jira-token-4711" not in out and world.jira.api_token not in out
    assert "✔ credentials: token accepted" in out  # Notion is still checked


def test_a_bad_notion_token_names_the_variable_and_never_the_token(
    make_world: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = make_world()
    monkeypatch.setenv(NOTION_TOKEN_VAR, "ntn_wrong_notion_token_0000000000000000000000")
    code, out = world.check()
    assert code == 1
    (failure,) = lines_with(out, "✘")
    assert failure == "✘ credentials: Notion refused the token in CHECK_NOTION_TOKEN (unauthorized)"
    assert "CHECK_NOTION_TOKEN" in hint_after(out, failure)
    assert "ntn_wrong_notion_token" not in out and world.notion.token not in out
    # without the OKRs, the epics listed on KRs cannot be known: said, not hidden
    assert "! linked items: keys listed on key results" in out
    assert "✔ JQL of KR-3" in out  # Jira is still checked


def test_an_unshared_database_says_how_to_share_it(make_world: Any) -> None:
    world = make_world()
    world.notion.share(world.ini_db, False)
    code, out = world.check()
    assert code == 1
    (failure,) = lines_with(out, "✘")
    assert failure.startswith("✘ items[0] database: Notion cannot see this database")
    hint = hint_after(out, failure)
    assert "••• → Connections → add the integration 'okr-sync sandbox'" in hint
    assert "items[0].database" in hint


def test_an_unshared_okr_database_is_reported_once(make_world: Any) -> None:
    world = make_world()
    world.notion.share(world.kr_db, False)
    code, out = world.check()
    assert code == 1
    (failure,) = lines_with(out, "✘")
    assert failure.startswith("✘ Key Results database: Notion cannot see this database")
    assert "Connections" in hint_after(out, failure)


def test_a_missing_property_that_is_written(make_world: Any) -> None:
    code, out = make_world(kr_props={"Current": None}).check()
    assert code == 1
    (failure,) = lines_with(out, "✘")
    assert (
        failure
        == "✘ Key Results › Current: okr-sync writes current here, but there is no such property"
    )
    hint = hint_after(out, failure)
    assert "add a formula or number or rollup property named 'Current'" in hint
    assert "key_result_properties.current" in hint and "write.notion.key_results" in hint


def test_a_property_of_the_wrong_type(make_world: Any) -> None:
    code, out = make_world(kr_props={"Target": {"rich_text": {}}}).check()
    assert code == 1
    (failure,) = lines_with(out, "✘")
    assert failure == (
        "✘ Key Results › Target: is a rich_text property; target must be a formula or number or rollup"
    )
    assert "key_result_properties.target to one of: 'Current', 'Progress', 'Start'" in hint_after(
        out, failure
    )


def test_a_formula_progress_is_fine_and_said_so(make_world: Any) -> None:
    formula = {"formula": {"expression": 'prop("Current") / prop("Target")'}}
    code, out = make_world(kr_props={"Progress": formula}).check()
    assert code == 0, out
    assert "✔ Key Results › Progress: a formula: Notion computes progress" in out


def test_a_missing_status_option(make_world: Any) -> None:
    options = {"status": {"options": [{"name": n} for n in STATUSES if n != "At risk"]}}
    code, out = make_world(kr_props={"Status": options}).check()
    assert code == 1
    (failure,) = lines_with(out, "✘")
    assert failure.startswith("✘ Key Results › Status: no option 'At risk' (it has: Not started,")
    hint = hint_after(out, failure)
    assert "add the option in Notion" in hint and "status.labels" in hint


def test_an_unknown_epic_in_a_rule_and_on_a_key_result(make_world: Any) -> None:
    world = make_world(epic="PAY-404", kr2_epics="PAY-2, PAY-405")
    before = world.jira.requests.copy()
    code, out = world.check()
    assert code == 1
    failures = lines_with(out, "✘")
    line = config_line(world, "    - {kr: KR-1")
    assert failures == [
        f"✘ epic PAY-404: not found on {world.jira.url} (linked to KR-1 by rule 1 (okr-sync.yaml:{line}))",
        f"✘ epic PAY-405: not found on {world.jira.url} (linked to KR-2, listed on the key result)",
    ]
    assert "moved to another project gets a new key" in hint_after(out, failures[0])
    assert "✔ linked epics: 1 of 3 found" in out
    searches = world.jira.requests - before
    # one batched search for every key, one for the found epics' children (story points)
    assert searches["GET /rest/api/2/search/jql"] == 2


def test_an_invalid_jql_rule_echoes_jira(make_world: Any) -> None:
    world = make_world(query="project = PAY AND labels = = bug")
    code, out = world.check()
    assert code == 1
    (failure,) = lines_with(out, "✘")
    assert failure.startswith("✘ JQL of KR-3: Jira cannot run it: Error in the JQL Query")
    line = config_line(world, "    - kr: KR-3")
    assert f"fix the query in rule 2 (okr-sync.yaml:{line})" in hint_after(out, failure)


def test_check_and_plan_name_a_rule_alike_counting_from_1(make_world: Any) -> None:
    """One numbering: the second rule is "rule 2" with its line, in check and in plan."""
    world = make_world(query="project = PAY AND labels = = bug")
    name = f"rule 2 (okr-sync.yaml:{config_line(world, '    - kr: KR-3')})"
    code, out = world.check()
    assert code == 1 and f"fix the query in {name}" in out
    assert "rules[" not in out and "rule 1 " not in out
    result = CliRunner().invoke(main, ["plan", "--json", "-c", str(world.config)])
    assert result.exit_code == 1
    (kr3,) = [k for k in json.loads(result.stdout)["key_results"] if k["id"] == "KR-3"]
    assert "Error in the JQL Query" in kr3["error"] and f"(in {name}: query " in kr3["error"]
    assert f"(in {name}: query " in result.stderr  # the log line names it the same way


def test_a_missing_story_points_field_fails_when_points_are_measured(make_world: Any) -> None:
    world = make_world()
    world.jira.remove_field("Story point estimate")
    world.jira.remove_field("Story Points")
    code, out = world.check()
    assert code == 1
    (failure,) = lines_with(out, "✘")
    assert failure == (
        "✘ story points: no story-points field found on this site (a KR uses the points_done measure)"
    )
    assert "set story_points_field on the 'jira' connection" in hint_after(out, failure)


def test_a_configured_story_points_field_that_does_not_exist(make_world: Any) -> None:
    world = make_world()
    world.config.write_text(
        world.config.read_text().replace(
            "    email: bot@example.com\n",
            "    email: bot@example.com\n    story_points_field: Story Pints\n",
        )
    )
    code, out = world.check()
    assert code == 1
    (failure,) = lines_with(out, "✘")
    assert failure.startswith("✘ field story_points_field: no field 'Story Pints'")
    assert "did you mean 'Story Points'" in hint_after(out, failure)


def test_data_center_reports_unknown_epics_and_bad_jql(make_world: Any) -> None:
    world = make_world(mode="datacenter", epic="PAY-404", query="project = PAY AND labels = = bug")
    code, out = world.check()
    assert code == 1
    assert "✔ credentials: signed in to" in out and "(Jira Data Center)" in out
    failures = lines_with(out, "✘")
    assert len(failures) == 2
    assert failures[0].startswith("✘ epic PAY-404: not found")
    assert failures[1].startswith("✘ JQL of KR-3: Jira cannot run it: Error in the JQL Query")


def test_an_invalid_config_exits_2_without_checking(make_world: Any) -> None:
    world = make_world()
    world.config.write_text(world.config.read_text().replace("okrs: notion", "okrs: nowhere"))
    code, out = world.check()
    assert code == 2 and "no connection named 'nowhere'" in out
    assert world.jira.requests.total() == 0 and world.notion.requests.total() == 0


def test_an_epic_left_to_any_item_source_is_still_reported(make_world: Any) -> None:
    world = make_world(kr2_epics="PAY-405")
    world.config.write_text(world.config.read_text().replace("    epics_source: jira\n", ""))
    code, out = world.check()
    assert code == 1
    (failure,) = lines_with(out, "✘")
    assert failure.startswith("✘ epic PAY-405: not found on")
    assert "✔ linked keys: PAY-405 cannot be Notion rows" in out


# --- what a sync would fail KRs or a source for is a problem, never a warning ----------------


def edit_config(world: World, old: str, new: str) -> None:
    text = world.config.read_text()
    assert old in text
    world.config.write_text(text.replace(old, new, 1))


def test_a_renamed_row_status_is_a_problem(make_world: Any) -> None:
    world = make_world()
    source = world.notion.store.find_ds(world.ini_db)
    world.notion.rename_property(source.id, "Status", "Stage")
    code, out = world.check()
    assert code == 1
    (failure,) = lines_with(out, "✘")
    assert failure == "✘ Initiatives › Status: no such property (status)"
    assert "'Stage'" in hint_after(out, failure) and "null" in hint_after(out, failure)


def test_a_done_list_matching_no_option_is_a_problem(make_world: Any) -> None:
    world = make_world()
    edit_config(
        world,
        f"      - database: {world.ini_db}",
        f"      - database: {world.ini_db}\n        done: [Finished]",
    )
    code, out = world.check()
    assert code == 1
    (failure,) = lines_with(out, "✘")
    assert failure.startswith("✘ Initiatives › Status: none of 'Finished' is an option")


def test_a_status_with_nothing_in_its_complete_group_is_a_problem(make_world: Any) -> None:
    world = make_world()
    source = world.notion.store.find_ds(world.ini_db)
    with world.notion.store.lock:  # options made through the API all land in To-do
        status = source.properties["Status"]
        status.groups = {"To-do": [o.id for o in status.options], "In progress": [], "Complete": []}
        for option in status.options:  # and no option carries a default done name
            if option.name == "Done":
                option.name = "Shipped"
    code, out = world.check()
    assert code == 1
    (failure,) = lines_with(out, "✘")
    assert "no option is in Notion's Complete group" in failure
    assert "items[0].done" in hint_after(out, failure)


def test_a_renamed_initiatives_relation_is_a_problem(make_world: Any) -> None:
    world = make_world()
    source = world.notion.store.find_ds(world.kr_db)
    world.notion.rename_property(source.id, "Initiatives", "Projects")
    code, out = world.check()
    assert code == 1
    (failure,) = lines_with(out, "✘")
    assert "no relation 'Initiatives' (initiatives), but 'Projects' relates KRs" in failure


def test_a_missing_target_is_a_problem(make_world: Any) -> None:
    code, out = make_world(kr_props={"Target": None}).check()
    assert code == 1
    (failure,) = lines_with(out, "✘")
    assert failure.startswith(
        "✘ Key Results › Target: no such property (target): no KR has a target"
    )


def test_measure_and_direction_options_okr_sync_cannot_read_are_problems(make_world: Any) -> None:
    world = make_world(kr_props={
        "Measure": {"select": {"options": [{"name": "Issues done"}, {"name": "Velocity"}]}},
        "Direction": {"select": {"options": [{"name": "Increase"}, {"name": "Maintain"}]}},
    })  # fmt: skip
    edit_config(
        world,
        "    epics_source: jira",
        "    epics_source: jira\n    key_result_properties: {measure: Measure}",
    )
    code, out = world.check()
    assert code == 1
    failures = lines_with(out, "✘")
    assert any(f.startswith("✘ Key Results › Measure:") and "'Velocity'" in f for f in failures), (
        out
    )
    assert any(
        f.startswith("✘ Key Results › Direction:") and "'Maintain'" in f for f in failures
    ), out
    assert len(failures) == 2
