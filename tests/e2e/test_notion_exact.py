"""End to end on the Notion sandbox: every run counts what a full pull counts, or says why not.

Each test syncs once, lets a human change something in Notion the way the UI
does (a row moved out of a filter, a row trashed, a related page edited, a
property renamed), syncs again and looks at what a user sees: the values on the
pages, the KRs reported stale or failed with their reason, the requests made.
The sandbox and the connector share one clock, which each run moves on by an
hour (real runs are minutes or hours apart, and Notion's timestamps are minutes).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from connectors.notion.connector import NotionConnector
from okr_sync.config.loading import load_config
from okr_sync.engine.engine import Engine
from okr_sync.models import KrResult, RunSummary
from okr_sync.state.store import StateStore
from sandboxes import NotionSandbox
from tests.sandboxes.fake_clock import FakeClock

NOW = dt.datetime(2026, 11, 15, 12, tzinfo=dt.UTC)
QUERY = "POST /v1/data_sources/{id}/query"
KR_STATUS = [{"name": n} for n in ("Not started", "On track", "At risk", "Off track", "Achieved")]
ROW_STATUS = [{"name": "Not started"}, {"name": "In progress"}, {"name": "Done"},
              {"name": "Shipped", "group": "Complete"}]  # fmt: skip
CONFIG = """
connections:
  notion:
    type: notion
    token: "${EXACT_NOTION_TOKEN}"
    base_url: URL
    objectives: OBJ
    key_results: KRS
    requests_per_second: 1000
    key_result_properties: {measure: Measure}
    items:
ITEMS
okrs: notion
items: [notion]
cycle: {start: 2026-10-01, end: 2026-12-31}
measures: {default: initiatives_done, KR-3: manual, KR-4: sum:arr}
write:
  notion:
    key_results: WRITE
    objectives: [progress, status, last_synced]
"""
ITEMS = """      - database: INI
        key_results: Key Results
      - database: DEALS
        status: null
        numbers: {arr: ARR}
        key_results: Key Results"""


class World:
    """Objectives; Key Results (KR-1, KR-2 fed by initiatives, KR-3 manual, KR-4 sums deals' ARR);
    Initiatives (a Team select, a status with Notion's groups) and Deals (ARR: a rollup of
    the contracts' Amount), both relating their rows to KRs."""

    def __init__(self, tmp: Path, monkeypatch: pytest.MonkeyPatch, *,
                 items: str = ITEMS, kr_props: Mapping[str, Any] | None = None,
                 write: str = "[progress, current, status, last_synced, comment]") -> None:  # fmt: skip
        self.clock = FakeClock(NOW)
        sb = self.sandbox = NotionSandbox(rate_limit=None, clock=self.clock)
        url = sb.start()
        self.obj_db, obj_ds = sb.add_database("Objectives", {
            "Name": {"title": {}}, "ID": {"unique_id": {"prefix": "O"}},
            "Progress": {"number": {"format": "percent"}}, "Status": {"status": {"options": KR_STATUS}},
            "Last synced": {"date": {}},
        })  # fmt: skip
        props: dict[str, Any] = {
            "Name": {"title": {}}, "ID": {"unique_id": {"prefix": "KR"}},
            "Objective": {"relation": {"data_source_id": obj_ds, "type": "single_property", "single_property": {}}},
            "Start": {"number": {}}, "Target": {"number": {}}, "Current": {"number": {}},
            "Progress": {"number": {"format": "percent"}}, "Status": {"status": {"options": KR_STATUS}},
            "Last synced": {"date": {}}, "Due": {"date": {}},
            "Measure": {"select": {"options": [{"name": "manual"}, {"name": "Velocity"}]}},
            "Direction": {"select": {"options": [{"name": "Increase"}, {"name": "Decrease"}]}},
        }  # fmt: skip
        for name, schema in (kr_props or {}).items():
            if schema is None:
                del props[name]
            else:
                props[name] = schema
        self.kr_db, self.kr_ds = sb.add_database("Key Results", props)
        relate = {
            "relation": {
                "data_source_id": self.kr_ds,
                "type": "single_property",
                "single_property": {},
            }
        }
        self.ini_db, self.ini_ds = sb.add_database("Initiatives", {
            "Name": {"title": {}}, "Status": {"status": {"options": ROW_STATUS}},
            "Team": {"select": {"options": [{"name": "Payments"}, {"name": "Platform"}]}},
            "Key Results": relate,
        })  # fmt: skip
        _, self.contracts_ds = sb.add_database(
            "Contracts", {"Name": {"title": {}}, "Amount": {"number": {}}}
        )
        self.deals_db, self.deals_ds = sb.add_database("Deals", {
            "Name": {"title": {}}, "Key Results": relate,
            "Contracts": {"relation": {"data_source_id": self.contracts_ds, "type": "single_property",
                                       "single_property": {}}},
        })  # fmt: skip
        sb.add_property(self.deals_ds, "ARR", {"rollup": {"relation_property_name": "Contracts",
                        "rollup_property_name": "Amount", "function": "sum"}})  # fmt: skip
        o1 = sb.add_page(obj_ds, {"Name": "Make customers happy"})
        self.kr = {
            "KR-1": sb.add_page(self.kr_ds, {"Name": "Ship the payments initiatives", "Objective": [o1],
                                             "Start": 0.0, "Target": 100.0}),
            "KR-2": sb.add_page(self.kr_ds, {"Name": "Small bets", "Objective": [o1], "Start": 0.0,
                                             "Target": 100.0}),
            "KR-3": sb.add_page(self.kr_ds, {"Name": "NPS from 20 to 50", "Objective": [o1], "Start": 20.0,
                                             "Target": 50.0, "Current": 35.0}),
            "KR-4": sb.add_page(self.kr_ds, {"Name": "Win 100k ARR", "Objective": [o1], "Start": 0.0,
                                             "Target": 100_000.0}),
        }  # fmt: skip
        self.rows = [
            sb.add_page(self.ini_ds, {"Name": f"Initiative {i}", "Team": "Payments" if i < 4 else "Platform",
                                      "Status": "Done" if i % 2 == 0 else "In progress",
                                      "Key Results": [self.kr["KR-1"] if i < 6 else self.kr["KR-2"]]})
            for i in range(8)
        ]  # fmt: skip
        self.contracts = [
            sb.add_page(self.contracts_ds, {"Name": f"C{i}", "Amount": 10_000.0}) for i in range(2)
        ]
        self.deals = [
            sb.add_page(self.deals_ds, {"Name": f"Deal {i}", "Contracts": [c], "Key Results": [self.kr["KR-4"]]})
            for i, c in enumerate(self.contracts)
        ]  # fmt: skip
        monkeypatch.setenv("EXACT_NOTION_TOKEN", sb.token)
        text = CONFIG.replace("ITEMS", items).replace("WRITE", write).replace("URL", url)
        text = text.replace("OBJ", self.obj_db).replace("KRS", self.kr_db)
        (tmp / "okr-sync.yaml").write_text(
            text.replace("DEALS", self.deals_db).replace("INI", self.ini_db)
        )
        self.tmp = tmp
        self.state = StateStore.open(tmp / "state.db")

    def run(self) -> tuple[RunSummary, Counter[str]]:
        """One sync, an hour after the last one, through a fresh connector (a new process)."""
        self.clock.advance(hours=1)
        loaded = load_config(self.tmp / "okr-sync.yaml")
        notion = NotionConnector("notion", loaded.connections["notion"], self.tmp,  # type: ignore[arg-type]
                                 sleep=lambda _s: None, clock=self.clock)  # fmt: skip
        before = Counter(self.sandbox.requests)
        summary = Engine(loaded, {"notion": notion}, self.state, now=lambda: NOW).run(apply=True)
        return summary, Counter(self.sandbox.requests) - before

    def value(self, kr_id: str, name: str) -> Any:
        prop = self.sandbox.page(self.kr[kr_id])["properties"][name]
        inner = prop[prop["type"]]
        return inner.get("name") if isinstance(inner, dict) and "name" in inner else inner


@pytest.fixture
def make_world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    worlds: list[World] = []

    def make(**kw: Any) -> World:
        worlds.append(World(tmp_path, monkeypatch, **kw))
        return worlds[-1]

    yield make
    for w in worlds:
        w.sandbox.stop()


@pytest.fixture
def world(make_world: Any) -> World:
    return make_world()  # type: ignore[no-any-return]


def kr(summary: RunSummary, kr_id: str) -> KrResult:
    return next(r for r in summary.key_results if r.kr_id == kr_id)


# --- 1. every run counts what a full pull counts -----------------------------------------


def test_a_row_that_leaves_the_filter_stops_counting_at_once(make_world: Any) -> None:
    filtered = ITEMS.replace(
        "key_results: Key Results\n      - database: DEALS",
        "key_results: Key Results\n        filter: {property: Team, select: {equals: Payments}}\n"
        "      - database: DEALS",
    )
    world = make_world(items=filtered)
    first, _ = world.run()
    assert (kr(first, "KR-1").done, kr(first, "KR-1").total) == (2, 4)  # rows 0..3 are Payments
    world.sandbox.update_page(world.rows[0], {"Team": "Platform"})  # a done row moves team
    second, _ = world.run()
    # KR-2 has nothing linked once the filter applies, so its objective is stale: the
    # point here is that the source stands and KR-1 counts what a full pull counts.
    assert not second.source_errors and "KR-1" not in second.failed
    assert (kr(second, "KR-1").done, kr(second, "KR-1").total) == (1, 3)
    assert world.value("KR-1", "Progress") == pytest.approx(1 / 3, abs=1e-4)


def test_a_trashed_row_stops_counting_at_once(world: World) -> None:
    world.run()
    world.sandbox.trash_page(world.rows[2])  # done, linked to KR-1
    summary, _ = world.run()
    assert not summary.failed, summary.source_errors
    assert (kr(summary, "KR-1").done, kr(summary, "KR-1").total) == (2, 5)
    assert world.value("KR-1", "Current") == 40


def test_a_rollup_that_moved_with_a_related_page_is_read_again(world: World) -> None:
    world.run()
    assert world.value("KR-4", "Current") == 20_000
    # A contract grows; the deal's ARR rollup follows, its last_edited_time does not.
    edited = world.sandbox.page(world.deals[0])["last_edited_time"]
    world.sandbox.update_page(world.contracts[0], {"Amount": 60_000.0})
    assert world.sandbox.page(world.deals[0])["last_edited_time"] == edited
    summary, _ = world.run()
    assert kr(summary, "KR-4").current == 70_000 and not summary.failed
    assert world.value("KR-4", "Current") == 70_000


def test_a_rerun_with_nothing_changed_reads_each_database_in_full_and_writes_nothing(
    world: World,
) -> None:
    for i in range(250):  # 258 initiatives: three pages of 100
        world.sandbox.add_page(world.ini_ds, {"Name": f"Backlog {i}", "Status": "Not started"})
    world.run()
    summary, requests = world.run()
    assert summary.writes == 0 and not summary.failed
    assert requests[QUERY] == 1 + 1 + 3 + 1  # objectives, KRs, initiatives, deals
    # The schemas kept from the first run agree with the pages read: only the Initiatives'
    # is read again (what counts as done hangs on its status groups, which no page shows).
    assert requests["GET /v1/data_sources/{id}"] == 1
    assert requests["GET /v1/databases/{id}"] == 0
    assert sum(requests.values()) == 7


# --- 3. a property that vanished is never read as "empty" ---------------------------------


def test_a_renamed_row_status_fails_the_source_instead_of_counting_zero(world: World) -> None:
    world.run()
    progress = world.value("KR-1", "Progress")
    world.sandbox.rename_property(world.ini_ds, "Status", "Stage")
    summary, requests = world.run()
    error = summary.source_errors["notion"]
    assert "items[0] database 'Initiatives'" in error and "'Status'" in error and "'Stage'" in error
    assert {"KR-1", "KR-2", "KR-4"} <= {r.kr_id for r in summary.key_results if r.stale}
    assert kr(summary, "KR-3").progress == 0.5  # the manual KR needs no rows
    assert world.value("KR-1", "Progress") == progress  # nothing written from no data
    assert requests["PATCH /v1/pages/{id}"] == 0


def test_a_renamed_numbers_property_fails_the_source(world: World) -> None:
    world.run()
    world.sandbox.rename_property(world.deals_ds, "ARR", "ARR (USD)")
    summary, _ = world.run()
    error = summary.source_errors["notion"]
    assert "items[1] database 'Deals'" in error and "'ARR'" in error and "numbers.arr" in error
    assert kr(summary, "KR-4").stale and world.value("KR-4", "Current") == 20_000


def test_a_renamed_initiatives_relation_fails_every_kr_with_the_reason(make_world: Any) -> None:
    # The usual layout: the KRs relate their initiatives (a relation on the KR side).
    world = make_world(items="      - database: INI")
    world.sandbox.add_property(world.kr_ds, "Initiatives", {"relation": {
        "data_source_id": world.ini_ds, "type": "single_property", "single_property": {}}})  # fmt: skip
    world.sandbox.update_page(world.kr["KR-1"], {"Initiatives": world.rows[:6]})
    first, _ = world.run()
    assert kr(first, "KR-1").progress == 0.5 and "KR-1" not in first.failed
    world.sandbox.rename_property(world.kr_ds, "Initiatives", "Projects")
    summary, requests = world.run()
    for result in summary.key_results:
        assert result.error and "no relation 'Initiatives'" in result.error, result
        assert "'Projects'" in result.error and "key_result_properties.initiatives" in result.error
    assert requests["PATCH /v1/pages/{id}"] == 0
    assert world.value("KR-1", "Progress") == 0.5  # never the plausible 0 %


def test_a_configured_target_property_that_vanished_fails_its_krs(world: World) -> None:
    configure(world, "target: Target")
    first, _ = world.run()
    assert not first.failed
    world.sandbox.rename_property(world.kr_ds, "Target", "Goal")
    summary, requests = world.run()
    for result in summary.key_results:
        assert (
            result.error
            and "the Key Results database has no property 'Target' (target)" in result.error
        )
    assert requests["PATCH /v1/pages/{id}"] == 0


def configure(world: World, extra: str) -> None:
    """Add to the connection's key_result_properties."""
    path = world.tmp / "okr-sync.yaml"
    path.write_text(
        path.read_text().replace("{measure: Measure}", f"{{measure: Measure, {extra}}}")
    )


# --- 4 and 5. no silent defaults; direction --------------------------------------------------


def test_an_empty_target_and_start_read_as_none(world: World) -> None:
    world.sandbox.update_page(world.kr["KR-3"], {"Target": None, "Start": None})
    loaded = load_config(world.tmp / "okr-sync.yaml")
    notion = NotionConnector("notion", loaded.connections["notion"], world.tmp)  # type: ignore[arg-type]
    tree = notion.pull_okrs()
    three = next(k for k in tree.key_results if k.id == "KR-3")
    assert (three.start, three.target, three.current) == (None, None, 35.0)  # not 0 and 100


def test_an_unknown_measure_option_fails_that_kr_naming_the_option(world: World) -> None:
    world.sandbox.update_page(world.kr["KR-2"], {"Measure": "Velocity"})
    summary, _ = world.run()
    two = kr(summary, "KR-2")
    assert two.error and "unknown measure 'Velocity'" in two.error
    assert world.value("KR-2", "Progress") is None  # nothing written for it
    assert kr(summary, "KR-1").error is None and world.value("KR-1", "Progress") == 0.5


def test_the_config_overrides_a_measure_option_it_does_not_know(world: World) -> None:
    world.sandbox.update_page(world.kr["KR-2"], {"Measure": "Velocity"})
    config = world.tmp / "okr-sync.yaml"
    text = config.read_text()
    old = "measures: {default: initiatives_done,"
    assert old in text
    config.write_text(text.replace(old, old + " KR-2: initiatives_done,"))
    summary, _ = world.run()
    assert kr(summary, "KR-2").error is None and kr(summary, "KR-2").measure == "initiatives_done"


def test_a_decreasing_kr_kept_at_zero_is_not_achieved_above_zero(world: World) -> None:
    # "Keep P1 incidents at 0": start = target = 0, three open now.
    world.sandbox.update_page(world.kr["KR-3"], {"Name": "Keep P1 incidents at 0", "Start": 0.0,
                                                 "Target": 0.0, "Current": 3.0, "Direction": "Decrease"})  # fmt: skip
    summary, _ = world.run()
    three = kr(summary, "KR-3")
    assert three.progress == 0.0 and three.status != "achieved"
    assert world.value("KR-3", "Status") != "Achieved"
    world.sandbox.update_page(world.kr["KR-3"], {"Current": 0.0})
    summary, _ = world.run()
    assert kr(summary, "KR-3").progress == 1.0 and world.value("KR-3", "Status") == "Achieved"


def test_an_unknown_direction_option_fails_that_kr(world: World) -> None:
    world.sandbox.add_property(
        world.kr_ds, "Trend", {"select": {"options": [{"name": "Maintain"}]}}
    )
    configure(world, "direction: Trend")
    world.sandbox.update_page(world.kr["KR-3"], {"Trend": "Maintain"})
    summary, _ = world.run()
    assert "'Maintain'" in (kr(summary, "KR-3").error or "")
    assert kr(summary, "KR-1").error is None


# --- 11. Notion's status groups --------------------------------------------------------------


def test_a_status_in_the_complete_group_counts_as_done(world: World) -> None:
    world.sandbox.update_page(world.rows[1], {"Status": "Shipped"})  # not named anywhere
    summary, _ = world.run()
    assert (kr(summary, "KR-1").done, kr(summary, "KR-1").total) == (4, 6)


def test_done_in_the_config_overrides_the_groups(make_world: Any) -> None:
    world = make_world(items=ITEMS.replace("key_results: Key Results\n      - database: DEALS",
                                           "key_results: Key Results\n        done: [Shipped]\n"
                                           "      - database: DEALS"))  # fmt: skip
    world.sandbox.update_page(world.rows[1], {"Status": "Shipped"})
    summary, _ = world.run()
    assert (kr(summary, "KR-1").done, kr(summary, "KR-1").total) == (1, 6)  # "Done" no longer


# --- 12. one check-in per change ---------------------------------------------------------------


def test_a_check_in_whose_status_write_failed_is_not_posted_again_after_a_human_edit(
    world: World,
) -> None:
    world.run()
    assert world.value("KR-1", "Status") == "On track"
    for row in world.rows[:6]:
        world.sandbox.update_page(row, {"Status": "Done"})
    # The check-in goes out, then the status PATCH is refused ...
    world.sandbox.faults.add("PATCH /v1/pages/{id}", 400, code="validation_error", times=10)
    failed, _ = world.run()
    assert failed.failures and len(world.sandbox.comments(world.kr["KR-1"])) == 1
    world.sandbox.faults.clear()
    # ... and a human edits the page before the next run.
    world.clock.advance(minutes=5)
    world.sandbox.update_page(world.kr["KR-1"], {"Due": "2026-12-31"})
    summary, _ = world.run()
    assert not summary.failures and world.value("KR-1", "Status") == "Achieved"
    comments = world.sandbox.comments(world.kr["KR-1"])
    assert len(comments) == 1, [str(c) for c in comments]


# --- 13. only the fields named under write: -------------------------------------------------------


def test_only_the_fields_named_under_write_are_touched(make_world: Any) -> None:
    world = make_world(write="[status]")
    world.run()
    for row in world.rows[:6]:
        world.sandbox.update_page(row, {"Status": "Done"})
    _, requests = world.run()
    assert world.value("KR-1", "Status") == "Achieved"
    for page in world.kr.values():
        props = world.sandbox.page(page)["properties"]
        assert props["Progress"]["number"] is None and props["Last synced"]["date"] is None
    assert world.value("KR-1", "Current") is None
    assert requests["POST /v1/comments"] == 0 and world.sandbox.comments(world.kr["KR-1"]) == []


def test_an_unshared_item_database_makes_only_its_krs_stale(world: World) -> None:
    world.run()
    world.sandbox.share(world.deals_db, False)
    summary, _ = world.run()
    assert "Connections" in summary.source_errors["notion"]
    assert kr(summary, "KR-4").stale and world.value("KR-4", "Current") == 20_000
    assert kr(summary, "KR-3").error is None  # the OKRs themselves were read
