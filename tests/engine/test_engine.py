"""A whole run on the in-memory connector: what gets written, what is refused."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from connectors._select import select
from connectors.memory import MemoryConnector
from okr_sync.config.loading import load_config
from okr_sync.engine.engine import Engine
from okr_sync.errors import ConfigError
from okr_sync.models import (
    ItemKind,
    ItemRef,
    KeyResult,
    Objective,
    OkrTree,
    RecordRef,
    StatusCategory,
    WorkItem,
)
from okr_sync.state.store import StateStore

NOW = dt.datetime(2026, 11, 15, 12, tzinfo=dt.UTC)
DONE = StatusCategory.DONE
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
      label: bug
write:
  pages:
    key_results: [progress, current, status]
    objectives: [progress, status]
"""
TREE = OkrTree(
    objectives=(Objective(id="O-1", title="Ship"),),
    key_results=(
        KeyResult(
            id="KR-1",
            title="Epics done",
            objective_id="O-1",
            start=0,
            target=100,
            links=(ItemRef(key="E-1"),),
        ),
        KeyResult(
            id="KR-2",
            title="Bugs closed",
            objective_id="O-1",
            start=0,
            target=4,
            measure="count:done",
        ),
    ),
)


def work_items() -> list[WorkItem]:
    return [
        WorkItem(source="work", key="E-1", kind=ItemKind.EPIC),
        WorkItem(source="work", key="I-1", parent_key="E-1", status_category=DONE),
        WorkItem(source="work", key="I-2", parent_key="E-1"),
        WorkItem(source="work", key="B-1", labels=("bug",), status_category=DONE),
        WorkItem(source="work", key="B-2", labels=("bug",)),
    ]


class Setup:
    def __init__(self, tmp_path: Path, extra: str = "") -> None:
        path = tmp_path / "okr-sync.yaml"
        path.write_text(CONFIG + extra)
        self.loaded = load_config(path)
        self.okrs = MemoryConnector("okrs", tree=TREE)
        self.work = MemoryConnector("work", items=work_items())
        self.pages = MemoryConnector("pages")
        self.state = StateStore.open(tmp_path / "state.db")

    def engine(self, **kw: object) -> Engine:
        conns = {"okrs": self.okrs, "work": self.work, "pages": self.pages}
        return Engine(self.loaded, conns, self.state, now=lambda: NOW, **kw)  # type: ignore[arg-type]

    def page(self, ident: str, kind: str = "key_result") -> dict[str, object]:
        return self.pages.records.get(RecordRef(kind=kind, id=ident), {})  # type: ignore[arg-type]


@pytest.fixture
def env(tmp_path: Path) -> Setup:
    return Setup(tmp_path)


def test_sync_writes_computed_values_once_then_nothing(env: Setup) -> None:
    first = env.engine().run(apply=True)
    assert first.writes == 3 and not first.failed
    assert env.page("KR-1") == {"progress": 0.5, "current": 50.0, "status": "On track"}
    assert env.page("KR-2") == {"progress": 0.25, "current": 1.0, "status": "At risk"}
    assert env.page("O-1", "objective")["progress"] == pytest.approx(0.375)
    second = env.engine().run(apply=True)
    assert second.writes == 0 and second.plan.changes == ()
    assert len(env.pages.writes) == 3


def test_one_write_per_record_with_only_the_changed_fields(env: Setup) -> None:
    env.engine().run(apply=True)
    env.work.put(WorkItem(source="work", key="I-2", parent_key="E-1", status_category=DONE))
    summary = env.engine().run(apply=True)
    kr1_writes = [values for ref, values in env.pages.writes if ref.id == "KR-1"]
    assert kr1_writes[-1] == {"progress": 1.0, "current": 100.0, "status": "Achieved"}
    assert summary.writes == 2  # KR-1 and O-1; KR-2 unchanged


def test_plan_writes_nothing(env: Setup) -> None:
    summary = env.engine().run(apply=False)
    assert summary.dry_run and len(summary.plan.writes()) == 3
    assert env.pages.writes == [] and env.state.runs() == []


def test_a_failed_source_marks_krs_stale_and_writes_none_of_them(env: Setup) -> None:
    env.engine().run(apply=True)
    env.work.put(WorkItem(source="work", key="I-2", parent_key="E-1", status_category=DONE))
    env.work.fail_pulls = "HTTP 503 from the server"
    summary = env.engine().run(apply=True)
    assert summary.writes == 0 and summary.source_errors == {
        "work": "work: HTTP 503 from the server"
    }
    assert set(summary.failed) >= {"KR-1", "KR-2"}
    assert env.page("KR-1")["progress"] == 0.5  # never overwritten with partial data
    env.work.fail_pulls = None
    env.engine().run(apply=True)
    assert env.page("KR-1")["progress"] == 1.0


def test_items_that_vanish_are_stale_not_zero(env: Setup) -> None:
    env.engine().run(apply=True)
    for key in ("E-1", "I-1", "I-2"):
        env.work.remove(key)
    summary = env.engine().run(apply=True)
    kr1 = next(r for r in summary.key_results if r.kr_id == "KR-1")
    assert kr1.stale and "dropped from 2 to 0" in (kr1.error or "")
    assert env.page("KR-1")["progress"] == 0.5
    # the epic missing is also reported as a missing linked item on the next run
    accepted = env.engine(accept_empty=frozenset({"KR-1"})).run(apply=True)
    kr1 = next(r for r in accepted.key_results if r.kr_id == "KR-1")
    assert not kr1.stale and "E-1" in (kr1.error or "")  # the listed epic is gone: reported


def test_a_failing_write_does_not_stop_the_others(env: Setup) -> None:
    env.pages.fail_writes = {"KR-1"}
    summary = env.engine().run(apply=True)
    assert [f.owner for f in summary.failures] == ["KR-1"]
    assert summary.writes == 2 and env.page("KR-2")["status"] == "At risk"
    env.pages.fail_writes = set()
    retry = env.engine().run(apply=True)
    assert retry.writes == 1 and env.page("KR-1")["progress"] == 0.5


def test_a_first_write_that_failed_is_no_human_edit_at_the_next_run(tmp_path: Path) -> None:
    # The page still holds what it held before okr-sync's failed write: nobody edited it,
    # so the next run writes it as usual (with `skip`, a false conflict would never write).
    env = Setup(tmp_path, "conflicts: skip\n")
    env.pages.fail_writes = {"KR-1"}
    first = env.engine().run(apply=True)
    assert [f.owner for f in first.failures] == ["KR-1"]
    env.pages.fail_writes = set()
    retry = env.engine().run(apply=True)
    assert retry.plan.conflicts == () and retry.writes == 1
    assert env.page("KR-1")["progress"] == 0.5
    # a human edit after that is still caught
    env.pages.records[RecordRef(kind="key_result", id="KR-1")]["status"] = "Achieved!"
    (conflict,) = env.engine().run(apply=True).plan.conflicts
    assert (conflict.ref.id, conflict.before) == ("KR-1", "Achieved!")


@pytest.mark.parametrize(("policy", "expected"), [("overwrite", "On track"), ("skip", "Achieved!")])
def test_human_edit_is_a_conflict_decided_by_policy(
    tmp_path: Path, policy: str, expected: str
) -> None:
    env = Setup(tmp_path, f"conflicts: {policy}\n")
    env.engine().run(apply=True)
    env.pages.records[RecordRef(kind="key_result", id="KR-1")]["status"] = "Achieved!"
    summary = env.engine().run(apply=True)
    (conflict,) = summary.plan.conflicts
    assert (conflict.ref.id, conflict.field, conflict.before) == ("KR-1", "status", "Achieved!")
    assert env.page("KR-1")["status"] == expected
    history = env.state.changes_for("KR-1")
    assert any(c["conflict"] and c["before"] == "Achieved!" for c in history)  # human value kept


def test_rule_naming_unknown_kr_is_a_config_error_with_line(tmp_path: Path) -> None:
    env = Setup(tmp_path)
    env.okrs.tree = OkrTree(objectives=TREE.objectives, key_results=TREE.key_results[:1])
    with pytest.raises(ConfigError) as err:
        env.engine().run(apply=True)
    (problem,) = err.value.problems
    assert problem.line == 11 and "KR-2" in problem.message
    assert env.pages.writes == []


def test_incremental_pulls_use_the_committed_cursor_and_merge_the_cache(env: Setup) -> None:
    env.engine().run(apply=True)
    assert env.work.pulls[0].cursor is None
    later = dt.datetime(2026, 11, 16, tzinfo=dt.UTC)
    stamp = {"updated": later}
    for item in work_items():
        env.work.put(item.replace(**stamp))
    env.work.put(
        WorkItem(source="work", key="I-2", parent_key="E-1", status_category=DONE, updated=later)
    )
    env.engine().run(apply=True)
    env.work.put(
        WorkItem(source="work", key="I-3", parent_key="E-1", updated=later + dt.timedelta(days=1))
    )
    env.engine().run(apply=True)
    assert env.page("KR-1")["progress"] == pytest.approx(2 / 3, abs=1e-4)
    env.work.put(
        WorkItem(
            source="work",
            key="I-3",
            parent_key="E-1",
            status_category=DONE,
            updated=later + dt.timedelta(days=2),
        )
    )
    env.engine().run(apply=True)
    last = env.work.pulls[-1]
    assert last.cursor == (later + dt.timedelta(days=1)).isoformat()
    pulled = select("work", list(env.work.items.values()), last, incremental=True)
    assert pulled.incremental and [i.key for i in pulled.items] == ["I-3"]  # only what changed
    assert env.page("KR-1")["progress"] == 1.0  # I-1 and I-2 came from the item cache


def test_cursor_and_cache_move_only_when_the_run_commits(
    env: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    later = dt.datetime(2026, 11, 16, tzinfo=dt.UTC)
    for item in work_items():
        env.work.put(item.replace(updated=later))

    def crash(*args: object, **kw: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(env.state, "finish_run", crash)
    with pytest.raises(KeyboardInterrupt):
        env.engine().run(apply=True)
    assert env.state.cursor("work") is None and env.state.cached_items("work") == []
    assert env.page("KR-1")["progress"] == 0.5  # the writes themselves were recorded
    assert env.state.last_written("pages")[
        (RecordRef(kind="key_result", id="KR-1"), "progress")
    ] == (0.5,)


def test_a_connector_bug_is_contained_and_named(env: Setup) -> None:
    def broken(request: object) -> None:
        raise ZeroDivisionError("division by zero")

    env.work.pull_items = broken  # type: ignore[method-assign,assignment]
    summary = env.engine().run(apply=True)
    assert summary.source_errors == {"work": "unexpected ZeroDivisionError: division by zero"}
    assert summary.writes == 0 and {"KR-1", "KR-2"} <= set(summary.failed)


def test_an_unreadable_target_is_reported_and_nothing_is_written_to_it(env: Setup) -> None:
    from okr_sync.errors import SourceError

    def unreadable(refs: object) -> None:
        raise SourceError("pages", "403 Forbidden")

    env.pages.read_records = unreadable  # type: ignore[method-assign,assignment]
    summary = env.engine().run(apply=True)
    assert summary.writes == 0 and env.pages.writes == []
    assert [(f.target, f.error) for f in summary.failures] == [("pages", "pages: 403 Forbidden")]


def test_a_failing_query_names_its_rule_and_config_line(env: Setup) -> None:
    from okr_sync.errors import SourceError

    def bad_query(request: object) -> None:
        raise SourceError("work", "Error in the JQL Query: expecting ')'", selector="rule-1")

    env.work.pull_items = bad_query  # type: ignore[method-assign,assignment]
    summary = env.engine().run(apply=False)
    assert summary.source_errors["work"] == (
        "work: Error in the JQL Query: expecting ')' (in rule 1 (okr-sync.yaml:11): label bug)"
    )


def test_a_missing_epic_is_reported_when_only_its_source_was_asked(tmp_path: Path) -> None:
    env = Setup(tmp_path)
    text = CONFIG.replace(
        "  pages: {type: memory}\n", "  pages: {type: memory}\n  other: {type: memory}\n"
    )
    text = text.replace("items: [work]", "items: [work, other]")
    text = text.replace(
        "    - kr: KR-2\n      label: bug\n",
        "    - kr: KR-2\n      label: bug\n    - kr: KR-1\n      source: work\n      epics: [E-9]\n",
    )
    path = tmp_path / "okr-sync.yaml"
    path.write_text(text)
    env.loaded = load_config(path)
    conns = {
        "okrs": env.okrs,
        "work": env.work,
        "pages": env.pages,
        "other": MemoryConnector("other"),
    }
    summary = Engine(env.loaded, conns, env.state, now=lambda: NOW).run(apply=True)
    kr1 = next(r for r in summary.key_results if r.kr_id == "KR-1")
    assert "linked items not found: E-9" in (kr1.error or "") and not kr1.writable


def test_a_count_kr_linked_by_one_query_asks_the_source_for_a_count(tmp_path: Path) -> None:
    env = Setup(tmp_path)
    text = CONFIG.replace(
        "    - kr: KR-2\n      label: bug\n",
        "    - kr: KR-2\n      source: work\n      query: {label: bug}\n",
    )
    (tmp_path / "okr-sync.yaml").write_text(text + "measures: {KR-2: count}\n")
    env.loaded = load_config(tmp_path / "okr-sync.yaml")
    summary = env.engine().run(apply=False)
    (selector,) = env.work.pulls[-1].queries
    assert selector.count_only
    kr2 = next(r for r in summary.key_results if r.kr_id == "KR-2")
    assert kr2.current == 2 and kr2.provenance.counted == ()
    assert "counted by the source: 2 matching items" in kr2.provenance.notes[0]
