"""The benchmark scripts keep working (figures are printed, not asserted on)."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_link_compute.py"


def test_link_compute_benchmark_runs_in_quick_mode(capsys: pytest.CaptureFixture[str]) -> None:
    module = runpy.run_path(str(BENCH))
    assert module["main"](["--quick"]) == 0
    out = capsys.readouterr().out
    assert "200 KRs over" in out and "20,000 items" in out
    assert "link+compute+roll-up:" in out and "peak RSS" in out


def test_jira_benchmark_runs_in_quick_mode(capsys: pytest.CaptureFixture[str]) -> None:
    module = runpy.run_path(str(BENCH.with_name("bench_jira.py")))
    assert module["main"](["--quick"]) == 0
    out = capsys.readouterr().out
    assert "run 2" in out and "epics holding their KRs' current state: 40/40" in out
    assert "(no pull)" not in out  # the pulls were seen: searches are set against a floor


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
