from __future__ import annotations

from typing import Any

from connectors.memory import MemoryConnector
from okr_sync.models import OkrTree, WorkItem
from tests.contract.base import ConnectorContract


class TestMemoryConnector(ConnectorContract):
    def make_okr_source(self, tree: OkrTree) -> MemoryConnector:
        return MemoryConnector("mem", tree=tree)

    def make_item_source(self, items: list[WorkItem]) -> MemoryConnector:
        return MemoryConnector("mem", items=items)

    def make_target(self, tree: OkrTree) -> MemoryConnector:
        return MemoryConnector("mem", tree=tree)

    def query_for_label(self, label: str) -> dict[str, Any]:
        return {"label": label}
