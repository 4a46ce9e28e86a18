"""The Jira epic property when a KR it serves is closed (its period ended)."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from typing import Any

from connectors.jira.write import EpicWriter
from okr_sync.interfaces import WriteSpec
from okr_sync.models import (
    DEFAULT_STATUS_LABELS,
    ItemKind,
    KrResult,
    Link,
    LinkOrigin,
    OkrTree,
    Outcome,
    Status,
)

OPEN = KrResult(kr_id="KR-1", title="a", measure="issues_done", progress=0.4,
                status=Status.ON_TRACK)  # fmt: skip
CLOSED = KrResult(kr_id="KR-2", title="b", measure="issues_done", progress=0.7,
                  status=Status.AT_RISK, closed="period ended 2026-09-30: final value 70 %")  # fmt: skip


def desired(*krs: KrResult) -> list[Any]:
    connector: Any = SimpleNamespace(name="jira", config=SimpleNamespace(label_prefix="okr:"))
    links = tuple(
        Link(kr_id=k.kr_id, item_key="PAY-1", source="jira", origin=LinkOrigin.RULE,
             kind=ItemKind.EPIC)
        for k in krs
    )  # fmt: skip
    outcome = Outcome(tree=OkrTree(), key_results=krs, objectives=(), links=links,
                      status_labels=DEFAULT_STATUS_LABELS, synced_on=dt.date(2026, 10, 5))  # fmt: skip
    return EpicWriter(connector).desired(outcome, WriteSpec(items=("property",)))


def test_an_epic_shared_with_a_closed_kr_keeps_its_final_values() -> None:
    (record,) = desired(OPEN, CLOSED)
    entries = {e["id"]: e for e in record.fields["property"]["key_results"]}
    assert entries["KR-1"]["progress"] == 0.4
    assert (entries["KR-2"]["progress"], entries["KR-2"]["status"]) == (0.7, "At risk")


def test_an_epic_whose_krs_are_all_closed_gets_no_write() -> None:
    assert desired(CLOSED) == []
