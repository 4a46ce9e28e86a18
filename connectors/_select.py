"""Answer a :class:`PullRequest` from items held locally (memory and file sources).

This is the reference behaviour every item source follows: items matching any
selector (keys, labels, queries, ``<prefix><KR id>`` labels, KR refs), tagged
with the query selectors they matched, plus the direct children of every epic
returned; keys asked for but not found are reported as missing, and a query that
cannot run fails only its own selector (``PullResult.failed_selectors``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from connectors._filters import matches, query_problem
from okr_sync.models import ItemKind, PullRequest, PullResult, WorkItem


def _updated_since(item: WorkItem, since: dt.datetime) -> bool:
    return item.updated is not None and item.updated >= since


def select(
    source: str, items: Sequence[WorkItem], request: PullRequest, *, incremental: bool = False
) -> PullResult:
    """Select the items a request asks for.

    With ``incremental`` and a cursor (an ISO timestamp), the result is marked
    incremental: it returns the items updated at or after the cursor and those the
    engine does not hold yet (not in ``cached_keys``), and lists every selected key
    as ``members`` so the engine drops cached items that left the selection.
    """
    failed = {}
    for selector in request.queries:
        problem = query_problem(selector.query)
        if problem:  # only that rule's KRs fail (its items are unknown), not the source
            # The engine adds which rule it is, by its number and config line.
            failed[selector.id] = f"the rule's query cannot run: {problem}"
    queries = [s for s in request.queries if s.id not in failed]
    wanted_labels = set(request.labels) | {f"{request.label_prefix}{k}" for k in request.kr_ids}
    by_key = {i.key: i for i in items}
    chosen: dict[str, list[str]] = {}
    counts = {s.id: 0 for s in queries if s.count_only}
    for item in items:
        tags = []
        for s in queries:
            if isinstance(s.query, dict) and matches(item, s.query):
                if s.count_only:  # only the number is wanted, not the item
                    counts[s.id] += 1
                else:
                    tags.append(s.id)
        if (
            tags
            or item.key in request.keys
            or wanted_labels.intersection(item.labels)
            or request.kr_ids.intersection(item.kr_refs)
        ):
            chosen[item.key] = tags
    epics = {k for k in chosen if by_key[k].kind is ItemKind.EPIC}
    for item in items:
        if item.parent_key in epics and item.key not in chosen:
            chosen[item.key] = []
    since: dt.datetime | None = None
    if incremental and request.cursor:
        since = dt.datetime.fromisoformat(request.cursor)
    result = [
        by_key[k].replace(selectors=tuple(tags)) if tags else by_key[k]
        for k, tags in chosen.items()
        if since is None or _updated_since(by_key[k], since) or k not in request.cached_keys
    ]
    stamps = [i.updated for i in items if i.updated is not None]
    cursor = max(stamps).isoformat() if incremental and stamps else None
    return PullResult(
        items=tuple(result),
        cursor=cursor,
        incremental=since is not None,
        members=frozenset(chosen) if since is not None else None,
        missing_keys=frozenset(k for k in request.keys if k not in by_key),
        counts=counts,
        failed_selectors=failed,
        description=f"{len(result)} of {len(items)} items in {source}",
    )
