"""The README's benchmark table is rebuilt from the figures the benchmarks report."""

from __future__ import annotations

import json
import runpy
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TABLE = ROOT / "benchmarks" / "table.py"
FIGURES = ROOT / "benchmarks" / "figures.py"


def test_a_figure_prints_its_floor_and_ratio_and_saves_a_json_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    saved = tmp_path / "figures.jsonl"
    monkeypatch.setenv("OKR_SYNC_BENCH_FIGURES", str(saved))
    figure = runpy.run_path(str(FIGURES))["figure"]
    ratio = figure(
        "x.requests", "no-op rerun requests", 6, 4, unit="requests",
        floor_means="pages an exact rerun needs", target="≤ 1.25×",
    )  # fmt: skip
    assert ratio == 1.5
    out = capsys.readouterr().out
    assert out.startswith("FIGURE x.requests: no-op rerun requests: 6 requests; floor 4 requests")
    assert "ratio 1.50× (target ≤ 1.25×)" in out
    assert json.loads(saved.read_text())["ratio"] == 1.5


def test_the_table_is_rebuilt_between_the_markers_and_nowhere_else(tmp_path: Path) -> None:
    module = runpy.run_path(str(TABLE))
    rows = [
        {"key": "a", "what": "help", "measured": 0.13, "floor": 0.1, "unit": "s",
         "floor_means": "import click", "ratio": 1.3, "target": "≤ 1.30×", "run": "b.py"},
        {"key": "b", "what": "reads", "measured": 0, "floor": 0, "unit": "requests",
         "floor_means": "nothing", "ratio": 0.0, "target": "0", "run": "c.py --x"},
    ]  # fmt: skip
    table = module["render"](rows)
    assert "| help | 0.13 s | 0.1 s (import click) | 1.30× | ≤ 1.30× | `b.py` |" in table
    assert "| reads | 0 requests | 0 requests (nothing) | 0.00× | 0 | `c.py --x` |" in table
    readme = f"intro\n{module['START']}\nold table\n{module['END']}\nrest\n"
    rebuilt = module["replace_table"](readme, table)
    assert rebuilt.startswith("intro\n") and rebuilt.endswith("\nrest\n")
    assert "old table" not in rebuilt and table in rebuilt
    with pytest.raises(SystemExit, match="lacks the markers"):
        module["replace_table"]("no markers here", table)


def test_the_readme_carries_the_generated_table() -> None:
    module = runpy.run_path(str(TABLE))
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert readme.count(module["START"]) == 1 and readme.count(module["END"]) == 1
    saved = ROOT / "benchmarks" / "figures.jsonl"
    rows = module["read_figures"](saved)
    # the table in the README is exactly what the saved figures render to
    assert module["render"](rows) in readme
