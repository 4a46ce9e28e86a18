"""Everything a fake Notion workspace knows, and the edits humans and the API make.

Every method expects the caller to hold ``lock`` while the HTTP server runs; the
methods of ``NotionSandbox`` take it for you. Page values are stored by raw
property id (see ``model``); two-way (``dual_property``) relations are kept in
sync on both sides.
"""

from __future__ import annotations

import json
import random
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from sandboxes.notion.model import (
    Comment,
    Database,
    DataSource,
    Option,
    Page,
    PropertyDef,
    User,
    new_id,
    normalize_id,
)
from sandboxes.notion.schema import (
    COMPUTED,
    add_option,
    build_property,
    check_formulas,
    spec_type,
)
from sandboxes.notion.values import seed_value


class NotionStore:
    """Users, databases, data sources, pages and comments of one fake workspace."""

    def __init__(
        self,
        *,
        integration_name: str,
        workspace_name: str,
        clock: Callable[[], datetime] | None = None,
        seed: int | None = None,
    ) -> None:
        self.lock = threading.RLock()
        self.rng = random.Random(seed)
        self._clock = clock or (lambda: datetime.now(UTC))
        self.users: dict[str, User] = {}
        self.databases: dict[str, Database] = {}
        self.data_sources: dict[str, DataSource] = {}
        self.pages: dict[str, Page] = {}
        self.comments: list[Comment] = []
        # Query cursors → offsets, for resuming when the cursor's page left the results.
        self.cursors: dict[str, int] = {}
        self.workspace_id = new_id(self.rng)
        self.workspace_name = workspace_name
        self.root_page_id = new_id(self.rng)
        self.bot = User(new_id(self.rng), integration_name, "bot")
        self.users[self.bot.id] = self.bot
        # Seeding and update_page play this person unless told otherwise.
        self.human = self.add_user("Sandbox User")
        self._seq = 0

    def now(self) -> datetime:
        """The sandbox clock, always time-zone aware."""
        value = self._clock()
        return value if value.tzinfo else value.replace(tzinfo=UTC)

    def new_id(self) -> str:
        """A fresh object id."""
        return new_id(self.rng)

    # -- users -------------------------------------------------------------------------

    def add_user(self, name: str) -> User:
        """A workspace member with an ``@example.com`` email made from ``name``."""
        local = re.sub(r"[^a-z0-9]+", ".", name.casefold()).strip(".") or "user"
        user = User(new_id(self.rng), name, "person", f"{local}@example.com")
        self.users[user.id] = user
        return user

    def user(self, ref: str | None) -> User:
        """A user by id; KeyError when unknown."""
        found = normalize_id(ref) if ref else None
        if found is None or found not in self.users:
            raise KeyError(f"no user {ref!r}")
        return self.users[found]

    # -- databases and data sources ----------------------------------------------------

    def add_database(
        self,
        title: str,
        properties: Mapping[str, Mapping[str, Any]],
        *,
        shared: bool = True,
        parent_page_id: str | None = None,
    ) -> tuple[Database, DataSource]:
        """A database holding one data source with ``properties``."""
        now = self.now()
        parent = normalize_id(parent_page_id) if parent_page_id else self.root_page_id
        if parent is None:
            raise ValueError(f"parent_page_id {parent_page_id!r} is not an id")
        db = Database(self.new_id(), title, parent, now, now, self.human.id, shared)
        self.databases[db.id] = db
        try:
            ds = self.add_data_source(db.id, title, properties)
        except Exception:
            del self.databases[db.id]
            raise
        return db, ds

    def add_data_source(
        self, database_id: str, title: str, properties: Mapping[str, Mapping[str, Any]]
    ) -> DataSource:
        """Another data source in a database (2022-06-28 then refuses the database)."""
        db = self.databases[normalize_id(database_id) or database_id]
        if not any(spec_type(n, s) == "title" for n, s in properties.items()):
            raise ValueError("a data source needs one title property, e.g. {'Name': {'title': {}}}")
        now = self.now()
        ds = DataSource(self.new_id(), db.id, title, now, now, self.human.id)
        self.data_sources[ds.id] = ds
        db.data_sources.append(ds.id)
        try:
            # Computed properties last, so they may refer to any sibling.
            ordered = sorted(properties.items(), key=lambda kv: _build_order(kv[0], kv[1]))
            for name, spec in ordered:
                self.add_property(ds.id, name, spec, check=False)
            check_formulas(ds)
        except Exception:
            del self.data_sources[ds.id]
            db.data_sources.remove(ds.id)
            raise
        return ds

    def find_ds(self, ref: str) -> DataSource | None:
        """A data source by its id, or the first data source of a database id."""
        key = normalize_id(ref)
        if key is None:
            return None
        if key in self.data_sources:
            return self.data_sources[key]
        db = self.databases.get(key)
        return self.data_sources[db.data_sources[0]] if db and db.data_sources else None

    def add_property(
        self, data_source_id: str, name: str, spec: Mapping[str, Any], *, check: bool = True
    ) -> PropertyDef:
        """Add a column; a ``dual_property`` relation also gets its synced twin."""
        ds = self.find_ds(data_source_id)
        if ds is None or ds.id != normalize_id(data_source_id):
            raise KeyError(f"no data source {data_source_id!r}")
        if name in ds.properties:
            raise ValueError(f"{ds.title!r} already has a property {name!r}")
        prop = build_property(name, spec, ds, self.rng, self.find_ds)
        ds.properties[name] = prop
        if prop.type == "relation" and prop.config["type"] == "dual_property":
            self._twin(ds, prop)
        if prop.type == "unique_id":
            for page in sorted(self.pages_of(ds), key=lambda p: p.seq):
                page.values[prop.id] = ds.next_unique
                ds.next_unique += 1
        if check:
            check_formulas(ds)
        return prop

    def rename_property(self, data_source_id: str, name: str, new_name: str) -> PropertyDef:
        """A column renamed, as in Notion's UI: id and values stay, formulas follow.

        Rollups refer to property ids and keep working; formulas reading the old
        name are rewritten (Notion keeps them working too); a two-way relation's
        twin learns the new synced name.
        """
        ds = self.find_ds(data_source_id)
        if ds is None or name not in ds.properties:
            raise KeyError(f"no property {name!r} in {data_source_id!r}")
        if new_name in ds.properties:
            raise ValueError(f"{ds.title!r} already has a property {new_name!r}")
        prop = ds.properties.pop(name)
        prop.name = new_name
        ds.properties[new_name] = prop
        old_ref = f"prop({json.dumps(name)})"
        for other in ds.properties.values():
            if other.type == "formula":
                expression = other.config["expression"].replace(
                    old_ref, f"prop({json.dumps(new_name)})"
                )
                other.config["expression"] = expression
        if prop.type == "relation" and prop.config.get("type") == "dual_property":
            target = self.data_sources[prop.config["data_source_id"]]
            twin_name = prop.config["dual_property"].get("synced_property_name")
            twin = target.properties.get(twin_name) if twin_name else None
            if twin is not None:
                twin.config["dual_property"]["synced_property_name"] = new_name
        check_formulas(ds)
        ds.edited = self.now()
        return prop

    def _twin(self, ds: DataSource, prop: PropertyDef) -> None:
        target = self.data_sources[prop.config["data_source_id"]]
        wanted = prop.config["dual_property"].get("synced_property_name")
        name = wanted or f"Related to {ds.title} ({prop.name})"
        twin = target.properties.get(name)
        if twin is None:
            spec = {"relation": {"data_source_id": ds.id, "type": "dual_property"}}
            twin = build_property(name, spec, target, self.rng, self.find_ds)
            target.properties[name] = twin
        elif twin.type != "relation" or twin.config["data_source_id"] != ds.id:
            raise ValueError(f"{name!r} in {target.title!r} is not a relation back to {ds.title!r}")
        twin.config["type"] = "dual_property"
        twin.config.pop("single_property", None)
        twin.config["dual_property"] = {
            "synced_property_name": prop.name,
            "synced_property_id": prop.id,
        }
        prop.config["dual_property"] = {
            "synced_property_name": twin.name,
            "synced_property_id": twin.id,
        }

    def option(self, prop: PropertyDef, name: str, create: bool) -> Option:
        """The option called ``name``; created when ``create``, else ValueError."""
        found = prop.option_by_name(name)
        if found is not None:
            return found
        if not create:
            raise ValueError(f"{prop.name!r} has no option {name!r}")
        return add_option(prop, self.rng, name)

    # -- pages ---------------------------------------------------------------------------

    def pages_of(self, ds: DataSource) -> Iterable[Page]:
        """The pages of a data source, in creation order."""
        return (p for p in self.pages.values() if p.data_source_id == ds.id)

    def page(self, ref: str) -> Page | None:
        """A page by (dashed or dashless) id."""
        key = normalize_id(ref)
        return self.pages.get(key) if key else None

    def ds_of(self, page: Page) -> DataSource:
        """The data source a page lives in."""
        return self.data_sources[page.data_source_id]

    def db_of(self, ds: DataSource) -> Database:
        """The database holding a data source."""
        return self.databases[ds.database_id]

    def add_page(
        self,
        data_source_id: str,
        values: Mapping[str, Any],
        *,
        edited_by: str | None = None,
        last_edited_time: datetime | None = None,
        created_by: str | None = None,
    ) -> Page:
        """A new row; values use the seeding shorthand (see ``values``)."""
        ds = self.find_ds(data_source_id)
        if ds is None or ds.id != normalize_id(data_source_id):
            raise KeyError(f"no data source {data_source_id!r}")
        editor = self.user(edited_by).id if edited_by else self.human.id
        author = self.user(created_by).id if created_by else editor
        converted = self.seed_values(ds, values)
        now = self.now()
        self._seq += 1
        page = Page(self.new_id(), ds.id, self._seq, now, last_edited_time or now, author, editor)
        for prop in ds.properties.values():
            if prop.type == "unique_id":
                page.values[prop.id] = ds.next_unique
                ds.next_unique += 1
        self.pages[page.id] = page
        for prop, value in converted:
            self.set_value(page, prop, value)
        return page

    def update_page(
        self,
        page_id: str,
        values: Mapping[str, Any],
        *,
        edited_by: str | None = None,
        when: datetime | None = None,
    ) -> Page:
        """A human edit: new values, ``last_edited_by`` that person, time bumped."""
        page = self.page(page_id)
        if page is None:
            raise KeyError(f"no page {page_id!r}")
        editor = self.user(edited_by).id if edited_by else self.human.id
        for prop, value in self.seed_values(self.ds_of(page), values):
            self.set_value(page, prop, value)
        self.touch(page, editor, when)
        return page

    def touch(self, page: Page, editor: str, when: datetime | None = None) -> None:
        """Record an edit of ``page`` by ``editor`` now (or at ``when``)."""
        page.edited = when or self.now()
        page.edited_by = editor

    def seed_values(
        self, ds: DataSource, values: Mapping[str, Any]
    ) -> list[tuple[PropertyDef, Any]]:
        """Seeded values converted to the internal form (ValueError when invalid)."""
        out: list[tuple[PropertyDef, Any]] = []
        for ref, value in values.items():
            prop = ds.find(ref)
            if prop is None:
                raise ValueError(f"{ds.title!r} has no property {ref!r}")
            internal = seed_value(
                prop,
                value,
                option=self.option,
                user_exists=lambda uid: uid in self.users,
                page_in=self._page_in,
            )
            out.append((prop, internal))
        return out

    def _page_in(self, data_source_id: str, page_id: str) -> bool:
        page = self.pages.get(page_id)
        return page is not None and page.data_source_id == data_source_id

    def set_value(self, page: Page, prop: PropertyDef, value: Any) -> None:
        """Store ``value`` (internal form); a two-way relation updates its twin too."""
        if prop.type == "relation" and prop.config["type"] == "dual_property":
            twin_id = prop.config["dual_property"]["synced_property_id"]
            old = set(page.values.get(prop.id, []))
            for other_id in old - set(value):
                other = self.pages[other_id]
                other.values[twin_id] = [i for i in other.values.get(twin_id, []) if i != page.id]
            for other_id in value:
                other = self.pages[other_id]
                linked = other.values.setdefault(twin_id, [])
                if page.id not in linked:
                    linked.append(page.id)
        page.values[prop.id] = value

    # -- comments ------------------------------------------------------------------------

    def add_comment(
        self,
        page: Page,
        rich_text: list[dict[str, Any]],
        author: str,
        *,
        discussion_id: str | None = None,
        display_name: dict[str, Any] | None = None,
    ) -> Comment:
        """A new comment (a new discussion unless ``discussion_id`` is given)."""
        comment = Comment(
            self.new_id(),
            page.id,
            discussion_id or self.new_id(),
            self.now(),
            author,
            rich_text,
            display_name or {},
        )
        self.comments.append(comment)
        return comment


def _build_order(name: str, spec: Mapping[str, Any]) -> int:
    kind = spec_type(name, spec)
    if kind not in COMPUTED:
        return 0
    return 1 if kind == "rollup" else 2
