"""What ``okr-sync report`` shows, gathered from the state store (it only reads).

The numbers are the ones the latest run with results recorded (its summary and
snapshots): nothing is recomputed, so the report says what the targets were
given. History points come from every snapshot of each KR: ``origin`` tells
synced runs from days rebuilt by ``okr-sync backfill`` (a row without one is
synced). A forecast is shown only when the run recorded one; it is read
defensively, and a KR without one simply has none.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from okr_sync.cli import render
from okr_sync.core.provenance import describe_change, scope_change
from okr_sync.errors import StateError
from okr_sync.models import Provenance, Status
from okr_sync.state.store import StateStore

SYNCED, BACKFILLED = "synced", "backfilled"


@dataclass(frozen=True)
class Point:
    """One value of a KR's history: when, its progress (None: no number that day), origin."""

    at: dt.datetime
    progress: float | None
    origin: str = SYNCED
    #: The start and target the point was computed against (None: not recorded, as on a
    #: backfilled day); the line is not joined across points computed against different ones.
    start: float | None = None
    target: float | None = None


@dataclass(frozen=True)
class TargetMove:
    """A start or target that moved mid-period: seen at ``seen_at``, changed after ``previous_at``.

    Past points keep the value they were computed against; the chart marks the move.
    """

    field: str
    before: float | None
    after: float | None
    previous_at: dt.datetime | None
    seen_at: dt.datetime

    def text(self) -> str:
        """E.g. ``target 400 → 500 (seen 2026-11-15)``."""
        return (
            f"{self.field} {render.number(self.before)} → {render.number(self.after)} "
            f"(seen {self.seen_at:%Y-%m-%d})"
        )

    def sentence(self) -> str:
        """The move in words, with what the earlier points were computed against."""
        after = f"changed after {self.previous_at:%Y-%m-%d}, " if self.previous_at else ""
        return (
            f"{self.field} moved {render.number(self.before)} → {render.number(self.after)}: "
            f"{after}seen {self.seen_at:%Y-%m-%d}; points before were computed against "
            f"{render.number(self.before)}"
        )


@dataclass(frozen=True)
class Forecast:
    """A recorded forecast of progress at period end: P50 and a low–high range (0..1)."""

    p50: float | None
    low: float | None
    high: float | None
    text: str | None = None


@dataclass(frozen=True)
class Edit:
    """A human value met on a field okr-sync writes (a conflict), and what was done."""

    owner: str
    target: str
    record: str
    field: str
    human: Any
    written: Any
    action: str


@dataclass
class KrView:
    """One key result as the report shows it."""

    id: str
    title: str
    measure: str
    progress: float | None
    expected: float | None
    current: float | None
    start: float | None
    target: float | None
    unit: str | None
    done: float | None
    total: float | None
    status: Status | None
    #: Why there is no number (stale, failed or left alone, with the reason), else "".
    note: str = ""
    period: tuple[dt.date | None, dt.date | None] = (None, None)
    points: list[Point] = field(default_factory=list)
    forecast: Forecast | None = None
    provenance: Provenance | None = None
    since: str | None = None
    edits: list[Edit] = field(default_factory=list)
    closed: bool = False
    #: Why the KR is closed (its period ended; the final value and where it comes from).
    closed_reason: str | None = None
    #: Starts and targets that moved mid-period, oldest first.
    moves: list[TargetMove] = field(default_factory=list)


@dataclass
class ObjectiveView:
    """One objective: its numbers, its KRs and child objectives (ids, in roll-up order)."""

    id: str
    title: str
    progress: float | None
    expected: float | None
    status: Status | None
    note: str = ""
    krs: list[str] = field(default_factory=list)
    children: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RunInfo:
    """A run as the header names it."""

    id: int
    started_at: str
    outcome: str
    reason: str | None = None


@dataclass
class ReportData:
    """Everything the page shows, in display order where order matters."""

    run: RunInfo
    previous_run: int | None
    #: A later run that recorded no results (it failed before computing), if any.
    later_failure: RunInfo | None
    krs: dict[str, KrView]
    objectives: dict[str, ObjectiveView]
    roots: list[str]
    orphans: list[str]
    writes: dict[str, int]
    source_errors: dict[str, str]
    write_failures: list[str]
    #: Every human edit the run met, on KRs and objectives alike.
    edits: list[Edit] = field(default_factory=list)


def _at(text: str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _date(value: Any) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def _share(value: Any) -> float | None:
    """A finite number, or None (a forecast field recorded in a form this reader does not know)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


_RANGE = re.compile(r"(-?\d+(?:\.\d+)?)\s*(?:%\s*)?[–-]\s*(-?\d+(?:\.\d+)?)\s*%")


def read_forecast(entry: Mapping[str, Any]) -> Forecast | None:
    """The forecast a run recorded for a KR, in any of the forms it may take, or None.

    ``forecast`` is the P50 (a number on the progress scale) or an object with
    ``p10``/``p50``/``p90`` (or ``low``/``high``); ``forecast_range`` is its text
    ("62–81 %"), whose two percentages give the range when no numbers do.
    """
    raw = entry.get("forecast")
    text = entry.get("forecast_range")
    low = _share(entry.get("forecast_p10", entry.get("forecast_low")))
    high = _share(entry.get("forecast_p90", entry.get("forecast_high")))
    if isinstance(raw, Mapping):
        p50 = _share(raw.get("p50"))
        low = _share(raw.get("p10", raw.get("low"))) if low is None else low
        high = _share(raw.get("p90", raw.get("high"))) if high is None else high
        text = text or raw.get("range")
    else:
        p50 = _share(raw)
    text = text if isinstance(text, str) and text.strip() else None
    if (low is None or high is None) and text:
        found = _RANGE.search(text)
        if found:
            low, high = float(found.group(1)) / 100, float(found.group(2)) / 100
    if low is not None and high is not None and low > high:
        low, high = high, low
    if p50 is None and (low is None or high is None):
        return None
    return Forecast(p50=p50, low=low, high=high, text=text)


def _note(entry: Mapping[str, Any]) -> str:
    closed = entry.get("closed")
    if closed and entry.get("progress") is None:  # closed without a final value: say why
        return f"Closed: {closed if isinstance(closed, str) else 'no final value recorded'}"
    if entry.get("stale"):
        return f"Stale: {entry.get('error') or 'no reason recorded'}"
    if entry.get("error"):
        return f"Failed: {entry['error']}"
    if entry.get("skipped"):
        return f"Left alone: {entry['skipped']}"
    if entry.get("progress") is None:
        return "Left alone: no number computed"
    return ""


def _status(value: Any) -> Status | None:
    try:
        return Status(value) if value else None
    except ValueError:
        return None


def _period(
    entry: Mapping[str, Any], rows: Sequence[Mapping[str, Any]]
) -> tuple[dt.date | None, dt.date | None]:
    """The KR's period as its run recorded it, else as its latest snapshot did.

    A closed KR's run result carries no period; its snapshots do.
    """
    period = (_date(entry.get("period_start")), _date(entry.get("period_end")))
    if period[1] is None:
        for row in reversed(rows):
            if row.get("period_end"):
                return _date(row.get("period_start")), _date(row["period_end"])
    return period


def _trusted(row: Mapping[str, Any]) -> bool:
    return not row["stale"] and not row["error"] and row["progress"] is not None


def _runs(store: StateStore) -> tuple[RunInfo, dict[str, Any], RunInfo | None, int | None]:
    """The latest run with results, its summary, a later failed run, the run before it."""
    later: RunInfo | None = None
    shown: tuple[RunInfo, dict[str, Any]] | None = None
    for run in store.runs(limit=500):
        info = RunInfo(run["id"], run["started_at"], run["outcome"], run.get("reason"))
        if run["dry_run"]:
            continue
        if shown is not None:
            if run["summary"]:
                return shown[0], shown[1], later, info.id
            continue
        if run["summary"]:
            shown = (info, store.run_summary(info.id) or {})
        elif later is None and run["outcome"] != "running":
            later = info
    if shown is None:
        raise StateError("no run with results recorded yet; run 'okr-sync sync' first")
    return shown[0], shown[1], later, None


def gather(store: StateStore) -> ReportData:
    """Read what the report shows from a state store (read-only access is enough).

    Raises:
        StateError: no run has recorded results yet.
    """
    run, summary, later, previous_run = _runs(store)
    entries = {e["kr_id"]: e for e in summary.get("key_results", ())}
    history: dict[str, list[dict[str, Any]]] = {}
    for row in store.history("kr", provenance=False):
        if row["id"] in entries:
            history.setdefault(row["id"], []).append(row)
    provenances = store.snapshot_provenances(run.id)
    closures = store.closures()
    moves: dict[str, list[TargetMove]] = {}
    for c in store.target_changes():
        if c["kr_id"] in entries:
            moves.setdefault(c["kr_id"], []).append(
                TargetMove(c["field"], c["before"], c["after"],
                           _at(c["previous_at"]) if c["previous_at"] else None, _at(c["seen_at"]))
            )  # fmt: skip
    # The last trusted synced snapshot before this run, per KR: what "since" compares with.
    before: dict[str, dict[str, Any]] = {}
    for kr_id, rows in history.items():
        for row in rows:
            synced = row.get("origin", SYNCED) == SYNCED and row["run_id"] is not None
            if synced and row["run_id"] < run.id and _trusted(row):
                before[kr_id] = row
    earlier: dict[int, dict[str, str]] = {}
    for rid in {row["run_id"] for row in before.values()}:
        earlier[rid] = store.snapshot_provenances(rid)

    krs: dict[str, KrView] = {}
    for kr_id, e in entries.items():
        prov_text = provenances.get(kr_id)
        prov = Provenance.model_validate_json(prov_text) if prov_text else None
        points = sorted(
            (
                Point(
                    _at(r["at"]),
                    r["progress"],
                    r.get("origin") or SYNCED,
                    r.get("start"),
                    r.get("target"),
                )
                for r in history.get(kr_id, ())
            ),
            key=lambda p: p.at,
        )
        view = KrView(
            id=kr_id, title=e.get("title", ""), measure=e.get("measure", ""),
            progress=e.get("progress"), expected=e.get("expected"), current=e.get("current"),
            start=e.get("start"), target=e.get("target"), unit=e.get("unit"), done=e.get("done"),
            total=e.get("total"), status=_status(e.get("status")), note=_note(e),
            period=_period(e, history.get(kr_id, ())), points=points,
            forecast=read_forecast(e), provenance=prov,
            closed=bool(e.get("closed") or e.get("final")),
            closed_reason=e["closed"] if isinstance(e.get("closed"), str) else None,
            moves=moves.get(kr_id, []),
        )  # fmt: skip
        closure = closures.get(kr_id)
        if view.closed and closure and closure.get("final_run"):
            # A closed KR's run counts nothing: its items are those its final run counted.
            final = store.snapshot_provenances(closure["final_run"]).get(kr_id)
            view.provenance = Provenance.model_validate_json(final) if final else prov
        was = before.get(kr_id)
        # A closed KR is not compared: its run counted no items, which is no change of scope.
        if was is not None and view.progress is not None and prov is not None and not view.closed:
            old_text = earlier.get(was["run_id"], {}).get(kr_id)
            old = Provenance.model_validate_json(old_text) if old_text else None
            change = scope_change(old, prov)
            moved = was["progress"] != view.progress or any(
                (change.added, change.removed, change.newly_done, change.reopened, change.revalued)
            )
            if moved:
                text = describe_change(
                    was["progress"], view.progress, change, current=(was["current"], view.current)
                )
                view.since = f"since run {was['run_id']}: {text}"
        krs[kr_id] = view

    edits = _edits(store, run.id)
    for edit in edits:
        if edit.owner in krs:
            krs[edit.owner].edits.append(edit)
    objectives, roots, orphans = _tree(summary, krs)
    writes: dict[str, int] = {}
    for logged in store.run_changes(run.id):
        if logged["result"] == "applied":
            writes[logged["target"]] = writes.get(logged["target"], 0) + 1
    failures = [
        f"{f.get('target')} {f.get('ref', {}).get('id', '')} ({f.get('owner')}): {f.get('error')}"
        for f in summary.get("failures", ())
    ]
    return ReportData(
        run=run, previous_run=previous_run, later_failure=later, krs=krs,
        objectives=objectives, roots=roots, orphans=orphans, writes=writes,
        source_errors=dict(summary.get("source_errors") or {}), write_failures=failures,
        edits=edits,
    )  # fmt: skip


def _edits(store: StateStore, run_id: int) -> list[Edit]:
    """The human edits the run met, with the human's value and okr-sync's."""
    owners = sorted({c["owner"] for c in store.run_changes(run_id) if c["conflict"]})
    out = []
    for owner in owners:
        for c in store.changes_for(owner, limit=200):
            if c["run_id"] == run_id and c["conflict"]:
                out.append(Edit(owner, c["target"], c["record"], c["field"], c["before"],
                                c["last_written"], c["action"]))  # fmt: skip
    return out


def _tree(
    summary: Mapping[str, Any], krs: Mapping[str, KrView]
) -> tuple[dict[str, ObjectiveView], list[str], list[str]]:
    """Objectives with their KRs and children (from the roll-up parts), roots, KRs outside."""
    objectives: dict[str, ObjectiveView] = {}
    for o in summary.get("objectives", ()):
        parts = o.get("parts", ())
        objectives[o["objective_id"]] = ObjectiveView(
            id=o["objective_id"], title=o.get("title", ""), progress=o.get("progress"),
            expected=o.get("expected"), status=_status(o.get("status")),
            note=("Stale: " if o.get("stale") else "Failed: ") + str(o.get("error"))
            if o.get("error") else "",
            krs=[p["id"] for p in parts if p.get("kind") == "key_result" and p["id"] in krs],
            children=[p["id"] for p in parts if p.get("kind") == "objective"],
        )  # fmt: skip
    for view in objectives.values():
        view.children = [c for c in view.children if c in objectives]
    nested = {c for view in objectives.values() for c in view.children}
    roots = [oid for oid in objectives if oid not in nested]
    placed = {k for view in objectives.values() for k in view.krs}
    orphans = [k for k in krs if k not in placed]
    return objectives, roots, orphans
