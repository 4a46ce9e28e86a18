"""The Jira connector: epics and issues as work items, KR state written back onto epics.

Built on the ``jira`` package. Works with Jira Cloud (site URL, account email,
API token: basic auth) and Jira Data Center / Server (URL and a personal
access token: bearer auth); the deployment is read from ``serverInfo``.
Scoped Cloud API tokens only work through
``https://api.atlassian.com/ex/jira/<cloudId>`` as ``url`` (the cloud id is at
``https://<site>.atlassian.net/_edge/tenant_info``).

Reading (see :mod:`connectors.jira.pull`): the linked roots (``key in (…)`` for listed
epic keys, ``labels in (…)`` for label rules and ``okr:<KR id>`` labels, each rule's own
JQL, tagged with the rule) and the direct children of every epic among them
(``parent in (…)`` on Cloud, the Epic Link field on Data Center). An incremental pull
reads what changed since the cursor and, with key-only queries, exactly which issues
are still selected, so an issue that left (a label removed, moved to another epic)
stops counting at once. A rule whose JQL Jira refuses fails only its KRs.

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
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from connectors.jira.check import check_jira
from connectors.jira.client import (
    GONE_HINT,
    JiraCaller,
    QueryError,
    cloud_pages,
    jira_message,
    server_pages,
    settle_environment,
)
from connectors.jira.config import Connection, JiraConfig, Session
from connectors.jira.issues import discover_fields, user_zone
from connectors.jira.jql import MAX_JQL_CHARS, in_clauses, or_groups
from connectors.jira.pull import KEYS_PAGE_CLOUD, KEYS_PAGE_DC, pull
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
    HistoryRequest,
    HistoryResult,
    Outcome,
    PullRequest,
    PullResult,
    Record,
    RecordRef,
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
        self.pulled_epics: dict[str, dict[str, Any]] = {}
        self.pulled_incrementally = False

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
            settle_environment(client._session, self.site)  # serverInfo already read it
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
            me = self.caller.call("myself", client.myself) or {}
            raw_fields = self.caller.call("field list", client.fields)
            if hasattr(client, "_fields_cache_value"):  # spare the client its own GET /field
                # The client turns JQL clause names in `fields` into field ids; `key` and `id`
                # are clause names of the Key field, but a key-only search must say `key`.
                client._fields_cache_value = {
                    name: f["id"] for f in raw_fields for name in f.get("clauseNames") or ()
                    if name not in ("key", "id")
                }  # fmt: skip
            zone: dt.tzinfo | None = None
            problem: str | None = None
            try:
                zone = user_zone(me.get("timeZone") if isinstance(me, dict) else None, self.name)
            except SourceError as exc:
                problem = str(exc)
            self._connection = Connection(
                client, cloud, zone, me if isinstance(me, dict) else {}, list(raw_fields), problem
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
        page_size: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Issues matching ``jql``, page after page (a page is dropped once converted).

        ``page_size`` is what is asked for (default: the connection's ``page_size``);
        Jira may serve fewer, and paging follows what it serves.
        """
        s = self.connect()
        pager = cloud_pages if s.cloud else server_pages
        size = page_size or self.config.page_size
        for page in pager(self.caller, s.client, jql, fields, page_size=size,
                          properties=properties, selector=selector):  # fmt: skip
            yield from page

    def count(self, jql: str, selector: str | None) -> int:
        """How many issues match: approximate-count on Cloud, a one-row search on Data Center."""
        s = self.connect()
        if s.cloud:
            # The client's plain form reads a missing count as 0: ask for the body instead.
            answer = self.caller.call(
                "approximate-count", s.client.approximate_issue_count, jql, json_result=True,
                selector=selector,
            )  # fmt: skip
            result = answer.get("count") if isinstance(answer, dict) else None
        else:
            page = self.caller.call(
                "search (count)", s.client.search_issues, jql, maxResults=1, fields=["key"],
                json_result=True, use_post=len(jql) > 1500, selector=selector,
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
        """Pull the selection (see :mod:`connectors.jira.pull`)."""
        started = self.clock()
        conn = self.connect()
        if conn.zone is None:  # the dates of incremental pulls would be read in a wrong zone
            raise SourceError(self.name, (conn.zone_problem or "").removeprefix(f"{self.name}: "))
        self.pulled_epics = {}
        self.pulled_incrementally = False
        return pull(self, request, started)

    def search_keys(
        self,
        keys: set[str],
        fields: list[str],
        *,
        since: str | None = None,
        properties: str | None = None,
        others: Sequence[str] = (),
        keys_only: bool = False,
        parents: tuple[str, Collection[str]] | None = None,
        budget: int | None = None,
    ) -> tuple[list[dict[str, Any]], set[str]]:
        """Issues by key (plus any ``others`` clauses, OR-ed in), batched; and the unknown keys.

        Data Center refuses a JQL naming an unknown key (400 "An issue with key
        'X' does not exist"), so such keys are dropped and the query re-run.
        ``parents`` (a field and epic keys) adds the children of those epics: an epic
        deleted since the last run is refused the same way (``… does not exist for
        field 'cf[10014]'``) and dropped too, without counting as a missing key.
        ``keys_only``: ask for keys alone, in the biggest pages Jira serves.
        ``budget``: the longest statement (default ``MAX_JQL_CHARS``); when Jira refuses a
        longer one (400), the query is sent again in statements of the default length.
        """
        missing: set[str] = set()
        long = False  # whether the statement being searched is longer than the default
        pending = set(keys)
        parent_field, parent_keys = parents or ("parent", ())
        pending_parents = set(parent_keys)
        while True:
            try:
                found: list[dict[str, Any]] = []
                # The jira client drops `properties` from a Data Center POST search, so a
                # search that needs them stays short enough to go by GET.
                limit = budget or MAX_JQL_CHARS
                if properties and not self.connect().cloud:
                    limit = min(limit, 1400)
                size = None
                if keys_only:
                    size = KEYS_PAGE_CLOUD if self.connect().cloud else KEYS_PAGE_DC
                clauses = [
                    *in_clauses("key", pending, limit),
                    *in_clauses(parent_field, pending_parents, limit),
                    *others,
                ]
                for group in or_groups(clauses, limit):
                    wrapped = f"({group})" if " OR " in group else group
                    jql = f"{wrapped} AND {since}" if since else group
                    long = len(jql) > MAX_JQL_CHARS
                    found += self.search(jql, fields, properties=properties, page_size=size)
                return found, missing
            except SourceError as exc:
                gone = set(_MISSING_KEY.findall(str(exc))) & (pending | pending_parents)
                if not gone and isinstance(exc, QueryError) and long:
                    log.info("%s: Jira refused a long query; sending shorter ones", self.name)
                    budget = None
                    continue
                if not gone:
                    raise
                missing |= gone & pending
                pending -= gone
                pending_parents -= gone

    # --- HistorySource ---------------------------------------------------------------------
    def pull_history(self, request: HistoryRequest) -> HistoryResult:
        """Histories for ``okr-sync backfill`` (see :mod:`connectors.jira.history`)."""
        from connectors.jira.history import pull_history

        return pull_history(self, request)

    def history_problem(self) -> str | None:
        """A KR field (``kr_field``) links items through a field whose history is not replayed."""
        if self.config.kr_field:
            return f"links through the KR field {self.config.kr_field!r} have no replayed history"
        return None

    # --- WriteTarget ------------------------------------------------------------------------
    write_problem = staticmethod(EpicWriter.write_problem)

    def desired_records(self, outcome: Outcome, spec: WriteSpec) -> list[Record]:
        """One record per epic of this site linked to writable KRs (see the writer)."""
        return self.writer.desired(outcome, spec)

    def read_records(self, refs: Sequence[RecordRef]) -> dict[RecordRef, dict[str, FieldValue]]:
        """What the epics hold now: one batched search with the entity property."""
        return self.writer.read(refs)

    def read_unsettled(
        self, refs: Sequence[RecordRef], settled: Mapping[RecordRef, dict[str, FieldValue]]
    ) -> dict[RecordRef, dict[str, FieldValue]]:
        """What the epics hold now, reading only what the pull and okr-sync's writes leave open."""
        return self.writer.read_unsettled(refs, settled)

    def write_record(self, ref: RecordRef, values: Mapping[str, FieldValue]) -> None:
        """Write one epic's changed values (labels, links, comments, then the property)."""
        self.writer.write(ref, values)

    # --- Checkable ----------------------------------------------------------------------------
    def check(self, context: CheckContext) -> list[CheckResult]:
        """Preflight: credentials, fields, linked epics, JQL rules (see :mod:`connectors.jira.check`)."""
        return check_jira(self, context)


__all__ = ["JiraConfig", "JiraConnector", "jira_message"]
