"""The Jira connector: epics and issues as work items, KR state written back onto epics.

Built on the ``jira`` package. Works with Jira Cloud (site URL, account email,
API token: basic auth) and Jira Data Center / Server (URL and a personal
access token: bearer auth); the deployment is read from ``serverInfo``.
Scoped Cloud API tokens only work through
``https://api.atlassian.com/ex/jira/<cloudId>`` as ``url`` (the cloud id is at
``https://<site>.atlassian.net/_edge/tenant_info``).

Reading, per pull (every query batched: many keys per ``in (…)`` clause):

1. the linked roots: ``key in (…)`` for listed epic keys, ``labels in (…)`` for
   label rules and ``okr:<KR id>`` labels, and each rule's own JQL (tagged with
   the rule, so the mapping layer knows what it matched);
2. the direct children of every epic found: ``parent in (…)`` on Cloud, the
   Epic Link field (``cf[N] in (…)``) on Data Center.

Incremental pulls add ``updated >= "<cursor − overlap>"`` (written in the API
user's time zone, floored to the minute) to every query, and ask for the
changed children of the epics already cached; the engine merges the result into
its item cache and runs a full pull every ``pull.full_every_hours``.

Writing, onto each epic linked to one or more KRs (``write: {<name>: {items: […]}}``):
``property`` (an issue entity property, default key ``okr-sync``, with each KR's
id, title, progress, status, URL and the sync date), ``label`` (``okr:<KR id>``),
``remote_link`` (to the KR page, upserted by ``globalId``) and ``comment`` (when a
KR's status changes; never twice for the same change). See :mod:`connectors.jira.write`.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from connectors.jira.check import check_jira
from connectors.jira.client import GONE_HINT, JiraCaller, cloud_pages, jira_message, server_pages
from connectors.jira.config import Connection, JiraConfig, Session
from connectors.jira.issues import (
    MAX_JQL_CHARS,
    discover_fields,
    in_clauses,
    or_groups,
    strip_order_by,
    to_item,
    updated_since,
    user_zone,
)
from connectors.jira.write import ITEM_FIELDS, EpicWriter
from okr_sync.errors import SourceError
from okr_sync.interfaces import (
    CheckContext,
    CheckResult,
    ConnectorConfig,
    WriteSpec,
    resolve_secret,
)
from okr_sync.models import (
    FieldValue,
    ItemKind,
    Outcome,
    PullRequest,
    PullResult,
    Record,
    RecordRef,
    WorkItem,
)

log = logging.getLogger(__name__)
_MISSING_KEY = re.compile(r"An issue with key '([^']+)' does not exist")


class JiraConnector:
    """Item source and write target (epics) for one Jira site."""

    config_model: ClassVar[type[ConnectorConfig]] = JiraConfig
    offline: ClassVar[bool] = False
    writable_fields: ClassVar[Mapping[str, frozenset[str]]] = {"item": ITEM_FIELDS}

    def __init__(
        self,
        name: str,
        config: JiraConfig,
        base_dir: Path | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.name = name
        self.config = config
        self.site = config.url.rstrip("/")
        self.clock = clock
        self.caller = JiraCaller(
            name,
            self.site,
            max_retries=config.max_retries,
            max_wait=config.max_wait_seconds,
            sleep=sleep,
        )
        self._connection: Connection | None = None
        self._session: Session | None = None
        self.writer = EpicWriter(self)

    # --- connection ---------------------------------------------------------------
    def connect(self) -> Connection:
        """Connect once: serverInfo (deployment), myself (credentials, time zone), the field list."""
        if self._connection is None:
            from jira import JIRA  # imported on first use: a Jira-less config never loads it

            cfg = self.config
            token = resolve_secret(cfg.token, connection=self.name)
            auth: dict[str, Any] = (
                {"basic_auth": (cfg.email, token)} if cfg.email else {"token_auth": token}
            )
            client = self.caller.call(
                "connect (serverInfo)", JIRA, server=self.site, max_retries=0,
                timeout=cfg.timeout_seconds, options={"check_update": False},
                # logging=False: the client would log whole response bodies at ERROR;
                # okr-sync reports every failure itself, briefly and without secrets.
                logging=False, **auth,
            )  # fmt: skip
            cloud = bool(client._is_cloud)
            if cfg.deployment != "auto" and cloud != (cfg.deployment == "cloud"):
                says = "Jira Cloud" if cloud else "Jira Data Center / Server"
                hint = f" ({GONE_HINT})" if cloud else ""
                raise SourceError(
                    self.name,
                    f"{self.site} reports itself as {says}, but the config says "
                    f"'deployment: {cfg.deployment}'; remove that line to use what the site says{hint}",
                )
            if cloud and not cfg.email:
                log.warning(
                    "%s: Jira Cloud expects basic auth: set 'email' next to the API token",
                    self.name,
                )
            me = self.caller.call("myself", client.myself)
            raw_fields = self.caller.call("field list", client.fields)
            if hasattr(client, "_fields_cache_value"):  # spare the client its own GET /field
                client._fields_cache_value = {
                    name: f["id"] for f in raw_fields for name in f.get("clauseNames") or ()
                }
            self._connection = Connection(
                client, cloud, user_zone((me or {}).get("timeZone")), me or {}, list(raw_fields)
            )
        return self._connection

    def session(self) -> Session:
        """The connection, with the configured and discovered field ids resolved."""
        if self._session is None:
            conn = self.connect()
            cfg = self.config
            ids = discover_fields(
                conn.fields, self.name, story_points=cfg.story_points_field,
                epic_link=cfg.epic_link_field, kr_field=cfg.kr_field, numeric=cfg.fields,
                need_epic_link=not conn.cloud,
            )  # fmt: skip
            self._session = Session(conn.client, conn.cloud, conn.zone, ids)
        return self._session

    def search(
        self,
        jql: str,
        fields: list[str],
        *,
        selector: str | None = None,
        properties: str | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Issues matching ``jql``, page after page (a page is dropped once converted)."""
        s = self.connect()
        pager = cloud_pages if s.cloud else server_pages
        for page in pager(self.caller, s.client, jql, fields, page_size=self.config.page_size,
                          properties=properties, selector=selector):  # fmt: skip
            yield from page

    def count(self, jql: str, selector: str) -> int:
        """How many issues match: approximate-count on Cloud, a one-row search on Data Center."""
        s = self.connect()
        if s.cloud:
            result = self.caller.call(
                "approximate-count", s.client.approximate_issue_count, jql, selector=selector
            )
        else:
            page = self.caller.call(
                "search (count)", s.client.search_issues, jql, maxResults=1, fields=["key"],
                json_result=True, selector=selector,
            )  # fmt: skip
            result = page.get("total") if isinstance(page, dict) else None
        if not isinstance(result, int):
            raise SourceError(self.name, "count: malformed answer (no count)", selector=selector)
        return result

    @staticmethod
    def query_problem(query: object) -> str | None:
        """Rules for a Jira connection carry JQL strings."""
        if not isinstance(query, str) or not query.strip():
            return "a Jira rule's query is a JQL string, e.g. 'project = PAY AND labels = bug'"
        return None

    # --- ItemSource ---------------------------------------------------------------------
    def pull_items(self, request: PullRequest) -> PullResult:
        """Pull the linked roots and their epics' direct children (see the module docstring)."""
        started = self.clock()
        s = self.session()
        fields = s.ids.request()
        since = (
            updated_since(request.cursor, self.config.overlap_minutes, s.zone)
            if request.cursor
            else None
        )
        found: dict[str, WorkItem] = {}
        tags: dict[str, set[str]] = {}

        def run(clause: str, selector: str | None = None, incremental: bool = True) -> None:
            jql = f"({clause}) AND {since}" if since and incremental else clause
            for raw in self.search(jql, fields, selector=selector):
                item = to_item(raw, self.name, self.site, s.ids)
                found[item.key] = item
                if selector:
                    tags.setdefault(item.key, set()).add(selector)

        labels = set(request.labels)
        if request.label_prefix:
            labels |= {f"{request.label_prefix}{kr}" for kr in request.kr_ids}
        scope = f" AND ({self.config.scope})" if self.config.scope else ""
        child_field = "parent" if s.cloud else f"cf[{(s.ids.epic_link or '').rsplit('_', 1)[-1]}]"
        known = set(request.known_epics) if since else set()
        # Roots (keys, labels) and, when incremental, the changed children of cached
        # epics, in as few OR-ed queries as fit: a no-op rerun costs one page.
        others = [f"({c}{scope})" for c in in_clauses("labels", labels)]
        others += in_clauses(child_field, known)
        roots, missing = self.search_keys(set(request.keys), fields, since=since, others=others)
        for raw in roots:
            item = to_item(raw, self.name, self.site, s.ids)
            found[item.key] = item
        if since is None:  # a full pull sees every key that exists
            missing |= set(request.keys) - set(found)
        counts: dict[str, int] = {}
        for selector in request.queries:
            problem = self.query_problem(selector.query)
            if problem:
                raise SourceError(self.name, problem, selector=selector.id)
            if selector.count_only:
                counts[selector.id] = self.count(strip_order_by(str(selector.query)), selector.id)
            else:
                run(strip_order_by(str(selector.query)), selector=selector.id)
        # Epics new to the cache (or all, on a full pull): every child, changed or not.
        epics = {k for k, i in found.items() if i.kind is ItemKind.EPIC}
        for clause in in_clauses(child_field, epics - known):
            run(clause, incremental=False)
        items = tuple(
            item.replace(selectors=tuple(sorted(tags[key]))) if key in tags else item
            for key, item in found.items()
        )
        return PullResult(
            items=items,
            cursor=started.isoformat(),
            incremental=since is not None,
            missing_keys=frozenset(missing),
            counts=counts,
            description=f"{len(items)} issues from {self.site}"
            + (" (changed since last run)" if since else ""),
        )

    def search_keys(
        self,
        keys: set[str],
        fields: list[str],
        *,
        since: str | None = None,
        properties: str | None = None,
        others: Sequence[str] = (),
    ) -> tuple[list[dict[str, Any]], set[str]]:
        """Issues by key (plus any ``others`` clauses, OR-ed in), batched; and the unknown keys.

        Data Center refuses a JQL naming an unknown key (400 "An issue with key
        'X' does not exist"), so such keys are dropped and the query re-run.
        """
        missing: set[str] = set()
        pending = set(keys)
        while True:
            try:
                found: list[dict[str, Any]] = []
                # The jira client drops `properties` from a Data Center POST search, so a
                # search that needs them stays short enough to go by GET.
                budget = 1400 if properties and not self.connect().cloud else MAX_JQL_CHARS
                for group in or_groups([*in_clauses("key", pending, budget), *others], budget):
                    jql = f"({group}) AND {since}" if since else group
                    found += self.search(jql, fields, properties=properties)
                return found, missing
            except SourceError as exc:
                gone = set(_MISSING_KEY.findall(str(exc))) & pending
                if not gone:
                    raise
                missing |= gone
                pending -= gone

    # --- WriteTarget ------------------------------------------------------------------------
    def desired_records(self, outcome: Outcome, spec: WriteSpec) -> list[Record]:
        """One record per epic of this site linked to writable KRs (see the writer)."""
        return self.writer.desired(outcome, spec)

    def read_records(self, refs: Sequence[RecordRef]) -> dict[RecordRef, dict[str, FieldValue]]:
        """What the epics hold now: one batched search with the entity property."""
        return self.writer.read(refs)

    def write_record(self, ref: RecordRef, values: Mapping[str, FieldValue]) -> None:
        """Write one epic's changed values (labels, links, comments, then the property)."""
        self.writer.write(ref, values)

    # --- Checkable ----------------------------------------------------------------------------
    def check(self, context: CheckContext) -> list[CheckResult]:
        """Preflight: credentials, fields, linked epics, JQL rules (see :mod:`connectors.jira.check`)."""
        return check_jira(self, context)


__all__ = ["JiraConfig", "JiraConnector", "jira_message"]
