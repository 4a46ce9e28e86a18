from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError

from okr_sync.core.progress import (
    KrInputs,
    Previous,
    Thresholds,
    check_measure,
    children_index,
    compute_kr,
    expected_progress,
    status_for,
    value_progress,
)
from okr_sync.models import Direction, ItemKind, KeyResult, Status, StatusCategory, WorkItem

NOW = dt.datetime(2026, 11, 15, tzinfo=dt.UTC)
Q4 = (dt.date(2026, 10, 1), dt.date(2026, 12, 31))
T = Thresholds()
DONE, TODO, DOING = StatusCategory.DONE, StatusCategory.TODO, StatusCategory.IN_PROGRESS


def item(key: str, status: StatusCategory = TODO, **kw: object) -> WorkItem:
    return WorkItem(source="jira", key=key, status_category=status, **kw)  # type: ignore[arg-type]


def epic(key: str, **kw: object) -> WorkItem:
    return item(key, kind=ItemKind.EPIC, **kw)


def run(
    kr: KeyResult,
    measure: str,
    linked: list[WorkItem],
    universe: list[WorkItem] | None = None,
    **kw: object,
):  # type: ignore[no-untyped-def]
    inputs = KrInputs(kr=kr, measure=measure, linked=linked, period=kw.pop("period", Q4), **kw)  # type: ignore[arg-type]
    return compute_kr(inputs, children_index(universe or linked), NOW, T)


KR = KeyResult(id="KR-1", title="Ship", start=0, target=100)


class TestValueProgress:
    def test_increasing(self) -> None:
        assert value_progress(25, 0, 100) == 0.25

    def test_decreasing_kr_from_40_to_10(self) -> None:
        assert value_progress(40, 40, 10) == 0
        assert value_progress(25, 40, 10) == pytest.approx(0.5)
        assert value_progress(10, 40, 10) == 1

    def test_over_achievement_and_regression_are_clamped(self) -> None:
        assert value_progress(150, 0, 100) == 1.0
        assert value_progress(50, 40, 10) == 0.0

    def test_target_equal_to_start_holds_a_level_in_its_direction(self) -> None:
        assert value_progress(5, 5, 5, Direction.INCREASE) == 1.0
        assert value_progress(4, 5, 5, Direction.INCREASE) == 0.0
        assert value_progress(4, 5, 5, Direction.DECREASE) == 1.0
        assert value_progress(6, 5, 5, Direction.DECREASE) == 0.0

    def test_target_equal_to_start_without_a_direction_is_not_guessed(self) -> None:
        # It used to read as "increase": keep-at-0 with 3 incidents was 100 % Achieved.
        with pytest.raises(ValueError, match="direction"):
            value_progress(3, 0, 0)


class TestExpectedAndStatus:
    def test_expected_is_elapsed_share_with_inclusive_end(self) -> None:
        start = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)
        assert expected_progress(*Q4, start) == 0
        assert expected_progress(*Q4, dt.datetime(2027, 1, 1, tzinfo=dt.UTC)) == 1
        assert expected_progress(*Q4, NOW) == pytest.approx(45 / 92)

    def test_period_not_started_or_over(self) -> None:
        assert expected_progress(*Q4, dt.datetime(2026, 9, 1, tzinfo=dt.UTC)) == 0.0
        assert expected_progress(*Q4, dt.datetime(2027, 3, 1, tzinfo=dt.UTC)) == 1.0
        assert expected_progress(None, None, NOW) is None

    def test_statuses(self) -> None:
        assert status_for(1.0, 0.5, T) is Status.ACHIEVED
        assert status_for(0.0, 0.0, T) is Status.NOT_STARTED
        assert status_for(0.0, 0.2, T) is Status.NOT_STARTED
        assert status_for(0.0, 0.6, T) is Status.OFF_TRACK
        assert status_for(0.45, 0.5, T) is Status.ON_TRACK
        assert status_for(0.35, 0.5, T) is Status.AT_RISK
        assert status_for(0.2, 0.5, T) is Status.OFF_TRACK
        assert status_for(0.9, 1.0, T) is Status.ON_TRACK  # period over, 10 points short
        assert status_for(0.5, None, T) is Status.ON_TRACK

    def test_thresholds_must_be_ordered(self) -> None:
        with pytest.raises(ValidationError, match="smaller than"):
            Thresholds(at_risk_gap=0.3, off_track_gap=0.2)

    def test_custom_thresholds_change_the_status(self) -> None:
        strict = Thresholds(at_risk_gap=0.01, off_track_gap=0.05)
        assert status_for(0.48, 0.5, strict) is Status.AT_RISK
        assert status_for(0.4, 0.5, strict) is Status.OFF_TRACK

    def test_measure_names(self) -> None:
        assert check_measure("sum:arr") == "sum:arr"
        with pytest.raises(ValueError, match="unknown measure"):
            check_measure("velocity")


class TestMeasures:
    def test_issues_done_counts_direct_children_of_linked_epics(self) -> None:
        universe = [epic("E-1"), item("I-1", DONE, parent_key="E-1"), item("I-2", parent_key="E-1"),
                    item("I-3", DOING, parent_key="E-1"), item("S-1", DONE, parent_key="I-1")]  # fmt: skip
        res = run(KR, "issues_done", [universe[0]], universe)
        assert (res.done, res.total) == (1, 3)
        assert res.progress == 0.3333 and res.current == pytest.approx(33.33)  # as written
        reasons = {e.key: e.reason for e in res.provenance.excluded}
        assert "epic" in reasons["E-1"] and "not a direct child" in reasons["S-1"]
        assert res.status is Status.AT_RISK  # 33 % vs 49 % elapsed

    def test_exclusions_list_epics_as_linked_then_sub_items_by_parent_key(self) -> None:
        universe = [epic("E-2"), epic("E-1"),
                    item("I-9", parent_key="E-2"), item("I-1", parent_key="E-1"),
                    item("S-2", parent_key="I-9"), item("S-1", parent_key="I-1"),
                    item("S-3", parent_key="I-1")]  # fmt: skip
        res = run(KR, "issues_done", [universe[0], universe[1]], universe)
        assert [e.key for e in res.provenance.counted] == ["I-1", "I-9"]
        assert [e.key for e in res.provenance.excluded] == ["E-2", "E-1", "S-1", "S-3", "S-2"]

    def test_points_done_lists_unestimated_issues(self) -> None:
        universe = [epic("E-1"), item("I-1", DONE, parent_key="E-1", story_points=3),
                    item("I-2", parent_key="E-1", story_points=5), item("I-3", DONE, parent_key="E-1")]  # fmt: skip
        res = run(KR, "points_done", [universe[0]], universe)
        assert (res.done, res.total) == (3, 8)
        assert res.provenance.unestimated == ("I-3",)

    def test_points_done_with_no_estimates_is_stale_with_the_reason(self) -> None:
        universe = [epic("E-1"), item("I-1", DONE, parent_key="E-1")]
        res = run(KR, "points_done", [universe[0]], universe)
        assert res.progress is None and not res.writable and res.stale
        assert "none of the 1 counted items has story points" in (res.error or "")

    def test_initiatives_done_counts_the_linked_items_themselves(self) -> None:
        linked = [epic("E-1", status=DONE), epic("E-2"), item("R-1", DONE, kind=ItemKind.ROW)]
        res = run(KR, "initiatives_done", linked, [*linked, item("I-9", DONE, parent_key="E-2")])
        assert (res.done, res.total) == (2, 3)

    def test_count_and_count_done(self) -> None:
        bugs = [item("B-1", DONE), item("B-2"), item("B-3", DONE)]
        kr = KeyResult(id="KR-2", title="Bugs", start=0, target=10)
        assert run(kr, "count", bugs).current == 3
        res = run(kr, "count:done", bugs)
        assert res.current == 2 and res.progress == pytest.approx(0.2)

    def test_decreasing_count_kr(self) -> None:
        kr = KeyResult(id="KR-3", title="Open incidents 40 → 10", start=40, target=10)
        res = run(kr, "count", [item(f"O-{i}") for i in range(25)])
        assert res.current == 25 and res.progress == pytest.approx(0.5)

    def test_sum_of_a_field_excludes_items_without_it(self) -> None:
        rows = [
            item("D-1", fields={"arr": 1000.0}),
            item("D-2", fields={"arr": 500.0}),
            item("D-3"),
        ]
        kr = KeyResult(id="KR-4", title="ARR", start=0, target=3000)
        res = run(kr, "sum:arr", rows)
        assert res.current == 1500 and res.progress == 0.5
        assert [e.key for e in res.provenance.excluded] == ["D-3"]

    def test_manual_uses_the_humans_current_value(self) -> None:
        kr = KeyResult(
            id="KR-5", title="Latency", start=900, target=400, current=650, measure="manual"
        )
        res = run(kr, "manual", [])
        assert res.progress == 0.5 and res.current == 650 and res.writable

    def test_manual_without_current_writes_nothing(self) -> None:
        kr = KeyResult(id="KR-5", title="x", start=0, target=10, measure="manual")
        res = run(kr, "manual", [])
        assert res.progress is None and not res.writable and not res.error
        assert "no Current entered yet" in (res.skipped or "")

    def test_over_achievement_is_achieved(self) -> None:
        kr = KeyResult(id="KR-2", title="Bugs", start=0, target=2)
        res = run(kr, "count", [item("B-1"), item("B-2"), item("B-3")])
        assert res.progress == 1.0 and res.current == 3 and res.status is Status.ACHIEVED

    def test_zero_items_on_a_new_kr_is_left_alone(self) -> None:
        # It used to be 0 % Not started, which wrote Current 0 over a human's 5.
        res = run(KR, "issues_done", [])
        assert res.progress is None and res.status is None and res.current is None
        assert (
            not res.writable
            and not res.error
            and res.skipped == ("nothing linked yet: nothing computed")
        )


class TestStaleness:
    def test_failed_source_makes_the_kr_stale_not_zero(self) -> None:
        res = run(KR, "issues_done", [], failed_sources={"jira": "jira: HTTP 503"})
        assert res.stale and res.progress is None and not res.writable
        assert "jira: HTTP 503" in (res.error or "")

    def test_items_dropping_to_none_is_stale(self) -> None:
        res = run(
            KR,
            "issues_done",
            [],
            fingerprint="f1",
            previous=Previous(item_count=12, fingerprint="f1"),
        )
        assert res.stale and "dropped from 12 to 0" in (res.error or "")

    def test_drop_to_none_after_a_link_change_is_accepted(self) -> None:
        res = run(
            KR,
            "issues_done",
            [],
            fingerprint="f2",
            previous=Previous(item_count=12, fingerprint="f1"),
        )
        assert not res.stale and res.progress is None and "nothing linked" in (res.skipped or "")

    def test_missing_linked_epic_fails_only_this_kr(self) -> None:
        universe = [epic("E-1"), item("I-1", DONE, parent_key="E-1")]
        res = run(KR, "issues_done", [universe[0]], universe, missing=("E-404",))
        assert res.progress == 1.0 and not res.writable and "E-404" in (res.error or "")


class TestReviewRegressions:
    def test_a_sum_field_that_vanished_is_not_written_as_zero(self) -> None:
        rows = [item("D-1", fields={"ARR": 1000.0}), item("D-2", fields={})]
        res = run(KeyResult(id="KR-4", title="ARR", start=0, target=3000), "sum:arr", rows)
        assert res.progress is None and not res.writable and res.stale
        assert "none of the 2 counted items has a value for arr" in (res.error or "")

    def test_a_count_kr_whose_query_matches_nothing_is_a_real_zero(self) -> None:
        kr = KeyResult(id="KR-5", title="Open incidents 4 → 0", start=4, target=0)
        res = run(
            kr,
            "count",
            [],
            fingerprint="f",
            previous=Previous(item_count=4, fingerprint="f"),
            declared=True,
        )
        assert not res.stale and res.current == 0 and res.progress == 1.0

    def test_a_count_kr_whose_listed_epics_vanish_is_stale(self) -> None:
        kr = KeyResult(id="KR-5", title="Issues in epics", start=0, target=10)
        res = run(
            kr,
            "count",
            [],
            fingerprint="f",
            previous=Previous(item_count=4, fingerprint="f"),
            keyed=True,
        )
        assert res.stale
