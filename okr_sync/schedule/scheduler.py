"""Syncs on a cron schedule, in the foreground (``okr-sync schedule``).

Each tick runs one sync through a function given to the :class:`Scheduler`
(in the CLI: :func:`okr_sync.engine.runner.run_sync`, under the same lock as
``okr-sync sync``). The clock, the sleep and the random source are injected,
so a week of ticks can be simulated without waiting.

- A tick whose lock is held by another run is skipped (logged).
- ``jitter_seconds`` delays each tick by a random 0..N seconds, so many
  deployments on the same schedule do not hit an API at the same second
  (never more than half the gap to the following tick).
- A failing run never ends the schedule. Only a run that failed as a whole
  counts towards backing off: an exception, a source that could not be pulled,
  or a target that could not be read (see :func:`whole_failures`). A run whose
  sources and targets answered but where some key results failed or were stale
  (a deleted epic, a KR left empty) is reported, not punished: it counts as a
  run that worked, since backing off would only delay every other KR. After
  ``failures_before_backoff`` whole failures in a row, ticks are skipped: 1,
  then 2, 4, 8 … after each further failure, never pausing longer than
  ``max_backoff``; one run that worked returns to the normal schedule.
- Ticks that fall while a run is still going are made up by one run right
  after it, however many there were, then the schedule goes on with the next
  future tick: nothing is run twice, and there is no burst.
- :meth:`Scheduler.stop` (the CLI calls it on SIGTERM/SIGINT) lets the write
  under way finish, starts no other (the run is recorded as stopped), and
  ends the schedule.
- A config error in the first run ends the schedule (it will not fix
  itself); a later one (say, a KR renamed in the OKR source) counts as a
  failed run, so that fixing the source needs no restart.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from okr_sync.errors import ConfigError, DataError, LockHeld, OkrSyncError
from okr_sync.models import RunSummary
from okr_sync.schedule.cron import Cron

log = logging.getLogger(__name__)

#: Runs one sync; is given the function that says whether to stop early.
RunFunction = Callable[[Callable[[], bool]], RunSummary]

#: The longest a real sleep lasts before the stop flag and the clock are looked at again.
POLL_SECONDS = 1.0


def _nap(seconds: float) -> None:
    time.sleep(min(seconds, POLL_SECONDS))


def _wall_clock() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class ScheduleResult:
    """How a schedule ended."""

    runs: int  # ticks that reached the lock: runs made, plus those skipped as locked
    stopped: bool  # ended by :meth:`Scheduler.stop`, not by ``max_runs``
    last: str | None  # the last tick: "ok", "failed" or "locked" (None: no tick yet)


def _when(moment: dt.datetime) -> str:
    return moment.isoformat(timespec="seconds")


def whole_failures(summary: RunSummary) -> list[str]:
    """What failed as a whole in a run: sources that could not be pulled, targets not read.

    A target that could not be read at all is reported by the engine as a
    :class:`~okr_sync.models.WriteFailure` whose record id is ``"*"``. Failed or
    stale KRs and objectives, and single writes that failed, are not listed: they
    are the KR's own trouble, and the run still served every other KR.
    """
    out = [f"source {error}" for error in summary.source_errors.values()]
    out += [
        f"target {failure.target}: {failure.error}"
        for failure in summary.failures
        if failure.ref.id == "*"
    ]
    return out


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h {rest // 60:02d}m" if hours else f"{rest // 60}m {rest % 60:02d}s"


class Scheduler:
    """Runs a sync function on the ticks of a cron expression until stopped."""

    def __init__(
        self,
        cron: Cron,
        run: RunFunction,
        *,
        tz: dt.tzinfo = dt.UTC,
        jitter_seconds: int = 0,
        clock: Callable[[], dt.datetime] = _wall_clock,
        sleep: Callable[[float], None] = _nap,
        rng: random.Random | None = None,
        max_runs: int | None = None,
        run_now: bool = False,
        failures_before_backoff: int = 3,
        max_backoff: dt.timedelta = dt.timedelta(hours=6),
        on_summary: Callable[[RunSummary], None] | None = None,
    ) -> None:
        self.cron = cron
        self.tz = tz
        self.jitter_seconds = jitter_seconds
        self.clock = clock
        self.sleep = sleep
        self.rng = rng or random.Random()
        self.max_runs = max_runs
        self.run_now = run_now
        self.failures_before_backoff = failures_before_backoff
        self.max_backoff = max_backoff
        self.on_summary = on_summary
        self._run = run
        self._stop = False
        self._runs = 0
        self._ran = False  # a run got past loading the OKRs (config errors no longer fatal)
        self._last: str | None = None
        self._failures = 0  # failed runs in a row
        self._skip = 0  # ticks still to skip while backing off

    # --- stopping --------------------------------------------------------------
    def stop(self, reason: str = "stop requested") -> None:
        """Stop after the write under way; safe to call from a signal handler."""
        if not self._stop:
            self._stop = True
            log.info(
                "%s: the write under way finishes, then the schedule ends",
                reason,
                extra={"event": "schedule_stop", "reason": reason},
            )

    def stopping(self) -> bool:
        """Whether a stop was requested (passed to each run as ``should_stop``)."""
        return self._stop

    # --- the loop --------------------------------------------------------------
    def run(self) -> ScheduleResult:
        """Run until stopped or ``max_runs`` ticks have run.

        Raises:
            ConfigError: the first run found a config error.
            DataError: the first run found the OKRs inconsistent.
        """
        fire = self.clock() if self.run_now else self.cron.next_after(self.clock(), self.tz)
        immediate = self.run_now
        while not self._stop:
            start = fire
            if not immediate:
                delay = (
                    self.rng.uniform(0, self._jitter_limit(fire)) if self.jitter_seconds else 0.0
                )
                start = fire + dt.timedelta(seconds=delay)
                log.info(
                    "next run at %s%s",
                    _when(fire),
                    f" (+{delay:.0f}s jitter)" if self.jitter_seconds else "",
                    extra={"event": "schedule_next", "at": _when(fire), "start": _when(start)},
                )
            if not self._wait_until(start):
                break
            if self._skip:
                self._skip -= 1
                log.warning(
                    "skipped the run of %s: backing off after %d failed runs in a row",
                    _when(fire),
                    self._failures,
                    extra={"event": "schedule_skip", "reason": "backoff", "at": _when(fire)},
                )
            else:
                self._tick(fire)
                if self._stop or (self.max_runs is not None and self._runs >= self.max_runs):
                    break
            fire, immediate = self._following(fire)
        if self._stop:
            log.info(
                "schedule stopped after %d run(s)", self._runs, extra={"event": "schedule_end"}
            )
        return ScheduleResult(runs=self._runs, stopped=self._stop, last=self._last)

    def _jitter_limit(self, fire: dt.datetime) -> float:
        """``jitter_seconds``, but never more than half the gap to the following tick.

        A delay past the next tick would make that tick look missed and run it
        right after this one: two runs seconds apart.
        """
        gap = (self.cron.next_after(fire, self.tz) - fire).total_seconds()
        return min(float(self.jitter_seconds), gap / 2)

    def _wait_until(self, moment: dt.datetime) -> bool:
        """Sleep until ``moment``; False if a stop came first."""
        while not self._stop:
            left = (moment - self.clock()).total_seconds()
            if left <= 0:
                return True
            self.sleep(left)
        return False

    def _following(self, fire: dt.datetime) -> tuple[dt.datetime, bool]:
        """The tick after ``fire``, and whether it is due at once (made up after a long run)."""
        now = self.clock()
        following = self.cron.next_after(fire, self.tz)
        if following >= now:
            return following, False
        if self._skip:  # backing off: no making up, the skips count from the next tick
            return self.cron.next_after(now, self.tz), False
        missed, last = 0, following
        while following < now:  # ticks that fell during the run: one run makes them up
            missed, last = missed + 1, following
            following = self.cron.next_after(following, self.tz)
        log.warning(
            "the run took %s and %d tick(s) fell during it: one run makes up for them now",
            _duration((now - fire).total_seconds()),
            missed,
            extra={"event": "schedule_late", "missed": missed},
        )
        return last, True

    # --- one tick ----------------------------------------------------------------
    def _tick(self, fire: dt.datetime) -> None:
        try:
            summary = self._run(self.stopping)
        except LockHeld as exc:
            self._runs += 1
            self._last = "locked"
            log.warning(
                "skipped the run of %s: %s",
                _when(fire),
                exc,
                extra={"event": "schedule_skip", "reason": "locked", "at": _when(fire)},
            )
            return
        except (ConfigError, DataError) as exc:
            if not self._ran:
                raise
            self._runs += 1
            self._failed(fire, str(exc))
            return
        except Exception as exc:  # one failing run never ends the schedule
            self._runs += 1
            self._ran = True
            reason = (
                str(exc)
                if isinstance(exc, OkrSyncError)
                else f"unexpected {type(exc).__name__}: {exc}"
            )
            log.debug("run failed", exc_info=True)
            self._failed(fire, reason)
            return
        self._runs += 1
        self._ran = True
        if self.on_summary is not None:
            self.on_summary(summary)
        whole = whole_failures(summary)
        if whole:
            self._failed(fire, "; ".join(whole))
            return
        if summary.failed:  # reported by the run's own lines; the schedule goes on as usual
            log.warning(
                "run of %s: failed or stale: %s (the sources and targets answered: no backoff)",
                _when(fire),
                ", ".join(summary.failed),
                extra={"event": "schedule_partial", "failed": list(summary.failed)},
            )
        self._succeeded(partial=bool(summary.failed))

    def _succeeded(self, partial: bool = False) -> None:
        self._last = "failed" if partial else "ok"  # --max-runs exits as sync would
        if self._failures:
            log.warning(
                "run %s after %d failed run(s): back to the normal schedule",
                "worked (some KRs failed)" if partial else "succeeded",
                self._failures,
                extra={"event": "schedule_recovered", "failures": self._failures},
            )
        self._failures = self._skip = 0

    def _failed(self, fire: dt.datetime, reason: str) -> None:
        self._last = "failed"
        self._failures += 1
        log.warning(
            "run of %s failed (%d in a row): %s",
            _when(fire),
            self._failures,
            reason,
            extra={"event": "schedule_failure", "consecutive": self._failures, "error": reason},
        )
        beyond = self._failures - self.failures_before_backoff
        if beyond < 0:
            return
        wanted = 2 ** min(beyond, 16)
        now = self.clock()
        ticks = [self.cron.next_after(max(now, fire), self.tz)]
        while len(ticks) <= wanted and ticks[-1] - now <= self.max_backoff:
            ticks.append(self.cron.next_after(ticks[-1], self.tz))
        # Skip ticks so that the next run is the last one within max_backoff.
        within = [t for t in ticks if t - now <= self.max_backoff]
        self._skip = min(wanted, max(0, len(within) - 1))
        if self._skip:
            log.warning(
                "%d failed runs in a row: backing off, skipping %d tick(s); next run at %s",
                self._failures,
                self._skip,
                _when(ticks[self._skip]),
                extra={"event": "schedule_backoff", "skip": self._skip},
            )
