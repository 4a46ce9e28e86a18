"""Turning results into text and JSON for the terminal. Pure: returns strings and dicts."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from okr_sync.engine.report import shorten
from okr_sync.models import ChangeAction, FieldValue, KrResult, Plan, RunSummary, Status

SPARKS = "▁▂▃▄▅▆▇█"


def pct(value: float | None) -> str:
    """0.456 → ``46 %``; never ``100 %`` short of 1, nor ``0 %`` above 0.

    A whole percent that would cross 0 or 100 shows its decimals instead
    (0.9999 → ``99.99 %``), so the figure never contradicts the status next to it.
    """
    if value is None:
        return "–"
    whole = f"{value * 100:.0f}"
    if (whole == "100" and value < 1) or (whole == "0" and value > 0):
        return exact_pct(value)
    return f"{whole} %"


def exact_pct(value: float | None) -> str:
    """A 0..1 value as written (4 places) in percent: 0.4549 → ``45.49 %``, 0.5 → ``50 %``."""
    if value is None:
        return "–"
    text = f"{value * 100:.2f}".rstrip("0").rstrip(".")
    return f"{text} %"


def forecast_cell(kr: KrResult) -> str:
    """A KR's forecast at period end for tables: ``71 % (62–81 %)``, else ``–``."""
    if kr.forecast is None:
        return "–"
    return f"{pct(kr.forecast.p50)} ({kr.forecast.range_text})"


def forecast_json(kr: KrResult) -> dict[str, Any] | None:
    """A KR's forecast for JSON output (``note``: why there is none), or None."""
    made = kr.forecast
    if made is None:
        return {"note": kr.forecast_note} if kr.forecast_note else None
    return {
        "p10": made.p10, "p50": made.p50, "p90": made.p90, "range": made.range_text,
        "history_days": made.history_days, "horizon_days": made.horizon_days,
    }  # fmt: skip


def bar(value: float | None, width: int = 12) -> str:
    """A text progress bar."""
    if value is None:
        return " " * width
    filled = round(max(0.0, min(1.0, value)) * width)
    return "█" * filled + "░" * (width - filled)


def sparkline(values: Sequence[float | None]) -> str:
    """One character per value in 0..1 (blank for unknown)."""
    return "".join(
        " " if v is None else SPARKS[min(len(SPARKS) - 1, int(max(0.0, min(1.0, v)) * len(SPARKS)))]
        for v in values
    )


def number(value: float | None) -> str:
    """A number without noise: 12 rather than 12.0, at most two decimals."""
    if value is None:
        return "–"
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.2f}".rstrip("0")


def show(value: FieldValue, width: int = 48) -> str:
    """A field value as shown in the plan table (long ones cut to ``width`` with …)."""
    if value is None:
        return "–"
    if isinstance(value, float):  # every place okr-sync writes (4), so the plan shows it exactly
        return f"{value:.0f}" if value.is_integer() else f"{value:.4f}".rstrip("0")
    text = str(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain left-aligned table."""
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    return "\n".join(lines)


def held_back(summary: RunSummary) -> list[str]:
    """What a run could not plan writes for: stale or failed KRs and objectives, unread targets."""
    out = []
    if summary.failed:
        krs = [i for i in summary.failed if i not in {f.owner for f in summary.failures}]
        if krs:
            out.append(f"{', '.join(krs)} (stale or failed)")
    out += [f"target {f.target} (not read)" for f in summary.failures if f.ref.id == "*"]
    return out


def plan_text(plan: Plan, held: Sequence[str] = ()) -> str:
    """The plan as a table, or a line saying nothing changes (and what was held back)."""
    if not plan.changes and held:  # nothing planned, but not because all is in place
        return "Nothing to write among the values computed; not written: " + "; ".join(held)
    if not plan.changes:
        return "Nothing to write: every target already holds the computed values."
    rows = []
    for c in plan.changes:
        note = ""
        if c.conflict:
            note = "conflict: edited by a human, " + (
                "kept (policy skip)"
                if c.action is ChangeAction.SKIP
                else "overwritten (policy overwrite)"
            )
        rows.append([c.target, c.ref.id, c.field, show(c.before), show(c.after), note])
    records = len(plan.writes())
    head = f"{len(plan.changes)} field change(s) in {records} write(s):"
    return head + "\n" + table(["TARGET", "RECORD", "FIELD", "FROM", "TO", "NOTE"], rows)


def _kr_note(kr: KrResult, causes: Mapping[str, str] | None = None) -> str:
    if kr.stale:
        return f"STALE: {shorten(kr.error or '', causes or {})}"
    if kr.error:
        return f"FAILED: {shorten(kr.error, causes or {})}"
    if kr.skipped:
        return f"LEFT ALONE: {kr.skipped}"
    if kr.closed:
        return f"CLOSED: {kr.closed}"
    if kr.done is not None and kr.total is not None:
        return f"{number(kr.done)}/{number(kr.total)} {kr.measure}"
    return kr.measure


def results_text(summary: RunSummary, labels: dict[Status, str]) -> str:
    """Key results and objectives with progress bars, current/target, status."""
    rows = []
    for kr in summary.key_results:
        unit = f" {kr.unit}" if kr.unit else ""
        rows.append(
            [
                kr.kr_id,
                kr.title[:40],
                bar(kr.progress),
                pct(kr.progress),
                f"{number(kr.current)}/{number(kr.target)}{unit}",
                labels[kr.status] if kr.status else "–",
                forecast_cell(kr),
                _kr_note(kr, summary.source_errors),
            ]
        )
    text = table(
        ["KR", "TITLE", "PROGRESS", "", "CURRENT/TARGET", "STATUS", "FORECAST", "NOTE"], rows
    )
    if summary.objectives:
        orows = [
            [
                o.objective_id,
                o.title[:40],
                bar(o.progress),
                pct(o.progress),
                labels[o.status] if o.status else "–",
                shorten(
                    f"STALE: {o.error}" if o.stale else "; ".join(o.notes), summary.source_errors
                ),
            ]
            for o in summary.objectives
        ]
        text += "\n\n" + table(["OBJECTIVE", "TITLE", "PROGRESS", "", "STATUS", "NOTE"], orows)
    return text


def footer_text(summary: RunSummary) -> str:
    """Writes, conflicts, failures and shared items in a few lines."""
    lines = []
    verb = "would write" if summary.dry_run else "wrote"
    count = len(summary.plan.writes()) if summary.dry_run else summary.writes
    lines.append(f"{verb} {count} record(s); {len(summary.plan.conflicts)} conflict(s)")
    lines += [f"note: {note}" for note in summary.notes]
    for key, krs in sorted(summary.shared_items.items()):
        lines.append(f"shared: {key} counts for {', '.join(krs)}")
    for kr in summary.key_results:
        if kr.skipped and not kr.error:
            lines.append(f"left alone (nothing written): {kr.kr_id}: {kr.skipped}")
        if kr.closed:
            lines.append(f"closed (nothing written): {kr.kr_id}: {kr.closed}")
    for _source, error in sorted(summary.source_errors.items()):
        lines.append(f"source failed: {error}")
    for failure in summary.failures:
        lines.append(f"write failed: {failure.target} {failure.ref.id}: {failure.error}")
    if summary.failed:
        lines.append(f"failed or stale: {', '.join(summary.failed)}")
    return "\n".join(lines)


def kr_json(kr: KrResult, labels: dict[Status, str]) -> dict[str, Any]:
    """One KR for JSON output."""
    return {
        "id": kr.kr_id,
        "title": kr.title,
        "measure": kr.measure,
        "progress": kr.progress,
        "expected": kr.expected,
        "current": kr.current,
        "start": kr.start,
        "target": kr.target,
        "unit": kr.unit,
        "done": kr.done,
        "total": kr.total,
        "status": labels[kr.status] if kr.status else None,
        "stale": kr.stale,
        "error": kr.error,
        "skipped": kr.skipped,
        "closed": kr.closed,
        "forecast": forecast_json(kr),
    }


def summary_json(summary: RunSummary, labels: dict[Status, str]) -> dict[str, Any]:
    """The summary object printed by ``plan --json`` and ``sync --json``."""
    return {
        "run_id": summary.run_id,
        "dry_run": summary.dry_run,
        "started_at": summary.started_at.isoformat(),
        "key_results": [kr_json(kr, labels) for kr in summary.key_results],
        "objectives": [
            {
                "id": o.objective_id,
                "title": o.title,
                "progress": o.progress,
                "expected": o.expected,
                "status": labels[o.status] if o.status else None,
                "stale": o.stale,
                "error": o.error,
                "notes": list(o.notes),
            }
            for o in summary.objectives
        ],
        "changes": [
            {
                "target": c.target,
                "kind": c.ref.kind,
                "key": c.ref.id,
                "field": c.field,
                "from": c.before,
                "to": c.after,
                "conflict": c.conflict,
                "action": c.action.value,
            }
            for c in summary.plan.changes
        ],
        "writes": summary.writes,
        "conflicts": [
            {
                "target": c.target,
                "key": c.ref.id,
                "field": c.field,
                "human_value": c.before,
                "last_written": c.last_written,
                "desired": c.after,
                "action": c.action.value,
            }
            for c in summary.plan.conflicts
        ],
        "failed": list(summary.failed),
        "source_errors": summary.source_errors,
        "write_failures": [f.model_dump(mode="json") for f in summary.failures],
        "shared_items": {k: list(v) for k, v in summary.shared_items.items()},
        "notes": list(summary.notes),
    }


def natural_key(ident: str) -> tuple[str | int, ...]:
    """Sort key that puts KR-2 before KR-10."""
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", ident))


def tree_text(
    summary: RunSummary,
    labels: dict[Status, str],
    objective_parent: Mapping[str, str | None],
    kr_objective: Mapping[str, str | None],
) -> str:
    """Objectives as a tree with their key results under them, each with a progress bar."""
    objectives = {o.objective_id: o for o in summary.objectives}
    krs_of: dict[str | None, list[KrResult]] = {}
    for kr in sorted(summary.key_results, key=lambda k: natural_key(k.kr_id)):
        krs_of.setdefault(kr_objective.get(kr.kr_id), []).append(kr)
    children: dict[str | None, list[str]] = {}
    for oid in sorted(objective_parent, key=natural_key):
        children.setdefault(objective_parent[oid], []).append(oid)
    rows: list[list[str]] = []

    def walk(oid: str, indent: str) -> None:
        o = objectives.get(oid)
        rows.append([
            f"{indent}{oid}", (o.title if o else "")[:46], bar(o.progress if o else None),
            pct(o.progress if o else None), "", labels[o.status] if o and o.status else "–",
        ])  # fmt: skip
        for kr in krs_of.get(oid, []):
            unit = f" {kr.unit}" if kr.unit else ""
            rows.append([
                f"{indent}  {kr.kr_id}", kr.title[:46], bar(kr.progress), pct(kr.progress),
                f"{number(kr.current)} / {number(kr.target)}{unit}",
                labels[kr.status] if kr.status else ("STALE" if kr.stale else "–"),
            ])  # fmt: skip
        for child in children.get(oid, []):
            walk(child, indent + "  ")

    for root in children.get(None, []):
        walk(root, "")
    return table(["", "", "PROGRESS", "", "CURRENT / TARGET", "STATUS"], rows)


def written_text(summary: RunSummary) -> str:
    """Which records of which target got which fields (or would, in a plan)."""
    by_target: dict[str, dict[str, set[str]]] = {}
    for (target, ref), _changes in summary.plan.writes().items():
        kinds = by_target.setdefault(target, {})
        kinds.setdefault(ref.kind.replace("_", " "), set()).add(ref.id)
    lines = []
    for target, kinds in sorted(by_target.items()):
        fields = sorted({c.field for c in summary.plan.changes if c.target == target})
        parts = [f"{len(ids)} {kind}(s)" for kind, ids in sorted(kinds.items())]
        lines.append(f"  {target}: {', '.join(parts)} — {', '.join(fields)}")
    return "\n".join(lines) or "  nothing"
