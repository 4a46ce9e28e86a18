from __future__ import annotations

import datetime as dt

import pytest

from okr_sync.core.progress import Thresholds
from okr_sync.core.rollup import check_tree, roll_up
from okr_sync.errors import DataError
from okr_sync.models import KeyResult, KrResult, Objective, OkrTree, Status

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
    assert out["O-2"].expected == pytest.approx(45 / 92) and out["O-2"].status is Status.ON_TRACK


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
