"""The indexes a run builds once give every KR what per-KR lookups would give.

``evaluate`` indexes the pulled items in one pass (by key and by parent) and
shares the result with every KR, and counts the largest measures with the
bookkeeping written out; the plain path below builds the indexes the obvious way.
Both must give the same results, snapshots and roll-up on a generated data set
with every measure and link mechanism, duplicates and sub-tasks included.
"""

from __future__ import annotations

import dataclasses
import functools
import gc
import runpy
from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter

import mappings
from okr_sync.core import evaluate as evaluate_module
from okr_sync.core.counting import children_index, item_indexes
from okr_sync.core.evaluate import Evaluation
from okr_sync.engine.collector import collector_paused
from okr_sync.models import ItemKind, Link, LinkOrigin, StatusCategory, WorkItem

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_link_compute.py"


def plain_indexes(
    items: list[WorkItem], keys: object = None
) -> tuple[dict[tuple[str, str], WorkItem], dict[tuple[str, str], list[WorkItem]]]:
    """Every item by key (``keys`` ignored) and the children, each the obvious way."""
    return {(i.source, i.key): i for i in items}, children_index(items)


@pytest.fixture
def bench() -> dict[str, Any]:
    return _bench_module()


@functools.cache
def _bench_module() -> dict[str, Any]:
    """The benchmark script's functions (its data generator), loaded once per process."""
    return runpy.run_path(str(BENCH))


def run(bench: dict[str, Any], data: Any) -> Evaluation:
    linked = bench["run_link"](data)
    result: Evaluation = bench["run_evaluate"](data, linked)
    return result


@pytest.mark.parametrize("seed", [1, 7])
def test_shared_indexes_give_the_values_of_the_plain_path(
    bench: dict[str, Any], seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = bench["generate"](150, 6000, seed)
    # A source that sent an item twice (a page boundary moved): the later copy, done, wins.
    twice = next(i for i in data.items if i.parent_key and i.status_category != "done")
    data.items.append(dataclasses.replace(twice, status_category=StatusCategory.DONE))
    with collector_paused():
        fast = run(bench, data)
    monkeypatch.setattr(evaluate_module, "item_indexes", plain_indexes)
    plain = run(bench, data)
    assert fast.key_results == plain.key_results
    assert fast.objectives == plain.objectives
    assert fast.snapshots == plain.snapshots
    counted = sum(len(r.provenance.counted) for r in fast.key_results.values())
    assert counted > 1000  # the data set exercised the counting, not just empty KRs
    measures = {r.measure for r in fast.key_results.values() if r.progress is not None}
    assert {"issues_done", "points_done", "initiatives_done"} <= measures


def test_one_pass_builds_both_indexes_as_the_plain_way(bench: dict[str, Any]) -> None:
    items = bench["generate"](20, 800, 3).items
    items.append(dataclasses.replace(items[5], title="the later copy"))
    by_key, children = plain_indexes(items)
    assert item_indexes(items) == (by_key, children)
    assert by_key[(items[5].source, items[5].key)].title == "the later copy"
    some = [(i.source, i.key) for i in items[::7]] + [("jira", "NOPE-1"), ("elsewhere", "X-1")]
    assert item_indexes(items, some) == ({k: by_key[k] for k in some if k in by_key}, children)


def test_linking_is_unchanged_by_the_paused_collector(bench: dict[str, Any]) -> None:
    data = bench["generate"](40, 2000, 5)
    args = (data.tree.key_results, data.items, data.rules)
    with collector_paused():
        paused = mappings.link(*args, label_prefix="okr:")
    assert paused == mappings.link(*args, label_prefix="okr:")
    # links are built without validation: each holds what validating its values gives
    assert len(paused.links) > 100
    adapter = TypeAdapter(Link)
    for lk in paused.links:
        valid = adapter.validate_python(dataclasses.asdict(lk))
        assert valid == lk and adapter.dump_json(valid) == adapter.dump_json(lk)
        assert type(lk.origin) is LinkOrigin and type(lk.kind) is ItemKind


def test_the_collector_is_back_on_however_the_block_ends() -> None:
    assert gc.isenabled()
    with pytest.raises(RuntimeError), collector_paused():
        assert not gc.isenabled()
        raise RuntimeError("a source failed mid-run")
    assert gc.isenabled()


def test_a_collector_switched_off_by_the_application_stays_off() -> None:
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_objects_an_application_froze_stay_frozen() -> None:
    # Checked by identity, not by gc.get_freeze_count(): other threads of the test process
    # may free frozen objects meanwhile, and the count then drops with nothing thawed.
    kept = [[] for _ in range(10)]  # tracked by the collector, alive while frozen
    gc.freeze()
    try:
        assert not {id(o) for o in kept} & {id(o) for o in gc.get_objects()}
        with collector_paused():
            made = [[] for _ in range(10)]  # noqa: F841 - made during the pause
        assert gc.isenabled()
        # still in the permanent generation: no generation the collector walks holds them
        assert not {id(o) for o in kept} & {id(o) for o in gc.get_objects()}
    finally:
        gc.unfreeze()


def test_what_the_pause_made_is_not_left_frozen() -> None:
    assert gc.get_freeze_count() == 0
    with collector_paused():
        made = [[] for _ in range(10)]
    assert gc.get_freeze_count() == 0 and gc.is_tracked(made)
