"""The written progress, the status and explain agree at every threshold (issue 11: 14).

Progress is rounded to the 4 decimal places written (never up to 1), and the
status is judged from that value: reading the written value back gives the
same status.
"""

from __future__ import annotations

import datetime as dt

import pytest

from okr_sync.core.progress import (
    KrInputs,
    Thresholds,
    compute_kr,
    status_for,
    written_progress,
)
from okr_sync.core.rollup import roll_up
from okr_sync.interfaces import WriteSpec, okr_records
from okr_sync.models import (
    DEFAULT_STATUS_LABELS,
    KeyResult,
    KrResult,
    Objective,
    OkrTree,
    Outcome,
    Status,
)

#: A ten-day period, half gone: expected progress is exactly 0.5.
HALF = ((dt.date(2026, 11, 1), dt.date(2026, 11, 10)), dt.datetime(2026, 11, 6, tzinfo=dt.UTC))
#: The same period, one day in: 10 % gone, still "not started" time.
EARLY = (HALF[0], dt.datetime(2026, 11, 2, tzinfo=dt.UTC))
T = Thresholds()  # at risk beyond 0.10 behind, off track beyond 0.25, not started until 0.25


def arr_kr(current: float, period_now: tuple = HALF, target: float = 40_000) -> KrResult:  # type: ignore[type-arg]
    kr = KeyResult(
        id="KR-7", title="ARR", start=0, target=target, current=current, measure="manual"
    )
    period, now = period_now
    return compute_kr(KrInputs(kr=kr, measure="manual", linked=[], period=period), {}, now, T)


def written(result: KrResult) -> dict[str, object]:
    outcome = Outcome(
        tree=OkrTree(), key_results=(result,), objectives=(), links=(),
        status_labels=DEFAULT_STATUS_LABELS, synced_on=dt.date(2026, 11, 6),
    )  # fmt: skip
    (record,) = okr_records(outcome, WriteSpec(key_results=("progress", "status")))
    return record.fields


@pytest.mark.parametrize(
    ("current", "target", "when", "progress", "status"),
    [
        # 99.9975 % is not 100 %: it was written as 1.0 next to "On track".
        (39_999, 40_000, HALF, 0.9999, "On track"),
        (39_999.9, 40_000, HALF, 0.9999, "On track"),
        (40_000, 40_000, HALF, 1.0, "Achieved"),
        # 0.10001 behind is written as 0.4, exactly 0.1 behind: On track, as 0.4 reads.
        # The status used to come from the unrounded value: At risk beside a written 0.4.
        (39_999, 100_000, HALF, 0.4, "On track"),
        (39_990, 100_000, HALF, 0.3999, "At risk"),
        # The same at the Off track threshold (0.25 behind).
        (24_999, 100_000, HALF, 0.25, "At risk"),
        (24_990, 100_000, HALF, 0.2499, "Off track"),
        # 0.004 % early in the period is written as 0.0, so Not started (it said On track).
        (4, 100_000, EARLY, 0.0, "Not started"),
        (5, 100_000, EARLY, 0.0001, "On track"),
    ],
)
def test_written_value_and_status_agree_at_each_threshold(
    current: float,
    target: float,
    when: tuple,
    progress: float,
    status: str,  # type: ignore[type-arg]
) -> None:
    res = arr_kr(current, when, target)
    assert res.progress == progress
    assert written(res) == {"progress": progress, "status": status}


def test_the_status_read_back_from_any_written_value_is_the_status_written() -> None:
    for current in range(0, 40_001, 7):
        res = arr_kr(current)
        fields = written(res)
        assert isinstance(fields["progress"], float)
        again = status_for(fields["progress"], res.expected, T)
        assert DEFAULT_STATUS_LABELS[again] == fields["status"], current


def test_written_progress_rounds_but_never_up_to_one() -> None:
    assert written_progress(0.29) == 0.29
    assert written_progress(0.999975) == 0.9999 and written_progress(0.99999999) == 0.9999
    assert written_progress(1 / 3) == 0.3333 and written_progress(2 / 3) == 0.6667
    assert written_progress(1.5) == 1.0 and written_progress(-0.1) == 0.0


def test_objective_progress_is_rounded_and_judged_the_same_way() -> None:
    tree = OkrTree(
        objectives=(Objective(id="O-1", title="Grow", period_start=HALF[0][0], period_end=HALF[0][1]),),
        key_results=tuple(KeyResult(id=f"KR-{i}", title="x", objective_id="O-1") for i in (1, 2, 3)),
    )  # fmt: skip
    krs = {
        f"KR-{i}": KrResult(kr_id=f"KR-{i}", title="x", measure="issues_done", progress=p)
        for i, p in ((1, 1.0), (2, 1.0), (3, 0.9999))
    }
    (obj,) = roll_up(tree, krs, {}, HALF[1], T)
    # (2 + 0.9999) / 3 = 0.99997 would round to 1.0: Achieved with a KR not achieved.
    assert obj.progress == 0.9999 and obj.status is Status.ON_TRACK
