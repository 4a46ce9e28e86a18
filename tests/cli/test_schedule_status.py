"""``okr-sync schedule`` and ``okr-sync status`` on the shipped example."""

from __future__ import annotations

import datetime as dt
import json
import os
import queue
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

from okr_sync.config.loading import load_config
from okr_sync.engine.runner import run_sync
from okr_sync.models import FieldChange, RecordRef
from okr_sync.state.lock import RunLock
from okr_sync.state.store import StateStore
from tests.cli.conftest import FROZEN_NOW
from tests.cli.test_cli import invoke

NOW = dt.datetime.fromisoformat(FROZEN_NOW)


def with_schedule(example: Path, block: str = 'schedule:\n  cron: "*/30 * * * *"\n') -> None:
    example.write_text(example.read_text() + block)


# --- status ---------------------------------------------------------------------------


def test_status_without_any_run_says_so(example: Path) -> None:
    with_schedule(example)
    code, out, err = invoke("status", "-c", str(example))
    assert code == 1 and out == ""
    assert "no runs recorded yet" in err and "run 'okr-sync sync' first" in err
    assert "next scheduled run: 2026-11-15T12:30:00+00:00" in err


def test_status_shows_the_last_runs_and_the_next_scheduled_one(example: Path) -> None:
    with_schedule(example)
    invoke("sync", "-c", str(example))
    invoke("sync", "-c", str(example))
    code, out, _ = invoke("status", "-c", str(example))
    assert code == 0
    assert "schedule: */30 * * * * (UTC), next run 2026-11-15 12:30 UTC" in out
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("RUN"))
    assert lines[header].split() == ["RUN", "STARTED", "(UTC)", "DURATION", "OUTCOME", "KRS",
                                     "CHANGED", "WRITES", "CONFLICTS", "FAILURES"]  # fmt: skip
    assert lines[header + 1].split() == ["2", "2026-11-15", "12:00:00", "0", "s", "ok",
                                         "0", "0", "0", "0"]  # fmt: skip
    assert lines[header + 2].split() == ["1", "2026-11-15", "12:00:00", "0", "s", "ok",
                                         "7", "10", "0", "0"]  # fmt: skip


def test_status_json_lists_conflicts_and_failures_with_reasons(example: Path) -> None:
    invoke("sync", "-c", str(example))
    report_path = example.parent / "okr-status.json"
    report = json.loads(report_path.read_text())
    report["key_results"]["KR-3"]["status"] = "Achieved"
    report_path.write_text(json.dumps(report))
    invoke("sync", "-c", str(example))  # overwrites the human edit: one conflict
    (example.parent / "work-items.json").write_text("{broken")
    invoke("sync", "-c", str(example))
    code, out, _ = invoke("status", "-c", str(example), "--json")
    data = json.loads(out)
    assert code == 1 and data["schedule"] is None  # the latest run failed
    assert data["state"] == str(example.parent / ".okr-sync" / "state.db")
    failed, conflicted, first = data["runs"]
    assert [r["id"] for r in data["runs"]] == [3, 2, 1]
    assert first["outcome"] == "ok" and first["writes"] == 10 and len(first["krs_changed"]) == 7
    assert conflicted["conflicts"] == 1 and conflicted["krs_changed"] == ["KR-3"]
    assert failed["outcome"] == "failed" and failed["writes"] == 0
    source = next(f for f in failed["failures"] if f["kind"] == "source")
    assert source["id"] == "work" and "invalid JSON" in source["reason"]
    assert any(f["kind"] == "kr" and f["reason"].startswith("stale: ") for f in failed["failures"])
    assert failed["duration_seconds"] == 0 and failed["started_at"] == FROZEN_NOW
    code, out, _ = invoke("status", "-c", str(example), "--limit", "1")
    assert code == 1 and "run 3 (failed):\n  source work: work:" in out and "\n2 " not in out


def test_status_shows_a_stopped_run_and_its_note(example: Path) -> None:
    loaded = load_config(example)
    summary = run_sync(loaded, now=lambda: NOW, should_stop=lambda: True)
    assert summary.stopped_early and summary.writes == 0
    code, out, _ = invoke("status", "-c", str(example))
    assert code == 0 and " stopped " in out
    assert "note: stopped early: 10 of 10 write(s) not started; the next run makes them" in out
    code, out, _ = invoke("sync", "-c", str(example))
    assert code == 0 and "wrote 10 record(s); 0 conflict(s)" in out


def test_status_tells_a_live_run_from_one_that_died(example: Path) -> None:
    invoke("sync", "-c", str(example))
    loaded = load_config(example)
    state = StateStore.open(loaded.state_path)
    try:
        run_id = state.start_run(NOW)  # never finished: one write landed before it died
        ref = RecordRef(kind="key_result", id="KR-3")
        change = FieldChange(target="report", ref=ref, owner="KR-3", field="status", after="x")
        state.record_changes(run_id, [change], "applied")
    finally:
        state.close()
    _, out, _ = invoke("status", "-c", str(example), "--json")
    died = json.loads(out)["runs"][0]
    assert died["outcome"] == "interrupted" and died["failures"] == []
    assert died["writes"] == 1 and died["krs_changed"] == ["KR-3"]
    with RunLock(loaded.state_path.with_name("state.db.lock")):
        _, out, _ = invoke("status", "-c", str(example), "--json")
    latest = json.loads(out)["runs"][0]
    assert latest["outcome"] == "running" and latest["duration_seconds"] is None


# --- schedule ---------------------------------------------------------------------------


def test_schedule_run_now_once_syncs_and_exits_0(example: Path) -> None:
    with_schedule(example)
    code, out, _ = invoke("schedule", "-c", str(example), "--run-now", "--max-runs", "1")
    assert code == 0 and out.startswith("run 1 (2026-11-15 12:00:00 UTC): wrote 10 record(s)")
    assert json.loads((example.parent / "okr-status.json").read_text())["key_results"]["KR-4"]


def test_schedule_json_prints_one_summary_per_line(example: Path) -> None:
    code, out, _ = invoke(
        "schedule", "-c", str(example), "--cron", "@daily", "--run-now", "--max-runs", "1",
        "--json",
    )  # fmt: skip
    (line,) = out.splitlines()
    assert code == 0 and json.loads(line)["writes"] == 10


def test_schedule_needs_a_cron_expression(example: Path) -> None:
    code, _, err = invoke("schedule", "-c", str(example), "--run-now")
    assert code == 2 and "schedule.cron: no cron expression to schedule by" in err
    assert "--cron" in err


def test_schedule_bad_cron_option_names_the_field(example: Path) -> None:
    code, _, err = invoke("schedule", "-c", str(example), "--cron", "*/30 * 32 * *")
    assert code == 2 and "--cron: day-of-month field '32': 32 is out of range 1-31" in err
    code, _, err = invoke("schedule", "-c", str(example), "--cron", "@daily", "--timezone", "X/Y")
    assert code == 2 and "--timezone: unknown time zone 'X/Y'" in err


def test_validate_reports_a_bad_cron_with_file_line_and_field(example: Path) -> None:
    with_schedule(example, "schedule:\n  cron: '*/30 * * * fri-mon'\n")
    code, _, err = invoke("validate", "-c", str(example))
    line = len(example.read_text().splitlines())
    assert code == 2
    assert (
        f"{example}:{line}: schedule.cron: day-of-week field 'fri-mon': the range fri-mon "
        "goes backwards (in cron '*/30 * * * fri-mon')" in err
    )


def test_schedule_skips_a_tick_whose_lock_is_held(example: Path) -> None:
    with_schedule(example)
    with RunLock(example.parent / ".okr-sync" / "state.db.lock"):
        code, out, err = invoke("schedule", "-c", str(example), "--run-now", "--max-runs", "1")
    assert code == 3 and out == ""
    assert "WARNING skipped the run of " in err and "holds the lock" in err


def test_schedule_ends_with_2_on_a_config_error_in_the_first_run(example: Path) -> None:
    with_schedule(example)
    example.write_text(example.read_text().replace("    - kr: KR-2\n", "    - kr: KR-22\n"))
    code, _, err = invoke("schedule", "-c", str(example), "--run-now")
    assert code == 2 and "unknown key result 'KR-22'" in err


def test_schedule_checks_a_local_okr_file_before_waiting_for_the_first_tick(
    example: Path,
) -> None:
    with_schedule(example)
    okrs = example.parent / "okrs.yaml"
    okrs.write_text(okrs.read_text().replace("  - id: KR-2\n", "  - id: KR-1\n"))
    code, _, err = invoke("schedule", "-c", str(example))  # no --run-now: would wait
    assert code == 2 and "okrs.yaml" in err and "appears twice" in err
    assert not (example.parent / ".okr-sync").exists()


def test_schedule_in_a_process_stops_cleanly_on_sigterm(example: Path) -> None:
    with_schedule(example)
    proc = subprocess.Popen(
        [sys.executable, "-m", "okr_sync", "schedule", "-c", str(example), "--run-now"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    lines: queue.Queue[str] = queue.Queue()
    assert proc.stderr is not None
    threading.Thread(target=lambda: [lines.put(x) for x in proc.stderr], daemon=True).start()  # type: ignore[union-attr]
    seen = []
    try:
        while not any("next run at" in line for line in seen):
            seen.append(lines.get(timeout=30))
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, seen
    assert out.startswith("run 1 (2026-11-15 12:00:00 UTC): wrote 10 record(s)")
    state = example.parent / ".okr-sync" / "state.db"
    with sqlite3.connect(state) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert db.execute("SELECT outcome FROM runs").fetchall() == [("ok",)]
    assert (example.parent / ".okr-sync" / "state.db.lock").read_text() == ""  # released
    code, out, _ = invoke("sync", "-c", str(example))
    assert code == 0 and "wrote 0 record(s)" in out


# --- one scheduler per state store ---------------------------------------------------------


def start_scheduler(example: Path, *extra: str) -> tuple[subprocess.Popen[str], list[str]]:
    """An `okr-sync schedule` process, once it logged its next run (it holds its lock then)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "okr_sync", "schedule", "-c", str(example), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    lines: queue.Queue[str] = queue.Queue()
    assert proc.stderr is not None
    threading.Thread(target=lambda: [lines.put(x) for x in proc.stderr], daemon=True).start()  # type: ignore[union-attr]
    seen: list[str] = []
    while not any("next run at" in line for line in seen):
        seen.append(lines.get(timeout=30))
    return proc, seen


def stop(proc: subprocess.Popen[str], sig: signal.Signals = signal.SIGTERM) -> int:
    proc.send_signal(sig)
    proc.communicate(timeout=30)
    return proc.returncode


def test_a_second_scheduler_on_the_same_store_refuses_to_start_naming_the_first(
    example: Path,
) -> None:
    with_schedule(example)
    first, _ = start_scheduler(example)
    try:
        second = subprocess.run(
            [sys.executable, "-m", "okr_sync", "schedule", "-c", str(example), "--run-now"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert second.returncode == 3 and second.stdout == ""
        assert (
            f"another okr-sync schedule (pid {first.pid} on {socket.gethostname()}, started 20"
            in second.stderr
        )
        assert "state.db.schedule.lock; one scheduler per state store" in second.stderr
        # the refused one ran nothing: no run recorded, no report written
        assert not (example.parent / "okr-status.json").exists()
        # a sync by hand is still welcome (it only takes the run lock)
        code, out, _ = invoke("sync", "-c", str(example))
        assert code == 0 and "wrote 10 record(s)" in out
        code, out, _ = invoke("status", "-c", str(example))
        assert code == 0
        assert (
            f"scheduler: okr-sync schedule running (pid {first.pid} on {socket.gethostname()}, "
            "since 20" in out
        )
        assert out.splitlines()[2].endswith("on */30 * * * * (UTC)")
        _, out, _ = invoke("status", "-c", str(example), "--json")
        assert json.loads(out)["scheduler"]["pid"] == first.pid
    finally:
        assert stop(first) == 0
    _, out, _ = invoke("status", "-c", str(example), "--json")
    assert json.loads(out)["scheduler"] is None
    _, out, _ = invoke("status", "-c", str(example))
    assert "scheduler: no okr-sync schedule running on this state store" in out


def test_the_schedule_lock_of_a_killed_scheduler_is_recovered(example: Path) -> None:
    with_schedule(example)
    first, _ = start_scheduler(example)
    assert stop(first, signal.SIGKILL) == -signal.SIGKILL
    lock = example.parent / ".okr-sync" / "state.db.schedule.lock"
    assert str(first.pid) in lock.read_text()  # the dead one's record is still there
    assert lock.stat().st_mode & 0o077 == 0
    invoke("sync", "-c", str(example))
    _, out, _ = invoke("status", "-c", str(example), "--json")
    assert json.loads(out)["scheduler"] is None  # its pid is gone: not shown as running
    second, seen = start_scheduler(example)
    try:
        assert any(
            f"recovered the schedule lock left by pid {first.pid}" in line for line in seen
        ), seen
    finally:
        assert stop(second) == 0
    assert lock.read_text() == ""  # released on a clean stop
