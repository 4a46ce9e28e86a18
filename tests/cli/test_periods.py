"""Periods that end and targets that move, on the shipped example and both state backends.

KR-3 (manual, Current 650, start 900, target 400) is given its own period ending
2026-11-30, inside the example's Q4 2026 cycle; each run pins the clock.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from okr_sync.cli.main import main
from tests.backends import Backend


def run(monkeypatch: pytest.MonkeyPatch, day: str, *args: str) -> tuple[int, str, str]:
    monkeypatch.setenv("OKR_SYNC_NOW", f"{day}T12:00:00+00:00")
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def written(config: Path, kr: str = "KR-3") -> dict[str, Any]:
    data: dict[str, Any] = json.loads((config.parent / "okr-status.json").read_text())
    return dict(data["key_results"][kr])


@pytest.fixture
def config(example: Path, backend: Backend, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The example on the given backend, KR-3's period ending 2026-11-30."""
    for name, value in backend.env.items():
        monkeypatch.setenv(name, value)
    example.write_text(backend.config(example.read_text()))
    edit(
        example.parent / "okrs.yaml",
        "    current: 650\n",
        "    current: 650\n    period_end: 2026-11-30\n",
    )
    return example


def test_a_kr_past_its_period_end_is_closed_and_only_reopen_writes_it(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = str(config)
    okrs = config.parent / "okrs.yaml"
    assert run(monkeypatch, "2026-11-15", "sync", "-c", c)[0] == 0
    assert written(config)["progress"] == 0.5  # (900 − 650) ÷ (900 − 400)
    edit(okrs, "current: 650", "current: 600")  # entered after the period ended

    code, out, _ = run(monkeypatch, "2026-12-05", "plan", "-c", c, "--json")
    assert code == 0
    plan = json.loads(out)
    assert not [ch for ch in plan["changes"] if ch["key"] == "KR-3"]
    kr3 = next(k for k in plan["key_results"] if k["id"] == "KR-3")
    assert kr3["progress"] == 0.5 and kr3["current"] == 650  # the final value, not 600's 60 %
    assert kr3["closed"].startswith(
        "period ended 2026-11-30: final value 50 % as of 2026-11-15 (run 1); nothing more is written"
    )
    code, out, _ = run(monkeypatch, "2026-12-05", "plan", "-c", c)
    assert "closed (nothing written): KR-3: period ended 2026-11-30" in out

    assert run(monkeypatch, "2026-12-05", "sync", "-c", c)[0] == 0
    assert written(config) == {"progress": 0.5, "status": "At risk", "last_synced": "2026-11-15"}
    code, out, _ = run(monkeypatch, "2026-12-05", "history", "-c", c, "KR-3", "--json")
    rows = json.loads(out)
    assert [r["closed"] for r in rows] == [False, True]
    assert rows[-1]["progress"] == 0.5 and rows[-1]["period_end"] == "2026-11-30"
    assert rows[-1]["note"].startswith("CLOSED: period ended 2026-11-30")
    code, out, _ = run(monkeypatch, "2026-12-05", "history", "-c", c)
    assert "50 % closed" in out

    # --reopen writes it, and the value it wrote becomes the final one.
    code, out, _ = run(monkeypatch, "2026-12-06", "sync", "-c", c, "--reopen", "KR-3")
    assert code == 0, out
    assert written(config)["progress"] == 0.6 and written(config)["last_synced"] == "2026-12-06"
    edit(okrs, "current: 600", "current: 500")
    code, out, _ = run(monkeypatch, "2026-12-07", "sync", "-c", c, "--json")
    kr3 = next(k for k in json.loads(out)["key_results"] if k["id"] == "KR-3")
    assert kr3["progress"] == 0.6 and "as of 2026-12-06 (run 3)" in kr3["closed"]
    assert written(config)["progress"] == 0.6
    objective = next(o for o in json.loads(out)["objectives"] if o["id"] == "O-2")
    assert "KR-3: closed (its period ended), its final progress (60 %) counts" in objective["notes"]


def test_reopen_of_an_unknown_kr_is_a_usage_error(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _, err = run(monkeypatch, "2026-12-05", "sync", "-c", str(config), "--reopen", "KR-99")
    assert code == 2 and "--reopen: unknown key result 'KR-99'" in err


def test_a_kr_whose_period_ended_before_any_run_has_no_final_value(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, _ = run(monkeypatch, "2026-12-05", "sync", "-c", str(config), "--json")
    kr3 = next(k for k in json.loads(out)["key_results"] if k["id"] == "KR-3")
    assert kr3["progress"] is None and "no value was recorded within it" in kr3["closed"]
    # Its objective has no number to stand in for it: stale, naming it, never recomputed without it.
    o2 = next(o for o in json.loads(out)["objectives"] if o["id"] == "O-2")
    assert code == 1 and o2["stale"] and "KR-3 (closed: period ended 2026-11-30" in o2["error"]
    assert "KR-3" not in json.loads((config.parent / "okr-status.json").read_text())["key_results"]


def test_a_target_change_is_recorded_with_its_date_and_the_past_keeps_its_target(
    config: Path, backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = str(config)
    assert run(monkeypatch, "2026-11-10", "sync", "-c", c)[0] == 0
    edit(config.parent / "okrs.yaml", "target: 400", "target: 500")
    code, out, _ = run(monkeypatch, "2026-11-15", "sync", "-c", c)
    assert code == 0
    assert (
        "note: target line: KR-3: target moved 400 → 500 (changed after 2026-11-10, run 1, "
        "seen 2026-11-15); earlier snapshots keep 400"
    ) in out
    code, out, _ = run(monkeypatch, "2026-11-15", "history", "-c", c, "KR-3", "--json")
    rows = json.loads(out)
    assert [(r["target"], r["progress"]) for r in rows] == [(400, 0.5), (500, 0.625)]
    store = backend.location.open_readonly()
    try:
        (change,) = store.target_changes("KR-3")
    finally:
        store.close()
    assert (change["field"], change["before"], change["after"]) == ("target", 400, 500)
    assert change["previous_at"].startswith("2026-11-10") and change["seen_at"].startswith(
        "2026-11-15"
    )
    code, out, _ = run(monkeypatch, "2026-11-15", "explain", "-c", c, "KR-3")
    assert "    run 1 (2026-11-10): start 900, target 400" in out
    assert "    run 2 (2026-11-15): start 900, target 500" in out
    assert (
        "target moved 400 → 500: changed after 2026-11-10 (run 1), seen 2026-11-15 (run 2)" in out
    )
    code, out, _ = run(monkeypatch, "2026-11-15", "history", "-c", c, "KR-3")
    lines = out.splitlines()
    assert lines[0].split() == [
        "RUN", "ORIGIN", "PROGRESS", "CURRENT", "TARGET", "STATUS", "FORECAST", "NOTE",
    ]  # fmt: skip
    assert lines[1].split()[5:7] == ["650", "400"] and lines[2].split()[5:7] == ["650", "500"]


def test_validate_and_check_report_a_kr_period_outside_its_objective_or_the_cycle(
    example: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    okrs = example.parent / "okrs.yaml"
    edit(okrs, "    current: 650\n", "    current: 650\n    period_end: 2027-01-15\n")
    # O-3 gets a period of its own; KR-4 starts before it.
    edit(
        okrs,
        "    owner: Platform team\n",
        "    owner: Platform team\n    period_start: 2026-11-01\n",
    )
    edit(okrs, "  - id: KR-4\n", "  - id: KR-4\n    period_start: 2026-10-15\n")
    code, out, err = run(monkeypatch, "2026-11-15", "validate", "-c", str(example))
    assert code == 0 and "with 2 warnings" in out
    line_kr3 = okrs.read_text().splitlines().index("  - id: KR-3") + 1
    assert (
        f"okrs.yaml:{line_kr3}: key_results[2]: key result KR-3's period 2026-10-01..2027-01-15 "
        "lies outside the cycle's period 2026-10-01..2026-12-31"
    ) in err
    assert (
        "key result KR-4's period 2026-10-15..2026-12-31 lies outside objective O-3's period "
        "2026-11-01..2026-12-31"
    ) in err
    code, out, _ = run(monkeypatch, "2026-11-15", "check", "-c", str(example), "--json")
    report = json.loads(out)
    assert code == 0 and report["ok"]
    warned = [r["message"] for r in report["results"] if r["level"] == "warn"]
    assert any("KR-3's period 2026-10-01..2027-01-15 lies outside the cycle" in m for m in warned)
    assert any("KR-4's period" in m and "objective O-3" in m for m in warned)
    code, out, _ = run(monkeypatch, "2026-11-15", "plan", "-c", str(example))
    assert "KR-4's period 2026-10-15..2026-12-31 lies outside objective O-3's period" in out
    assert "it is counted in its objective's roll-up as it stands" in out
