from __future__ import annotations

from okr_sync.core.plan import plan_target, values_equal
from okr_sync.models import ChangeAction, Record, RecordRef

REF = RecordRef(kind="key_result", id="KR-1")


def record(**fields: object) -> Record:
    return Record(ref=REF, fields=dict(fields), owner="KR-1")


def test_no_change_no_write() -> None:
    plan = plan_target("notion", [record(progress=0.5, status="On track")],
                       {REF: {"progress": 0.5, "status": "On track"}}, {})  # fmt: skip
    assert plan.changes == ()
    assert {f for _, f, _ in plan.in_sync} == {"progress", "status"}


def test_float_round_trip_noise_is_not_a_change() -> None:
    plan = plan_target("t", [record(progress=0.1 + 0.2)], {REF: {"progress": 0.3}}, {})
    assert plan.changes == ()
    assert values_equal(1, 1.0) and not values_equal(True, 1)


def test_only_changed_fields_are_planned() -> None:
    plan = plan_target("t", [record(progress=0.6, status="On track")],
                       {REF: {"progress": 0.5, "status": "On track"}}, {(REF, "progress"): (0.5,)})  # fmt: skip
    assert [(c.field, c.before, c.after, c.action) for c in plan.changes] == [
        ("progress", 0.5, 0.6, ChangeAction.WRITE)
    ]


def test_first_write_over_a_human_value_is_not_a_conflict_but_keeps_it() -> None:
    plan = plan_target("t", [record(status="At risk")], {REF: {"status": "Green!"}}, {})
    (change,) = plan.changes
    assert not change.conflict and change.before == "Green!"


def test_human_edit_is_a_conflict_overwritten_by_default() -> None:
    plan = plan_target("t", [record(status="At risk")], {REF: {"status": "On track"}},
                       {(REF, "status"): ("Off track",)})  # fmt: skip
    (change,) = plan.changes
    assert change.conflict and change.action is ChangeAction.OVERWRITE
    assert (change.before, change.last_written) == ("On track", "Off track")


def test_human_edit_with_skip_policy_is_kept() -> None:
    plan = plan_target("t", [record(status="At risk")], {REF: {"status": "On track"}},
                       {(REF, "status"): ("Off track",)}, policy="skip")  # fmt: skip
    (change,) = plan.changes
    assert change.conflict and change.action is ChangeAction.SKIP


def test_writes_group_one_request_per_record() -> None:
    from okr_sync.core.plan import merge

    plan = merge([plan_target("t", [record(progress=0.6, status="At risk", current=60.0)], {}, {})])
    groups = plan.writes()
    assert list(groups) == [("t", REF)] and len(groups[("t", REF)]) == 3


def test_skipped_conflicts_are_not_written() -> None:
    from okr_sync.core.plan import merge

    tp = plan_target(
        "t", [record(status="At risk")], {REF: {"status": "x"}}, {(REF, "status"): ("y",)}, "skip"
    )
    assert merge([tp]).writes() == {}


def test_a_value_okr_sync_was_writing_when_it_died_is_not_a_human_edit() -> None:
    # confirmed 0.4, then a write of 0.5 whose record was lost in a crash; now 0.6 is wanted
    plan = plan_target(
        "t", [record(progress=0.6)], {REF: {"progress": 0.5}}, {(REF, "progress"): (0.4, 0.5)}
    )
    (change,) = plan.changes
    assert not change.conflict and change.action is ChangeAction.WRITE
