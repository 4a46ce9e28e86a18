from __future__ import annotations

import datetime as dt
import subprocess
import sys

from mappings import link
from mappings.rules import Rule
from okr_sync.core.evaluate import Settings, evaluate, fingerprint
from okr_sync.core.progress import Previous, Thresholds
from okr_sync.models import ItemKind, KeyResult, OkrTree, PullRequest, WorkItem

NOW = dt.datetime(2026, 11, 15, tzinfo=dt.UTC)


def test_link_fingerprint_ignores_where_the_rule_sits_in_the_file() -> None:
    tree = OkrTree(key_results=(KeyResult(id="KR-1", title="a"),))
    fps = []
    for line in (10, 42):
        rules = (Rule(kr="KR-1", epics=("E-1",), line=line, index=line),)
        settings = Settings(rules=rules, item_sources=["jira"], measure_for=lambda k, m: "issues_done",
                            thresholds=Thresholds())  # fmt: skip
        out = evaluate(tree, [], link(tree.key_results, [], rules), settings, NOW)
        fps.append(out.snapshots[0].fingerprint)
    assert fps[0] == fps[1]


def test_drop_guard_survives_a_config_edit_that_moves_lines() -> None:
    tree = OkrTree(key_results=(KeyResult(id="KR-1", title="a"),))
    items = [
        WorkItem(source="jira", key="E-1", kind=ItemKind.EPIC),
        WorkItem(source="jira", key="I-1", parent_key="E-1"),
    ]
    rules = (Rule(kr="KR-1", epics=("E-1",), line=10),)
    settings = Settings(rules=rules, item_sources=["jira"], measure_for=lambda k, m: "issues_done",
                        thresholds=Thresholds())  # fmt: skip
    first = evaluate(tree, items, link(tree.key_results, items, rules), settings, NOW).snapshots[0]
    moved = (Rule(kr="KR-1", epics=("E-1",), line=12),)
    settings2 = Settings(rules=moved, item_sources=["jira"], measure_for=lambda k, m: "issues_done",
                         thresholds=Thresholds())  # fmt: skip
    prev = {"KR-1": Previous(item_count=first.item_count, fingerprint=first.fingerprint)}
    again = evaluate(tree, [], link(tree.key_results, [], moved), settings2, NOW, previous=prev)
    assert again.key_results["KR-1"].stale


def test_fingerprints_of_sets_are_the_same_in_every_process() -> None:
    code = (
        "from okr_sync.core.evaluate import fingerprint; from okr_sync.models import PullRequest;"
        "print(fingerprint(PullRequest(keys=frozenset({'A-1','B-2','C-3','D-4'}),"
        " labels=frozenset({'x','y','z'})).model_dump()))"
    )
    seen = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": str(seed)},
        ).stdout
        for seed in (1, 2, 3)
    }
    assert len(seen) == 1
    request = PullRequest(
        keys=frozenset({"A-1", "B-2", "C-3", "D-4"}), labels=frozenset({"x", "y", "z"})
    )
    assert seen == {fingerprint(request.model_dump()) + "\n"}
