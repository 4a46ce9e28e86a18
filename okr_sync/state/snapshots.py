"""Snapshots kept once per value, and run summaries rebuilt from them.

Most runs change few numbers: a snapshot row is therefore kept for a span of
runs. It was first recorded by ``run_id`` and still held, unchanged, at
``last_run``; a run whose KR (or objective) holds exactly the values of its row
in the previous recorded run only moves that row's ``last_run`` on. A row covers
every run from ``run_id`` to ``last_run`` that recorded results (the runs with a
summary: a run that failed or died in between recorded none, and is skipped
over, not covered). :data:`COVERS` is that join; every reader goes through it.

A run's summary kept each KR's and objective's numbers a second time. It keeps
only what is the run's own now (times, writes, failures, source errors, notes):
its ``key_results`` and ``objectives`` are rebuilt from the snapshot rows that
cover the run. What a summary entry holds beyond a row's columns (a KR's unit,
its forecast's range and note, an objective's roll-up parts) is kept in the
row's ``detail``, and the entries' order in its ``seq``. A summary is split so
only after the rebuilt one was checked to be exactly the original (the same JSON,
keys in the same order); otherwise it is kept whole, and read as it is.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any

from okr_sync.models import KrResult, ObjectiveResult, RunSummary
from okr_sync.state.database import Database

#: The columns that make a snapshot's value (two rows with equal values are one).
CONTENT = (
    "kind", "id", "title", "measure", "progress", "expected", "current", "done", "total",
    "status", "stale", "error", "item_count", "fingerprint", "sources", "provenance", "start",
    "target", "period_start", "period_end", "closed", "forecast_p10", "forecast_p50",
    "forecast_p90", "seq", "detail", "pace",
)  # fmt: skip
#: The values a run computes (the others: the summary's ``seq`` and ``detail``, the ``pace``).
COMPUTED = CONTENT[:-3]
#: A snapshot row ``s`` covers the run ``r`` (a run that recorded results within its span).
COVERS = "r.id >= s.run_id AND r.id <= s.last_run AND (r.id = s.run_id OR r.summary IS NOT NULL)"

_LISTS = {"key_results": "kr", "objectives": "objective"}
_KR_KEYS = tuple(k for k in KrResult.model_fields if k != "provenance")
_OBJECTIVE_KEYS = tuple(ObjectiveResult.model_fields)
_SUMMARY_KEYS = tuple(k for k in RunSummary.model_fields if k != "plan")
_SEQ, _DETAIL = CONTENT.index("seq"), CONTENT.index("detail")


def _text(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


#: Columns of floating-point numbers (a database gives back a float, -0.0 as 0.0).
_REALS = frozenset((
    "progress", "expected", "current", "done", "total", "start", "target", "forecast_p10",
    "forecast_p50", "forecast_p90",
))  # fmt: skip


def stored(row: Mapping[str, Any]) -> dict[str, Any]:
    """A row's values as the database gives them back (a status is its text, 0 is 0.0)."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        if value is None:
            out[key] = None
        elif key in _REALS:
            out[key] = float(value) + 0.0  # + 0.0: -0.0 reads back 0.0 from SQLite
        elif isinstance(value, str):
            out[key] = str(value)  # a StrEnum's value
        else:
            out[key] = value
    return out


def _same(a: Any, b: Any) -> bool:
    """Equal as JSON: the same type (0 is not 0.0) and value (-0.0 is not 0.0)."""
    kind = type(a)
    if kind is not type(b):
        return False
    if kind is float:
        return bool(a == b) and (a != 0.0 or repr(a) == repr(b))
    return _text(a) == _text(b) if kind is dict or kind is list else bool(a == b)


def _entry(row: Mapping[str, Any]) -> dict[str, Any]:
    """A summary entry as a row's columns give it (what ``detail`` does not override)."""
    if row["kind"] == "objective":
        base = {"objective_id": row["id"], "notes": [], "parts": []}
        keys = _OBJECTIVE_KEYS
    else:
        p50 = row["forecast_p50"]
        forecast = None if p50 is None else {
            "p10": row["forecast_p10"], "p50": p50, "p90": row["forecast_p90"],
        }  # fmt: skip
        base = {"kr_id": row["id"], "forecast": forecast}
        keys = _KR_KEYS
    entry = {k: base.get(k, row.get(k)) for k in keys}
    entry["stale"] = bool(row["stale"])
    return entry


def _detail(entry: Mapping[str, Any], rebuilt: Mapping[str, Any]) -> dict[str, Any] | None:
    """What ``entry`` holds beyond ``rebuilt``: a dict in both only its keys that differ.

    None when :func:`_apply` could not give ``entry`` back exactly: other keys, or
    keys in another order.
    """
    if tuple(entry) != tuple(rebuilt):
        return None
    out: dict[str, Any] = {}
    for key, value in entry.items():
        was = rebuilt[key]
        if isinstance(value, dict) and isinstance(was, dict):
            if tuple(value)[: len(was)] != tuple(was):  # merged, was's keys come first
                return None
            sub = {k: v for k, v in value.items() if k not in was or not _same(v, was[k])}
            if sub:
                out[key] = sub
        elif not _same(value, was):
            out[key] = value
    return out


def _apply(rebuilt: dict[str, Any], detail: Mapping[str, Any]) -> dict[str, Any]:
    """``rebuilt`` with ``detail`` laid over it (the inverse of :func:`_detail`)."""
    for key, value in detail.items():
        was = rebuilt.get(key)
        rebuilt[key] = (
            {**was, **value} if isinstance(value, dict) and isinstance(was, dict) else value
        )
    return rebuilt


@lru_cache(maxsize=4096)
def _paces(text: str) -> tuple[float, ...]:
    return tuple(json.loads(text))


def expected(value: float | None, pace: int | None, paces: str | None) -> float | None:
    """A row's expected progress: its own, or the covered run's pace it names.

    Expected progress is the elapsed share of a period, so it moves with every run
    although nothing else does. A run keeps each distinct value once (``runs.paces``)
    and a row names its place there (``pace``), so that the row stays the same.
    """
    if pace is None or paces is None:
        return value
    return _paces(paces)[pace]


def paced(rows: Sequence[dict[str, Any]]) -> tuple[str | None, list[dict[str, Any]]]:
    """A run's distinct expected values (JSON, ascending) and its rows naming them."""
    values = sorted({r["expected"] for r in rows if r["expected"] is not None})
    if not values:
        return None, [{**r, "pace": None} for r in rows]
    place = {v: i for i, v in enumerate(values)}
    out = [
        {**r, "pace": None, "expected": r["expected"]} if r["expected"] is None
        else {**r, "pace": place[r["expected"]], "expected": None}
        for r in rows
    ]  # fmt: skip
    return _text(values), out


def rebuilt_entry(row: Mapping[str, Any]) -> dict[str, Any]:
    """A run's summary entry for one KR or objective, from the row that covers the run."""
    detail = json.loads(row["detail"]) if row.get("detail") else {}
    return _apply(_entry(row), detail)


def joined(slim: Mapping[str, Any], rows: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """A summary whose entries were moved to its snapshot rows, made whole again."""
    lists: dict[str, list[tuple[int, dict[str, Any]]]] = {key: [] for key in _LISTS}
    for row in rows:
        key = "objectives" if row["kind"] == "objective" else "key_results"
        lists[key].append((row["seq"] if row["seq"] is not None else -1, rebuilt_entry(row)))
    out: dict[str, Any] = {}
    for key in _SUMMARY_KEYS:
        if key in _LISTS:
            out[key] = [entry for _, entry in sorted(lists[key], key=lambda p: p[0])]
        elif key in slim:
            out[key] = slim[key]
    out.update({k: v for k, v in slim.items() if k not in out})
    return out


def split(
    full: Mapping[str, Any], rows: Sequence[dict[str, Any]]
) -> tuple[str, list[dict[str, Any]], bool]:
    """A run's summary text to store, its rows with ``seq`` and ``detail``, and whether moved.

    ``rows`` are the run's snapshot rows (``CONTENT`` keys). When they rebuild
    ``full`` exactly, the text leaves out its ``key_results`` and ``objectives``;
    otherwise it is ``full`` whole and the rows carry no ``seq`` nor ``detail``.
    """
    # Checked as it goes, so that joined() gives ``full`` back exactly: the summary's
    # keys in their order, each entry's keys in theirs, each value equal as JSON.
    rows = [stored(r) for r in rows]
    by_key = {(r["kind"], r["id"]): r for r in rows}
    whole = (_text(full), [{**r, "seq": None, "detail": None} for r in rows], False)
    if tuple(full) != _SUMMARY_KEYS:
        return whole
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for key, kind in _LISTS.items():
        entries = full[key]
        if not isinstance(entries, list):
            return whole
        id_key = "kr_id" if kind == "kr" else "objective_id"
        for seq, entry in enumerate(entries):
            row = by_key.get((kind, entry.get(id_key) if isinstance(entry, dict) else None))
            if row is None or (kind, row["id"]) in out:
                return whole
            detail = _detail(entry, _entry(row))
            if detail is None:
                return whole
            out[(kind, row["id"])] = {
                **row,
                "seq": seq,
                "detail": _text(detail) if detail else None,
            }
    if len(out) != len(rows):
        return whole
    slim = {k: v for k, v in full.items() if k not in _LISTS}
    return _text(slim), [out[(r["kind"], r["id"])] for r in rows], True


# --- reading ---------------------------------------------------------------------------------


def run_rows(db: Database, run_id: int) -> list[dict[str, Any]]:
    """The snapshot rows that cover one run (none if the run recorded no results)."""
    cursor = db.execute(
        f"SELECT {', '.join('s.' + c for c in CONTENT)}, r.paces FROM snapshots s "
        f"JOIN runs r ON r.id = ? AND {COVERS} WHERE s.last_run >= ? AND s.run_id <= ?",
        (run_id, run_id, run_id),
    )
    rows = []
    for found in cursor:
        row = dict(zip(CONTENT, found, strict=False))
        row["expected"] = expected(row["expected"], row["pace"], found[-1])
        rows.append(row)
    return rows


def whole_summary(db: Database, run_id: int, text: str) -> dict[str, Any]:
    """A run's summary as it was recorded: its stored text, entries rebuilt if moved out."""
    summary: dict[str, Any] = json.loads(text)
    if any(key in summary for key in _LISTS):
        return summary
    return joined(summary, run_rows(db, run_id))


# --- writing ---------------------------------------------------------------------------------


def record(
    db: Database, run_id: int, full: Mapping[str, Any], rows: Sequence[dict[str, Any]]
) -> tuple[str, str | None]:
    """Record one run's snapshot rows, each value once; return its summary and paces texts.

    A row whose values equal those its KR (or objective) held in the previous run
    that recorded results is not stored again: that row's span is moved on to this
    run. The new rows are inserted first (so the run's final commit starts with them).
    """
    text, rows, _ = split(full, rows)
    paces, rows = paced(rows)
    found = db.execute(
        "SELECT MAX(id) FROM runs WHERE id < ? AND summary IS NOT NULL", (run_id,)
    ).fetchone()
    previous = found[0] if found else None
    live: dict[tuple[str, str], tuple[int, tuple[Any, ...]]] = {}
    if previous is not None:
        for stored in db.execute(
            f"SELECT run_id, {', '.join(CONTENT)} FROM snapshots WHERE last_run = ?", (previous,)
        ):
            live[(stored[1], stored[2])] = (stored[0], tuple(stored[1:]))
    added, kept = [], []
    for row in rows:
        # Compared as the database gives them back (a REAL column's 0 reads 0.0: equal).
        values = tuple(row[c] for c in CONTENT)
        held = live.get((row["kind"], row["id"]))
        if held is not None and held[1] == values:
            kept.append((run_id, held[0], row["kind"], row["id"]))
        else:
            added.append((run_id, run_id, *values))
    columns = ("run_id", "last_run", *CONTENT)
    db.executemany(
        f"INSERT INTO snapshots ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)}) "
        "ON CONFLICT (run_id, kind, id) DO UPDATE SET "
        + ", ".join(f"{c} = excluded.{c}" for c in columns if c not in ("run_id", "kind", "id")),
        added,
    )
    db.executemany(
        "UPDATE snapshots SET last_run = ? WHERE run_id = ? AND kind = ? AND id = ?", kept
    )
    return text, paces


# --- migration 0010: existing stores -----------------------------------------------------------


def convert(db: Database) -> None:
    """Move each recorded summary's entries to its rows, then merge equal rows into spans.

    Lossless: a summary is shortened only when its rows rebuild it exactly
    (:func:`split`), and rows merge only when all their values (``seq`` and
    ``detail`` included) are equal in consecutive runs that recorded results.
    """
    recorded = [r[0] for r in db.execute(
        "SELECT id FROM runs WHERE summary IS NOT NULL ORDER BY id").fetchall()]  # fmt: skip
    columns = ", ".join(CONTENT)
    for run_id in recorded:
        text = db.execute("SELECT summary FROM runs WHERE id = ?", (run_id,)).fetchone()[0]
        try:
            full = json.loads(text)
        except ValueError:  # a summary okr-sync cannot read: kept as it is
            continue
        if not isinstance(full, dict):
            continue
        rows = [dict(zip(CONTENT, r, strict=True)) for r in db.execute(
            f"SELECT {columns} FROM snapshots WHERE run_id = ?", (run_id,)).fetchall()]  # fmt: skip
        slim, filled, moved = split(full, rows)
        paces, filled = paced(filled)
        db.executemany(
            "UPDATE snapshots SET seq = ?, detail = ?, expected = ?, pace = ? "
            "WHERE run_id = ? AND kind = ? AND id = ?",
            [(r["seq"], r["detail"], r["expected"], r["pace"], run_id, r["kind"], r["id"])
             for r in filled],
        )  # fmt: skip
        if moved:
            db.execute("UPDATE runs SET summary = ?, paces = ? WHERE id = ?", (slim, paces, run_id))
        else:
            db.execute("UPDATE runs SET paces = ? WHERE id = ?", (paces, run_id))
    position = {run_id: i for i, run_id in enumerate(recorded)}
    keys = db.execute("SELECT DISTINCT kind, id FROM snapshots").fetchall()
    for kind, ident in keys:
        spans: list[list[Any]] = []  # [first run, last run, values]; merged rows deleted
        gone: list[tuple[int, str, str]] = []
        for row in db.execute(
            f"SELECT run_id, {columns} FROM snapshots WHERE kind = ? AND id = ? ORDER BY run_id",
            (kind, ident),
        ).fetchall():
            values = _text(list(row[1:]))
            head = spans[-1] if spans else None
            at = position.get(row[0])
            if head and at is not None and position.get(head[1]) == at - 1 and head[2] == values:
                head[1] = row[0]
                gone.append((row[0], kind, ident))
            else:
                spans.append([row[0], row[0], values])
        db.executemany(
            "UPDATE snapshots SET last_run = ? WHERE run_id = ? AND kind = ? AND id = ?",
            [(last, first, kind, ident) for first, last, _ in spans if last != first],
        )
        db.executemany("DELETE FROM snapshots WHERE run_id = ? AND kind = ? AND id = ?", gone)
