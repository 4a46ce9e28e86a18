"""What each measure needs from its KR, and why a KR cannot be computed. Pure.

No default ever stands in for a missing input: a KR that lacks what its measure
needs fails, with a reason naming the input, and nothing is written for it.

| measure | needs from the KR |
| --- | --- |
| ``issues_done``, ``points_done``, ``initiatives_done`` | nothing: progress is a share of the linked work. Start and target (different) only put Current on the KR's scale; without them Current is not computed (a note says so) |
| ``count``, ``count:done``, ``sum:<field>`` | start and target; a direction when they are equal |
| ``manual`` | the same, plus the Current a human entered (none yet: nothing computed) |

A direction given with a start and a target that point the other way (``decrease``
from 10 to 50) is an error rather than a guess about which of the two is wrong.
"""

from __future__ import annotations

from okr_sync.models import RATIO_MEASURES, Direction, KeyResult, measure_problem


def _num(value: float) -> str:
    return f"{value:g}"


def input_problems(kr: KeyResult, measure: str) -> list[str]:
    """Why ``kr`` cannot be computed with ``measure`` (empty when it can).

    In order: the problem its source reported, an unknown measure, then the
    start, target and direction its measure needs (see the module docstring).
    """
    problems = [kr.problem] if kr.problem else []
    unknown = measure_problem(measure)
    if unknown:
        return [*problems, unknown]
    if measure in RATIO_MEASURES:
        return problems
    missing = [
        name for name, value in (("start", kr.start), ("target", kr.target)) if value is None
    ]
    if missing:
        problems.append(
            f"no {' and no '.join(missing)} set on the KR: measure {measure} needs its start "
            "and target (progress is (current − start) ÷ (target − start))"
        )
    elif kr.start == kr.target and kr.direction is None:
        assert kr.target is not None
        problems.append(
            f"start and target are both {_num(kr.target)} and the KR sets no direction: set "
            "direction to increase (reach at least the target) or decrease (stay at most at it)"
        )
    else:
        contradiction = direction_problem(kr)
        if contradiction:
            problems.append(contradiction)
    return problems


def direction_problem(kr: KeyResult) -> str | None:
    """A direction that contradicts the KR's start and target, or None."""
    if kr.direction is None or kr.start is None or kr.target is None or kr.start == kr.target:
        return None
    going_up = kr.target > kr.start
    if going_up == (kr.direction is Direction.INCREASE):
        return None
    where = "above" if going_up else "below"
    return (
        f"direction {kr.direction.value}, but target {_num(kr.target)} is {where} start "
        f"{_num(kr.start)}: fix the direction or swap start and target"
    )


def scale_problem(kr: KeyResult) -> str | None:
    """Why a ratio KR's Current cannot be put on its own scale, or None when it can."""
    if kr.start is None or kr.target is None:
        missing = " and ".join(
            n for n, v in (("start", kr.start), ("target", kr.target)) if v is None
        )
        return f"Current not computed: the KR has no {missing} (its progress comes from its items)"
    if kr.start == kr.target:
        return (
            f"Current not computed: start and target are both {_num(kr.target)}, so the KR's "
            "scale has no length (its progress comes from its items)"
        )
    return None
