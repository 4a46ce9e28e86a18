"""The pure replay: items as they were at a moment; what cannot be replayed, per KR."""

from __future__ import annotations

import datetime as dt

from mappings.rules import Rule
from okr_sync.core.evaluate import Settings
from okr_sync.core.progress import Thresholds
from okr_sync.core.replay import item_at, replay_problems
from okr_sync.models import ItemChange, ItemHistory, KeyResult, OkrTree, StatusCategory, WorkItem

T0 = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)


def h(days: float) -> dt.datetime:
    return T0 + dt.timedelta(days=days)


ITEM = WorkItem(source="jira", key="PAY-3", parent_key="PAY-9", story_points=8,
                status_category=StatusCategory.DONE, labels=("b",))  # fmt: skip
HISTORY = ItemHistory(
    source="jira", key="PAY-3", created=h(1),
    changes=(
        ItemChange(at=h(2), field="parent_key", before="PAY-1", after="PAY-9"),
        ItemChange(at=h(3), field="status_category", before="todo", after="in_progress"),
        ItemChange(at=h(4), field="status_category", before="in_progress", after="done"),
        ItemChange(at=h(4), field="story_points", before=None, after=8),
        ItemChange(at=h(5), field="labels", before=("a",), after=("b",)),
    ),
)  # fmt: skip


def test_an_item_is_rewound_change_by_change() -> None:
    assert item_at(ITEM, HISTORY, h(0.5)) is None  # not created yet
    first = item_at(ITEM, HISTORY, h(1.5))
    assert first is not None
    assert (first.parent_key, first.status_category, first.story_points, first.labels) == (
        "PAY-1", StatusCategory.TODO, None, ("a",),
    )  # fmt: skip
    mid = item_at(ITEM, HISTORY, h(3.5))
    assert mid is not None and (mid.parent_key, mid.status_category) == ("PAY-9", "in_progress")
    assert item_at(ITEM, HISTORY, h(4)) == ITEM.replace(
        labels=("a",)
    )  # a change at the moment counts
    assert item_at(ITEM, HISTORY, h(6)) is ITEM


def test_what_cannot_be_replayed_is_said_per_kr() -> None:
    krs = [
        KeyResult(id="KR-1", title="epics"),
        KeyResult(id="KR-2", title="manual", measure="manual", start=0, target=1),
        KeyResult(id="KR-3", title="query"),
        KeyResult(id="KR-4", title="notion rows"),
        KeyResult(id="KR-5", title="sum", measure="sum:ARR"),
    ]
    rules = [
        Rule(kr="KR-1", epics=("PAY-1",), source="jira"),
        Rule(kr="KR-3", source="jira", query="project = PAY", line=12, index=1),
        Rule(kr="KR-4", source="notion", label="x"),
        Rule(kr="KR-5", source="jira", epics=("PAY-2",)),
    ]
    settings = Settings(rules=rules, item_sources=["jira", "notion"],
                        measure_for=lambda _k, m: m or "issues_done", thresholds=Thresholds())  # fmt: skip
    problems = replay_problems(OkrTree(key_results=tuple(krs)), settings, {"jira"},
                               {"notion": "a Notion database keeps no property history"})  # fmt: skip
    assert "KR-1" not in problems
    assert "manual" in problems["KR-2"]
    assert problems["KR-3"].startswith("rule 2 (line 12)'s query")
    assert "notion: a Notion database keeps no property history" in problems["KR-4"]
    assert "sum:ARR" in problems["KR-5"]
