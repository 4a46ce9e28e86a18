"""The report as one self-contained HTML page (pure: :class:`ReportData` in, text out).

No script, no external font, stylesheet or image: the CSS is inline and every
chart is inline SVG, so the file opens offline and can be mailed or archived.
Every text that comes from users or tools (titles, ids, reasons, item names)
goes through :func:`html.escape`. Status is never told by colour alone: each
badge carries a symbol and its label, and stale or failed KRs a hatched bar.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from html import escape
from typing import Any

from okr_sync.cli.render import natural_key
from okr_sync.cli.report.chart import DEFS, burnup_svg
from okr_sync.cli.report.data import Edit, KrView, ObjectiveView, ReportData
from okr_sync.core.provenance import counted_label, pct
from okr_sync.models import Status

#: Okabe–Ito colours, told apart by people with any common colour-vision deficiency,
#: each with a symbol so that the badge reads in grey too.
STATUS_LOOK: dict[Status | None, tuple[str, str]] = {
    Status.ON_TRACK: ("#009E73", "✔"),
    Status.ACHIEVED: ("#0072B2", "★"),
    Status.AT_RISK: ("#E69F00", "!"),
    Status.OFF_TRACK: ("#D55E00", "✖"),
    Status.NOT_STARTED: ("#999999", "○"),
    None: ("#555555", "?"),
}

CSS = """
*{box-sizing:border-box}
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#111;
background:#fff}
main{max-width:1200px;margin:0 auto;padding:12px}
h1{font-size:1.4em;margin:.2em 0}h2{font-size:1.15em;margin:1.2em 0 .4em;border-bottom:1px solid #ddd}
h3{font-size:1.05em;margin:.2em 0}h4{font-size:1em;margin:0 0 .3em;overflow-wrap:anywhere}
.meta,.cap{color:#444;font-size:.85em}
.obj{border-left:4px solid #bbb;padding:.3em 0 .3em .7em;margin:.8em 0}
.obj .obj{margin-left:.3em}
.head{display:flex;flex-wrap:wrap;gap:.4em .8em;align-items:center}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(290px,1fr));gap:10px;margin:.5em 0}
.kr{border:1px solid #ccc;border-radius:6px;padding:8px 10px;min-width:0}
.kid{font-family:ui-monospace,monospace;color:#333;margin-right:.3em}
.badge{display:inline-block;border:2px solid var(--c);border-radius:1em;padding:0 .55em;
font-size:.85em;font-weight:600;white-space:nowrap}
.badge b{color:var(--c);margin-right:.25em}
.bar{position:relative;height:10px;background:#eee;border-radius:5px;margin:.35em 0;overflow:hidden}
.bar span{position:absolute;left:0;top:0;bottom:0;background:var(--c)}
.bar i{position:absolute;top:-2px;bottom:-2px;width:2px;background:#000}
.bar.none{background:repeating-linear-gradient(45deg,#ddd 0 4px,#fff 4px 8px)}
.note{background:#fff4e0;border-left:3px solid #D55E00;padding:.2em .5em;font-size:.9em;
overflow-wrap:anywhere}
.since,.edit{font-size:.85em;overflow-wrap:anywhere}
figure{margin:.3em 0}
svg.burnup{width:100%;height:auto;display:block}
.burnup .grid{stroke:#ddd;stroke-width:1}
.burnup .ax{font-size:9px;fill:#555}
.burnup .pace{stroke:#000;stroke-width:1.2;stroke-dasharray:5 4}
.burnup .synced{fill:none;stroke:#0072B2;stroke-width:2.2}
.burnup .backfilled{fill:none;stroke:#E69F00;stroke-width:2;stroke-dasharray:1.5 2.5}
.burnup .dot{fill:#0072B2}.burnup .hollow{fill:#fff;stroke:#E69F00;stroke-width:1.5}
.burnup .band{fill:url(#okr-hatch);stroke:#CC79A7;stroke-width:.8}
.burnup .p50{stroke:#CC79A7;stroke-width:1.5;stroke-dasharray:6 3}
.burnup .goal{stroke:#009E73;stroke-width:1.5}
.burnup .move{stroke:#009E73;stroke-width:1.5;stroke-dasharray:2 2}
.burnup .moved{fill:#009E73;opacity:.12}.burnup .mv{fill:#00593f}
.burnup .end{stroke:#555;stroke-width:1}.burnup .final{fill:#555}
.closed,.targets{font-size:.85em;overflow-wrap:anywhere}
details{font-size:.85em;margin-top:.3em}summary{cursor:pointer;color:#0072B2}
details ul{padding-left:1.2em;margin:.3em 0}
ul.plain{padding-left:1.2em}ul.plain li{overflow-wrap:anywhere}
.legend svg{vertical-align:middle}
table{border-collapse:collapse}td{padding:0 .6em 0 0}
@media (max-width:600px){body{font-size:14px}main{padding:8px}.grid{grid-template-columns:1fr}
.obj{padding-left:.4em}}
@media print{details{display:none}}
"""

_LEGEND = (
    '<p class="legend cap">'
    '<svg width="28" height="8"><line x1="0" y1="4" x2="28" y2="4" stroke="#0072B2" '
    'stroke-width="2.2"/></svg> synced runs (dots) '
    '<svg width="28" height="8"><line x1="0" y1="4" x2="28" y2="4" stroke="#E69F00" '
    'stroke-width="2" stroke-dasharray="1.5 2.5"/></svg> backfilled days (dotted) '
    '<svg width="28" height="8"><line x1="0" y1="4" x2="28" y2="4" stroke="#000" '
    'stroke-dasharray="5 4"/></svg> expected pace (dashed) '
    '<svg width="28" height="10"><rect width="28" height="10" fill="url(#okr-hatch)"/></svg> '
    "forecast range to period end (hatched) · a vertical line: a start or target moved "
    "(points before it keep the old one) · ■ the final value of a closed KR "
    "· ▮ on a bar: the expected progress today</p>"
)


def _e(value: Any) -> str:
    return escape(str(value), quote=True)


def _num(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}".rstrip("0")


def _badge(status: Status | None, labels: Mapping[Status, str], note: str) -> str:
    if note and status is None:
        word = note.split(":", 1)[0]
        return f'<span class="badge" style="--c:#000"><b>⚠</b>{_e(word)}</span>'
    colour, symbol = STATUS_LOOK.get(status, STATUS_LOOK[None])
    label = labels.get(status, str(status)) if status else "No status"
    return f'<span class="badge" style="--c:{colour}"><b>{symbol}</b>{_e(label)}</span>'


def _bar(progress: float | None, expected: float | None, status: Status | None) -> str:
    if progress is None:
        return '<div class="bar none" title="no number"></div>'
    colour = STATUS_LOOK.get(status, STATUS_LOOK[None])[0]
    mark = (
        f'<i style="left:calc({min(max(expected, 0), 1) * 100:.1f}% - 1px)"></i>'
        if expected is not None
        else ""
    )
    return (
        f'<div class="bar" style="--c:{colour}"><span style="width:{progress * 100:.1f}%">'
        f"</span>{mark}</div>"
    )


def _edit(e: Edit, anchor: str = "") -> str:
    who = f'<a href="#{anchor}-{_e(e.owner)}">{_e(e.owner)}</a>: ' if anchor else ""
    return (
        f'<li class="edit">{who}{_e(e.target)} {_e(e.record)} <b>{_e(e.field)}</b>: a human made it '
        f"{_e(_show(e.human))} (okr-sync had written {_e(_show(e.written))}) → {_e(e.action)}</li>"
    )


def _show(value: Any) -> str:
    if isinstance(value, float):
        return _num(value)
    return "empty" if value is None else str(value)


def _provenance(kr: KrView) -> str:
    prov = kr.provenance
    if prov is None:
        return ""
    done = sum(1 for c in prov.counted if c.done)
    out = [
        f"<details><summary>How it was counted: {len(prov.counted)} item(s), {done} done, "
        f"{len(prov.excluded)} excluded</summary>"
    ]
    if prov.selectors:
        out.append("<p>Linked through:</p><ul>")
        out += [f"<li>{_e(s)}</li>" for s in prov.selectors]
        out.append("</ul>")
    if prov.counted:
        out.append("<p>Counted (✔ done, · not done):</p><ul>")
        out += [
            f"<li>{'✔' if c.done else '·'} {_e(counted_label(c))}"
            + (f" ({_num(c.value)})" if c.value != 1 else "")
            + "</li>"
            for c in prov.counted
        ]
        out.append("</ul>")
    elif kr.measure == "manual":
        out.append("<p>Current is entered by hand (measure manual).</p>")
    if prov.excluded:
        out.append("<p>Excluded:</p><ul>")
        out += [f"<li>{_e(x.key)}: {_e(x.reason)}</li>" for x in prov.excluded]
        out.append("</ul>")
    if prov.unestimated:
        out.append(f"<p>Unestimated (0 points): {_e(', '.join(prov.unestimated))}</p>")
    if prov.shared:
        out.append(f"<p>Also counted for other KRs: {_e('; '.join(prov.shared))}</p>")
    out += [f"<p>Note: {_e(n)}</p>" for n in prov.notes]
    out.append("</details>")
    return "".join(out)


def kr_card(kr: KrView, labels: Mapping[Status, str]) -> str:
    """One KR: numbers, status, bar, burn-up chart, what moved, edits, provenance."""
    unit = f" {kr.unit}" if kr.unit else ""
    value = f"{_num(kr.current)} / {_num(kr.target)}{unit}" if kr.target is not None else ""
    progress = "" if kr.progress is None else f"{kr.progress:.4f}"
    closed = ' <span class="badge" style="--c:#555"><b>■</b>closed</span>' if kr.closed else ""
    svg, caption = burnup_svg(
        f"{kr.id}: {kr.title}", kr.points, kr.period, kr.forecast, kr.moves,
        final=kr.progress if kr.closed else None, closed=kr.closed,
    )  # fmt: skip
    out = [
        f'<article class="kr" id="kr-{_e(kr.id)}" data-kr="{_e(kr.id)}" '
        f'data-progress="{progress}">',
        f'<h4><span class="kid">{_e(kr.id)}</span>{_e(kr.title)}</h4>',
        f'<div class="head">{_badge(kr.status, labels, kr.note)}{closed}'
        f'<span class="pct">{_e(pct(kr.progress))}</span>'
        f'<span class="meta">expected {_e(pct(kr.expected))}</span>'
        + (f'<span class="meta cur">{_e(value)}</span>' if value else "")
        + "</div>",
        _bar(kr.progress, kr.expected, kr.status),
    ]
    if kr.note:
        out.append(f'<p class="note">{_e(kr.note)}</p>')
    elif kr.closed:
        reason = kr.closed_reason or "its period ended; the numbers are the final ones"
        out.append(f'<p class="closed">Closed: {_e(reason)}</p>')
    if kr.moves:
        out.append(
            '<p class="targets">Target line: '
            + "; ".join(_e(m.sentence()) for m in sorted(kr.moves, key=lambda m: m.seen_at))
            + ".</p>"
        )
    out.append(f'<figure>{svg}<figcaption class="cap">{_e(caption)}</figcaption></figure>')
    if kr.since:
        out.append(f'<p class="since">{_e(kr.since)}</p>')
    if kr.edits:
        out.append('<ul class="plain">' + "".join(_edit(e) for e in kr.edits) + "</ul>")
    out.append(_provenance(kr))
    out.append("</article>")
    return "".join(out)


def _objective(
    o: ObjectiveView, data: ReportData, labels: Mapping[Status, str], seen: set[str]
) -> str:
    seen.add(o.id)
    out = [
        f'<section class="obj" id="obj-{_e(o.id)}" data-objective="{_e(o.id)}">',
        f'<h3><span class="kid">{_e(o.id)}</span>{_e(o.title)}</h3>',
        f'<div class="head">{_badge(o.status, labels, o.note)}<span class="pct">'
        f'{_e(pct(o.progress))}</span><span class="meta">expected {_e(pct(o.expected))}</span>'
        "</div>",
        _bar(o.progress, o.expected, o.status),
    ]
    if o.note:
        out.append(f'<p class="note">{_e(o.note)}</p>')
    if o.krs:
        out.append('<div class="grid">')
        out += [kr_card(data.krs[k], labels) for k in sorted(o.krs, key=natural_key)]
        out.append("</div>")
    for child in sorted(o.children, key=natural_key):
        if child not in seen:
            out.append(_objective(data.objectives[child], data, labels, seen))
    out.append("</section>")
    return "".join(out)


def _attention(data: ReportData) -> str:
    items = []
    if data.later_failure is not None:
        f = data.later_failure
        items.append(
            f"run {f.id} at {_e(f.started_at[:16])} recorded no results ({_e(f.outcome)}: "
            f"{_e(f.reason or 'no reason recorded')}); the numbers below are run {data.run.id}'s"
        )
    items += [f"source {_e(k)}: {_e(v)}" for k, v in sorted(data.source_errors.items())]
    items += [f"write failed: {_e(w)}" for w in data.write_failures]
    items += [
        f'<a href="#kr-{_e(k.id)}">{_e(k.id)}</a> {_e(k.title)} — {_e(k.note)}'
        for k in data.krs.values()
        if k.note
    ]
    if not items:
        return "<p>Nothing: every key result has a number, and every source and write worked.</p>"
    return '<ul class="plain">' + "".join(f"<li>{i}</li>" for i in items) + "</ul>"


def _changes(data: ReportData) -> str:
    moved = sorted((k for k in data.krs.values() if k.since), key=lambda k: natural_key(k.id))
    writes = ", ".join(f"{n} field(s) to {_e(t)}" for t, n in sorted(data.writes.items()))
    head = f"<p>Run {data.run.id} wrote {writes or 'nothing'}.</p>"
    if not moved:
        return head + "<p>No key result moved since its previous run.</p>"
    return (
        head
        + '<ul class="plain">'
        + "".join(
            f'<li><a href="#kr-{_e(k.id)}">{_e(k.id)}</a> {_e(k.since or "")}</li>' for k in moved
        )
        + "</ul>"
    )


def _counts(data: ReportData, labels: Mapping[Status, str]) -> str:
    tally: dict[str, int] = {}
    for k in data.krs.values():
        word = k.note.split(":", 1)[0] if k.note else labels.get(k.status, "") if k.status else ""
        tally[word or "No status"] = tally.get(word or "No status", 0) + 1
    return " · ".join(f"{n} {_e(w)}" for w, n in sorted(tally.items(), key=lambda kv: -kv[1]))


def render_page(data: ReportData, labels: Mapping[Status, str], generated: dt.datetime) -> str:
    """The whole report page."""
    edits = "".join(_edit(e, "kr" if e.owner in data.krs else "obj") for e in data.edits)
    seen: set[str] = set()
    roots = sorted(data.roots, key=natural_key)
    tree = [_objective(data.objectives[r], data, labels, seen) for r in roots]
    # Objectives only reachable round a cycle of parents would vanish: show them at the top.
    tree += [
        _objective(o, data, labels, seen) for o in data.objectives.values() if o.id not in seen
    ]
    if data.orphans:
        tree.append('<section class="obj"><h3>Key results outside any objective</h3>'
                    '<div class="grid">'
                    + "".join(kr_card(data.krs[k], labels) for k in sorted(data.orphans, key=natural_key))
                    + "</div></section>")  # fmt: skip
    previous = f" (previous: run {data.previous_run})" if data.previous_run else ""
    return "".join(
        [
            '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>OKR report — run {data.run.id}</title><style>{CSS}</style></head><body>",
            DEFS,
            "<main><header><h1>OKR report</h1>",
            f'<p class="meta">Run {data.run.id} at {_e(data.run.started_at[:16])} '
            f"({_e(data.run.outcome)}){previous} · {len(data.krs)} key results, "
            f"{len(data.objectives)} objectives · written {generated:%Y-%m-%d %H:%M} UTC "
            "by okr-sync report</p>",
            f'<p class="meta" id="counts">{_counts(data, labels)}</p></header>',
            '<h2 id="attention">Needs attention</h2>',
            _attention(data),
            '<h2 id="changes">Changes since the previous run</h2>',
            _changes(data),
            '<h2 id="edits">Human edits met</h2>',
            f'<ul class="plain">{edits}</ul>'
            if edits
            else "<p>None: no target held a value a human typed over okr-sync's.</p>",
            '<h2 id="tree">Objectives and key results</h2>',
            _LEGEND,
            *tree,
            "</main></body></html>",
        ]
    )
