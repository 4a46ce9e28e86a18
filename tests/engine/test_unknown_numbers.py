"""Whole runs where okr-sync cannot know a number: it writes nothing for it and says why.

Issue 11: a missing target (4), a KR with nothing linked and a hand-typed Current
(7), an objective over a KR without progress (6).
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from okr_sync.cli import render
from okr_sync.models import DEFAULT_STATUS_LABELS, ItemRef, KeyResult, OkrTree, RecordRef, WorkItem
from tests.engine.test_engine import TREE, Setup


@pytest.fixture
def env(tmp_path: Path) -> Setup:
    return Setup(tmp_path)


def with_krs(env: Setup, *krs: KeyResult) -> None:
    """Replace KRs of the tree by id (or add them), as a human edits the OKR pages."""
    by_id = {kr.id: kr for kr in TREE.key_results} | {kr.id: kr for kr in krs}
    env.okrs.tree = OkrTree(objectives=TREE.objectives, key_results=tuple(by_id.values()))


NEW_KR = KeyResult(id="KR-3", title="Launch in Spain", objective_id="O-1", start=0, target=10)


def test_a_new_kr_with_nothing_linked_keeps_the_current_a_human_typed(env: Setup) -> None:
    env.engine().run(apply=True)
    with_krs(env, NEW_KR)
    env.pages.records[RecordRef(kind="key_result", id="KR-3")] = {"current": 5}  # typed by hand
    plan = env.engine().run(apply=False)
    # It was planned as `current 5 -> 0` (and progress 0, Not started), with no conflict.
    assert [c for c in plan.plan.changes if c.owner == "KR-3"] == []
    kr3 = next(r for r in plan.key_results if r.kr_id == "KR-3")
    assert kr3.skipped == "nothing linked yet: nothing computed" and "KR-3" not in plan.failed
    footer = render.footer_text(plan)
    assert "left alone (nothing written): KR-3: nothing linked yet: nothing computed" in footer
    assert "LEFT ALONE: nothing linked yet" in render.results_text(plan, DEFAULT_STATUS_LABELS)
    summary = env.engine().run(apply=True)
    assert env.page("KR-3") == {"current": 5}
    # Its objective cannot be known without it, so it is not recomputed from the others.
    (o1,) = summary.objectives
    assert o1.stale and "KR-3 (nothing linked yet: nothing computed)" in (o1.error or "")
    assert env.page("O-1", "objective")["progress"] == 0.375  # as the first run wrote it


def test_once_linked_the_new_kr_is_computed_and_written(env: Setup) -> None:
    with_krs(env, NEW_KR.model_copy(update={"links": (ItemRef(key="E-1"),)}))
    env.engine().run(apply=True)
    assert env.page("KR-3") == {"progress": 0.5, "current": 5.0, "status": "On track"}


def test_a_target_emptied_by_a_human_fails_the_kr_and_writes_nothing_for_it(
    env: Setup, caplog: pytest.LogCaptureFixture
) -> None:
    env.engine().run(apply=True)
    before = dict(env.page("KR-2"))
    env.work.put(WorkItem(source="work", key="B-2", labels=("bug",), status_category="done"))
    kr2 = next(kr for kr in TREE.key_results if kr.id == "KR-2")
    with_krs(env, kr2.model_copy(update={"target": None}))
    with caplog.at_level(logging.WARNING):
        summary = env.engine().run(apply=True)
    result = next(r for r in summary.key_results if r.kr_id == "KR-2")
    assert result.error and result.error.startswith("no target set on the KR")
    assert "KR-2" in summary.failed and env.page("KR-2") == before  # was written as 2/100
    assert any("KR-2 failed: no target set on the KR" in r.getMessage() for r in caplog.records)
    # The objective keeps KR-2's last recorded progress (0.25) rather than dropping it.
    (o1,) = summary.objectives
    assert o1.progress == 0.375 and o1.notes[0].startswith(
        "KR-2: its last recorded progress (25 %)"
    )


def test_a_run_that_computes_nothing_does_not_hide_the_last_recorded_progress(env: Setup) -> None:
    env.engine().run(apply=True)
    # The KR's links are changed to an epic without issues yet: nothing to compute.
    kr1 = next(kr for kr in TREE.key_results if kr.id == "KR-1")
    with_krs(env, kr1.model_copy(update={"links": (ItemRef(key="E-2"),)}))
    env.work.put(WorkItem(source="work", key="E-2", kind="epic"))
    for _ in range(2):  # the second run still knows KR-1's 0.5 from the first
        summary = env.engine().run(apply=True)
        (o1,) = summary.objectives
        assert o1.progress == 0.375 and not o1.stale, o1
        assert next(r for r in summary.key_results if r.kr_id == "KR-1").skipped == (
            "the linked epics (E-2) have no child items yet: nothing computed"
        )
