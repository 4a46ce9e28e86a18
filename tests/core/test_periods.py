"""Pure period rules: when a period is over, which KR periods do not nest, what moved."""

from __future__ import annotations

import datetime as dt

from okr_sync.core.periods import (
    LastInputs,
    closed_result,
    has_ended,
    input_changes,
    period_problems,
)
from okr_sync.models import KeyResult, Objective, OkrTree

D = dt.date
CYCLE = (D(2026, 10, 1), D(2026, 12, 31))


def test_the_end_day_still_belongs_to_the_period() -> None:
    end = D(2026, 12, 31)
    assert not has_ended(end, dt.datetime(2026, 12, 31, 23, 59, tzinfo=dt.UTC))
    assert has_ended(end, dt.datetime(2027, 1, 1, 0, 0, tzinfo=dt.UTC))
    assert not has_ended(None, dt.datetime(2030, 1, 1, tzinfo=dt.UTC))


def test_only_a_kr_with_dates_of_its_own_can_stick_out() -> None:
    tree = OkrTree(
        objectives=(
            Objective(id="O-1", title="o", period_start=D(2026, 11, 1)),
            Objective(id="O-2", title="p"),
        ),
        key_results=(
            KeyResult(id="KR-1", title="a", objective_id="O-1"),  # inherits: inside
            KeyResult(id="KR-2", title="b", objective_id="O-1", period_start=D(2026, 10, 15)),
            KeyResult(id="KR-3", title="c", objective_id="O-2", period_end=D(2026, 12, 1)),
            KeyResult(id="KR-4", title="d", objective_id="O-2", period_end=D(2027, 1, 2)),
        ),
    )
    found = period_problems(tree, CYCLE)
    assert [(p.kr_id, p.outer) for p in found] == [("KR-2", "objective O-1"), ("KR-4", "the cycle")]
    assert str(found[0]) == (
        "key result KR-2's period 2026-10-15..2026-12-31 lies outside objective O-1's period "
        "2026-11-01..2026-12-31"
    )


def test_a_changed_target_is_dated_between_the_two_runs() -> None:
    tree = OkrTree(key_results=(KeyResult(id="KR-1", title="a", start=0, target=50),))
    last = {"KR-1": LastInputs(3, "2026-11-10T12:00:00+00:00", 0, 40)}
    now = dt.datetime(2026, 11, 15, 12, tzinfo=dt.UTC)
    (change,) = input_changes(tree, last, now)
    assert (change.field, change.before, change.after, change.previous_run) == ("target", 40, 50, 3)
    assert input_changes(tree, last, now, skip={"KR-1"}) == []
    same = {"KR-1": LastInputs(3, "2026-11-10T12:00:00+00:00", 0, 50)}
    assert input_changes(tree, same, now) == []


def test_a_closed_kr_without_a_final_value_has_no_number() -> None:
    kr = KeyResult(id="KR-1", title="a", start=0, target=10)
    result = closed_result(kr, "manual", CYCLE, None)
    assert result.progress is None and not result.writable
    assert result.closed and "no value was recorded within it" in result.closed
