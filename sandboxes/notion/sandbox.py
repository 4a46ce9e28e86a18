"""``NotionSandbox``: a faithful local fake of the Notion API.

It is driven by the real ``notion_client.Client``, unchanged (never ``with
Client(...)``: its ``__enter__`` swaps the HTTP client)::

    with NotionSandbox(rate_limit=None) as sb:
        db, ds = sb.add_database("Key Results", {
            "Name": {"title": {}},
            "Current": {"number": {"format": "number"}},
            "Status": {"status": {"options": [{"name": "On track"}, {"name": "At risk"}]}},
        })
        kr = sb.add_page(ds, {"Name": "KR-1", "Current": 3})
        client = Client(auth=sb.token, base_url=sb.url, retry=False)
        client.data_sources.query(ds)

Versions ``2025-09-03`` (databases hold data sources), ``2022-06-28`` (one data
source per database, ``databases/{id}/query``) and ``2026-03-11`` are served.
Seeding and "human" edits act on the store directly, without HTTP, and are not
counted in ``requests``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from sandboxes.loopback import LoopbackSandbox
from sandboxes.notion.faults import NotionFaultPlan
from sandboxes.notion.http import CAPABILITIES
from sandboxes.notion.model import normalize_id
from sandboxes.notion.render import NotionRenderer
from sandboxes.notion.server import NotionServer, TokenBucket
from sandboxes.notion.store import NotionStore
from sandboxes.notion.values import text_runs

DEFAULT_TOKEN = "ntn_sandbox_token_000000000000000000000000000"


class NotionSandbox(LoopbackSandbox):
    """A fake Notion workspace on loopback, with one internal integration (the bot).

    ``requests`` counts every request (faulted and refused ones too) by ``"METHOD
    /v1/template"``, e.g. ``"POST /v1/data_sources/{id}/query"`` or ``"GET
    /v1/pages/{id}/properties/{property_id}"``. ``faults`` schedules errors, broken
    bodies and latency. ``rate_limit`` (requests per second, ``burst`` at once; None
    disables it) answers 429 ``rate_limited`` with ``Retry-After``. ``clock``
    (default: now, UTC) drives page timestamps and relative date filters.
    ``capabilities`` (default: all) can drop ``read_comments``, ``insert_comments``,
    ``update_content``... to get Notion's 403 ``restricted_resource``. ``seed`` makes
    ids (objects, property ids, option ids) repeat from run to run. ``max_page_size``
    caps query and comment list pages below the ``page_size`` asked for (Notion
    may answer fewer than asked), so paging shows with little data. ``url`` (the
    client adds ``/v1/``), ``latency``, ``server_errors``, ``start``/``stop`` and
    ``with`` come from ``LoopbackSandbox``.
    """

    def __init__(
        self,
        *,
        token: str = DEFAULT_TOKEN,
        rate_limit: float | None = 3.0,
        burst: int = 10,
        latency: float = 0.0,
        clock: Callable[[], datetime] | None = None,
        seed: int | None = None,
        max_page_size: int = 100,
    ) -> None:
        if not 1 <= max_page_size <= 100:
            raise ValueError("max_page_size must be between 1 and 100")
        self.token = token
        self.store = NotionStore(
            integration_name="okr-sync sandbox",
            workspace_name="Sandbox workspace",
            clock=clock,
            seed=seed,
        )
        self.faults = NotionFaultPlan(latency)
        self.requests: Counter[str] = Counter()
        self.capabilities: set[str] = set(CAPABILITIES)
        bucket = None if rate_limit is None else TokenBucket(rate_limit, burst)
        self._server = NotionServer(
            self.store,
            self.faults,
            self.requests,
            token=token,
            bucket=bucket,
            capabilities=self.capabilities,
            max_page_size=max_page_size,
        )

    def __repr__(self) -> str:
        # Never show the token.
        return f"NotionSandbox(url={self.url!r})"

    @property
    def bot_id(self) -> str:
        """The integration's bot user id (``GET /v1/users/me``)."""
        return self.store.bot.id

    # -- seeding and simulated humans -------------------------------------------------

    def add_user(self, name: str) -> str:
        """A workspace member (a person); returns the user id."""
        with self.store.lock:
            return self.store.add_user(name).id

    def add_database(
        self,
        title: str,
        properties: Mapping[str, Mapping[str, Any]],
        *,
        shared: bool = True,
        parent_page_id: str | None = None,
    ) -> tuple[str, str]:
        """A database with one data source; returns ``(database_id, data_source_id)``.

        ``properties`` are Notion schema objects by type, e.g. ``{"Name": {"title":
        {}}, "Target": {"number": {"format": "number"}}}`` (see ``schema``).
        Exactly one title is required. ValueError on a bad schema.
        """
        with self.store.lock:
            db, ds = self.store.add_database(
                title, properties, shared=shared, parent_page_id=parent_page_id
            )
            return db.id, ds.id

    def add_data_source(
        self, database_id: str, title: str, properties: Mapping[str, Mapping[str, Any]]
    ) -> str:
        """A further data source in a database (2022-06-28 then refuses the database)."""
        with self.store.lock:
            return self.store.add_data_source(database_id, title, properties).id

    def add_property(self, data_source_id: str, name: str, schema: Mapping[str, Any]) -> str:
        """Add a column (e.g. a self-relation or a rollup); returns its encoded id.

        A ``dual_property`` relation also creates (or links) the synced property in
        the related data source.
        """
        with self.store.lock:
            return self.store.add_property(data_source_id, name, schema).encoded_id

    def rename_property(self, data_source_id: str, name: str, new_name: str) -> None:
        """A human renames a column in Notion: its id and the pages' values stay."""
        with self.store.lock:
            self.store.rename_property(data_source_id, name, new_name)

    def add_page(
        self,
        data_source_id: str,
        values: Mapping[str, Any],
        *,
        edited_by: str | None = None,
        last_edited_time: datetime | None = None,
    ) -> str:
        """A new row; returns the page id.

        ``values`` maps property names (or ids) to plain values (see
        ``values``); unique_id numbers are assigned. ``edited_by`` (a user id,
        default a built-in person) becomes ``created_by`` and ``last_edited_by``;
        ``last_edited_time`` defaults to the clock.
        """
        with self.store.lock:
            return self.store.add_page(
                data_source_id, values, edited_by=edited_by, last_edited_time=last_edited_time
            ).id

    def update_page(
        self, page_id: str, values: Mapping[str, Any], *, edited_by: str | None = None
    ) -> None:
        """A human edit: new values, ``last_edited_by`` that person, time bumped."""
        with self.store.lock:
            self.store.update_page(page_id, values, edited_by=edited_by)

    def page(self, page_id: str) -> dict[str, Any]:
        """The page as ``GET /v1/pages/{id}`` returns it under 2025-09-03 (no request_id)."""
        with self.store.lock:
            found = self.store.page(page_id)
            if found is None:
                raise KeyError(f"no page {page_id!r}")
            return NotionRenderer(self.store, "2025-09-03").page(found)

    def share(self, database_id: str, shared: bool) -> None:
        """Share a database with the integration, or stop sharing it.

        Unshared, the database, its data sources and its pages answer 404
        ``object_not_found``, and relations into it read as empty.
        """
        with self.store.lock:
            db = self.store.databases.get(normalize_id(database_id) or database_id)
            if db is None:
                raise KeyError(f"no database {database_id!r}")
            db.shared = shared

    def trash_page(self, page_id: str, in_trash: bool = True) -> None:
        """Move a page to the trash (or back), as a human would."""
        with self.store.lock:
            found = self.store.page(page_id)
            if found is None:
                raise KeyError(f"no page {page_id!r}")
            found.in_trash = in_trash
            self.store.touch(found, self.store.human.id)

    def add_comment(self, page_id: str, text: str, *, author: str | None = None) -> str:
        """A comment written by a person (default the built-in one); returns its id."""
        with self.store.lock:
            found = self.store.page(page_id)
            if found is None:
                raise KeyError(f"no page {page_id!r}")
            user = self.store.user(author) if author else self.store.human
            comment = self.store.add_comment(
                found, text_runs(text), user.id, display_name={"type": "user"}
            )
            return comment.id

    def comments(self, page_id: str) -> list[dict[str, Any]]:
        """The comments of a page, oldest first, as the API renders them."""
        with self.store.lock:
            found = self.store.page(page_id)
            if found is None:
                raise KeyError(f"no page {page_id!r}")
            render = NotionRenderer(self.store, "2025-09-03")
            return [render.comment(c) for c in self.store.comments if c.page_id == found.id]
