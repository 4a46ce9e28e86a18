"""The connector contract: one test class every connector must pass.

A connector's test module subclasses :class:`ConnectorContract` and implements
the ``make_*`` hooks (returning None for a role the connector does not play;
those tests are then skipped). The hooks seed the connector's backing store
(memory, files, a sandbox) with the given data.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from okr_sync.interfaces import ItemSource, OkrSource, WriteSpec, WriteTarget
from okr_sync.models import (
    DEFAULT_STATUS_LABELS,
    ItemKind,
    ItemRef,
    KeyResult,
    KrResult,
    Link,
    LinkOrigin,
    Objective,
    ObjectiveResult,
    OkrTree,
    Outcome,
    PullRequest,
    QuerySelector,
    RecordRef,
    Status,
    StatusCategory,
    WorkItem,
)

TREE = OkrTree(
    objectives=(
        Objective(id="O-1", title="Company"),
        Objective(id="O-2", title="Team", parent_id="O-1"),
    ),
    key_results=(
        KeyResult(id="KR-1", title="Ship epics", objective_id="O-2", links=(ItemRef(key="E-1"),)),
        KeyResult(
            id="KR-2", title="Reduce bugs", objective_id="O-2", start=40, target=10, measure="count"
        ),
    ),
)


def items(source: str) -> list[WorkItem]:
    """A small work-item set: two epics with children, a sub-task, labelled items."""
    done, todo = StatusCategory.DONE, StatusCategory.TODO
    return [
        WorkItem(source=source, key="E-1", title="Epic one", kind=ItemKind.EPIC),
        WorkItem(
            source=source, key="E-2", title="Epic two", kind=ItemKind.EPIC, labels=("okr:KR-2",)
        ),
        WorkItem(
            source=source,
            key="I-1",
            title="One",
            parent_key="E-1",
            status_category=done,
            story_points=3,
        ),
        WorkItem(source=source, key="I-2", title="Two", parent_key="E-1", story_points=5),
        WorkItem(source=source, key="I-3", title="Three", parent_key="E-2", status_category=done),
        WorkItem(source=source, key="S-1", title="Sub-task", parent_key="I-1"),
        WorkItem(source=source, key="B-1", title="Bug", labels=("bug",), status_category=todo),
        WorkItem(source=source, key="B-2", title="Bug two", labels=("bug",), status_category=done),
    ]


def outcome(source: str = "mem", tree: OkrTree = TREE) -> Outcome:
    """An outcome with one writable KR, one stale KR and one objective; each KR has an epic."""
    return Outcome(
        tree=tree,
        key_results=(
            KrResult(kr_id="KR-1", title="Ship epics", measure="issues_done", current=50, progress=0.5,
                     status=Status.ON_TRACK),
            KrResult(kr_id="KR-2", title="Reduce bugs", measure="count", stale=True, error="source failed"),
        ),
        objectives=(ObjectiveResult(objective_id="O-2", title="Team", progress=0.5, status=Status.AT_RISK),),
        links=(
            Link(kr_id="KR-1", item_key="E-1", source=source, origin=LinkOrigin.RULE, kind=ItemKind.EPIC),
            Link(kr_id="KR-2", item_key="E-2", source=source, origin=LinkOrigin.RULE, kind=ItemKind.EPIC),
        ),
        status_labels=dict(DEFAULT_STATUS_LABELS),
        synced_on=dt.date(2026, 11, 23),
    )  # fmt: skip


class ConnectorContract:
    """Behaviour every connector owes the engine. Subclass and implement the hooks."""

    def make_okr_source(self, tree: OkrTree) -> OkrSource | None:
        return None

    def make_item_source(self, items: list[WorkItem]) -> ItemSource | None:
        return None

    def make_target(self, tree: OkrTree) -> WriteTarget | None:
        return None

    def query_for_label(self, label: str) -> str | dict[str, Any]:
        """A query in the connector's own language selecting items with this label."""
        raise NotImplementedError

    def sample_record(self) -> tuple[RecordRef, dict[str, Any], dict[str, Any], RecordRef]:
        """A record of the target, two writes (the second changes one field), an unknown record."""
        first = {"progress": 0.25, "status": "At risk"}
        return (
            RecordRef(kind="key_result", id="KR-1"),
            first,
            {"progress": 0.75},
            RecordRef(kind="key_result", id="KR-404"),
        )

    # --- helpers ---------------------------------------------------------------
    def _source(self) -> ItemSource:
        source = self.make_item_source(items("placeholder"))
        if source is None:
            pytest.skip("not an item source")
        return source

    def _target(self) -> WriteTarget:
        target = self.make_target(TREE)
        if target is None:
            pytest.skip("not a write target")
        return target

    # --- OKR source ------------------------------------------------------------
    def test_okr_source_yields_the_tree(self) -> None:
        source = self.make_okr_source(TREE)
        if source is None:
            pytest.skip("not an OKR source")
        tree = source.pull_okrs()
        assert {o.id for o in tree.objectives} == {"O-1", "O-2"}
        assert {kr.id for kr in tree.key_results} == {"KR-1", "KR-2"}
        kr2 = next(kr for kr in tree.key_results if kr.id == "KR-2")
        assert (kr2.start, kr2.target, kr2.objective_id) == (40, 10, "O-2")
        assert next(o for o in tree.objectives if o.id == "O-2").parent_id == "O-1"
        assert source.pull_okrs() == tree  # pulling twice gives the same tree

    # --- item source -------------------------------------------------------------
    def test_epic_keys_bring_the_epic_and_its_direct_children(self) -> None:
        source = self._source()
        result = source.pull_items(PullRequest(keys=frozenset({"E-1"})))
        keys = {i.key for i in result.items}
        assert {"E-1", "I-1", "I-2"} <= keys
        assert "B-1" not in keys and "I-3" not in keys
        assert all(i.source == source.name for i in result.items)
        by_key = {i.key: i for i in result.items}
        assert by_key["E-1"].kind is ItemKind.EPIC
        assert by_key["I-1"].status_category is StatusCategory.DONE
        assert by_key["I-1"].story_points == 3 and by_key["I-2"].parent_key == "E-1"

    def test_missing_keys_are_reported(self) -> None:
        result = self._source().pull_items(PullRequest(keys=frozenset({"E-1", "NOPE-9"})))
        assert result.missing_keys == frozenset({"NOPE-9"})

    def test_labels_and_kr_prefix_labels_select_items(self) -> None:
        source = self._source()
        by_label = source.pull_items(PullRequest(labels=frozenset({"bug"})))
        assert {i.key for i in by_label.items} == {"B-1", "B-2"}
        by_kr = source.pull_items(PullRequest(kr_ids=frozenset({"KR-2"}), label_prefix="okr:"))
        assert {"E-2", "I-3"} <= {i.key for i in by_kr.items}  # the epic and its child

    def test_query_matches_are_tagged_with_the_selector(self) -> None:
        source = self._source()
        request = PullRequest(
            queries=(QuerySelector(id="rule-1", query=self.query_for_label("bug")),)
        )
        result = source.pull_items(request)
        tagged = {i.key for i in result.items if "rule-1" in i.selectors}
        assert tagged == {"B-1", "B-2"}

    def test_an_empty_request_returns_nothing(self) -> None:
        assert self._source().pull_items(PullRequest()).items == ()

    # --- write target ----------------------------------------------------------------
    def test_unknown_records_read_as_empty(self) -> None:
        target = self._target()
        *_, unknown = self.sample_record()
        assert target.read_records([unknown]) == {unknown: {}}

    def test_write_then_read_back_and_rewrite_is_idempotent(self) -> None:
        target = self._target()
        ref, first, _, _ = self.sample_record()
        target.write_record(ref, first)
        target.write_record(ref, first)
        values = target.read_records([ref])[ref]
        assert {k: values[k] for k in first} == first

    def test_a_write_touches_only_the_fields_it_carries(self) -> None:
        target = self._target()
        ref, first, second, _ = self.sample_record()
        target.write_record(ref, first)
        target.write_record(ref, second)
        values = target.read_records([ref])[ref]
        assert {k: values[k] for k in first} == {**first, **second}

    def test_desired_records_skip_stale_krs_and_unconfigured_fields(self) -> None:
        target = self._target()
        spec = WriteSpec(
            key_results=("progress", "status"), objectives=("progress",), items=("property",)
        )
        records = target.desired_records(outcome(target.name), spec)
        assert records, "the writable KR (or its epic) must get a record"
        for record in records:
            assert "KR-2" not in record.owner.split(",")  # stale: never written
            assert set(record.fields) <= set(spec.for_kind(record.ref.kind))
