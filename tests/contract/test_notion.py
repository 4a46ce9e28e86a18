"""The Notion connector passes the connector contract (OKR source and write target)
against the Notion sandbox, through the real notion-client.

Its item side answers a request with every row of its configured databases
(Notion rows have no epic/child hierarchy), so the contract's item tests,
written for sources that select by key and expand epics, do not apply; the
end-to-end tests in tests/e2e/test_notion_sync.py cover it instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from connectors.notion.connector import NotionConfig, NotionConnector
from okr_sync.models import OkrTree, RecordRef
from sandboxes import NotionSandbox
from tests.contract.base import ConnectorContract

STATUSES = [{"name": n} for n in ("Not started", "On track", "At risk", "Off track", "Achieved")]


class TestNotionContract(ConnectorContract):
    @pytest.fixture(autouse=True)
    def _sandbox(self, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
        self.sandbox = NotionSandbox(rate_limit=None)
        self.sandbox.start()
        monkeypatch.setenv("CONTRACT_NOTION_TOKEN", self.sandbox.token)
        yield
        self.sandbox.stop()

    def _seed(self, tree: OkrTree) -> NotionConnector:
        sb = self.sandbox
        obj_db, obj_ds = sb.add_database("Objectives", {
            "Name": {"title": {}}, "ID": {"unique_id": {"prefix": "O"}},
            "Progress": {"number": {"format": "percent"}}, "Status": {"status": {"options": STATUSES}},
        })  # fmt: skip
        sb.add_property(obj_ds, "Parent objective", {"relation": {"data_source_id": obj_ds, "type": "single_property", "single_property": {}}})  # fmt: skip
        kr_db, kr_ds = sb.add_database("Key Results", {
            "Name": {"title": {}}, "ID": {"unique_id": {"prefix": "KR"}},
            "Objective": {"relation": {"data_source_id": obj_ds, "type": "single_property", "single_property": {}}},
            "Start": {"number": {}}, "Target": {"number": {}}, "Current": {"number": {}},
            "Progress": {"number": {"format": "percent"}}, "Status": {"status": {"options": STATUSES}},
            "Measure": {"select": {"options": [{"name": "count"}]}}, "Jira epics": {"rich_text": {}},
        })  # fmt: skip
        pages: dict[str, str] = {}
        for obj in tree.objectives:
            values: dict[str, Any] = {"Name": obj.title}
            if obj.parent_id:
                values["Parent objective"] = [pages[obj.parent_id]]
            pages[obj.id] = sb.add_page(obj_ds, values)
        for kr in tree.key_results:
            values = {"Name": kr.title, "Start": kr.start, "Target": kr.target,
                      "Jira epics": ", ".join(ref.key for ref in kr.links)}  # fmt: skip
            if kr.objective_id:
                values["Objective"] = [pages[kr.objective_id]]
            if kr.measure:
                values["Measure"] = kr.measure
            sb.add_page(kr_ds, values)
        config = NotionConfig.model_validate({
            "type": "notion", "token": "${CONTRACT_NOTION_TOKEN}", "base_url": sb.url,
            "objectives": obj_db, "key_results": kr_db,
            "key_result_properties": {"measure": "Measure"},
        })  # fmt: skip
        return NotionConnector("notion", config, sleep=lambda _s: None)

    def make_okr_source(self, tree: OkrTree) -> NotionConnector:
        return self._seed(tree)

    def make_target(self, tree: OkrTree) -> NotionConnector:
        connector = self._seed(tree)
        connector.pull_okrs()  # the target writes to the pages this run read
        return connector

    def sample_record(self) -> tuple[RecordRef, dict[str, Any], dict[str, Any], RecordRef]:
        ref = RecordRef(kind="key_result", id="KR-1")
        return (
            ref,
            {"progress": 0.25, "status": "At risk"},
            {"progress": 0.75},
            RecordRef(kind="key_result", id="KR-404"),
        )
