"""The Notion connector: OKRs from Notion databases, rows as work items, KR pages written back.

Built on ``notion-client`` 3.x, which speaks API version 2025-09-03: a
database holds *data sources*; okr-sync resolves a database id (or URL) to its
data source, or takes a data source id directly. See :mod:`connectors.notion.config`
for the config and the default property names.

- **OKR source**: the Objectives and Key Results databases (every page, 100 per
  request); relations beyond the 25 a page object holds are paged through the
  page-property endpoint.
- **Item source**: any database (with an optional Notion filter) as initiatives
  or work items; status category from a status, select or checkbox property
  (Notion's status groups: see :mod:`connectors.notion.items`); numeric
  properties for ``sum:<name>``. Item databases are read **in full on every
  pull**, never by a ``last_edited_time`` window: a row that stops matching the
  filter, or is moved to the trash, is not in such a window (a query returns
  no trashed page, and a sync cannot ask for them: makenotion/notion-sdk-js#524,
  ramnes/notion-sdk-py#272), and a rollup or formula changes with its related pages while
  the row's ``last_edited_time`` stays put (DOCS ``query-a-data-source``, "Formula
  and rollup limitations"); so a windowed pull would keep counting rows that left
  and stale values until the next full pull. Knowing which rows are still
  selected would take a query of the whole selection anyway — a query returns
  at most 100 rows per request whatever properties it asks for — so a full
  pull is the cheapest exact one: ``ceil(rows / 100)`` queries per database.
- **Write target**: KR and objective pages, one PATCH per changed page with
  Progress, Current, Status and Last synced; a formula or rollup Progress is
  left to Notion (and the plan says so); a status label that is not an option
  of the Status property stops the writes to Notion before any is made; an
  optional check-in ``comment`` when a KR's status changes.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from connectors.notion.check import check_notion
from connectors.notion.client import NotionCaller, property_items, shared_tls_context
from connectors.notion.config import ItemDatabase, NotionConfig
from connectors.notion.items import row_reader, to_item
from connectors.notion.okrs import (
    Schema,
    build_key_results,
    build_objectives,
    source_title,
    unread_links,
)
from connectors.notion.pages import PageWriter
from connectors.notion.sources import DataSources
from okr_sync.errors import SourceError
from okr_sync.interfaces import (
    CheckContext,
    CheckResult,
    ConnectorConfig,
    WriteSpec,
    resolve_secret,
)
from okr_sync.models import FieldValue, OkrTree, Outcome, PullRequest, PullResult, Record, RecordRef

log = logging.getLogger(__name__)


class NotionConnector:
    """OKR source, item source and write target for one Notion integration."""

    config_model: ClassVar[type[ConnectorConfig]] = NotionConfig
    offline: ClassVar[bool] = False
    writable_fields: ClassVar[Mapping[str, frozenset[str]]] = {
        "key_result": frozenset(
            {
                "progress",
                "current",
                "status",
                "last_synced",
                "forecast",
                "forecast_range",
                "comment",
            }
        ),
        "objective": frozenset({"progress", "status", "last_synced"}),
    }

    def __init__(
        self,
        name: str,
        config: NotionConfig,
        base_dir: Path | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.name = name
        self.config = config
        self.clock = clock
        self.caller = NotionCaller(
            name, rate=config.requests_per_second, max_retries=config.max_retries,
            max_wait=config.max_wait_seconds, sleep=sleep,
        )  # fmt: skip
        self._client: Any = None
        self.sources = DataSources(name, self.caller, self.client, lambda: self.clock())
        #: Pages of the last OKR pull, by record: what the target reads before writing.
        self.pages: dict[RecordRef, dict[str, Any]] = {}
        #: When the OKR pages were last read (client clock): refreshes look for later edits.
        self._read_at: dt.datetime | None = None
        self.writer = PageWriter(self)

    # --- connection ----------------------------------------------------------------
    def client(self) -> Any:
        """The notion-client instance (built once; no request is made here)."""
        if self._client is None:
            import httpx
            from notion_client import Client  # imported on first use

            token = resolve_secret(self.config.token, connection=self.name)
            self._client = Client(
                client=httpx.Client(verify=shared_tls_context()),
                auth=token,
                base_url=self.config.base_url.rstrip("/"),
                timeout_ms=int(self.config.timeout_seconds * 1000),
                notion_version=self.config.version,
                retry=False,  # one retry layer: okr-sync's (see connectors.notion.client)
                logger=logging.getLogger("notion_client"),
                log_level=logging.ERROR,  # okr-sync reports failures itself, in its own words
            )
        return self._client

    def data_source(self, ref: str, role: str) -> str:
        """A data source id from a database id, a data source id, or a Notion URL."""
        return self.sources.data_source(ref, role)

    def source_schema(self, ref: str, role: str) -> dict[str, Any]:
        """A database's data source object (title, properties): kept, or read once a run."""
        return self.sources.source_schema(ref, role)

    def fresh_schema(self, ref: str, role: str, names: Any) -> Schema:
        """Like :meth:`schema`, from the data source as read in this run."""
        return self.sources.fresh_schema(ref, role, names)

    def schema(self, ref: str, role: str, names: Any) -> Schema:
        """The checked schema of a database's data source (:meth:`DataSources.schema`)."""
        return self.sources.schema(ref, role, names)

    # --- kept between runs (CachingConnector) ----------------------------------------
    def restore(self, saved: str | None) -> None:
        """Data source ids and schemas the last run kept (see :mod:`connectors.notion.schemas`)."""
        self.sources.restore(saved)

    def to_save(self) -> str | None:
        """Data source ids and schemas to keep for the next run."""
        return self.sources.to_save()

    def write_slots(self) -> int:
        """Page writes in flight: ``writes_in_flight``, or enough to keep the throttle busy."""
        return self.config.writes_in_flight or self.caller.slots()

    # --- OkrSource -------------------------------------------------------------------
    def pull_okrs(self) -> OkrTree:
        """Objectives and key results, with their links."""
        cfg = self.config
        self._read_at = self.clock()
        if not cfg.key_results:
            raise SourceError(self.name, "no key_results database in the config of this connection")
        # A kept schema is used only once the pages read agree with it (checked_query).
        self.source_schema(cfg.key_results, "Key Results")
        objectives: list[Any] = []
        obj_pages: list[dict[str, Any]] = []
        if cfg.objectives:
            self.source_schema(cfg.objectives, "Objectives")
            obj_pages = self.sources.checked_query(cfg.objectives, "Objectives")
            obj_schema = self.schema(cfg.objectives, "Objectives", cfg.objective_properties)
            objectives = build_objectives(obj_pages, obj_schema)
        kr_pages = self.sources.checked_query(cfg.key_results, "Key Results")
        kr_schema = self.schema(cfg.key_results, "Key Results", cfg.key_result_properties)
        relations = self._full_relations(kr_pages, kr_schema, "initiatives")
        objective_ids = {str(p["id"]): o.id for p, o in zip(obj_pages, objectives, strict=True)}
        item_sources: dict[str, str | None] = {}
        for spec in cfg.items:
            try:
                item_sources[self.data_source(spec.database, "items")] = spec.key_results
            except SourceError:
                continue  # the item pull reports it; only that source's KRs go stale
        key_results = build_key_results(
            kr_pages,
            kr_schema,
            objective_ids,
            relations,
            source=self.name,
            epics_source=cfg.epics_source,
            extra_problems=unread_links(
                kr_schema, cfg.key_result_properties, item_sources, cfg.epics_source
            ),
        )
        self.pages = {
            RecordRef(kind="key_result", id=kr.id): p
            for kr, p in zip(key_results, kr_pages, strict=True)
        }
        self.pages |= {
            RecordRef(kind="objective", id=o.id): p
            for o, p in zip(objectives, obj_pages, strict=True)
        }
        return OkrTree(objectives=tuple(objectives), key_results=tuple(key_results))

    def _full_relations(self, pages: Sequence[dict[str, Any]], schema: Schema,
                        logical: str) -> dict[tuple[str, str], list[str]]:  # fmt: skip
        """Relations a page object cut at 25 (``has_more``), fetched in full."""
        name = schema.resolved.get(logical)
        out: dict[tuple[str, str], list[str]] = {}
        for page in pages if name else ():
            prop = page["properties"].get(name) or {}
            if prop.get("has_more"):
                items = property_items(self.caller, self.client(), str(page["id"]), str(prop["id"]),
                                       what=f"read all of {name!r}")  # fmt: skip
                out[(str(page["id"]), logical)] = [
                    str(i["relation"]["id"]) for i in items if i.get("relation")
                ]
        return out

    # --- ItemSource ---------------------------------------------------------------------
    def pull_items(self, request: PullRequest) -> PullResult:
        """Every row of the configured item databases, always in full (see the module docstring).

        Each database's schema is read first: a property its config (or the default
        ``Status``) names that is missing or of an unusable type fails the pull,
        naming the database and the property (:mod:`connectors.notion.items`).
        No cursor is returned, so the engine never asks for an incremental pull.
        """
        kr_ids = {str(p["id"]): ref.id for ref, p in self.pages.items() if ref.kind == "key_result"}
        found: dict[str, Any] = {}
        for index, spec in enumerate(self.config.items):
            raw = self.source_schema(spec.database, "items")
            if _needs_options(spec, raw):  # options and status groups are not on the pages
                self.sources.fresh_source_schema(spec.database, "items")
            # Without a sort "Notion doesn't guarantee any particular sort order" (DOCS
            # query-a-data-source); created_time does not move when a row is edited
            # between two pages, and a row made meanwhile comes last.
            body: dict[str, Any] = {
                "sorts": [{"timestamp": "created_time", "direction": "ascending"}],
                **({"filter": spec.filter} if spec.filter else {}),
            }
            pages = self.sources.checked_query(spec.database, "items", **body)
            raw = self.source_schema(spec.database, "items")
            reader = row_reader(spec, index, source_title(raw, f"items[{index}]"),
                                raw.get("properties") or {}, source=self.name)  # fmt: skip
            for page in pages:
                if page.get("in_trash") is True or page.get("archived") is True:
                    continue  # Notion's queries leave trashed rows out; never count one
                # By id: a row met twice while the pages of a query are read counts once.
                found[str(page["id"])] = to_item(page, reader, self.name, kr_ids)
        for selector in request.queries:
            matched = self._matching(selector.query, selector.id)
            for key in matched & set(found):
                found[key] = found[key].replace(selectors=(*found[key].selectors, selector.id))
        return PullResult(
            items=tuple(found.values()), cursor=None, incremental=False,
            missing_keys=frozenset(k for k in request.keys if k not in found),
            description=f"{len(found)} rows from {len(self.config.items)} Notion database(s)",
        )  # fmt: skip

    def _matching(self, query: object, selector: str) -> set[str]:
        """Page ids of item rows matching a rule's Notion filter."""
        if not isinstance(query, dict):
            raise SourceError(
                self.name, "a Notion rule's query is a Notion filter object", selector=selector
            )
        ids: set[str] = set()
        for spec in self.config.items:
            combined = {"and": [spec.filter, query]} if spec.filter else query
            ids |= {
                str(p["id"]) for p in self.sources.query(spec.database, "items", filter=combined)
            }
        return ids

    @staticmethod
    def query_problem(query: object) -> str | None:
        """Rules for a Notion connection carry Notion filter objects."""
        if not isinstance(query, dict) or not query:
            return "a Notion rule's query is a Notion filter, e.g. {property: Team, select: {equals: Payments}}"
        return None

    # --- WriteTarget ------------------------------------------------------------------------
    def desired_records(self, outcome: Outcome, spec: WriteSpec) -> list[Record]:
        """KR and objective pages (see :class:`connectors.notion.pages.PageWriter`)."""
        return self.writer.desired(outcome, spec)

    def read_records(self, refs: Sequence[RecordRef]) -> dict[RecordRef, dict[str, FieldValue]]:
        """Values the pages held when they were read this run."""
        return self.writer.read(refs)

    def refresh_records(self, refs: Sequence[RecordRef]) -> dict[RecordRef, dict[str, FieldValue]]:
        """Values of those pages among ``refs`` edited since they were last read.

        One query per database for pages edited since then (less the overlap,
        as Notion keeps ``last_edited_time`` to the minute), not one GET per page.
        """
        if self._read_at is None:
            return {}
        since = self._read_at - dt.timedelta(minutes=self.config.overlap_minutes)
        self._read_at = self.clock()
        wanted = {str(self.pages[r]["id"]): r for r in refs if r in self.pages}
        edited = {
            "timestamp": "last_edited_time",
            "last_edited_time": {"on_or_after": since.isoformat()},
        }
        changed: list[RecordRef] = []
        for kind, database, role in (("key_result", self.config.key_results, "Key Results"),
                                     ("objective", self.config.objectives, "Objectives")):  # fmt: skip
            if not database or not any(r.kind == kind for r in wanted.values()):
                continue
            for page in self.sources.query(database, role, filter=edited):
                ref = wanted.get(str(page["id"]))
                if ref is not None and ref.kind == kind:
                    self.pages[ref] = page
                    changed.append(ref)
        return self.writer.read(changed)

    def write_record(self, ref: RecordRef, values: Mapping[str, FieldValue]) -> None:
        """One PATCH with every changed property (after the check-in comment, if any)."""
        self.writer.write(ref, values)

    @property
    def plan_notes(self) -> list[str]:
        """What the plan should tell the user about this target (skipped properties)."""
        return self.writer.notes

    # --- Checkable ----------------------------------------------------------------------------
    def check(self, context: CheckContext) -> list[CheckResult]:
        """Preflight: token, shared databases, properties, status options (see :mod:`connectors.notion.check`)."""
        return check_notion(self, context)


def _needs_options(spec: ItemDatabase, raw: Mapping[str, Any]) -> bool:
    """Whether an item database's done state hangs on options (a status or select)."""
    if spec.status is None:
        return False
    prop = (raw.get("properties") or {}).get(spec.status)
    return not (isinstance(prop, Mapping) and prop.get("type") == "checkbox")
