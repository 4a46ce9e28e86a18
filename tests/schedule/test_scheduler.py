"""The scheduler on a simulated clock: every tick once, locks, failures, backoff, stopping."""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from connectors.memory import MemoryConnector
from okr_sync.config.loading import load_config
from okr_sync.engine.runner import run_sync
from okr_sync.errors import ConfigError, LockHeld, Problem, SourceError
from okr_sync.models import FieldValue, KrResult, RecordRef, RunSummary, WriteFailure
from okr_sync.schedule.cron import parse
from okr_sync.schedule.scheduler import Scheduler
from okr_sync.state.location import SqliteLocation
from okr_sync.state.store import StateStore
from tests.engine.test_engine import CONFIG, TREE, work_items

MONDAY = dt.datetime(2026, 11, 16, tzinfo=dt.UTC)
HALF_HOUR = dt.timedelta(minutes=30)
EVERY_30 = parse("*/30 * * * *")


class FakeTime:
    """A clock that only moves when the scheduler sleeps or a run takes time."""

    def __init__(self, start: dt.datetime, end: dt.datetime | None = None) -> None:
        self.now = start
        self.end = end
        self.slept: list[float] = []
        self.scheduler: Scheduler | None = None

    def clock(self) -> dt.datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds > 0
        self.slept.append(seconds)
        self.advance(dt.timedelta(seconds=seconds))

    def advance(self, by: dt.timedelta) -> None:
        self.now += by
        if self.end is not None and self.now >= self.end and self.scheduler is not None:
            self.scheduler.stop("end of the simulation")


class FakeRuns:
    """A run function recording when each run started and ended; outcomes are scripted."""

    def __init__(
        self,
        time: FakeTime,
        duration: Callable[[int], dt.timedelta] = lambda n: dt.timedelta(seconds=20),
        outcome: Callable[[int], str] = lambda n: "ok",
    ) -> None:
        self.time = time
        self.duration = duration
        self.outcome = outcome
        self.spans: list[tuple[dt.datetime, dt.datetime]] = []

    def __call__(self, should_stop: Callable[[], bool]) -> RunSummary:
        number = len(self.spans)
        start = self.time.now
        self.time.advance(self.duration(number))
        self.spans.append((start, self.time.now))
        result = self.outcome(number)
        if result == "raise":
            raise SourceError("jira", "HTTP 503")
        if result == "locked":
            raise LockHeld("another okr-sync run (pid 42 on elsewhere) holds the lock")
        errors = {"jira": "jira: HTTP 503"} if result == "failed" else {}
        failures: tuple[WriteFailure, ...] = ()
        if result == "target":  # a target that could not be read at all (see Engine.run)
            failures = (WriteFailure(target="notion", ref=RecordRef(kind="key_result", id="*"),
                                     owner="notion", error="notion: HTTP 503"),)  # fmt: skip
        if result == "write":  # one record's write failed; the others went through
            failures = (WriteFailure(target="notion", ref=RecordRef(kind="key_result", id="KR-1"),
                                     owner="KR-1", error="notion: validation_error"),)  # fmt: skip
        krs = ()
        if result == "kr":  # one KR stale: its epic was deleted
            krs = (KrResult(kr_id="KR-1", title="Epics done", measure="issues_done", stale=True,
                            error="its linked items dropped to none"),)  # fmt: skip
        return RunSummary(
            started_at=start, source_errors=errors, failures=failures, key_results=krs
        )

    @property
    def starts(self) -> list[dt.datetime]:
        return [start for start, _ in self.spans]


def scheduler(time: FakeTime, runs: Any, **kw: Any) -> Scheduler:
    sched = Scheduler(EVERY_30, runs, clock=time.clock, sleep=time.sleep, **kw)
    time.scheduler = sched
    return sched


def tick_of(moment: dt.datetime) -> dt.datetime:
    return moment.replace(minute=moment.minute // 30 * 30, second=0, microsecond=0)


WEEK_TICKS = [MONDAY + i * HALF_HOUR for i in range(7 * 48)]


def test_a_week_at_every_half_hour_runs_336_syncs_each_on_its_tick() -> None:
    time = FakeTime(MONDAY - dt.timedelta(seconds=1), end=MONDAY + dt.timedelta(days=7))
    runs = FakeRuns(time)
    result = scheduler(time, runs).run()
    assert runs.starts == WEEK_TICKS
    assert result.runs == 336 and result.stopped and result.last == "ok"


def test_with_jitter_each_run_starts_within_the_jitter_of_its_tick() -> None:
    time = FakeTime(MONDAY - dt.timedelta(seconds=1), end=MONDAY + dt.timedelta(days=7))
    runs = FakeRuns(time)
    scheduler(time, runs, jitter_seconds=600, rng=random.Random(7)).run()
    assert len(runs.starts) == 336
    assert [tick_of(s) for s in runs.starts] == WEEK_TICKS
    delays = [(s - tick).total_seconds() for s, tick in zip(runs.starts, WEEK_TICKS, strict=True)]
    assert all(0 <= d <= 600 for d in delays) and len(set(delays)) > 300  # really random


def test_jitter_longer_than_the_interval_never_doubles_a_run() -> None:
    time = FakeTime(MONDAY - dt.timedelta(seconds=1), end=MONDAY + dt.timedelta(days=7))
    runs = FakeRuns(time)
    scheduler(time, runs, jitter_seconds=3600, rng=random.Random(3)).run()
    assert len(runs.starts) == 336
    assert [tick_of(s) for s in runs.starts] == WEEK_TICKS
    delays = [(s - tick).total_seconds() for s, tick in zip(runs.starts, WEEK_TICKS, strict=True)]
    assert max(delays) <= 900  # capped at half the 30-minute gap


def test_runs_longer_than_the_interval_are_made_up_once_never_twice(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, "okr_sync.schedule.scheduler")
    time = FakeTime(MONDAY - dt.timedelta(seconds=1), end=MONDAY + dt.timedelta(days=7))

    def duration(n: int) -> dt.timedelta:
        return dt.timedelta(minutes=40 if n % 5 == 0 else 1)

    runs = FakeRuns(time, duration=duration)
    scheduler(time, runs, jitter_seconds=300, rng=random.Random(1)).run()
    assert len(runs.starts) == 336
    assert sorted({tick_of(s) for s in runs.starts}) == WEEK_TICKS  # none missed, none twice
    for (_, end), (start, _) in itertools.pairwise(runs.spans):
        assert start >= end  # never two at once
    made_up = [s for s in runs.starts if s.minute % 30 >= 10]  # started right after a long run
    assert made_up and "one run makes up for them now" in caplog.text


def test_several_ticks_missed_in_one_long_run_give_one_run_then_the_next_tick() -> None:
    time = FakeTime(MONDAY - dt.timedelta(seconds=1))
    runs = FakeRuns(time, duration=lambda n: dt.timedelta(minutes=100 if n == 0 else 1))
    scheduler(time, runs, max_runs=3).run()
    # 00:00 runs until 01:40 (00:30, 01:00 and 01:30 fell during it): one run at 01:40, then 02:00
    assert runs.starts == [MONDAY, MONDAY + dt.timedelta(minutes=100), MONDAY + 4 * HALF_HOUR]


def test_run_now_runs_at_once_then_follows_the_schedule(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "okr_sync.schedule.scheduler")
    start = MONDAY + dt.timedelta(minutes=7)
    time = FakeTime(start)
    runs = FakeRuns(time)
    result = scheduler(time, runs, run_now=True, max_runs=3).run()
    assert runs.starts == [start, MONDAY + HALF_HOUR, MONDAY + 2 * HALF_HOUR]
    assert result.runs == 3 and not result.stopped
    assert "next run at 2026-11-16T00:30:00+00:00" in caplog.text


def test_a_tick_whose_lock_is_held_is_skipped_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "okr_sync.schedule.scheduler")
    time = FakeTime(MONDAY - dt.timedelta(seconds=1))
    runs = FakeRuns(time, outcome=lambda n: "locked" if n == 1 else "ok")
    result = scheduler(time, runs, max_runs=3).run()
    assert runs.starts == WEEK_TICKS[:3] and result.last == "ok"
    assert "skipped the run of 2026-11-16T00:30:00+00:00: another okr-sync run" in caplog.text


def test_a_real_lock_held_by_another_run_skips_the_tick(tmp_path: Path) -> None:
    setup = MemorySetup(tmp_path)
    time = FakeTime(MONDAY - dt.timedelta(seconds=1))
    with SqliteLocation(setup.loaded.state_path).run_lock():
        result = scheduler(time, setup.run, max_runs=1).run()
    assert result.last == "locked" and setup.pages.writes == []


def test_a_failing_run_does_not_stop_the_schedule() -> None:
    time = FakeTime(MONDAY - dt.timedelta(seconds=1))
    script = {0: "raise", 1: "failed"}
    runs = FakeRuns(time, outcome=lambda n: script.get(n, "ok"))
    result = scheduler(time, runs, max_runs=4).run()
    assert runs.starts == WEEK_TICKS[:4] and result.last == "ok"


def test_repeated_failures_back_off_exponentially_then_recover(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, "okr_sync.schedule.scheduler")
    time = FakeTime(MONDAY - dt.timedelta(seconds=1))
    runs = FakeRuns(time, outcome=lambda n: "raise" if n < 5 else "ok")
    scheduler(time, runs, max_runs=7).run()
    ticks = [WEEK_TICKS.index(tick_of(s)) for s in runs.starts]
    # failures 1-3 run on every tick; then 1, 2 and 4 ticks are skipped; success resets
    assert ticks == [0, 1, 2, 4, 7, 12, 13]
    assert "3 failed runs in a row: backing off, skipping 1 tick(s)" in caplog.text
    assert "5 failed runs in a row: backing off, skipping 4 tick(s)" in caplog.text
    assert "skipped the run of 2026-11-16T01:30:00+00:00: backing off" in caplog.text
    assert "run succeeded after 5 failed run(s): back to the normal schedule" in caplog.text


@pytest.mark.parametrize("outcome", ["kr", "write"])
def test_a_run_where_only_some_krs_failed_never_backs_off(
    outcome: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "okr_sync.schedule.scheduler")
    time = FakeTime(MONDAY - dt.timedelta(seconds=1), end=MONDAY + dt.timedelta(days=1))
    runs = FakeRuns(time, outcome=lambda n: outcome)
    result = scheduler(time, runs).run()
    assert runs.starts == WEEK_TICKS[:48]  # every tick of the day ran: no backoff
    assert result.last == "failed"  # still reported as a failed run (exit code 1 with --max-runs)
    assert "backing off" not in caplog.text
    assert "run of 2026-11-16T00:00:00+00:00: failed or stale: KR-1" in caplog.text


@pytest.mark.parametrize("outcome", ["failed", "target", "raise"])
def test_a_source_a_target_or_the_whole_run_failing_backs_off(outcome: str) -> None:
    time = FakeTime(MONDAY - dt.timedelta(seconds=1))
    runs = FakeRuns(time, outcome=lambda n: outcome)
    scheduler(time, runs, max_runs=5).run()
    ticks = [WEEK_TICKS.index(tick_of(s)) for s in runs.starts]
    assert ticks == [0, 1, 2, 4, 7]


def test_a_kr_level_failure_between_whole_failures_restores_the_schedule() -> None:
    time = FakeTime(MONDAY - dt.timedelta(seconds=1))
    script = {0: "failed", 1: "failed", 2: "target", 3: "kr"}
    runs = FakeRuns(time, outcome=lambda n: script.get(n, "failed"))
    scheduler(time, runs, max_runs=7).run()
    ticks = [WEEK_TICKS.index(tick_of(s)) for s in runs.starts]
    # three whole failures: skip 1; the KR-level run worked: the count starts again
    assert ticks == [0, 1, 2, 4, 5, 6, 7]


def test_a_deleted_epic_does_not_slow_the_schedule_for_everyone(tmp_path: Path) -> None:
    setup = MemorySetup(tmp_path)
    setup.connectors["work"].remove("E-1")  # KR-1's epic: KR-1 fails, KR-2 is written
    time = FakeTime(MONDAY - dt.timedelta(seconds=1))
    summaries: list[RunSummary] = []
    result = scheduler(time, setup.run, max_runs=6, on_summary=summaries.append).run()
    assert len(summaries) == 6 and all("KR-1" in s.failed for s in summaries)
    assert all(not s.source_errors and s.writes <= 2 for s in summaries)
    assert result.runs == 6 and time.now < MONDAY + 6 * HALF_HOUR  # six ticks in a row


def test_backoff_is_capped() -> None:
    time = FakeTime(MONDAY - dt.timedelta(seconds=1))
    runs = FakeRuns(time, outcome=lambda n: "failed")
    scheduler(time, runs, max_runs=9, max_backoff=dt.timedelta(hours=2)).run()
    ticks = [WEEK_TICKS.index(tick_of(s)) for s in runs.starts]
    gaps = [b - a for a, b in itertools.pairwise(ticks)]
    assert gaps == [1, 1, 2, 3, 4, 4, 4, 4]  # skips 1, 2, then at most 3 (2 h)


def test_a_config_error_in_the_first_run_ends_the_schedule() -> None:
    time = FakeTime(MONDAY)

    def bad(should_stop: Callable[[], bool]) -> RunSummary:
        raise ConfigError([Problem("okr-sync.yaml", 3, "mapping.rules[0].kr", "unknown KR")])

    with pytest.raises(ConfigError):
        scheduler(time, bad, run_now=True).run()


def test_a_config_error_in_a_later_run_is_a_failed_run() -> None:
    time = FakeTime(MONDAY - dt.timedelta(seconds=1))
    calls: list[int] = []

    def flaky(should_stop: Callable[[], bool]) -> RunSummary:
        calls.append(1)
        if len(calls) == 2:
            raise ConfigError([Problem("okr-sync.yaml", 3, "mapping.rules[0].kr", "unknown KR")])
        return RunSummary(started_at=time.now)

    result = scheduler(time, flaky, max_runs=3).run()
    assert len(calls) == 3 and result.last == "ok"


def test_a_stop_while_waiting_ends_at_once() -> None:
    time = FakeTime(MONDAY - dt.timedelta(seconds=1), end=MONDAY - dt.timedelta(seconds=1))
    runs = FakeRuns(time)
    sched = scheduler(time, runs)
    sched.stop("SIGTERM")
    result = sched.run()
    assert result == type(result)(runs=0, stopped=True, last=None) and runs.spans == []


# --- stopping in the middle of a real run --------------------------------------------------


class StoppingPages(MemoryConnector):
    """A target whose n-th write is under way when the stop arrives."""

    stop_during: int = 0
    on_stop: Callable[[], None] = staticmethod(lambda: None)

    def write_record(self, ref: RecordRef, values: Any) -> None:
        if len(self.writes) + 1 == self.stop_during:
            self.on_stop()  # the signal arrives while this write is in flight
        super().write_record(ref, values)


class MemorySetup:
    def __init__(self, tmp_path: Path) -> None:
        path = tmp_path / "okr-sync.yaml"
        path.write_text(CONFIG)
        self.loaded = load_config(path)
        self.pages = StoppingPages("pages")
        self.connectors = {
            "okrs": MemoryConnector("okrs", tree=TREE),
            "work": MemoryConnector("work", items=work_items()),
            "pages": self.pages,
        }

    def run(self, should_stop: Callable[[], bool]) -> RunSummary:
        return run_sync(
            self.loaded,
            now=lambda: MONDAY,
            should_stop=should_stop,
            connectors=self.connectors,
        )

    def state(self) -> StateStore:
        return StateStore.open(self.loaded.state_path)


def test_a_stop_mid_run_finishes_the_write_leaves_the_rest_and_ends_cleanly(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "okr_sync.engine.engine")
    caplog.set_level(logging.WARNING)  # earlier CLI runs may have raised the root level
    setup = MemorySetup(tmp_path)
    time = FakeTime(MONDAY - dt.timedelta(seconds=1))
    summaries: list[RunSummary] = []
    sched = scheduler(time, setup.run, on_summary=summaries.append)
    setup.pages.stop_during = 2
    setup.pages.on_stop = lambda: sched.stop("SIGTERM")
    result = sched.run()

    assert result.stopped and result.runs == 1
    (summary,) = summaries
    assert [ref.id for ref, _ in setup.pages.writes] == ["KR-1", "KR-2"]  # the 2nd finished
    assert summary.writes == 2 and summary.stopped_early and not summary.failed
    assert "stopped early: 1 of 3 write(s) not started" in " ".join(summary.notes)
    assert "stop requested: 1 of 3 write(s) not started" in caplog.text

    state = setup.state()
    try:
        (run,) = state.runs()
        assert run["outcome"] == "stopped" and run["finished_at"]
        written = state.last_written("pages")
        assert {ref.id for ref, _ in written} == {"KR-1", "KR-2"}  # nothing left pending
        assert all(len(values) == 1 for values in written.values())
    finally:
        state.close()

    # The next run makes the write that was never started, as an ordinary change.
    setup.pages.stop_during = 0
    again = setup.run(lambda: False)
    assert again.writes == 1 and again.plan.conflicts == () and not again.stopped_early
    page: dict[str, FieldValue] = setup.pages.records[RecordRef(kind="objective", id="O-1")]
    assert page["progress"] == pytest.approx(0.375)
