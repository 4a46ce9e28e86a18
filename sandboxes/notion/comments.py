"""``POST /v1/comments`` and ``GET /v1/comments?block_id=…`` (un-resolved comments).

Both need the comment capabilities (``read_comments``/``insert_comments``), which
``NotionSandbox.capabilities`` grants by default.
"""

from __future__ import annotations

from sandboxes.messages import ApiResponse
from sandboxes.notion.api import decode_offset, encode_cursor, find_page
from sandboxes.notion.context import NotionContext
from sandboxes.notion.http import (
    NotionRequest,
    page_size,
    respond,
    shown,
    validation,
)
from sandboxes.notion.model import normalize_id
from sandboxes.notion.write import rich_text_input

COMMENT_PAGE_SIZE = 100


def create_comment(ctx: NotionContext, req: NotionRequest) -> ApiResponse:
    """A new comment on a page, or a reply in a discussion."""
    ctx.require("insert_comments")
    body = req.body()
    parent = body.get("parent")
    discussion = body.get("discussion_id")
    if (parent is None) == (discussion is None):
        raise validation(
            "body failed validation. Fix one:\nbody.parent should be defined, instead was "
            "`undefined`.\nbody.discussion_id should be defined, instead was `undefined`."
        )
    store = ctx.store
    if parent is not None:
        ref = parent.get("page_id") or parent.get("block_id") if isinstance(parent, dict) else None
        if not isinstance(ref, str):
            raise validation(
                "body failed validation: body.parent.page_id should be defined, instead was `undefined`."
            )
        page = find_page(ctx, ref)
        discussion_id = None
    else:
        found = next((c for c in store.comments if c.discussion_id == discussion), None)
        if found is None:
            raise ctx.not_found("discussion", str(discussion))
        page = find_page(ctx, found.page_id)
        discussion_id = found.discussion_id
    rich_text = rich_text_input(store, body.get("rich_text"), "body.rich_text")
    if not rich_text:
        raise validation(
            f"body failed validation: body.rich_text should be a non-empty array, instead was {shown(body.get('rich_text'))}."
        )
    display = body.get("display_name")
    comment = store.add_comment(
        page,
        rich_text,
        store.bot.id,
        discussion_id=discussion_id,
        display_name=display if isinstance(display, dict) else None,
    )
    return respond(ctx.renderer(req).comment(comment))


def list_comments(ctx: NotionContext, req: NotionRequest) -> ApiResponse:
    """The comments of a page (or block), oldest first, paged."""
    ctx.require("read_comments")
    block = req.param("block_id")
    if block is None:
        raise validation(
            "query failed validation: query.block_id should be defined, instead was `undefined`."
        )
    if normalize_id(block) is None:
        raise validation(
            f'query failed validation: query.block_id should be a valid uuid, instead was `"{block}"`.'
        )
    page = find_page(ctx, block)
    comments = [c for c in ctx.store.comments if c.page_id == page.id]
    size = min(page_size(req.param("page_size"), "query", COMMENT_PAGE_SIZE), ctx.max_page_size)
    asked = req.param("start_cursor")
    start = decode_offset(asked, "comments", page.id)
    chunk = comments[start : start + size]
    more = start + size < len(comments)
    cursor = encode_cursor("comments", page.id, start + size) if more else None
    if asked is not None and ctx.faults is not None and ctx.faults.take_query("repeat_cursor"):
        cursor, more = asked, True
    render = ctx.renderer(req)
    return respond(
        {
            "object": "list",
            "results": [render.comment(c) for c in chunk],
            "next_cursor": cursor,
            "has_more": more,
            "type": "comment",
            "comment": {},
        }
    )
