"""The plan: compare desired, current and last-written values, field by field. Pure.

For each field okr-sync wants to set:

- current equals desired → nothing to do;
- okr-sync never wrote it, or the target still holds what okr-sync last wrote → write;
- the target holds something else than okr-sync last wrote → a human changed it:
  a *conflict*, decided by the policy (``overwrite``: write and keep the human
  value in history; ``skip``: leave the human value and report it).

Values are compared, not timestamps, and numbers with a tiny tolerance, so a
value round-tripped through a target's float storage does not count as changed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from okr_sync.models import ChangeAction, FieldChange, FieldValue, Plan, Record, RecordRef

ConflictPolicy = Literal["overwrite", "skip"]


def values_equal(a: FieldValue, b: FieldValue) -> bool:
    """Equality for target values: numbers within 1e-9, dicts and lists element-wise."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(values_equal(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(values_equal(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


@dataclass(frozen=True)
class TargetPlan:
    """The changes for one target, plus the fields already holding the desired value."""

    changes: tuple[FieldChange, ...]
    in_sync: tuple[tuple[RecordRef, str, FieldValue], ...] = field(default=())


def plan_target(
    target: str,
    desired: Sequence[Record],
    current: Mapping[RecordRef, Mapping[str, FieldValue]],
    last_written: Mapping[tuple[RecordRef, str], Sequence[FieldValue]],
    policy: ConflictPolicy = "overwrite",
) -> TargetPlan:
    """Plan one target's changes (see the module docstring)."""
    changes: list[FieldChange] = []
    in_sync: list[tuple[RecordRef, str, FieldValue]] = []
    for record in desired:
        now = current.get(record.ref, {})
        for name, want in record.fields.items():
            have = now.get(name)
            if values_equal(have, want):
                in_sync.append((record.ref, name, want))
                continue
            ours = last_written.get((record.ref, name))
            # A human changed it if it holds none of the values okr-sync wrote (or was writing).
            conflict = bool(ours) and not any(values_equal(have, v) for v in ours or ())
            if conflict:
                action = ChangeAction.SKIP if policy == "skip" else ChangeAction.OVERWRITE
            else:
                action = ChangeAction.WRITE
            changes.append(
                FieldChange(
                    target=target,
                    ref=record.ref,
                    owner=record.owner,
                    field=name,
                    before=have,
                    after=want,
                    last_written=ours[0] if ours else None,
                    conflict=conflict,
                    action=action,
                )
            )
    return TargetPlan(changes=tuple(changes), in_sync=tuple(in_sync))


def merge(plans: Sequence[TargetPlan]) -> Plan:
    """One :class:`Plan` from the plans of all targets."""
    return Plan(changes=tuple(c for p in plans for c in p.changes))
