"""``POST /v1/data_sources/{id}/query`` and the 2022-06-28 ``POST /v1/databases/{id}/query``.

``page_size`` is 1-100 (default 100). Cursors look like Notion's,
``s:<query fingerprint>:<id of the next page>``: a cursor only works with the same
filter and sorts, and it resumes at that page even when rows changed meanwhile
(or at the same offset when that page left the results).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from sandboxes.messages import ApiResponse
from sandboxes.notion.api import (
    find_data_source,
    find_database,
    legacy_data_source,
    selected_properties,
)
from sandboxes.notion.context import NotionContext
from sandboxes.notion.filter import FilterCompiler
from sandboxes.notion.http import (
    NotionRequest,
    page_size,
    respond,
    shown,
    validation,
)
from sandboxes.notion.model import DataSource, Page
from sandboxes.notion.sort import sort_pages

QUERY_PAGE_SIZE = 100
MAX_CURSORS = 10_000
_BODY_KEYS = frozenset(
    {"filter", "sorts", "start_cursor", "page_size", "archived", "in_trash", "result_type"}
)


def query_data_source(ctx: NotionContext, req: NotionRequest) -> ApiResponse:
    """``POST /v1/data_sources/{id}/query``."""
    ds = find_data_source(ctx, req)
    return respond(run_query(ctx, req, ds, "page_or_data_source"))


def query_database(ctx: NotionContext, req: NotionRequest) -> ApiResponse:
    """``POST /v1/databases/{id}/query`` (2022-06-28 only)."""
    db = find_database(ctx, req)
    ds = legacy_data_source(ctx, db)
    return respond(run_query(ctx, req, ds, "page_or_database"))


def run_query(
    ctx: NotionContext, req: NotionRequest, ds: DataSource, list_type: str
) -> dict[str, Any]:
    """The list object for one query page."""
    ctx.require("read_content")
    body = req.body()
    for key in body:
        if key not in _BODY_KEYS:
            raise validation(
                f"body failed validation: body.{key} should be not present, instead was {shown(body[key])}."
            )
    # Notion may answer fewer rows than asked for; a capped sandbox makes pages of small data.
    size = min(page_size(body.get("page_size"), "body", QUERY_PAGE_SIZE), ctx.max_page_size)
    trashed = bool(body.get("in_trash", body.get("archived", False)))
    render = ctx.renderer(req)
    only = selected_properties(ds, req.params("filter_properties"))
    compiler = FilterCompiler(ds, render.compute, ctx.store.now(), ctx.store.bot.id)
    pages = [p for p in ctx.store.pages_of(ds) if p.in_trash == trashed]
    if body.get("filter") is not None:
        matches = compiler.compile(body["filter"])
        pages = [p for p in pages if matches(p)]
    pages = sort_pages(ds, render.compute, pages, body.get("sorts"))
    fingerprint = str(
        uuid.uuid5(
            uuid.NAMESPACE_URL,
            json.dumps([ds.id, body.get("filter"), body.get("sorts"), trashed], sort_keys=True),
        )
    )
    start = _resume(ctx, body.get("start_cursor"), fingerprint, pages)
    chunk = pages[start : start + size]
    more = start + size < len(pages)
    faults = ctx.faults
    cursor = None
    if chunk and faults is not None and faults.take_query("empty_page"):
        # Notion scanned rows and matched none: a new cursor, resuming at the same row.
        chunk, more, cursor = [], True, f"s:{fingerprint}:{uuid.uuid4()}"
        ctx.store.cursors[cursor] = start
    elif more:
        cursor = f"s:{fingerprint}:{pages[start + size].id}"
        ctx.store.cursors[cursor] = start + size
    while len(ctx.store.cursors) > MAX_CURSORS:  # forget the oldest, keep memory flat
        del ctx.store.cursors[next(iter(ctx.store.cursors))]
    asked = body.get("start_cursor")
    if asked is not None and faults is not None and faults.take_query("repeat_cursor"):
        cursor, more = asked, True
    return {
        "object": "list",
        "results": [render.page(p, only) for p in chunk],
        "next_cursor": cursor,
        "has_more": more,
        "type": list_type,
        list_type: {},
    }


def _resume(ctx: NotionContext, cursor: Any, fingerprint: str, pages: list[Page]) -> int:
    if cursor is None:
        return 0
    parts = cursor.split(":") if isinstance(cursor, str) else []
    if len(parts) != 3 or parts[0] != "s" or parts[1] != fingerprint:
        raise validation(
            f"body failed validation: body.start_cursor should be a cursor of this query, "
            f"instead was {shown(cursor)}."
        )
    for index, page in enumerate(pages):
        if page.id == parts[2]:
            return index
    return ctx.store.cursors.get(cursor, len(pages))
