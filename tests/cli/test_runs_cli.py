"""What admins see: every run recorded, JSON logs that stay JSON, one message per cause,
and ``okr-sync accept`` — ``okr-sync`` processes of their own where exit codes and stderr
matter (forked warm, ``tests/warm_processes.py``: every byte they write to stderr is read)."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from okr_sync.config.loading import load_config
from okr_sync.engine.runner import run_sync
from okr_sync.errors import ConfigError
from okr_sync.schedule import cron
from okr_sync.schedule.scheduler import Scheduler
from okr_sync.state.location import SqliteLocation
from tests.cli.conftest import FROZEN_NOW
from tests.cli.test_cli import invoke
from tests.reliability.crash_world import CrashWorld
from tests.warm_processes import run

NOW = dt.datetime.fromisoformat(FROZEN_NOW)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[CrashWorld]:
    w = CrashWorld(tmp_path, latency=0.0)
    yield w
    w.close()


def json_lines(stderr: str) -> list[dict[str, object]]:
    """Every stderr line as JSON (fails on any line that is not)."""
    return [json.loads(line) for line in stderr.splitlines() if line.strip()]


# --- 1 and 2: a run that fails before computing -------------------------------------------


def test_a_refused_token_is_a_recorded_failed_run_and_status_exits_1(world: CrashWorld) -> None:
    assert world.cli("sync")[0] == 0
    code, out, err = world.cli("sync", env={"NOTION_TOKEN": "ntn_wrong_token_0000000000"})
    assert code == 1 and err.count("refused the token") == 1 and err.startswith("error: ")
    code, out, err = world.cli("status")
    assert code == 1, "a monitoring probe sees the failure"
    lines = out.splitlines()
    latest = lines[lines.index(next(x for x in lines if x.startswith("RUN"))) + 1].split()
    assert latest[0] == "2" and latest[5] == "failed"  # RUN, date, time, duration (2), outcome
    # The first request of the run meets the refusal (the databases' data source ids are
    # kept from run 1, so it is the first query).
    assert re.search(r"run 2: notion: \w[\w ]* database: Notion refused the token", out), out
    code, out, _ = world.cli("status", "--json")
    runs = json.loads(out)["runs"]
    assert code == 1 and [r["outcome"] for r in runs] == ["failed", "ok"]
    assert "refused the token" in runs[0]["reason"] and runs[1]["reason"] is None
    assert world.cli("sync")[0] == 0
    assert world.cli("status")[0] == 0  # the latest run is fine again


def test_json_logs_stay_json_when_a_run_fails_before_computing(world: CrashWorld) -> None:
    code, _, err = world.cli(
        "sync", "--log-format", "json", env={"NOTION_TOKEN": "ntn_wrong_token_0000000000"}
    )
    assert code == 1
    lines = json_lines(err)
    names = [line["event"] for line in lines]
    assert names.count("summary") == 1 and names[-1] == "summary"
    failure = next(line for line in lines if line["event"] == "failure")
    assert failure["source"] == "notion" and "refused the token" in str(failure["error"])
    summary = lines[-1]
    assert summary["outcome"] == "failed" and "refused the token" in str(summary["reason"])
    assert summary["run_id"] == 1 and summary["writes"] == 0


def test_the_command_lines_own_errors_are_json_lines_too(example: Path) -> None:
    env = {**os.environ, "OKR_SYNC_NOW": FROZEN_NOW}
    missing = example.parent / "nope.yaml"
    code, out, err = run(["sync", "-c", str(missing), "--log-format", "json"], env=env)
    assert code == 2 and out == ""
    (line,) = json_lines(err)
    assert line["event"] == "error" and line["level"] == "error" and line["exit_code"] == 2
    with SqliteLocation(load_config(example).state_path).run_lock():  # held by this process
        code, out, err = run(["sync", "-c", str(example), "--log-format", "json"], env=env)
    assert code == 3
    (line,) = json_lines(err)
    assert "another okr-sync run" in str(line["error"])


def test_an_okr_file_that_became_invalid_under_schedule_is_a_recorded_failed_run(
    example: Path,
) -> None:
    loaded = load_config(example)
    okrs = example.parent / "okrs.yaml"
    calls = []

    def tick(should_stop: object) -> object:
        calls.append(1)
        if len(calls) == 2:  # someone saves a broken OKR file between two ticks
            okrs.write_text(okrs.read_text().replace("key_results:", "key_results: [", 1))
        return run_sync(loaded, now=lambda: NOW)

    clock = [NOW]
    scheduler = Scheduler(
        cron.parse("*/30 * * * *"), tick, clock=lambda: clock[0], max_runs=2, run_now=True,
        sleep=lambda s: clock.__setitem__(0, clock[0] + dt.timedelta(seconds=s)),
    )  # fmt: skip
    assert scheduler.run().last == "failed"
    code, out, _ = invoke("status", "-c", str(example), "--json")
    runs = json.loads(out)["runs"]
    assert code == 1 and [r["outcome"] for r in runs] == ["failed", "ok"]
    assert "okrs.yaml" in runs[0]["reason"]
    with pytest.raises(ConfigError):  # as `sync` reports it
        run_sync(loaded, now=lambda: NOW)


# --- 3: one message per cause ---------------------------------------------------------------


def test_a_refused_jira_token_is_said_once_on_the_reading_side(world: CrashWorld) -> None:
    assert world.cli("sync")[0] == 0
    code, out, err = world.cli("sync", env={"JIRA_API_TOKEN": "wrong-token-1234"})
    cause = "answered 401"
    assert code == 1
    assert err.count(cause) == 1 and "pull from jira failed" in err  # the log: once
    assert out.count(cause) == 1 and "source failed: jira: " in out  # the report: once
    assert "reading jira failed" not in err
    assert "Nothing to write: every target already holds the computed values" not in out
    assert "Nothing to write among the values computed; not written: " in out
    assert "target jira (not read)" in out
    code, out, _ = world.cli("status")
    assert code == 1 and out.count(cause) == 1
    assert "kr KR-1: stale: not updated, an item source failed (jira: see above)" in out


# --- 4: okr-sync accept ------------------------------------------------------------------------


def test_accept_keeps_the_human_value_until_someone_edits_it_again(example: Path) -> None:
    example.write_text(example.read_text().replace("conflicts: overwrite", "conflicts: skip"))
    report_path = example.parent / "okr-status.json"
    assert invoke("accept", "-c", str(example), "KR-3")[0] == 1  # no state store yet
    invoke("sync", "-c", str(example))
    report = json.loads(report_path.read_text())
    report["key_results"]["KR-3"]["status"] = "Achieved"
    report_path.write_text(json.dumps(report))
    for _ in range(2):  # the same conflict on every run
        code, out, _ = invoke("sync", "-c", str(example), "--json")
        assert [c["key"] for c in json.loads(out)["conflicts"]] == ["KR-3"]

    code, _, err = invoke("accept", "-c", str(example), "KR-3", "current")
    assert code == 1 and "no open conflict on KR-3 current" in err and "status" in err
    code, _, err = invoke("accept", "-c", str(example), "KR-3", "--target", "jira")
    assert code == 2 and "no write target named 'jira'" in err
    with SqliteLocation(load_config(example).state_path).run_lock():
        assert invoke("accept", "-c", str(example), "KR-3")[0] == 3
    code, out, _ = invoke("accept", "-c", str(example), "KR-3", "status", "--target", "report")
    assert code == 0 and "accepted: report KR-3 status = Achieved" in out

    code, out, _ = invoke("sync", "-c", str(example), "--json")
    assert code == 0 and json.loads(out)["conflicts"] == []
    assert json.loads(report_path.read_text())["key_results"]["KR-3"]["status"] == "Achieved"
    code, out, _ = invoke("explain", "-c", str(example), "KR-3")
    assert "human values accepted" in out and "report status = Achieved" in out

    report = json.loads(report_path.read_text())
    report["key_results"]["KR-3"]["status"] = "Off track"  # edited again
    report_path.write_text(json.dumps(report))
    code, out, _ = invoke("sync", "-c", str(example), "--json")
    assert [c["human_value"] for c in json.loads(out)["conflicts"]] == ["Off track"]
