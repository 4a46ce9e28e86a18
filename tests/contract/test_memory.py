from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from connectors.memory import MemoryConnector
from okr_sync.config.loading import load_config
from okr_sync.errors import ConfigError
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


CONFIG = """\
connections:
  okrs:
    type: memory
    key_results:
      - {id: KR-1, title: Grow ARR, measure: manual, current: 45000}
      - {id: KR-2, title: Typo, measure: manaul}
okrs: okrs
"""


def test_an_unknown_measure_in_inline_key_results_is_a_config_error_at_its_line(
    tmp_path: Path,
) -> None:
    (tmp_path / "okr-sync.yaml").write_text(CONFIG)
    with pytest.raises(ConfigError) as err:
        load_config(tmp_path / "okr-sync.yaml")
    (problem,) = err.value.problems
    assert (problem.line, problem.field) == (6, "connections.okrs.key_results[1]")
    assert problem.message.startswith("KR-2: unknown measure 'manaul'")


def test_an_omitted_start_or_target_stays_unset(tmp_path: Path) -> None:
    (tmp_path / "okr-sync.yaml").write_text(CONFIG.replace("manaul", "count"))
    loaded = load_config(tmp_path / "okr-sync.yaml")
    tree = MemoryConnector("okrs", loaded.connections["okrs"]).pull_okrs()
    assert [(kr.start, kr.target) for kr in tree.key_results] == [(None, None), (None, None)]
