"""One rule whose query cannot run fails only its own KRs (``PullResult.failed_selectors``)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from connectors.memory import MemoryConnector
from okr_sync.config.loading import load_config
from okr_sync.engine.engine import Engine
from okr_sync.models import (
    ItemKind,
    ItemRef,
    KeyResult,
    Objective,
    OkrTree,
    PullRequest,
    PullResult,
    RecordRef,
    StatusCategory,
    WorkItem,
)
from okr_sync.state.store import StateStore

NOW = dt.datetime(2026, 11, 15, 12, tzinfo=dt.UTC)
CONFIG = """
connections:
  okrs: {type: memory}
  work: {type: memory}
  pages: {type: memory}
okrs: okrs
items: [work]
cycle: {start: 2026-10-01, end: 2026-12-31}
mapping:
  rules:
    - kr: KR-2
      source: work
      query: {label: bug}
    - kr: KR-3
      source: work
      query: {label: ops}
write:
  pages:
    key_results: [progress, current, status]
"""
TREE = OkrTree(
    objectives=(Objective(id="O-1", title="Ship"),),
    key_results=(
        KeyResult(id="KR-1", title="Epic", objective_id="O-1", links=(ItemRef(key="E-1"),)),
        KeyResult(
            id="KR-2", title="Bugs", objective_id="O-1", start=0, target=4, measure="count:done"
        ),
        KeyResult(
            id="KR-3", title="Ops", objective_id="O-1", start=0, target=4, measure="count:done"
        ),
    ),
)
DONE = StatusCategory.DONE


class OneRuleFails(MemoryConnector):
    """A memory source whose query for KR-2 cannot run (as a JQL typo in Jira)."""

    def pull_items(self, request: PullRequest) -> PullResult:
        result = super().pull_items(request)
        items = tuple(i for i in result.items if "rule-1" not in i.selectors)
        return result.model_copy(
            update={"items": items, "failed_selectors": {"rule-1": "the query could not run"}}
        )


def test_a_failed_selector_fails_its_kr_alone_naming_the_rule(tmp_path: Path) -> None:
    path = tmp_path / "okr-sync.yaml"
    path.write_text(CONFIG)
    work = OneRuleFails(
        "work",
        items=[
            WorkItem(source="work", key="E-1", kind=ItemKind.EPIC),
            WorkItem(source="work", key="I-1", parent_key="E-1", status_category=DONE),
            WorkItem(source="work", key="B-1", labels=("bug",), status_category=DONE),
            WorkItem(source="work", key="O-1", labels=("ops",), status_category=DONE),
        ],
    )
    pages = MemoryConnector("pages")
    engine = Engine(
        load_config(path),
        {"okrs": MemoryConnector("okrs", tree=TREE), "work": work, "pages": pages},
        StateStore.open(tmp_path / "state.db"),
        now=lambda: NOW,
    )

    summary = engine.run(apply=True)

    results = {r.kr_id: r for r in summary.key_results}
    assert summary.source_errors == {}
    two = results["KR-2"]
    assert two.error is not None and not two.stale and two.progress is None
    assert "the query could not run" in two.error
    assert "(in rule 1 (okr-sync.yaml:11)" in two.error
    assert results["KR-1"].progress == 1.0 and results["KR-3"].current == 1.0
    written = {ref.id for ref, _ in pages.writes}
    assert "KR-2" not in written and {"KR-1", "KR-3"} <= written
    assert [k for k in summary.failed if k.startswith("KR-")] == ["KR-2"]
    assert pages.records.get(RecordRef(kind="key_result", id="KR-2")) is None
