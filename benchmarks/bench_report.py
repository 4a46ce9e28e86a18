"""``okr-sync report`` on a big history: file size and generation time.

Fills a SQLite state store in a temporary folder with 500 KRs (``--krs``) under
50 objectives and 90 daily runs (``--runs``), each KR with ~20 counted items in
its provenance (a few stale days, a few failures), then times gathering the
data from the store and rendering the page, and prints the file's size.
``--quick``: 60 KRs × 20 runs (tests/test_benchmarks.py runs it).
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from okr_sync.cli.report import write_report  # noqa: E402
from okr_sync.core.evaluate import KrSnapshot  # noqa: E402
from okr_sync.models import (  # noqa: E402
    DEFAULT_STATUS_LABELS,
    CountedItem,
    KrResult,
    ObjectivePart,
    ObjectiveResult,
    Provenance,
    RunSummary,
    Status,
)
from okr_sync.state.store import StateStore  # noqa: E402

START = dt.date(2026, 1, 1)
END = dt.date(2026, 3, 31)


def _status(progress: float, expected: float) -> Status:
    if progress >= 1:
        return Status.ACHIEVED
    if progress >= expected - 0.1:
        return Status.ON_TRACK
    return Status.AT_RISK if progress >= expected - 0.25 else Status.OFF_TRACK


def fill(store: StateStore, krs: int, runs: int, seed: int = 1) -> None:
    """Record ``runs`` daily runs of ``krs`` KRs (as the engine records them)."""
    rng = random.Random(seed)
    objectives = max(1, krs // 10)
    rates = [rng.uniform(0.3, 1.3) for _ in range(krs)]
    items = [rng.randint(10, 30) for _ in range(krs)]
    for day in range(runs):
        started = dt.datetime.combine(START + dt.timedelta(days=day), dt.time(6), dt.UTC)
        run_id = store.start_run(started)
        expected = round((day + 1) / ((END - START).days + 1), 4)
        results = []
        for k in range(krs):
            total = items[k]
            done = min(total, int(total * expected * rates[k]))
            progress = round(done / total, 4)
            counted = tuple(
                CountedItem(key=f"P{k}-{i}", done=i < done, title=f"Work item {i} of KR {k}")
                for i in range(total)
            )
            stale = rng.random() < 0.01
            results.append(
                KrResult(
                    kr_id=f"KR-{k + 1}",
                    title=f"Key result number {k + 1}",
                    measure="issues_done",
                    done=None if stale else done,
                    total=None if stale else total,
                    progress=None if stale else progress,
                    expected=expected,
                    status=None if stale else _status(progress, expected),
                    stale=stale,
                    error="an item source failed (jira: timeout)" if stale else None,
                    provenance=Provenance(selectors=(f"epic P{k}",), counted=counted),
                    period_start=START,
                    period_end=END,
                )
            )
        objs = [
            ObjectiveResult(
                objective_id=f"O-{o + 1}",
                title=f"Objective {o + 1}",
                progress=0.5,
                expected=expected,
                status=Status.ON_TRACK,
                parts=tuple(
                    ObjectivePart(kind="key_result", id=r.kr_id, progress=r.progress)
                    for r in results[o::objectives]
                ),
            )
            for o in range(objectives)
        ]
        summary = RunSummary(
            run_id=run_id, started_at=started, finished_at=started,
            key_results=tuple(results), objectives=tuple(objs),
        )  # fmt: skip
        snaps = [
            KrSnapshot(r, len(r.provenance.counted), "fp", frozenset({"jira"})) for r in results
        ]
        store.finish_run(summary, "ok", snaps, objs, {})


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; prints the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--krs", type=int, default=500)
    parser.add_argument("--runs", type=int, default=90)
    parser.add_argument("--quick", action="store_true", help="60 KRs × 20 runs")
    args = parser.parse_args(argv)
    krs, runs = (60, 20) if args.quick else (args.krs, args.runs)
    with tempfile.TemporaryDirectory() as folder:
        store = StateStore.open(Path(folder) / "state.db")
        try:
            began = time.perf_counter()
            fill(store, krs, runs)
            filled = time.perf_counter() - began
            out = Path(folder) / "okr-report.html"
            began = time.perf_counter()
            now = dt.datetime.combine(END, dt.time(12), dt.UTC)
            data = write_report(store, DEFAULT_STATUS_LABELS, out, now)
            took = time.perf_counter() - began
        finally:
            store.close()
        size = out.stat().st_size
    print(f"{krs} KRs × {runs} runs ({krs * runs:,} snapshots; store filled in {filled:.1f} s)")
    print(f"report: {len(data.krs)} KRs, {size / 1024 / 1024:.2f} MiB, generated in {took:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
