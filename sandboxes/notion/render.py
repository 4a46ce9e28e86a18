"""API objects: users, databases, data sources, pages, property values, comments.

Shapes, key order and timestamp formats follow the recorded payloads in
``real-payloads/notion`` (2025-09-03, with the 2022-06-28 and 2026-03-11
differences). Page objects cap title, rich_text, people and relation arrays at
25 items (relation adds ``"has_more"``), and compute formulas and rollups from
the first 25 related pages, as Notion does.
"""

from __future__ import annotations

import re
from typing import Any

from sandboxes.notion.compute import PAGE_LIMIT, Computer
from sandboxes.notion.http import V2022, V2026
from sandboxes.notion.model import (
    Comment,
    Database,
    DataSource,
    DateValue,
    Option,
    Page,
    PropertyDef,
    User,
    encode_property_id,
    iso_millis,
    iso_minute,
    notion_url,
)
from sandboxes.notion.schema import status_groups
from sandboxes.notion.store import NotionStore
from sandboxes.notion.values import number_out, plain_text, render_date, text_run

_PROP_REF = re.compile(r'prop\("((?:[^"\\]|\\.)*)"\)')
TRUNCATED = frozenset({"title", "rich_text", "people", "relation"})


class NotionRenderer:
    """Renders store objects for one API version."""

    def __init__(self, store: NotionStore, version: str, *, limit: int | None = PAGE_LIMIT) -> None:
        self.store = store
        self.version = version
        self.limit = limit
        self.compute = Computer(store, limit)

    # -- users -------------------------------------------------------------------------

    def user(self, user: User, *, me: bool = False) -> dict[str, Any]:
        """A full user object; the bot's ``me`` form carries owner and workspace."""
        body: dict[str, Any] = {
            "object": "user",
            "id": user.id,
            "name": user.name,
            "avatar_url": None,
            "type": user.type,
        }
        if user.type == "person":
            body["person"] = {"email": user.email}
        elif me:
            body["bot"] = {
                "owner": {"type": "workspace", "workspace": True},
                "workspace_name": self.store.workspace_name,
                "workspace_id": self.store.workspace_id,
                "workspace_limits": {"max_file_upload_size_in_bytes": 5242880},
            }
        else:
            body["bot"] = {}
        return body

    @staticmethod
    def user_ref(user_id: str) -> dict[str, Any]:
        """The partial ``{"object": "user", "id"}`` of created_by/last_edited_by."""
        return {"object": "user", "id": user_id}

    def _user_by_id(self, user_id: str) -> dict[str, Any]:
        user = self.store.users.get(user_id)
        return self.user(user) if user else self.user_ref(user_id)

    # -- databases and data sources ----------------------------------------------------

    def database(self, db: Database) -> dict[str, Any]:
        """A database: ``data_sources`` (2025-09-03+) or the schema (2022-06-28)."""
        title = [text_run(db.title)] if db.title else []
        url = notion_url(db.id)
        if self.version == V2022:
            ds = self.store.data_sources[db.data_sources[0]]
            return {
                "object": "database",
                "id": db.id,
                "cover": None,
                "icon": None,
                "created_time": iso_minute(db.created),
                "created_by": self.user_ref(db.created_by),
                "last_edited_by": self.user_ref(db.created_by),
                "last_edited_time": iso_minute(db.edited),
                "title": title,
                "description": [],
                "is_inline": False,
                "properties": self.schema(ds),
                "parent": {"type": "page_id", "page_id": db.parent_page_id},
                "url": url,
                "public_url": None,
                "in_trash": False,
                "archived": False,
            }
        body: dict[str, Any] = {
            "object": "database",
            "id": db.id,
            "title": title,
            "description": [],
            "parent": {"type": "page_id", "page_id": db.parent_page_id},
            "is_inline": False,
            "in_trash": False,
            "is_locked": False,
            "created_time": iso_millis(db.created),
            "last_edited_time": iso_millis(db.edited),
            "data_sources": [
                {"id": i, "name": self.store.data_sources[i].title} for i in db.data_sources
            ],
            "icon": None,
            "cover": None,
            "url": url,
            "public_url": None,
            "archived": False,
        }
        return self._versioned(body)

    def data_source(self, ds: DataSource) -> dict[str, Any]:
        """A data source object with its schema."""
        db = self.store.db_of(ds)
        body: dict[str, Any] = {
            "object": "data_source",
            "id": ds.id,
            "cover": None,
            "icon": None,
            "created_time": iso_minute(ds.created),
            "created_by": self.user_ref(ds.created_by),
            "last_edited_by": self.user_ref(ds.created_by),
            "last_edited_time": iso_minute(ds.edited),
            "title": [text_run(ds.title)] if ds.title else [],
            "description": [],
            "is_inline": False,
            "properties": self.schema(ds),
            "parent": {"type": "database_id", "database_id": db.id},
            "database_parent": {"type": "page_id", "page_id": db.parent_page_id},
            "url": notion_url(db.id),
            "public_url": None,
            "in_trash": False,
            "archived": False,
        }
        return self._versioned(body)

    def schema(self, ds: DataSource) -> dict[str, Any]:
        """The ``properties`` of a data source, in Notion's order."""
        return {p.name: self.schema_property(ds, p) for p in ds.ordered()}

    def schema_property(self, ds: DataSource, prop: PropertyDef) -> dict[str, Any]:
        """One property schema object."""
        config: dict[str, Any]
        kind = prop.type
        if kind in ("select", "multi_select"):
            config = {"options": [_option_schema(o) for o in prop.options]}
        elif kind == "status":
            config = {
                "options": [_option_schema(o) for o in prop.options],
                "groups": status_groups(prop),
            }
        elif kind in ("number", "unique_id") or kind == "relation":
            config = dict(prop.config)
        elif kind == "rollup":
            relation = ds.find(prop.config["relation_property_id"])
            target = (
                self.store.data_sources[relation.config["data_source_id"]] if relation else None
            )
            rolled = target.find(prop.config["rollup_property_id"]) if target else None
            config = {
                "rollup_property_name": rolled.name if rolled else None,
                "relation_property_name": relation.name if relation else None,
                "rollup_property_id": prop.config["rollup_property_id"],
                "relation_property_id": prop.config["relation_property_id"],
                "function": prop.config["function"],
            }
        elif kind == "formula":
            config = {"expression": self._expression(ds, prop.config["expression"])}
        else:
            config = {}
        return {
            "id": prop.encoded_id,
            "name": prop.name,
            "description": None,
            "type": kind,
            kind: config,
        }

    def _expression(self, ds: DataSource, expression: str) -> str:
        # Notion answers with its internal reference syntax, not prop("Name").
        def ref(m: re.Match[str]) -> str:
            prop = ds.find(m.group(1))
            pid = encode_property_id(prop.id) if prop else m.group(1)
            return f"{{{{notion:block_property:{pid}:{ds.id}:{self.store.workspace_id}}}}}"

        return _PROP_REF.sub(ref, expression)

    # -- pages ---------------------------------------------------------------------------

    def page(self, page: Page, only: set[str] | None = None) -> dict[str, Any]:
        """A page object; ``only`` keeps just those property ids (filter_properties)."""
        ds = self.store.ds_of(page)
        if self.version == V2022:
            parent = {"type": "database_id", "database_id": ds.database_id}
        else:
            parent = {
                "type": "data_source_id",
                "data_source_id": ds.id,
                "database_id": ds.database_id,
            }
        title = plain_text(page.values.get(ds.title_property().id, []))
        properties = {
            p.name: self.value(page, p) for p in ds.ordered() if only is None or p.id in only
        }
        body: dict[str, Any] = {
            "object": "page",
            "id": page.id,
            "created_time": iso_minute(page.created),
            "last_edited_time": iso_minute(page.edited),
            "created_by": self.user_ref(page.created_by),
            "last_edited_by": self.user_ref(page.edited_by),
            "cover": page.cover,
            "icon": page.icon,
            "parent": parent,
            "in_trash": page.in_trash,
            "is_archived": page.in_trash,
            "is_locked": page.is_locked,
            "properties": properties,
            "url": notion_url(page.id, title),
            "public_url": None,
            "archived": page.in_trash,
        }
        return self._versioned(body)

    def value(self, page: Page, prop: PropertyDef) -> dict[str, Any]:
        """A page property value ``{"id", "type", <type>: …}`` (relation adds has_more)."""
        out: dict[str, Any] = {"id": prop.encoded_id, "type": prop.type}
        data = self.value_json(page, prop)
        if prop.type in TRUNCATED and self.limit is not None:
            out[prop.type] = data[: self.limit]
            if prop.type == "relation":
                out["has_more"] = len(data) > self.limit
        else:
            out[prop.type] = data
            if prop.type == "relation":
                out["has_more"] = False
        return out

    def value_json(self, page: Page, prop: PropertyDef) -> Any:
        """The bare value of one property (untruncated)."""
        kind = prop.type
        raw = page.values.get(prop.id)
        if kind in ("title", "rich_text", "files"):
            return list(raw or [])
        if kind == "number":
            return number_out(raw)
        if kind in ("select", "status"):
            option = prop.option_by_id(raw) if raw else None
            return _option_value(option) if option else None
        if kind == "multi_select":
            return [_option_value(o) for i in raw or [] if (o := prop.option_by_id(i))]
        if kind == "date":
            return render_date(raw)
        if kind == "people":
            return [self._user_by_id(i) for i in raw or []]
        if kind == "relation":
            return self._relation(prop, list(raw or []))
        if kind == "checkbox":
            return bool(raw)
        if kind == "unique_id":
            return {"prefix": prop.config.get("prefix"), "number": raw}
        if kind == "formula":
            ftype, fvalue = self.compute.formula(page, prop)
            if isinstance(fvalue, DateValue) or (fvalue is None and ftype == "date"):
                shown = render_date(fvalue)
            else:
                shown = number_out(fvalue)
            return {"type": ftype, ftype: shown}
        if kind == "rollup":
            return self.rollup(page, prop)
        if kind == "created_time":
            return iso_minute(page.created)
        if kind == "last_edited_time":
            return iso_minute(page.edited)
        if kind in ("created_by", "last_edited_by"):
            return self._user_by_id(page.created_by if kind == "created_by" else page.edited_by)
        if kind == "button":
            return {}
        return raw

    def _relation(self, prop: PropertyDef, ids: list[str]) -> list[dict[str, str]]:
        # A relation into a database the integration cannot see reads as empty.
        target = self.store.data_sources[prop.config["data_source_id"]]
        if not self.store.db_of(target).shared:
            return []
        return [{"id": i} for i in ids]

    def rollup(self, page: Page, prop: PropertyDef) -> dict[str, Any]:
        """A rollup value: number, date or array, with its ``function``."""
        result = self.compute.rollup(page, prop)
        if result.type == "array":
            rolled = result.rolled
            items = [] if rolled is None else [self.array_item(p, rolled) for p in result.items]
            return {"type": "array", "array": items, "function": result.function}
        if result.type == "date":
            return {"type": "date", "date": render_date(result.value), "function": result.function}
        return {"type": "number", "number": number_out(result.value), "function": result.function}

    def array_item(self, page: Page, prop: PropertyDef) -> dict[str, Any]:
        """One element of a ``show_original`` rollup: ``{"type", <type>: value}``."""
        return {"type": prop.type, prop.type: self.value_json(page, prop)}

    # -- comments ------------------------------------------------------------------------

    def comment(self, comment: Comment) -> dict[str, Any]:
        """A comment object."""
        author = self.store.users.get(comment.created_by)
        display = comment.display_name or {"type": "integration"}
        resolved = (
            display.get("custom", {}).get("name") if display.get("type") == "custom" else None
        )
        return {
            "object": "comment",
            "id": comment.id,
            "parent": {"type": "page_id", "page_id": comment.page_id},
            "discussion_id": comment.discussion_id,
            "created_time": iso_minute(comment.created),
            "last_edited_time": iso_minute(comment.created),
            "created_by": self.user_ref(comment.created_by),
            "rich_text": comment.rich_text,
            "display_name": {
                "type": display.get("type", "integration"),
                "resolved_name": resolved or (author.name if author else ""),
            },
        }

    def _versioned(self, body: dict[str, Any]) -> dict[str, Any]:
        # 2026-03-11 dropped "archived" everywhere (in_trash remains).
        if self.version == V2026:
            body.pop("archived", None)
        return body


def _option_schema(option: Option) -> dict[str, Any]:
    return {"id": option.id, "name": option.name, "color": option.color, "description": None}


def _option_value(option: Option) -> dict[str, Any]:
    return {"id": option.id, "name": option.name, "color": option.color}
