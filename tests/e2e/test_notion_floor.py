"""The Notion connector at its floor, and still exact: kept schemas, writes in flight.

A run keeps each database's data source id and schema in the state store and
reads a schema again only when the pages disagree with it, when options count
(status groups of an item database; the Status options before the first write),
or once it is a day old. Page writes run a few at a time. Each test looks at what
a user would notice: requests made, values on the pages, KRs failed with a reason,
what the state store logged, and whether the next run converges.
"""

from __future__ import annotations

from typing import Any

from tests.e2e.test_notion_exact import QUERY, World, kr, make_world, world

__all__ = ["make_world", "world"]  # the fixtures, shared with test_notion_exact
GET_SCHEMA = "GET /v1/data_sources/{id}"
GET_DATABASE = "GET /v1/databases/{id}"
PATCH = "PATCH /v1/pages/{id}"


def status_options(world: World, data_source: str, keep: Any) -> None:
    """A human edits the options of a Status property in Notion's UI (keeps those ``keep`` likes)."""
    with world.sandbox.store.lock:
        prop = world.sandbox.store.data_sources[data_source].properties["Status"]
        prop.options = [o for o in prop.options if keep(o.name)]
        kept = {o.id for o in prop.options}
        prop.groups = {g: [i for i in ids if i in kept] for g, ids in prop.groups.items()}


def test_a_rerun_reads_only_the_schema_no_page_can_stand_for(world: World) -> None:
    first, requests = world.run()
    assert not first.failed
    assert requests[GET_DATABASE] == 4 and requests[GET_SCHEMA] == 4  # nothing kept yet
    summary, requests = world.run()
    assert summary.writes == 0 and not summary.failed
    # The Initiatives' status groups decide what is done and no page shows them; the
    # Deals count no status, so their kept schema stands, checked against their rows.
    assert requests == {QUERY: 4, GET_SCHEMA: 1}


def test_a_renamed_property_is_seen_on_the_pages_and_its_schema_read_again(world: World) -> None:
    world.run()
    progress = world.value("KR-3", "Progress")
    world.sandbox.rename_property(world.kr_ds, "Target", "Goal")
    summary, requests = world.run()
    # The kept schema still says Target; the pages say Goal: the schema is read again,
    # and the manual KR has no target any more: failed with its reason, never 0 or 100.
    assert requests[GET_SCHEMA] == 2  # the Key Results (again) and the Initiatives
    assert "KR-3" in summary.failed and kr(summary, "KR-3").error
    assert world.value("KR-3", "Progress") == progress
    # The schema read again is the one kept: the next run reads none but the Initiatives'.
    _, requests = world.run()
    assert requests[GET_SCHEMA] == 1


def test_a_status_option_deleted_since_the_schema_was_kept_stops_every_write(
    world: World,
) -> None:
    world.run()
    assert world.value("KR-1", "Status") == "On track"
    status_options(world, world.kr_ds, lambda name: name != "Achieved")
    for row in world.rows[:6]:
        world.sandbox.update_page(row, {"Status": "Done"})  # KR-1 reaches its target
    summary, requests = world.run()
    # The kept options still list Achieved; those Notion has now are read before the
    # first write, and the label okr-sync would write is not among them.
    assert requests[PATCH] == 0 and requests["POST /v1/comments"] == 0
    assert summary.failures and all(
        "has no option 'Achieved'" in f.error and "nothing was written" in f.error
        for f in summary.failures
    )
    assert world.value("KR-1", "Status") == "On track"


def test_a_status_moved_to_the_complete_group_counts_in_the_very_next_run(world: World) -> None:
    first, _ = world.run()
    assert (kr(first, "KR-1").done, kr(first, "KR-1").total) == (3, 6)
    with world.sandbox.store.lock:  # a human drags "In progress" into the Complete group
        prop = world.sandbox.store.data_sources[world.ini_ds].properties["Status"]
        moved = next(o.id for o in prop.options if o.name == "In progress")
        prop.groups = {g: [i for i in ids if i != moved] for g, ids in prop.groups.items()}
        prop.groups["Complete"].append(moved)
    summary, _ = world.run()
    assert (kr(summary, "KR-1").done, kr(summary, "KR-1").total) == (6, 6)


def test_a_schema_kept_for_a_day_is_read_again(world: World) -> None:
    world.run()
    world.clock.advance(hours=24)
    _, requests = world.run()
    assert requests[GET_DATABASE] == 4 and requests[GET_SCHEMA] == 4


def test_a_kept_schema_serves_only_the_config_that_kept_it(world: World) -> None:
    world.run()
    path = world.tmp / "okr-sync.yaml"
    path.write_text(
        path.read_text().replace("requests_per_second: 1000", "requests_per_second: 999")
    )
    _, requests = world.run()
    assert requests[GET_DATABASE] == 4 and requests[GET_SCHEMA] == 4


def test_one_write_failing_among_writes_in_flight(make_world: Any) -> None:
    world: World = make_world()
    path = world.tmp / "okr-sync.yaml"
    config = path.read_text()
    path.write_text(config.replace("requests_per_second: 1000", "writes_in_flight: 4"))
    world.run()
    # Work moves every KR, so the objective too: five pages to write.
    for row in world.rows:
        world.sandbox.update_page(row, {"Status": "Done"})
    world.sandbox.update_page(world.kr["KR-3"], {"Current": 44.0})
    world.sandbox.update_page(world.contracts[0], {"Amount": 30_000.0})
    # One of the five PATCHes is refused for good; which one depends on timing.
    world.sandbox.faults.add(PATCH, 400, code="validation_error", times=1)
    second, requests = world.run()
    assert requests[PATCH] == 5
    (failure,) = second.failures
    assert second.writes == 4 and "Notion rejected the request" in failure.error
    assert second.run_id is not None
    results = {(c["record"], c["result"]) for c in world.state.run_changes(second.run_id)}
    assert {r for r, result in results if result == "failed"} == {failure.ref.id}
    assert {r for r, result in results if result == "applied"} == (
        {"KR-1", "KR-2", "KR-3", "KR-4", "O-1"} - {failure.ref.id}
    )
    # The next run writes the one page left, reads no human edit into okr-sync's own
    # values, and leaves every page as a run that never met the fault.
    third, requests = world.run()
    assert not third.failures and not third.plan.conflicts
    assert third.writes == 1 and requests[PATCH] == 1
    assert {c.ref for c in third.plan.changes} == {failure.ref}
    held = {r.kr_id: world.value(r.kr_id, "Progress") for r in third.key_results}
    assert held == {r.kr_id: round(r.progress or 0.0, 4) for r in third.key_results}
    assert world.state.pending_fields("notion") == set()
