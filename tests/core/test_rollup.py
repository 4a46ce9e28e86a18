from __future__ import annotations

import datetime as dt

import pytest

from mappings import link
from mappings.rules import Rule
from okr_sync.core.evaluate import Settings, evaluate
from okr_sync.core.progress import Previous, Thresholds
from okr_sync.core.rollup import check_tree, roll_up
from okr_sync.errors import DataError
from okr_sync.models import KeyResult, KrResult, Objective, OkrTree, Status, WorkItem

NOW = dt.datetime(2026, 11, 15, tzinfo=dt.UTC)
CYCLE = (dt.date(2026, 10, 1), dt.date(2026, 12, 31))


def result(kr_id: str, progress: float | None, **kw: object) -> KrResult:
    return KrResult(kr_id=kr_id, title=kr_id, measure="issues_done", progress=progress, **kw)  # type: ignore[arg-type]


TREE = OkrTree(
    objectives=(
        Objective(id="O-1", title="Company"),
        Objective(id="O-2", title="Team A", parent_id="O-1"),
        Objective(id="O-3", title="Team B", parent_id="O-1", weight=3),
    ),
    key_results=(
        KeyResult(id="KR-1", title="a", objective_id="O-1"),
        KeyResult(id="KR-2", title="b", objective_id="O-2", weight=3),
        KeyResult(id="KR-3", title="c", objective_id="O-2"),
        KeyResult(id="KR-4", title="d", objective_id="O-3"),
    ),
)


def by_id(results: list) -> dict:  # type: ignore[type-arg]
    return {r.objective_id: r for r in results}


def test_weighted_mean_rolls_up_the_cascade() -> None:
    krs = {"KR-1": result("KR-1", 1.0), "KR-2": result("KR-2", 0.4), "KR-3": result("KR-3", 0.8),
           "KR-4": result("KR-4", 0.2)}  # fmt: skip
    out = by_id(roll_up(TREE, krs, {}, NOW, Thresholds(), CYCLE))
    assert out["O-2"].progress == pytest.approx((3 * 0.4 + 0.8) / 4)  # 0.5
    assert out["O-3"].progress == pytest.approx(0.2)
    # O-1: own KR (weight 1) + O-2 (weight 1) + O-3 (weight 3)
    assert out["O-1"].progress == pytest.approx((1.0 + 0.5 + 3 * 0.2) / 5)
    assert out["O-2"].expected == round(45 / 92, 4) and out["O-2"].status is Status.ON_TRACK


def test_stale_kr_uses_its_last_known_progress() -> None:
    krs = {"KR-1": result("KR-1", 1.0), "KR-2": result("KR-2", None, stale=True, error="x"),
           "KR-3": result("KR-3", 0.8), "KR-4": result("KR-4", 0.2)}  # fmt: skip
    out = by_id(roll_up(TREE, krs, {"KR-2": 0.4}, NOW, Thresholds(), CYCLE))
    assert out["O-2"].progress == pytest.approx(0.5) and not out["O-2"].stale


def test_stale_kr_without_history_makes_objectives_stale_up_the_chain() -> None:
    krs = {"KR-1": result("KR-1", 1.0), "KR-2": result("KR-2", None, stale=True, error="x"),
           "KR-3": result("KR-3", 0.8), "KR-4": result("KR-4", 0.2)}  # fmt: skip
    out = by_id(roll_up(TREE, krs, {}, NOW, Thresholds(), CYCLE))
    assert out["O-2"].stale and out["O-1"].stale and not out["O-3"].stale
    assert not out["O-1"].writable


def test_tree_problems_are_all_reported() -> None:
    tree = OkrTree(
        objectives=(Objective(id="O-1", title="a", parent_id="O-2"), Objective(id="O-2", title="b", parent_id="O-1"),
                    Objective(id="O-2", title="dup")),
        key_results=(KeyResult(id="KR-1", title="x", objective_id="O-9"), KeyResult(id="KR-1", title="y")),
    )  # fmt: skip
    with pytest.raises(DataError) as err:
        check_tree(tree, "okrs")
    text = str(err.value)
    assert "O-2' appears twice" in text and "KR-1' appears twice" in text
    assert "unknown objective 'O-9'" in text


def test_a_cycle_of_parent_objectives_is_rejected() -> None:
    tree = OkrTree(objectives=(Objective(id="O-1", title="a", parent_id="O-3"),
                               Objective(id="O-2", title="b", parent_id="O-1"),
                               Objective(id="O-3", title="c", parent_id="O-2")))  # fmt: skip
    with pytest.raises(DataError, match="cycle of parents: O-1 → O-3 → O-2 → O-1"):
        check_tree(tree, "okrs")


class TestAKrWithoutProgressIsNeverDroppedQuietly:
    """Issue 11 (6): an objective was recomputed from the remaining KRs (0.5 → 0.1)."""

    TREE = OkrTree(
        objectives=(Objective(id="O-1", title="Grow", period_start=CYCLE[0], period_end=CYCLE[1]),
                    Objective(id="O-0", title="Company")),
        key_results=(
            KeyResult(id="KR-A", title="Bugs", objective_id="O-1", start=0, target=10),
            KeyResult(id="KR-B", title="ARR", objective_id="O-1", start=0, target=1000),
        ),
    )  # fmt: skip

    def evaluate(self, rows: list[WorkItem], previous: dict[str, Previous] | None = None):  # type: ignore[no-untyped-def]
        rules = (Rule(kr="KR-A", label="bug"), Rule(kr="KR-B", label="deal", index=1))
        measures = {"KR-A": "count", "KR-B": "sum:arr"}
        settings = Settings(rules=rules, item_sources=["crm"], thresholds=Thresholds(),
                            measure_for=lambda k, own: measures[k], cycle=CYCLE)  # fmt: skip
        linked = link(self.TREE.key_results, rows, rules)
        return evaluate(self.TREE, rows, linked, settings, NOW, previous=previous)

    def rows(self, field: str) -> list[WorkItem]:
        return [WorkItem(source="crm", key="B-1", labels=("bug",)),
                WorkItem(source="crm", key="D-1", labels=("deal",), fields={field: 900.0})]  # fmt: skip

    def test_a_renamed_sum_field_keeps_the_objective_on_the_last_known_value(self) -> None:
        before = self.evaluate(self.rows("arr"))
        (obj,) = [o for o in before.objectives if o.objective_id == "O-1"]
        assert obj.progress == 0.5 and obj.status is Status.ON_TRACK
        prev = {s.result.kr_id: Previous(s.item_count, s.fingerprint, s.result.progress)
                for s in before.snapshots}  # fmt: skip
        after = self.evaluate(self.rows("ARR (USD)"), prev)  # the field was renamed at the source
        kr_b = after.key_results["KR-B"]
        assert kr_b.stale and "none of the 1 counted items has a value for arr" in (
            kr_b.error or ""
        )
        (obj,) = [o for o in after.objectives if o.objective_id == "O-1"]
        assert obj.progress == 0.5 and obj.status is Status.ON_TRACK and obj.writable  # not 0.1
        assert obj.notes == (
            "KR-B: its last recorded progress (90 %) is used: stale: none of the 1 counted items "
            "has a value for arr (was the field renamed or removed at the source?)",
        )

    def test_without_a_recorded_value_the_objective_is_stale_naming_the_kr(self) -> None:
        out = self.evaluate(self.rows("ARR (USD)"))
        (obj,) = [o for o in out.objectives if o.objective_id == "O-1"]
        assert obj.stale and not obj.writable and obj.progress is None
        assert obj.error == (
            "not updated, no progress known for KR-B (stale: none of the 1 counted items has a "
            "value for arr (was the field renamed or removed at the source?))"
        )

    def test_a_kr_with_nothing_linked_yet_is_not_left_out_either(self) -> None:
        krs = {"KR-1": result("KR-1", 1.0), "KR-2": result("KR-2", 0.4), "KR-3": result("KR-3", 0.8),
               "KR-4": result("KR-4", None, skipped="nothing linked yet: nothing computed")}  # fmt: skip
        out = by_id(roll_up(TREE, krs, {}, NOW, Thresholds(), CYCLE))
        assert (
            out["O-3"].stale and "KR-4 (nothing linked yet: nothing computed)" in out["O-3"].error
        )
        assert out["O-1"].stale and "O-3 (stale)" in (out["O-1"].error or "")
        assert out["O-2"].writable


def test_the_roll_up_records_its_parts_with_weights_for_explain() -> None:
    krs = {"KR-1": result("KR-1", 1.0), "KR-2": result("KR-2", None, stale=True, error="x"),
           "KR-3": result("KR-3", 0.8), "KR-4": result("KR-4", 0.2)}  # fmt: skip
    out = by_id(roll_up(TREE, krs, {"KR-2": 0.4}, NOW, Thresholds(), CYCLE))
    parts = {p.id: p for p in out["O-2"].parts}
    assert (parts["KR-2"].weight, parts["KR-2"].progress) == (3, 0.4)
    assert parts["KR-2"].note == "last recorded progress used: stale: x"
    assert (parts["KR-3"].progress, parts["KR-3"].note) == (0.8, "")
    top = [(p.kind, p.id, p.weight) for p in out["O-1"].parts]
    assert top == [("key_result", "KR-1", 1), ("objective", "O-2", 1), ("objective", "O-3", 3)]
