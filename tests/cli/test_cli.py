"""The command line on the shipped example: what a newcomer sees, and exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from okr_sync.cli.main import main
from okr_sync.state.lock import RunLock


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_validate_accepts_the_example(example: Path) -> None:
    code, out, _ = invoke("validate", "-c", str(example))
    assert code == 0 and "OK (config and 7 key results valid)" in out


def test_validate_reports_every_problem_with_file_and_line(example: Path) -> None:
    text = example.read_text().replace("conflicts: overwrite", "conflicts: sometimes")
    text = text.replace("  KR-2: points_done", "  KR-2: points_done\n  KR-99: count")
    text = text.replace("okrs: okrs ", "okrz: okrs ")
    example.write_text(text)
    code, out, err = invoke("validate", "-c", str(example))
    assert code == 2 and out == ""
    assert "3 problems in the configuration" in err
    lines = {
        line.split(": ", 2)[1] for line in err.splitlines() if line.startswith(f"  {example}:")
    }
    assert {"conflicts", "okrz", "okrs"} <= lines
    assert (
        f"{example}:{text.splitlines().index('okrz: okrs          # the connection that holds objectives and key results') + 1}: okrz: unknown key"
        in err
    )
    assert "did you mean 'okrs'?" in err


def test_validate_rejects_unknown_kr_in_a_rule_with_its_line(example: Path) -> None:
    text = example.read_text().replace("    - kr: KR-2\n", "    - kr: KR-22\n")
    example.write_text(text)
    code, _, err = invoke("validate", "-c", str(example))
    line = text.splitlines().index("    - kr: KR-22") + 1
    assert code == 2 and f"{example}:{line}: mapping.rules[0].kr: unknown key result 'KR-22'" in err


def test_literal_secret_is_rejected_without_echoing_it(example: Path) -> None:
    secret = "ntn_" + "x1" * 20
    example.write_text(
        example.read_text().replace(
            "    path: work-items.json", f"    path: work-items.json\n    token: {secret}"
        )
    )
    code, out, err = invoke("validate", "-c", str(example))
    assert code == 2 and secret not in out + err
    assert "literal secret" in err and "environment variable" in err


def test_plan_shows_changes_and_touches_nothing(example: Path) -> None:
    code, out, _ = invoke("plan", "-c", str(example))
    assert code == 0
    assert "36 field change(s) in 10 write(s)" in out and "would write 10 record(s)" in out
    assert (
        not (example.parent / ".okr-sync").exists()
        and not (example.parent / "okr-status.json").exists()
    )


def test_plan_json_lists_changes(example: Path) -> None:
    code, out, _ = invoke("plan", "-c", str(example), "--json")
    data = json.loads(out)
    assert code == 0 and data["dry_run"] is True
    change = next(c for c in data["changes"] if c["key"] == "KR-4" and c["field"] == "current")
    assert change == {"target": "report", "kind": "key_result", "key": "KR-4", "field": "current",
                      "from": None, "to": 6.0, "conflict": False, "action": "write"}  # fmt: skip


def test_sync_twice_second_run_writes_nothing(example: Path) -> None:
    code, out, _ = invoke("sync", "-c", str(example))
    assert code == 0 and "wrote 10 record(s)" in out
    report = json.loads((example.parent / "okr-status.json").read_text())
    assert report["key_results"]["KR-4"]["current"] == 6 and report["key_results"]["KR-5"]["status"]
    code, out, _ = invoke("sync", "-c", str(example), "--json")
    data = json.loads(out)
    assert code == 0 and data["writes"] == 0 and data["changes"] == [] and data["failed"] == []
    kr = next(k for k in data["key_results"] if k["id"] == "KR-1")
    assert set(kr) >= {"id", "title", "progress", "current", "status", "stale", "error"}
    assert {o["id"] for o in data["objectives"]} == {"O-1", "O-2", "O-3"}
    assert "PAY-2" in " ".join(data["shared_items"])
    assert (example.parent / ".okr-sync" / "state.db").stat().st_mode & 0o777 == 0o600


def test_human_edit_shows_as_conflict_and_in_explain(example: Path) -> None:
    invoke("sync", "-c", str(example))
    report_path = example.parent / "okr-status.json"
    report = json.loads(report_path.read_text())
    report["key_results"]["KR-3"]["status"] = "Achieved"
    report_path.write_text(json.dumps(report))
    code, out, err = invoke("sync", "-c", str(example))
    assert code == 0 and "1 conflict(s)" in out and "conflict on report KR-3.status" in err
    code, out, _ = invoke("explain", "-c", str(example), "KR-3")
    assert (
        code == 0
        and "report status was Achieved (okr-sync had written On track) → overwrite" in out
    )


def test_explain_and_history(example: Path) -> None:
    invoke("sync", "-c", str(example))
    items_path = example.parent / "work-items.json"
    data = json.loads(items_path.read_text())
    data["items"].append({"key": "PAY-99", "title": "Extra scope", "parent_key": "PAY-1"})
    items_path.write_text(json.dumps(data))
    invoke("sync", "-c", str(example))
    code, out, _ = invoke("explain", "-c", str(example), "KR-1")
    assert code == 0
    assert (
        "counted 14 item(s), 9 done" in out and "PAY-1: epic: its child issues are counted" in out
    )
    assert "69 % → 64 %: 1 added to scope: Extra scope (PAY-99)" in out
    code, out, _ = invoke("history", "-c", str(example), "KR-1")
    assert code == 0 and out.count("On track") == 2 and "KR-1: ▆▆" in out
    code, out, _ = invoke("history", "-c", str(example))
    assert code == 0 and "KR-7" in out


def test_history_without_any_run_says_so(example: Path) -> None:
    code, _, err = invoke("history", "-c", str(example))
    assert code == 1 and "no runs recorded yet" in err and "okr-sync sync" in err


def test_second_sync_while_locked_exits_3_naming_the_holder(example: Path) -> None:
    state = example.parent / ".okr-sync" / "state.db"
    with RunLock(state.with_name("state.db.lock")):
        code, _, err = invoke("sync", "-c", str(example))
    assert code == 3 and f"pid {os.getpid()}" in err and "state.db.lock" in err


def test_failed_source_exits_1_and_names_it(example: Path) -> None:
    (example.parent / "work-items.json").write_text('{"items": [\n  {"key": 1,}\n]}')
    code, out, _ = invoke("sync", "-c", str(example))
    assert code == 1
    assert "source failed: work:" in out and "work-items.json:2: invalid JSON" in out
    assert "STALE" in out


def test_json_logs_are_one_object_per_line(example: Path) -> None:
    code, _, err = invoke("sync", "-c", str(example), "-v", "--log-format", "json")
    events = [json.loads(line)["event"] for line in err.splitlines()]
    assert code == 0 and events[0] == "run_start" and events[-1] == "summary"
    assert events.count("write") == 10


def test_json_logs_start_at_info_and_name_conflicts_and_failures(example: Path) -> None:
    assert invoke("sync", "-c", str(example))[0] == 0
    report = example.parent / "okr-status.json"
    data = json.loads(report.read_text())
    data["key_results"]["KR-1"]["status"] = "Achieved"  # a human edit
    report.write_text(json.dumps(data))
    code, _, err = invoke("sync", "-c", str(example), "--log-format", "json")
    lines = [json.loads(line) for line in err.splitlines()]
    assert code == 0 and all({"time", "level", "event", "message"} <= set(x) for x in lines)
    (conflict,) = [x for x in lines if x["event"] == "conflict"]
    assert (conflict["record"], conflict["field"], conflict["action"]) == (
        "KR-1",
        "status",
        "overwrite",
    )
    assert [x["record"] for x in lines if x["event"] == "write"] == ["KR-1"]
    assert lines[0]["event"] == "run_start" and lines[-1]["event"] == "summary"
    (example.parent / "work-items.json").write_text("{broken")
    code, _, err = invoke("sync", "-c", str(example), "--log-format", "json")
    lines = [json.loads(line) for line in err.splitlines()]
    failures = [x for x in lines if x["event"] == "failure"]
    (failure,) = [x for x in failures if "source" in x]
    assert code == 1 and failure["source"] == "work" and "work-items.json" in failure["error"]
    stale = {x["kr"] for x in failures if "kr" in x}  # and one line per KR left unwritten
    assert stale and all(x["error"] for x in failures)
    assert lines[-1]["event"] == "summary" and lines[-1]["failed"]


def test_quiet_json_logs_keep_every_event_and_quiet_only_stdout(example: Path) -> None:
    code, out, err = invoke("sync", "-c", str(example), "-q", "--log-format", "json")
    events = [json.loads(line)["event"] for line in err.splitlines()]
    assert code == 0 and events[0] == "run_start" and events[-1] == "summary"
    assert events.count("write") == 10
    assert out.startswith("wrote 10 record(s); 0 conflict(s)") and "PROGRESS" not in out


def test_config_from_environment_variable(example: Path, monkeypatch: object) -> None:
    import pytest

    mp = pytest.MonkeyPatch()
    mp.setenv("OKR_SYNC_CONFIG", str(example))
    try:
        code, out, _ = invoke("validate")
    finally:
        mp.undo()
    assert code == 0 and str(example) in out


def test_python_dash_m_runs_the_cli(example: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "okr_sync", "validate", "-c", str(example)],
                          capture_output=True, text=True, check=False)  # fmt: skip
    assert proc.returncode == 0 and "OK" in proc.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "okr_sync", "frobnicate"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 2


def test_the_installed_console_script_runs_the_cli(example: Path) -> None:
    # The one entry point the other CLI tests invoke in-process (tests/cli_runner.py),
    # here as installed: the script pip wrote next to this interpreter.
    script = Path(sys.executable).with_name("okr-sync")
    if not script.exists():
        pytest.skip("okr-sync is not installed in this environment (make test installs it)")
    proc = subprocess.run([str(script), "validate", "-c", str(example)],
                          capture_output=True, text=True, check=False, timeout=60)  # fmt: skip
    assert proc.returncode == 0 and "OK" in proc.stdout, proc.stderr
    bad = subprocess.run([str(script), "frobnicate"], capture_output=True, text=True,
                         check=False, timeout=60)  # fmt: skip
    assert bad.returncode == 2 and "Usage: okr-sync" in bad.stderr, bad.stderr


def test_accept_empty_must_name_a_known_kr(example: Path) -> None:
    code, _, err = invoke("plan", "-c", str(example), "--accept-empty", "KR-99")
    assert code == 2 and "--accept-empty: unknown key result 'KR-99'" in err


def test_bad_query_for_a_local_source_is_a_config_error_with_its_line(example: Path) -> None:
    text = example.read_text().replace(
        "query: {label: customer-bug}", "query: {labl: customer-bug}"
    )
    example.write_text(text)
    code, _, err = invoke("validate", "-c", str(example))
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "labl" in t)
    assert (
        code == 2 and f"{example}:{line}: mapping.rules[1].query: unknown filter key 'labl'" in err
    )


def test_impossible_date_is_a_config_error_with_its_line(example: Path) -> None:
    example.write_text(example.read_text().replace("start: 2026-10-01", "start: 2026-13-01"))
    code, _, err = invoke("validate", "-c", str(example))
    assert code == 2 and "invalid date '2026-13-01'" in err and "internal error" not in err


def test_the_report_file_keeps_its_permissions(example: Path) -> None:
    report = example.parent / "okr-status.json"
    report.write_text("{}")
    report.chmod(0o644)
    invoke("sync", "-c", str(example))
    assert report.stat().st_mode & 0o777 == 0o644


def test_explain_compares_with_the_last_trustworthy_run(example: Path) -> None:
    invoke("sync", "-c", str(example))
    items = example.parent / "work-items.json"
    good = items.read_text()
    items.write_text("{broken")
    invoke("sync", "-c", str(example))
    items.write_text(good)
    invoke("sync", "-c", str(example))
    code, out, _ = invoke("explain", "-c", str(example), "KR-1")
    assert code == 0 and "since run 1: 69 % → 69 %: no change in the counted items" in out


def test_full_pulls_every_source_in_full(example: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``--full`` reaches the engine: no cursor is offered to any item source."""
    from okr_sync.engine import engine as engine_module

    seen: list[bool] = []
    real = engine_module.Engine.__init__

    def spy(self: Any, *args: Any, **kwargs: Any) -> None:
        seen.append(kwargs.get("full", False))
        real(self, *args, **kwargs)

    monkeypatch.setattr(engine_module.Engine, "__init__", spy)
    assert invoke("sync", "-c", str(example))[0] == 0
    assert invoke("plan", "--full", "-c", str(example))[0] == 0
    assert invoke("sync", "--full", "-c", str(example))[0] == 0
    assert seen == [False, True, True]
