"""No default stands in for a missing input: start, target, direction, measure (issue 11: 4, 5)."""

from __future__ import annotations

import datetime as dt

import pytest

from mappings import link
from okr_sync.core.evaluate import Settings, evaluate
from okr_sync.core.progress import KrInputs, Thresholds, children_index, compute_kr
from okr_sync.interfaces import WriteSpec, okr_records
from okr_sync.models import (
    DEFAULT_STATUS_LABELS,
    Direction,
    KeyResult,
    KrResult,
    OkrTree,
    Outcome,
    Status,
    WorkItem,
)

NOW = dt.datetime(2026, 11, 15, tzinfo=dt.UTC)
EARLY = dt.datetime(2026, 10, 3, tzinfo=dt.UTC)  # 2 % of the quarter gone
Q4 = (dt.date(2026, 10, 1), dt.date(2026, 12, 31))


def compute(
    kr: KeyResult, measure: str, linked: list[WorkItem] = (), now: dt.datetime = NOW, **kw: object
) -> KrResult:  # type: ignore[assignment]
    inputs = KrInputs(kr=kr, measure=measure, linked=list(linked), period=Q4, declared=True, **kw)  # type: ignore[arg-type]
    return compute_kr(inputs, children_index(list(linked)), now, Thresholds())


def incidents(n: int) -> list[WorkItem]:
    return [WorkItem(source="jira", key=f"INC-{i}") for i in range(n)]


def written(result: KrResult) -> list[dict[str, object]]:
    outcome = Outcome(
        tree=OkrTree(), key_results=(result,), objectives=(), links=(),
        status_labels=DEFAULT_STATUS_LABELS, synced_on=NOW.date(),
    )  # fmt: skip
    spec = WriteSpec(key_results=("progress", "current", "status"))
    return [r.fields for r in okr_records(outcome, spec)]


class TestMissingStartOrTarget:
    def test_a_manual_kr_without_target_fails_instead_of_reading_100(self) -> None:
        # "Grow ARR to 50k", Current 45,000, Target left empty: it was 100 % Achieved.
        kr = KeyResult(
            id="KR-9", title="Grow ARR to 50k", start=0, current=45_000, measure="manual"
        )
        res = compute(kr, "manual")
        assert res.error == (
            "no target set on the KR: measure manual needs its start and target "
            "(progress is (current − start) ÷ (target − start))"
        )
        assert res.progress is None and res.status is None and written(res) == []

    def test_a_count_kr_without_start_fails_naming_it(self) -> None:
        kr = KeyResult(id="KR-2", title="Open bugs down to 10", target=10)
        res = compute(kr, "count", incidents(25))
        assert "no start set on the KR: measure count needs" in (res.error or "")
        assert written(res) == []

    def test_neither_is_named_once(self) -> None:
        res = compute(KeyResult(id="KR-2", title="x"), "sum:arr")
        assert (res.error or "").startswith("no start and no target set on the KR")

    def test_a_ratio_kr_needs_neither_but_its_current_is_not_invented(self) -> None:
        done = [WorkItem(source="jira", key="I-1", status_category="done"), *incidents(1)]
        res = compute(KeyResult(id="KR-1", title="Ship the epics"), "issues_done", done)
        assert res.writable and res.progress == 0.5 and res.current is None
        assert "Current not computed: the KR has no start and target" in res.provenance.notes[-1]
        assert written(res) == [{"progress": 0.5, "status": "On track"}]

    def test_a_ratio_kr_with_start_and_target_gets_current_on_its_scale(self) -> None:
        done = [WorkItem(source="jira", key="I-1", status_category="done"), *incidents(1)]
        res = compute(KeyResult(id="KR-1", title="x", start=20, target=120), "issues_done", done)
        assert res.current == 70


class TestDirection:
    def test_keep_at_zero_without_a_direction_is_an_error_not_achieved(self) -> None:
        # "Keep P1 incidents at 0" with 3 open: it was 100 % Achieved (read as increase).
        kr = KeyResult(id="KR-5", title="Keep P1 incidents at 0", start=0, target=0)
        res = compute(kr, "count", incidents(3))
        assert res.error == (
            "start and target are both 0 and the KR sets no direction: set direction to "
            "increase (reach at least the target) or decrease (stay at most at it)"
        )
        assert not res.writable and written(res) == []

    @pytest.mark.parametrize("now", [EARLY, NOW])
    def test_keep_at_zero_with_decrease_is_off_track_while_breached(self, now: dt.datetime) -> None:
        kr = KeyResult(
            id="KR-5", title="Keep P1 at 0", start=0, target=0, direction=Direction.DECREASE
        )
        res = compute(kr, "count", incidents(3), now=now)
        assert (res.current, res.progress, res.status) == (3, 0.0, Status.OFF_TRACK)

    def test_keep_at_zero_with_decrease_is_achieved_while_held(self) -> None:
        kr = KeyResult(
            id="KR-5", title="Keep P1 at 0", start=0, target=0, direction=Direction.DECREASE
        )
        res = compute(kr, "count", [])
        assert (res.current, res.progress, res.status) == (0, 1.0, Status.ACHIEVED)

    def test_hold_at_least_a_level_with_increase(self) -> None:
        kr = KeyResult(id="KR-6", title="Keep NPS at 50+", start=50, target=50,
                       direction=Direction.INCREASE, current=48, measure="manual")  # fmt: skip
        assert compute(kr, "manual").status is Status.OFF_TRACK
        kr = kr.model_copy(update={"current": 55.0})
        assert compute(kr, "manual").status is Status.ACHIEVED

    def test_a_direction_that_contradicts_start_and_target_is_an_error(self) -> None:
        kr = KeyResult(id="KR-5", title="x", start=10, target=50, direction=Direction.DECREASE)
        res = compute(kr, "count", incidents(20))
        assert res.error == (
            "direction decrease, but target 50 is above start 10: fix the direction or swap "
            "start and target"
        )

    def test_a_decreasing_kr_is_still_read_from_start_above_target(self) -> None:
        kr = KeyResult(id="KR-5", title="Incidents 40 → 10", start=40, target=10)
        assert compute(kr, "count", incidents(25)).progress == 0.5


class TestMeasureNamesAndSourceProblems:
    def settings(self, default: str = "issues_done") -> Settings:
        return Settings(rules=(), item_sources=["jira"], thresholds=Thresholds(),
                        measure_for=lambda kr_id, own: own or default)  # fmt: skip

    def run(self, kr: KeyResult) -> KrResult:
        tree = OkrTree(key_results=(kr,))
        items = [WorkItem(source="jira", key="B-1", kr_refs=(kr.id,))]
        linked = link(tree.key_results, items, ())
        return evaluate(tree, items, linked, self.settings(), NOW).key_results[kr.id]

    def test_an_unknown_measure_on_the_kr_fails_it_instead_of_counting(self) -> None:
        # A typo ("manaul") used to be computed as `count`: Current 1 written.
        res = self.run(
            KeyResult(id="KR-3", title="x", start=0, target=10, current=4, measure="manaul")
        )
        assert (res.error or "").startswith("unknown measure 'manaul'; use one of count,")
        assert res.current is None and not res.writable

    def test_a_problem_reported_by_the_source_fails_the_kr_with_that_reason(self) -> None:
        why = "Measure 'Velocity' is not a measure okr-sync knows (Key Results › Measure)"
        res = self.run(KeyResult(id="KR-3", title="x", start=0, target=10, problem=why))
        assert res.error == why and not res.writable and res.progress is None


def test_a_reason_found_by_the_caller_fails_the_kr() -> None:
    kr = KeyResult(id="KR-4", title="x", start=0, target=10)
    why = "jira: rule 2 (okr-sync.yaml:31): Error in the JQL Query"
    res = compute(kr, "count", incidents(3), problems=(why,))
    assert res.error == why and not res.writable
