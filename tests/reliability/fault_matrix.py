"""The fault kinds of the reliability matrix, how each is injected, and the figures kept.

A fault kind is injected into a sandbox's fault plan at one endpoint (the
phase under test picks it, often from a request hook, so that the fault lands
mid-pull). Every kind is something the real service or the network does; see
:mod:`sandboxes.fault_plan`. ``LEDGER`` counts what the matrix did, and
each test module prints it at the end (``pytest -s``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

#: Connector settings of the fault worlds: few retries; a short timeout in "timeout" cases.
MAX_RETRIES = 3
TIMEOUT = 0.1  # seconds; a "timeout" fault answers later than this
LATE = 0.2  # how late a timed-out answer comes (it still takes effect)
SLOW = 0.02  # latency well under any timeout: the run must not notice

#: The engine's and the sandboxes' time at the start of every world.
START = dt.datetime(2026, 11, 15, 9, tzinfo=dt.UTC)

Inject = Callable[[Any, str], int]  # (fault plan, endpoint) -> faults scheduled


def _add(status: int, times: int, **extra: Any) -> Inject:
    def inject(plan: Any, endpoint: str) -> int:
        plan.add(endpoint, status, times=times, **extra)
        return times

    return inject


def _call(method: str, times: int = 1, *args: Any, **extra: Any) -> Inject:
    def inject(plan: Any, endpoint: str) -> int:
        getattr(plan, method)(endpoint, *args, times=times, **extra)
        return times

    return inject


def _paging(*methods: str) -> Inject:
    # The plans name them after their service: Jira's page tokens, Notion's cursors.
    def inject(plan: Any, endpoint: str) -> int:
        next(getattr(plan, m) for m in methods if hasattr(plan, m))()
        return 1

    return inject


#: Fault kinds by name. Statuses carry the services' real bodies (the sandboxes'
#: defaults: Jira's JSON errorMessages or HTML gateway pages, Notion's error objects).
KINDS: dict[str, Inject] = {
    "429-storm": _add(429, 3, retry_after=2),  # waited out, Retry-After honoured
    "429-quota": _add(429, 1, retry_after=3600),  # asks for an hour: reported, not slept on
    "500": _add(500, 1),  # once: a read retries it, a write reports it
    "500-exhausts": _add(500, MAX_RETRIES + 1),  # a read gives up after MAX_RETRIES retries
    "502": _add(502, 2),
    "503-exhausts": _add(503, MAX_RETRIES + 1),  # outlasts every retry
    "504": _add(504, 1),
    "reset": _call("reset"),
    "reset-after": _call("reset", after=True),  # took effect, answer lost
    "timeout": _call("slow", 1, LATE),
    "slow": _call("slow", 3, SLOW),
    "truncated": _call("truncated"),
    "malformed": _call("malformed"),
    "empty-page": _paging("empty_page_with_token", "empty_page"),  # more promised, none given
    "repeat-token": _paging("repeat_token", "repeat_cursor"),
}
#: Kinds that only make sense on a paged read.
PAGING = frozenset({"empty-page", "repeat-token"})


def arm(plan: Any, kind: str, target: str, trigger: tuple[str, int] | None) -> Callable[[], int]:
    """Schedule ``kind`` at ``target``: now, or when the ``trigger`` (endpoint, nth) arrives.

    Returns a function that says how many of its faults have fired so far.
    """
    scheduled = [0]

    def inject() -> None:
        scheduled[0] += KINDS[kind](plan, target)

    if trigger is None:
        inject()
    else:
        plan.on_request(trigger[0], inject, nth=trigger[1])
    return lambda: scheduled[0] - plan.pending


@dataclass
class Ledger:
    """What a test module did: cases, faults that fired, runs, values compared, values lost."""

    cases: int = 0
    kinds: set[str] = field(default_factory=set)
    phases: set[str] = field(default_factory=set)
    outcomes: dict[str, int] = field(default_factory=dict)
    faults: int = 0
    runs: int = 0
    checked: int = 0
    lost: int = 0

    def case(self, kind: str, phase: str, outcome: str, fired: int) -> None:
        """Record one finished case."""
        self.cases += 1
        self.kinds.add(kind)
        self.phases.add(phase)
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1
        self.faults += fired

    def compare(self, got: object, want: object) -> bool:
        """Count one value comparison (and a loss when it differs)."""
        self.checked += 1
        if got != want:
            self.lost += 1
        return got == want

    def report(self, name: str) -> str:
        """One line for the ``-s`` summary."""
        outcomes = ", ".join(f"{n} {k}" for k, n in sorted(self.outcomes.items()))
        return (
            f"{name}: {len(self.kinds)} fault kinds x {len(self.phases)} phases, "
            f"{self.cases} cases ({outcomes}), {self.faults} faults injected, "
            f"{self.runs} runs, {self.checked} values checked, values lost: {self.lost}"
        )


class Clock:
    """One settable clock for a world: sandbox timestamps, connector cursors, the engine."""

    def __init__(self, now: dt.datetime = START) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, hours: float = 1.0) -> None:
        """Move time on."""
        self.now += dt.timedelta(hours=hours)
