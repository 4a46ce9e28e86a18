"""On the shipped example: missing inputs, unlinked KRs and failures, as a user sees them.

Issue 11: a typo'd measure or an emptied target is reported, not defaulted (4);
a KR with nothing linked is left alone and the plan says so (7); ``explain``
names what made a KR stale or failed and shows the exact written values (14).
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.test_cli import invoke


def okrs_file(example: Path) -> Path:
    return example.parent / "okrs.yaml"


def edit(path: Path, old: str, new: str) -> str:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))
    return path.read_text()


def test_a_typo_in_a_kr_measure_is_a_config_error_with_its_line(example: Path) -> None:
    text = edit(okrs_file(example), "    measure: manual ", "    measure: manaul ")
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "measure: manaul" in t)
    code, out, err = invoke("validate", "-c", str(example))
    assert code == 2 and out == ""
    assert f"okrs.yaml:{line}: key_results[2].measure: unknown measure 'manaul'" in err
    code, _, err = invoke("sync", "-c", str(example))
    assert code == 2 and not (example.parent / "okr-status.json").exists()


def test_an_emptied_target_fails_the_kr_and_explain_says_why(example: Path) -> None:
    assert invoke("sync", "-c", str(example))[0] == 0
    report = example.parent / "okr-status.json"
    kept = json.loads(report.read_text())["key_results"]["KR-4"]
    edit(okrs_file(example), "    start: 0\n    target: 12\n", "    start: 0\n")
    code, out, _ = invoke("sync", "-c", str(example))
    assert code == 1
    assert "FAILED: no target set on the KR: measure count:done needs its start and target" in out
    assert json.loads(report.read_text())["key_results"]["KR-4"] == kept  # nothing written
    code, out, _ = invoke("explain", "-c", str(example), "KR-4")
    assert code == 0
    assert "  FAILED: no target set on the KR: measure count:done needs" in out
    assert (
        "  nothing was written for KR-4 in run 2; the targets keep what run 1 computed: "
        f"progress {kept['progress'] * 100:g} %, current {kept['current']:g}" in out
    )
    code, out, _ = invoke("history", "-c", str(example), "KR-4")
    assert code == 0 and "FAILED: no target set on the KR" in out


def test_explain_names_the_source_that_made_a_kr_stale(example: Path) -> None:
    assert invoke("sync", "-c", str(example))[0] == 0
    (example.parent / "work-items.json").write_text("{broken")
    assert invoke("sync", "-c", str(example))[0] == 1
    code, out, _ = invoke("explain", "-c", str(example), "KR-1")
    assert code == 0
    assert "  STALE: not updated, an item source failed (work: " in out
    assert "work-items.json:1: invalid JSON" in out
    assert "nothing was written for KR-1 in run 2; the targets keep what run 1 computed" in out


def test_plan_and_explain_show_the_values_as_written(example: Path) -> None:
    code, out, _ = invoke("plan", "-c", str(example))
    row = next(
        line.split() for line in out.splitlines() if line.startswith("report  KR-1    progress")
    )
    assert row[-1] == "0.6923"  # the plan showed 0.69 for the 0.6923 it writes
    assert invoke("sync", "-c", str(example))[0] == 0
    report = json.loads((example.parent / "okr-status.json").read_text())["key_results"]["KR-1"]
    code, out, _ = invoke("explain", "-c", str(example), "KR-1")
    assert code == 0
    written = f"{report['progress'] * 100:.2f}".rstrip("0").rstrip(".")
    assert report["progress"] == 0.6923
    assert f"  progress {written} % (expected 49.46 %)" in out
    assert f"status {report['status']}" in out


def test_plan_says_a_kr_with_nothing_linked_is_left_alone(example: Path) -> None:
    edit(
        okrs_file(example),
        "key_results:\n",
        "key_results:\n  - {id: KR-8, title: Launch in Spain, objective: O-3, start: 0, target: 4}\n",
    )
    code, out, _ = invoke("plan", "-c", str(example))
    assert "left alone (nothing written): KR-8: nothing linked yet: nothing computed" in out
    assert "LEFT ALONE: nothing linked yet" in out
    # O-3 cannot be rolled up without KR-8 (it used to count KR-8 as 0 %).
    assert code == 1 and "STALE: not updated, no progress known for KR-8" in out
    code, out, _ = invoke("plan", "-c", str(example), "--json")
    data = json.loads(out)
    kr8 = next(k for k in data["key_results"] if k["id"] == "KR-8")
    assert kr8["skipped"] == "nothing linked yet: nothing computed" and kr8["progress"] is None
    assert not [c for c in data["changes"] if c["key"] in ("KR-8", "O-3")]
