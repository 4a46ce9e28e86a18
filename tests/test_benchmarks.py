"""The benchmark scripts keep working (figures are printed, not asserted on)."""

from __future__ import annotations

import re
import runpy
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.postgres import PgTarget

BENCH = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_link_compute.py"


def test_link_compute_benchmark_runs_in_quick_mode(capsys: pytest.CaptureFixture[str]) -> None:
    module = runpy.run_path(str(BENCH))
    assert module["main"](["--quick"]) == 0
    out = capsys.readouterr().out
    assert "200 KRs over" in out and "20,000 items" in out
    assert "link+compute+roll-up:" in out and "peak RSS" in out
    assert re.search(
        r"^FIGURE compute\.link_compute: .* floor [\d.]+ s \(one pass over the items", out, re.M
    )


def test_startup_benchmark_runs_in_quick_mode(capsys: pytest.CaptureFixture[str]) -> None:
    module = runpy.run_path(str(BENCH.with_name("bench_startup.py")))
    assert module["main"](["--quick"]) == 0
    out = capsys.readouterr().out
    assert "median of 3 rounds" in out and "one pydantic model defined and validated" in out
    for key in ("startup.help", "startup.plan_help", "startup.validate"):
        assert re.search(
            rf"^FIGURE {re.escape(key)}: .* ms; floor [\d.,]+ ms .*ratio [\d.]+×", out, re.M
        )


def test_jira_benchmark_runs_in_quick_mode(capsys: pytest.CaptureFixture[str]) -> None:
    module = runpy.run_path(str(BENCH.with_name("bench_jira.py")))
    assert module["main"](["--quick"]) == 0
    out = capsys.readouterr().out
    assert "run 2" in out and "epics holding their KRs' current state: 40/40" in out
    assert "(no pull)" not in out  # the pulls were seen: searches are set against a floor


def test_state_benchmark_runs_in_quick_mode_on_both_backends(
    capsys: pytest.CaptureFixture[str], postgres_db: PgTarget, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OKR_BENCH_TEST_PASSWORD", postgres_db.password)
    module = runpy.run_path(str(BENCH.with_name("bench_state.py")))
    argv = ["--quick", "--url", postgres_db.url, "--password-env", "OKR_BENCH_TEST_PASSWORD"]
    assert module["main"](argv) == 0
    out = capsys.readouterr().out
    assert "100 KRs, 10 objectives, 2,000 cached items, 10 KRs changed (11 record writes)" in out
    assert "runs 2-4 (a new store; each phase's median of 3 runs):" in out
    assert "runs 31-33 (after 30 runs; median of 3):" in out
    for phase in ("reads", "history", "start_run", "writes", "adopt", "finish_run", "total"):
        # a time and a statement count for each backend, and the ratio
        assert re.search(rf"^{phase} +[\d.]+ +[\d,]+ +[\d.]+ +[\d,]+ +[\d.]+x$", out, re.M), phase
    for query in ("runs(10)", "run_summary(latest)", "previous()", 'history("kr", KR-0051)'):
        assert re.search(rf"^{re.escape(query)} +[\d.]+ +[\d.]+ +[\d.]+x$", out, re.M), query
    assert "SQLite: filled 26 runs" in out and "PostgreSQL: filled 26 runs" in out
    # The same rows on both: 110 KRs and objectives, then a row per value that moved.
    assert out.count("33 runs, 430 snapshots") == 2


def test_state_bytes_benchmark_runs_in_quick_mode(capsys: pytest.CaptureFixture[str]) -> None:
    module = runpy.run_path(str(BENCH.with_name("bench_state_bytes.py")))
    assert module["main"](["--quick"]) == 0
    out = capsys.readouterr().out
    assert "the demo organisation synced 13 times" in out
    for table in ("snapshots", "runs", "changes", "provenances", "whole file"):
        assert re.search(rf"^{table} +[\d,]+ +[\d,]+ +[\d,]+$", out, re.M), table
    grown = re.search(r"^store growth per run: ([\d,]+) bytes \(target <= 4,096\)$", out, re.M)
    assert grown, out
    assert "FIGURE state.bytes_per_run: " in out and "; floor " in out


def test_report_benchmark_runs_in_quick_mode(capsys: pytest.CaptureFixture[str]) -> None:
    module = runpy.run_path(str(BENCH.with_name("bench_report.py")))
    assert module["main"](["--quick"]) == 0
    out = capsys.readouterr().out
    assert "60 KRs × 20 runs (1,200 snapshots" in out
    assert "report: 60 KRs, " in out and "MiB, generated in" in out


def test_forecast_benchmark_runs_in_quick_mode(capsys: pytest.CaptureFixture[str]) -> None:
    module = runpy.run_path(str(BENCH.with_name("bench_forecast.py")))
    assert module["main"](["--quick", "--per-kind", "5"]) == 0
    out = capsys.readouterr().out
    for kind in ("steady", "accelerating", "stalled", "scope-creeping"):
        assert f"| {kind} @ 25 %" in out and f"| {kind} @ 75 %" in out
    assert "| all " in out and "P10–P90 holds actual" in out and "60 forecasts in" in out


def test_notion_benchmark_runs_in_quick_mode(capsys: pytest.CaptureFixture[str]) -> None:
    module = runpy.run_path(str(BENCH.with_name("bench_notion.py")))
    # The sandbox's limit and the connector's throttle at 20/s: Notion's pattern, faster.
    argv = ["--quick", "--rps", "20", "--rate-limit", "20", "--latency", "0.05"]
    assert module["main"](argv) == 0
    out = capsys.readouterr().out
    assert out.count("every page holds what the engine computed") == 3
    assert out.count("429s       0 answered by the sandbox") == 3  # writes in flight add no rate
    assert "FIGURE notion.first_sync_latency: Notion first sync of 60 KRs at 50 ms" in out
    # A rerun with nothing changed: the query pages and the one schema no page stands for.
    assert "FIGURE notion.noop_extra_requests: " in out
    assert re.search(r"requests beyond the query pages: 1 requests; floor 1 requests", out)
    assert re.search(r"FIGURE notion\.noop_reads: .*: 5 requests; floor 5 requests", out)
    assert "FIGURE notion.rate_limited: Notion: 429s met in the three runs: 0 429s" in out
