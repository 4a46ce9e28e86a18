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
from okr_sync.errors import ConfigError
from okr_sync.models import WORK_ITEM, Direction, OkrTree, WorkItem
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


OKRS = """\
key_results:
  - id: KR-1
    title: Grow ARR to 50k
    measure: manual
    current: 45000
  - id: KR-2
    title: Keep P1 incidents at 0
    start: 0
    target: 0
    direction: decrease
  - id: KR-3
    title: Typo
    measure: manaul
"""


def yaml_source(tmp_path: Path, text: str) -> YamlOkrSource:
    (tmp_path / "okrs.yaml").write_text(text)
    return YamlOkrSource("okrs", YamlOkrConfig(type="yaml_okrs", path="okrs.yaml"), tmp_path)


def test_an_unknown_measure_in_the_okr_file_is_an_error_at_its_line(tmp_path: Path) -> None:
    # `measure: manaul` used to compute KR-3 as `count`.
    with pytest.raises(ConfigError) as err:
        yaml_source(tmp_path, OKRS).pull_okrs()
    (problem,) = err.value.problems
    assert (problem.line, problem.field) == (13, "key_results[2].measure")
    assert problem.message.startswith("unknown measure 'manaul'; use one of count, count:done")


def test_an_omitted_start_or_target_stays_unset_and_direction_is_read(tmp_path: Path) -> None:
    tree = yaml_source(tmp_path, OKRS.replace("manaul", "count")).pull_okrs()
    arr, keep, _ = tree.key_results
    assert (arr.start, arr.target) == (None, None)  # were 0 and 100: 45,000 read as Achieved
    assert (keep.start, keep.target, keep.direction) == (0, 0, Direction.DECREASE)
