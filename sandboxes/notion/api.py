"""Handlers for users, databases, data sources, pages and page properties.

Objects in a database that is not shared with the integration answer 404
``object_not_found`` exactly like objects that do not exist.
"""

from __future__ import annotations

import base64
from typing import Any

from sandboxes.messages import ApiResponse
from sandboxes.notion.context import NotionContext
from sandboxes.notion.http import (
    NotionError,
    NotionRequest,
    page_size,
    respond,
    shown,
    validation,
)
from sandboxes.notion.model import Database, DataSource, Page, PropertyDef, normalize_id
from sandboxes.notion.render import NotionRenderer
from sandboxes.notion.write import convert_properties

PAGINATED = frozenset({"title", "rich_text", "relation", "people"})
PROPERTY_PAGE_SIZE = 25
_PAGE_BODY_KEYS = frozenset(
    {
        "properties",
        "icon",
        "cover",
        "is_locked",
        "archived",
        "in_trash",
        "template",
        "erase_content",
    }
)


# -- lookups --------------------------------------------------------------------------------


def find_database(ctx: NotionContext, req: NotionRequest) -> Database:
    """The database of the path, if it exists and is shared."""
    db_id = req.path_id("id", "database")
    db = ctx.store.databases.get(db_id)
    if db is None or not db.shared:
        raise ctx.not_found("database", db_id)
    return db


def find_data_source(ctx: NotionContext, req: NotionRequest) -> DataSource:
    """The data source of the path, if its database is shared."""
    ds_id = req.path_id("id", "data_source")
    ds = ctx.store.data_sources.get(ds_id)
    if ds is None or not ctx.store.db_of(ds).shared:
        raise ctx.not_found("data source", ds_id)
    return ds


def find_page(ctx: NotionContext, ref: str) -> Page:
    """A page by id, if its database is shared."""
    page = ctx.store.page(ref)
    if page is None or not ctx.store.db_of(ctx.store.ds_of(page)).shared:
        raise ctx.not_found("page", normalize_id(ref) or ref)
    return page


def legacy_data_source(ctx: NotionContext, db: Database) -> DataSource:
    """A 2022-06-28 database's only data source; 400 when it has several."""
    if len(db.data_sources) > 1:
        raise NotionError(
            400,
            "validation_error",
            "Databases with multiple data sources are not supported in this API version.",
            {
                "error_type": "multiple_data_sources_for_database",
                "database_id": db.id,
                "child_data_source_ids": list(db.data_sources),
                "minimum_api_version": "2025-09-03",
            },
        )
    return ctx.store.data_sources[db.data_sources[0]]


def selected_properties(ds: DataSource, refs: list[str]) -> set[str] | None:
    """Raw ids named by ``filter_properties`` (ids or names); None when not given."""
    if not refs:
        return None
    chosen: set[str] = set()
    for ref in refs:
        prop = ds.find(ref)
        if prop is None:
            raise validation(f"Could not find property with name or id: {ref}")
        chosen.add(prop.id)
    return chosen


def encode_cursor(*parts: object) -> str:
    """An opaque cursor."""
    raw = ":".join(str(p) for p in parts).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_offset(cursor: str | None, *expected: object) -> int:
    """The offset inside a cursor made by ``encode_cursor(*expected, offset)``."""
    if cursor is None:
        return 0
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        # Split on the last ':' only: the expected parts (property ids) may contain ':'.
        head, _, offset = raw.rpartition(":")
        if head != ":".join(str(e) for e in expected):
            raise ValueError(raw)
        return int(offset)
    except (ValueError, UnicodeDecodeError):
        raise validation(f"start_cursor provided is invalid: {cursor}") from None


# -- users ------------------------------------------------------------------------------------


def users_me(ctx: NotionContext, req: NotionRequest) -> ApiResponse:
    """``GET /v1/users/me``: the integration's bot user."""
    return respond(ctx.renderer(req).user(ctx.store.bot, me=True))


def get_user(ctx: NotionContext, req: NotionRequest) -> ApiResponse:
    """``GET /v1/users/{id}``."""
    user_id = req.path_id("id", "user")
    user = ctx.store.users.get(user_id)
    if user is None:
        raise ctx.not_found("user", user_id)
    return respond(ctx.renderer(req).user(user))


def list_users(ctx: NotionContext, req: NotionRequest) -> ApiResponse:
    """``GET /v1/users``: people first, then the bot, paged."""
    users = sorted(ctx.store.users.values(), key=lambda u: u.type == "bot")
    size = page_size(req.param("page_size"), "query", 100)
    start = decode_offset(req.param("start_cursor"), "users")
    chunk = users[start : start + size]
    more = start + size < len(users)
    render = ctx.renderer(req)
    return respond(
        {
            "object": "list",
            "results": [render.user(u) for u in chunk],
            "next_cursor": encode_cursor("users", start + size) if more else None,
            "has_more": more,
            "type": "user",
            "user": {},
        }
    )


# -- databases and data sources -----------------------------------------------------------


def get_database(ctx: NotionContext, req: NotionRequest) -> ApiResponse:
    """``GET /v1/databases/{id}``: data sources, or (2022-06-28) the schema."""
    db = find_database(ctx, req)
    if req.legacy:
        legacy_data_source(ctx, db)
    return respond(ctx.renderer(req).database(db))


def get_data_source(ctx: NotionContext, req: NotionRequest) -> ApiResponse:
    """``GET /v1/data_sources/{id}``: the schema."""
    return respond(ctx.renderer(req).data_source(find_data_source(ctx, req)))


# -- pages ------------------------------------------------------------------------------------


def get_page(ctx: NotionContext, req: NotionRequest) -> ApiResponse:
    """``GET /v1/pages/{id}`` (``filter_properties`` trims the properties)."""
    page = find_page(ctx, req.path_id("id", "page"))
    ds = ctx.store.ds_of(page)
    if req.legacy:
        legacy_data_source(ctx, ctx.store.db_of(ds))
    only = selected_properties(ds, req.params("filter_properties"))
    return respond(ctx.renderer(req).page(page, only))


def update_page(ctx: NotionContext, req: NotionRequest) -> ApiResponse:
    """``PATCH /v1/pages/{id}``: properties, trash, lock, icon, cover."""
    ctx.require("update_content")
    page = find_page(ctx, req.path_id("id", "page"))
    body = req.body()
    for key in body:
        if key not in _PAGE_BODY_KEYS:
            raise validation(
                f"body failed validation: body.{key} should be not present, instead was {shown(body[key])}."
            )
    ds = ctx.store.ds_of(page)
    trash = body.get("in_trash", body.get("archived"))
    if page.in_trash and trash is not False:
        raise validation(
            "Can't edit block that is archived. You must unarchive the block before editing."
        )
    changes = convert_properties(ctx.store, ds, body.get("properties", {}))
    if req.legacy and changes:
        legacy_data_source(ctx, ctx.store.db_of(ds))
    for prop, value in changes:
        ctx.store.set_value(page, prop, value)
    if isinstance(trash, bool):
        page.in_trash = trash
    if isinstance(body.get("is_locked"), bool):
        page.is_locked = body["is_locked"]
    for key in ("icon", "cover"):
        if key in body:
            setattr(page, key, body[key])
    if body:
        ctx.store.touch(page, ctx.store.bot.id)
    return respond(ctx.renderer(req).page(page))


def create_page(ctx: NotionContext, req: NotionRequest) -> ApiResponse:
    """``POST /v1/pages`` under a data source (2022-06-28: under a database)."""
    ctx.require("insert_content")
    body = req.body()
    parent = body.get("parent")
    ref = None
    if isinstance(parent, dict):
        ref = parent.get("data_source_id") or (parent.get("database_id") if req.legacy else None)
    if not isinstance(ref, str):
        raise validation(
            "body failed validation: body.parent.data_source_id should be defined, instead was `undefined`."
        )
    target = ctx.store.find_ds(ref)
    if target is None or not ctx.store.db_of(target).shared:
        raise ctx.not_found("data source" if not req.legacy else "database", ref)
    if req.legacy:
        target = legacy_data_source(ctx, ctx.store.db_of(target))
    changes = convert_properties(ctx.store, target, body.get("properties", {}))
    page = ctx.store.add_page(target.id, {}, edited_by=ctx.store.bot.id)
    for prop, value in changes:
        ctx.store.set_value(page, prop, value)
    return respond(ctx.renderer(req).page(page))


# -- page properties --------------------------------------------------------------------------


def get_page_property(ctx: NotionContext, req: NotionRequest) -> ApiResponse:
    """``GET /v1/pages/{id}/properties/{property_id}``: one item, or a paged list."""
    page = find_page(ctx, req.path_id("id", "page"))
    ds = ctx.store.ds_of(page)
    prop_ref = req.args["property_id"]
    prop = next((p for p in ds.properties.values() if prop_ref in (p.id, p.encoded_id)), None)
    if prop is None:
        raise NotionError(404, "object_not_found", f"Could not find property with ID: {prop_ref}.")
    # The property endpoint sees every reference, not just the first 25.
    render = NotionRenderer(ctx.store, req.version, limit=None)
    if prop.type not in PAGINATED and prop.type != "rollup":
        item = {"object": "property_item", "id": prop.encoded_id, "type": prop.type}
        item[prop.type] = render.value_json(page, prop)
        return respond(item)
    return respond(_property_list(ctx, req, render, page, prop))


def _property_list(
    ctx: NotionContext,
    req: NotionRequest,
    render: NotionRenderer,
    page: Page,
    prop: PropertyDef,
) -> dict[str, Any]:
    if prop.type == "rollup":
        result = render.compute.rollup(page, prop)
        rolled = result.rolled
        items = [] if rolled is None else [render.array_item(p, rolled) for p in result.items]
    elif prop.type == "relation":
        items = [{"relation": r} for r in render.value_json(page, prop)]
    else:
        items = [{prop.type: v} for v in render.value_json(page, prop)]
    size = page_size(req.param("page_size"), "query", PROPERTY_PAGE_SIZE)
    start = decode_offset(req.param("start_cursor"), page.id, prop.id)
    chunk = items[start : start + size]
    more = start + size < len(items)
    cursor = encode_cursor(page.id, prop.id, start + size) if more else None
    results = []
    for entry in chunk:
        kind = next(k for k in entry if k != "type")
        results.append({"object": "property_item", "type": kind, "id": prop.encoded_id, **entry})
    summary: dict[str, Any] = {
        "id": prop.encoded_id,
        "next_url": (
            f"{ctx.base_url}/v1/pages/{page.id}/properties/{prop.encoded_id}"
            f"?start_cursor={cursor}&page_size={size}"
            if cursor
            else None
        ),
        "type": prop.type,
        prop.type: {},
    }
    if prop.type == "rollup":
        summary["rollup"] = (
            {"type": "incomplete", "incomplete": {}, "function": prop.config["function"]}
            if more
            else render.rollup(page, prop)
        )
    return {
        "object": "list",
        "results": results,
        "next_cursor": cursor,
        "has_more": more,
        "type": "property_item",
        "property_item": summary,
    }
