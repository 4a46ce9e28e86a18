"""`okr-sync explain` on the shipped example: objectives, manual KRs, items by title."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from okr_sync.cli.main import main

ROW_ID = "59833787-2cf9-4fdf-8782-e53db20768a5"  # a Notion page id, as Notion keys rows


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_explain_an_objective_lists_its_parts_and_what_moved(example: Path) -> None:
    okrs = example.parent / "okrs.yaml"
    assert invoke("sync", "-c", str(example))[0] == 0
    edit(okrs, "current: 650", "current: 600")  # KR-3 (manual, under O-2) moves
    edit(okrs, "    weight: 2", "    weight: 3")  # KR-7, O-1's own KR, weighs more
    assert invoke("sync", "-c", str(example))[0] == 0
    code, out, _ = invoke("explain", "-c", str(example), "O-1")
    assert code == 0, out
    assert out.startswith("O-1  Make paying with us effortless\n")
    assert "rolled up from 3 part(s), a weighted mean:" in out
    rows = {line.split()[0]: line for line in out.splitlines() if line.startswith("    ")}
    assert rows.keys() == {"KR-7", "O-2", "O-3"}
    assert "key result  weight 3  40 %" in rows["KR-7"]
    assert "Ship the new checkout" in rows["O-2"] and "objective   weight 1" in rows["O-2"]
    assert "since run 1: 48 % → 47 %: KR-7 weight 2 → 3; O-2 63 % → 67 %" in out
    code, out, _ = invoke("explain", "-c", str(example), "O-2")
    assert code == 0 and "since run 1: 63 % → 67 %: KR-3 50 % → 60 %" in out


def test_explain_a_stale_objective_names_the_kr_without_progress(example: Path) -> None:
    (example.parent / "work-items.json").write_text("{broken")
    assert invoke("sync", "-c", str(example))[0] == 1
    code, out, _ = invoke("explain", "-c", str(example), "O-2")
    assert code == 0, out
    assert "STALE: not updated, no progress known for KR-1 (stale: " in out
    assert "nothing was written for O-2 in run 1" in out
    kr1 = next(line for line in out.splitlines() if line.strip().startswith("KR-1 "))
    assert "no progress known: stale: not updated, an item source failed" in kr1


def test_explain_of_an_unknown_id_exits_1(example: Path) -> None:
    invoke("sync", "-c", str(example))
    code, _, err = invoke("explain", "-c", str(example), "O-9")
    assert code == 1 and "no recorded run has computed 'O-9'" in err


def test_explain_a_manual_kr_says_its_current_moved(example: Path) -> None:
    okrs = example.parent / "okrs.yaml"
    invoke("sync", "-c", str(example))
    edit(okrs, "current: 650", "current: 600")
    invoke("sync", "-c", str(example))
    code, out, _ = invoke("explain", "-c", str(example), "KR-3")
    assert code == 0
    assert "since run 1: 50 % → 60 %: Current moved 650 → 600" in out
    assert "no change in the counted items" not in out
    assert "Current is entered by hand (measure manual)" in out
    edit(okrs, "target: 400", "target: 500")  # the same Current, a nearer target
    invoke("sync", "-c", str(example))
    code, out, _ = invoke("explain", "-c", str(example), "KR-3")
    assert "since run 2: 60 % → 75 %: Target moved 400 → 500" in out


def test_explain_names_items_by_title_and_notion_rows_by_title_alone(example: Path) -> None:
    items_path = example.parent / "work-items.json"
    invoke("sync", "-c", str(example))
    data = json.loads(items_path.read_text())
    row = {"key": ROW_ID, "title": "Secrets vault", "kind": "row", "labels": ["okr:KR-6"]}
    data["items"].append({**row, "status_category": "done"})
    items_path.write_text(json.dumps(data))
    invoke("sync", "-c", str(example))
    code, out, _ = invoke("explain", "-c", str(example), "KR-6")
    assert code == 0
    assert "✔ Kubernetes upgrade to 1.34 (PLAT-1)" in out
    assert "✔ Secrets vault\n" in out and ROW_ID not in out
    assert "since run 1: 25 % → 40 %: 1 added to scope: Secrets vault" in out
