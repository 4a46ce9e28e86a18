"""Where a Notion database's rows live: its data source, its schema, its pages.

:class:`DataSources` resolves a configured database (an id, a URL, or a data source
id) to its data source, reads the data source objects (the schemas) and keeps them
through the :class:`~connectors.notion.schemas.SchemaCache` that lasts between runs,
resolves the configured property names against them, and queries the pages, checking
a kept schema against what the pages show. The connector holds one, for every
database it reads.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

from connectors.notion.client import NotionCaller, query_pages
from connectors.notion.config import id_in_url as _id_in_url
from connectors.notion.okrs import PER_KR, Schema, resolve_schema, source_title
from connectors.notion.schemas import SchemaCache
from okr_sync.errors import SourceError

log = logging.getLogger("connectors.notion.connector")


class DataSources:
    """The data sources, schemas and queries of one Notion connection.

    ``client`` and ``clock`` are called on each use (the connector builds its client on
    first use, and tests may move its clock).
    """

    def __init__(
        self,
        name: str,
        caller: NotionCaller,
        client: Callable[[], Any],
        clock: Callable[[], dt.datetime],
    ) -> None:
        self.name = name
        self.caller = caller
        self.client = client
        self.clock = clock
        #: Data source ids and schemas: read this run, or kept from the last (checked).
        self._cache = SchemaCache()
        #: Schemas resolved against the config, by data source id (dropped on a re-read).
        self._schemas: dict[str, Schema] = {}

    def data_source(self, ref: str, role: str) -> str:
        """A data source id from a database id, a data source id, or a Notion URL."""
        if ref in self._cache.sources:
            return self._cache.sources[ref]
        from notion_client.helpers import extract_notion_id

        ident = extract_notion_id(ref) or _id_in_url(ref)
        client = self.client()
        try:
            database = self.caller.call(
                f"read the {role} database", client.databases.retrieve, ident
            )
        except SourceError as exc:
            if "object_not_found" not in str(exc):
                raise
            try:  # perhaps a data source id
                raw = self.caller.call(
                    f"read the {role} data source", client.data_sources.retrieve, ident
                )
            except SourceError:
                raise exc from None
            self._cache.resolve(ref, ident, self.clock())
            self._keep(ident, raw)
            return ident
        sources = database.get("data_sources") or []
        if len(sources) != 1:
            names = ", ".join(f"{s.get('name')} ({s.get('id')})" for s in sources) or "none"
            raise SourceError(self.name, f"the {role} database has {len(sources)} data sources ({names}); "
                              "put the data source id in the config")  # fmt: skip
        self._cache.resolve(ref, str(sources[0]["id"]), self.clock())
        return self._cache.sources[ref]

    def source_schema(self, ref: str, role: str) -> dict[str, Any]:
        """A database's data source object (title, properties): kept, or read once a run."""
        source = self.data_source(ref, role)
        raw = self._cache.raw.get(source)
        return raw if raw is not None else self._read_schema(source, role)

    def fresh_source_schema(self, ref: str, role: str) -> dict[str, Any]:
        """The data source object as read in this run (read now unless it was already)."""
        source = self.data_source(ref, role)
        if source not in self._cache.fresh:
            return self._read_schema(source, role)
        return self._cache.raw[source]

    def fresh_schema(self, ref: str, role: str, names: Any) -> Schema:
        """Like :meth:`schema`, from the data source as read in this run."""
        self.fresh_source_schema(ref, role)
        return self.schema(ref, role, names)

    def _read_schema(self, source: str, role: str) -> dict[str, Any]:
        raw = self.caller.call(
            f"read the {role} schema", self.client().data_sources.retrieve, source
        )
        return self._keep(source, raw)

    def _keep(self, source: str, raw: Any) -> dict[str, Any]:
        if not isinstance(raw, dict):
            raise SourceError(self.name, f"malformed data source {source} (not an object)")
        self._schemas.pop(source, None)
        return self._cache.keep(source, raw, self.clock())

    def checked_query(self, ref: str, role: str, **body: Any) -> list[dict[str, Any]]:
        """:meth:`query`, then the kept schema checked against the pages (read again if they differ)."""
        pages = self.query(ref, role, **body)
        source = self.data_source(ref, role)
        if source not in self._cache.fresh and pages and not self._cache.agrees(source, pages):
            log.info("%s: the %s database's properties changed since its schema was read; "
                     "reading it again", self.name, role)  # fmt: skip
            self._read_schema(source, role)
        return pages

    def schema(self, ref: str, role: str, names: Any) -> Schema:
        """The checked schema of a database's data source.

        In the Key Results database, a problem with a property a KR's number is
        computed from is each KR's (see :mod:`connectors.notion.okrs`), not the pull's.
        """
        source = self.data_source(ref, role)
        if source not in self._schemas:
            raw = self.source_schema(ref, role)
            self._schemas[source] = resolve_schema(
                source_title(raw, role), raw.get("properties") or {}, names,
                per_record=PER_KR if role == "Key Results" else frozenset(),
            )  # fmt: skip
        return self._schemas[source]

    def query(self, ref: str, role: str, **body: Any) -> list[dict[str, Any]]:
        """Every page of a database's data source matching ``body`` (filter, sorts)."""
        return list(query_pages(self.caller, self.client(), self.data_source(ref, role),
                                what=f"query the {role} database", **body))  # fmt: skip

    # --- kept between runs ---------------------------------------------------------
    def restore(self, saved: str | None) -> None:
        """Data source ids and schemas the last run kept (see :mod:`connectors.notion.schemas`)."""
        self._cache.restore(saved, self.clock())
        self._schemas.clear()

    def to_save(self) -> str | None:
        """Data source ids and schemas to keep for the next run."""
        return self._cache.dump() if self._cache.sources or self._cache.raw else None
