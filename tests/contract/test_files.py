"""The local file connectors pass the same contract as every other connector."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from connectors.files import (
    JsonItemsConfig,
    JsonItemSource,
    JsonReportConfig,
    JsonReportTarget,
    YamlOkrConfig,
    YamlOkrSource,
)
from okr_sync.models import WORK_ITEM, OkrTree, WorkItem
from tests.contract.base import ConnectorContract


class TestFileConnectors(ConnectorContract):
    @pytest.fixture(autouse=True)
    def _tmp(self, tmp_path: Path) -> None:
        self.dir = tmp_path

    def make_okr_source(self, tree: OkrTree) -> YamlOkrSource:
        data = {
            "objectives": [o.model_dump(mode="json", exclude_defaults=True) for o in tree.objectives],
            "key_results": [
                {**kr.model_dump(mode="json", exclude_defaults=True, exclude={"links"}),
                 "epics": [ref.key for ref in kr.links]}
                for kr in tree.key_results
            ],
        }  # fmt: skip
        (self.dir / "okrs.yaml").write_text(yaml.safe_dump(data))
        return YamlOkrSource("okrs", YamlOkrConfig(type="yaml_okrs", path="okrs.yaml"), self.dir)

    def make_item_source(self, items: list[WorkItem]) -> JsonItemSource:
        rows = [
            {k: v for k, v in WORK_ITEM.dump_python(i, mode="json").items() if k != "source"}
            for i in items
        ]
        (self.dir / "items.json").write_text(json.dumps({"items": rows}))
        return JsonItemSource(
            "work", JsonItemsConfig(type="json_items", path="items.json"), self.dir
        )

    def make_target(self, tree: OkrTree) -> JsonReportTarget:
        return JsonReportTarget(
            "report", JsonReportConfig(type="json_report", path="out.json"), self.dir
        )

    def query_for_label(self, label: str) -> dict[str, Any]:
        return {"label": label}
