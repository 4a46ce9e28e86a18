"""Ctrl-C during ``okr-sync sync``: finish the write under way, start no other, say what was done.

- While pulling and planning nothing has been written yet, so Ctrl-C stops at
  once (no run is recorded, or one left ``running`` that the next run marks
  ``interrupted``).
- Once the writes have begun, the first Ctrl-C lets the writes under way finish
  (a target may have a few in flight: see :mod:`okr_sync.engine.inflight`) and
  starts no other: the engine asks ``should_stop`` before each write, and a
  write never begun leaves nothing pending, so the next run makes it as an
  ordinary change (never mistaken for a human edit). The run is recorded as
  ``stopped``, with its cursors and snapshots, like any finished run.
- A second Ctrl-C aborts at once. Each write under way was noted as ``started``
  before its request went out, so whether or not it landed, the next run finds
  out, as after a crash (see RELIABILITY.md, "Crashes").

The exit code is 130 (128 + SIGINT), as for any command a shell saw interrupted.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from types import FrameType
from typing import TYPE_CHECKING

from okr_sync.errors import StateError

if TYPE_CHECKING:  # annotations only: plan --help loads no state code
    from okr_sync.state.location import StateLocation

#: Exit code of a sync that Ctrl-C stopped or aborted (128 + SIGINT).
EXIT_INTERRUPTED = 130


def _say(text: str) -> None:
    # From a signal handler: a plain write on the descriptor, never through the
    # buffered stream the interrupted code may be in the middle of writing to.
    with suppress(OSError):
        os.write(2, f"\n{text}\n".encode())


class SyncInterrupt:
    """The SIGINT policy of one sync; pass :meth:`should_stop` to the run."""

    def __init__(self) -> None:
        self.presses = 0
        #: The run has reached its writes (it asked whether to stop before the first).
        self.writing = False

    def should_stop(self) -> bool:
        """Asked by the engine before each write."""
        self.writing = True
        return self.presses > 0

    @property
    def requested(self) -> bool:
        """Whether Ctrl-C was pressed."""
        return self.presses > 0

    def _handler(self, signum: int, frame: FrameType | None) -> None:
        self.presses += 1
        if not self.writing or self.presses > 1:
            raise KeyboardInterrupt
        _say(
            "stopping: the writes under way finish and no other starts; "
            "the next sync makes the rest (Ctrl-C again to abort at once)"
        )

    @contextmanager
    def installed(self) -> Iterator[SyncInterrupt]:
        """SIGINT handled as above for the duration of the block."""
        previous = signal.signal(signal.SIGINT, self._handler)
        try:
            yield self
        finally:
            signal.signal(signal.SIGINT, previous)


def _changes(location: StateLocation, run_id: int | None) -> tuple[list[str], list[str]]:
    """The records a run wrote (target, record: fields), and those whose write was under way."""
    try:
        state = location.open_readonly()
    except StateError:  # the store itself is what failed: say what is known
        return [], []
    try:
        if run_id is None:  # an aborted run: the latest, if it never finished
            latest = state.runs(1)
            if not latest or latest[0]["outcome"] != "running":
                return [], []
            run_id = int(latest[0]["id"])
        changes = state.run_changes(run_id)
    finally:
        state.close()
    by_result: dict[str, dict[tuple[str, str], list[str]]] = {"applied": {}, "started": {}}
    for change in changes:
        records = by_result.get(change["result"])
        if records is not None:
            records.setdefault((change["target"], change["record"]), []).append(change["field"])
    written, under_way = (
        [f"{target} {record}: {', '.join(fields)}" for (target, record), fields in rows.items()]
        for rows in (by_result["applied"], by_result["started"])
    )
    return written, under_way


def stopped_text(location: StateLocation, run_id: int | None, writes: int) -> str:
    """What a sync stopped by Ctrl-C wrote, and what the next run will do."""
    written, _ = _changes(location, run_id)
    lines = [
        f"stopped by Ctrl-C after writing {writes} record(s): the writes not started are "
        "left for the next `okr-sync sync`, which completes the rest "
        "(this run is recorded as stopped)"
    ]
    lines += [f"  written: {line}" for line in written]
    return "\n".join(lines)


def aborted_text(location: StateLocation, writing: bool) -> str:
    """What a sync aborted by Ctrl-C had done, and what the next run will do."""
    if not writing:
        return (
            "interrupted by Ctrl-C before any write: nothing was written; "
            "the next `okr-sync sync` starts afresh"
        )
    written, under_way = _changes(location, None)
    lines = [
        f"aborted by a second Ctrl-C after writing {len(written)} record(s); "
        "the next `okr-sync sync` completes the rest (`okr-sync status` shows this run as interrupted)"
    ]
    lines += [f"  written: {line}" for line in written]
    lines += [
        f"  under way (it may or may not have landed; the next sync finds out): {line}"
        for line in under_way
    ]
    return "\n".join(lines)
