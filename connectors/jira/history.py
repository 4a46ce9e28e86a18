"""Change history of Jira issues, for ``okr-sync backfill``, read in as few requests as Jira allows.

Which issues: the items the normal pull found, plus *former members*: issues in
the linked epics' projects updated since the period start (one key-and-fields
search; moving an issue out of an epic or removing a label bumps ``updated``)
whose history shows them under a linked epic or with a linked label at some
point. JQL cannot ask this directly: ``WAS`` does not support ``parent``, ``Epic
Link`` or ``labels`` (Jira documents WAS for Assignee, Fix Version, Priority,
Reporter, Resolution and Status only).

How (API notes, verified with the ``search`` tool):

- Cloud ``POST /rest/api/3/changelog/bulkfetch``: "changelogs of up to 1000 issues
  and can filter them by up to 10 field IDs", sorted by changelog date then issue
  id, paged by ``nextPageToken`` (jira.js ``getBulkChangelogs``; Atlassian's
  ``BulkChangelogRequestBean``). One request per 1000 issues and page, filtered to
  the replayed fields.
- Cloud ``GET /rest/api/3/issue/{key}/changelog``: ``startAt``/``maxResults`` pages of
  at most 100 (qodex's copy of the Cloud reference), used only when a site has no
  bulk endpoint (404).
- Data Center: no ``/issue/{key}/changelog`` (404 on Jira 9.12:
  atlassian-python-api #1396); ``GET /rest/api/2/issue/{key}?expand=changelog``
  embeds the histories. When it embeds fewer than its ``total`` (Cloud keeps the
  latest 100, pycontribs/jira #911), the history is incomplete and the pull fails
  rather than replay half of it.
- ``expand=changelog`` on a *search* is never used: it returns at most 20
  changelog items per issue (api-notes jira.md §1.1, Adaptavist).

Every request goes through the connector's caller: the same retries and error
wording as every other read.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from connectors.jira.client import get_json
from connectors.jira.config import JiraAccess
from connectors.jira.issues import _CATEGORY, _when, estimate, to_item
from connectors.jira.points import PointsChooser
from okr_sync.errors import SourceError
from okr_sync.models import (
    HistoryRequest,
    HistoryResult,
    ItemChange,
    ItemHistory,
    StatusCategory,
    WorkItem,
)

BULK_ISSUES = 1000  # bulkfetch: "up to 1000 issues"
BULK_FIELDS = 10  # bulkfetch: "up to 10 field IDs"
ISSUE_PAGE = 100  # GET /issue/{key}/changelog: at most 100 a page
MAX_PAGES = 100_000
_PARENT_NAMES = frozenset({"issueparentassociation", "parent", "epic link"})


def _post_json(http: Any, url: str, body: Any) -> Any:
    return http.post(url, json=body).json()


class HistoryReader:
    """Reads histories for one backfill (see the module docstring)."""

    def __init__(self, access: JiraAccess) -> None:
        self.access = access
        self.session = access.session()
        self.cloud = self.session.cloud
        client = self.session.client
        self.http = client._session
        self.base = client.server_url.rstrip("/")
        self.requests = 0
        ids = self.session.ids
        self.points_fields = set(ids.story_points)
        self.parent_fields = {"parent"} | ({ids.epic_link} if ids.epic_link else set())
        self._statuses: dict[str, StatusCategory] | None = None
        names = {str(f.get("id")): str(f.get("name")) for f in access.connect().fields}
        self.points = PointsChooser(access, ids.story_points, ids.points_configured, names)
        self.points_names = {names[f] for f in ids.story_points if f in names}

    # --- requests ----------------------------------------------------------------
    def _get(self, what: str, path: str, **params: Any) -> Any:
        self.requests += 1
        url = self.base + path
        return self.access.caller.call(what, get_json, self.http, url, params=params or None)

    def _post(self, what: str, path: str, body: Any) -> Any:
        self.requests += 1
        return self.access.caller.call(
            what, _post_json, self.http, self.base + path, body, read=True
        )

    def statuses(self) -> dict[str, StatusCategory]:
        """Status id → category (a changelog names statuses by id and name, not category)."""
        if self._statuses is None:
            answer = self._get("status list", "/rest/api/2/status")
            out: dict[str, StatusCategory] = {}
            for status in answer if isinstance(answer, list) else []:
                key = ((status or {}).get("statusCategory") or {}).get("key")
                out[str(status.get("id"))] = _CATEGORY.get(str(key), StatusCategory.TODO)
            self._statuses = out
        return self._statuses

    def field_ids(self) -> list[str]:
        """The fields to filter changelogs to: status, parent / Epic Link, points, labels."""
        wanted = ["status", "labels", *sorted(self.parent_fields), *sorted(self.points_fields)]
        return wanted[:BULK_FIELDS]

    def cloud_bulk(self, ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
        """Issue id → histories, by bulkfetch in chunks of 1000 issues, every page."""
        out: dict[str, list[dict[str, Any]]] = {i: [] for i in ids}
        for start in range(0, len(ids), BULK_ISSUES):
            chunk = list(ids[start : start + BULK_ISSUES])
            token: str | None = None
            seen: set[str] = set()
            for _ in range(MAX_PAGES):
                body: dict[str, Any] = {"issueIdsOrKeys": chunk, "fieldIds": self.field_ids()}
                if token:
                    body["nextPageToken"] = token
                page = self._post("changelog bulkfetch", "/rest/api/3/changelog/bulkfetch", body)
                logs = page.get("issueChangeLogs") if isinstance(page, dict) else None
                if not isinstance(logs, list):
                    raise SourceError(self.access.name, "changelog bulkfetch: malformed page")
                for entry in logs:
                    out.setdefault(str(entry.get("issueId")), []).extend(
                        entry.get("changeHistories") or []
                    )
                token = page.get("nextPageToken") or None
                if token is None:
                    break
                if token in seen:
                    raise SourceError(
                        self.access.name, "changelog bulkfetch: a page token repeated"
                    )
                seen.add(token)
        return out

    def cloud_issue(self, key: str) -> list[dict[str, Any]]:
        """One issue's histories, by ``startAt`` pages of 100."""
        histories: list[dict[str, Any]] = []
        start = 0
        while True:
            page = self._get(f"changelog of {key}", f"/rest/api/3/issue/{key}/changelog",
                             startAt=start, maxResults=ISSUE_PAGE)  # fmt: skip
            values = page.get("values") if isinstance(page, dict) else None
            if not isinstance(values, list):
                raise SourceError(self.access.name, f"changelog of {key}: malformed page")
            histories += values
            start += len(values)
            if page.get("isLast") is True or not values or start >= int(page.get("total") or 0):
                return histories

    def embedded(self, key: str) -> list[dict[str, Any]]:
        """Data Center: the histories embedded by ``expand=changelog``; all of them, or an error."""
        answer = self._get(f"issue {key} with its changelog", f"/rest/api/2/issue/{key}",
                           expand="changelog", fields="created")  # fmt: skip
        log = answer.get("changelog") if isinstance(answer, dict) else None
        histories = log.get("histories") if isinstance(log, dict) else None
        if not isinstance(histories, list):
            raise SourceError(self.access.name, f"issue {key}: no changelog in the answer")
        total = log.get("total") if isinstance(log, dict) else None
        if isinstance(total, int) and total > len(histories):
            raise SourceError(
                self.access.name,
                f"issue {key}: Jira embedded {len(histories)} of its {total} changelog entries; "
                "its history cannot be replayed in full",
            )
        return histories

    def histories(self, raw: Mapping[str, Mapping[str, Any]]) -> dict[str, list[dict[str, Any]]]:
        """Key → histories, for the issues in ``raw`` (key → search JSON with ``id``)."""
        if not self.cloud:
            return {key: self.embedded(key) for key in sorted(raw)}
        by_id = {str(r.get("id")): key for key, r in raw.items()}
        try:
            found = self.cloud_bulk(sorted(by_id))
        except SourceError as exc:
            if " answered 404" not in str(exc):
                raise
            return {key: self.cloud_issue(key) for key in sorted(raw)}
        return {by_id[i]: h for i, h in found.items() if i in by_id}

    def item(self, raw: Mapping[str, Any]) -> WorkItem:
        """A former member as a work item, its points from its project's story-point field.

        The field is the one a pull uses (configured, the site's only one, or the
        project's boards'); when only the issues' values could tell, the one
        candidate holding a value, else none (the item is then listed unestimated).
        """
        ids = self.session.ids
        key = str(raw.get("key") or "")
        known = self.points.known(key.rsplit("-", 1)[0]) if "-" in key else None
        if known is False:
            fields = raw.get("fields") or {}
            held = [f for f in ids.story_points if fields.get(f) is not None]
            known = held[0] if len(held) == 1 else None
        return to_item(raw, self.access.name, self.access.site, ids, known)

    # --- reading a history ----------------------------------------------------------------
    def changes(self, key: str, histories: Iterable[Mapping[str, Any]]) -> list[ItemChange]:
        """The replayed fields' changes, oldest first."""
        out: list[ItemChange] = []
        for history in histories:
            at = _when(history.get("created"))
            if at is None:
                raise SourceError(self.access.name, f"issue {key}: a changelog entry has no time")
            for item in history.get("items") or []:
                change = self._change(key, at, item)
                if change is not None:
                    out.append(change)
        return sorted(out, key=lambda c: c.at)

    def _change(self, key: str, at: dt.datetime, item: Mapping[str, Any]) -> ItemChange | None:
        field = str(item.get("field") or "")
        field_id = str(item.get("fieldId") or "")
        if field_id == "status" or field == "status":
            statuses = self.statuses()
            old, new = str(item.get("from")), str(item.get("to"))
            if old not in statuses or new not in statuses:
                raise SourceError(
                    self.access.name, f"issue {key}: changelog names an unknown status id"
                )
            return ItemChange(at=at, field="status_category", before=statuses[old],
                              after=statuses[new])  # fmt: skip
        if field_id in self.parent_fields or field.lower() in _PARENT_NAMES:
            return ItemChange(at=at, field="parent_key", before=item.get("fromString") or None,
                              after=item.get("toString") or None)  # fmt: skip
        # Data Center's changelog items carry no fieldId: the field's name says it.
        if field_id in self.points_fields or (not field_id and field in self.points_names):
            return ItemChange(at=at, field="story_points", before=_points(item.get("fromString")),
                              after=_points(item.get("toString")))  # fmt: skip
        if field_id == "labels" or field == "labels":
            return ItemChange(at=at, field="labels",
                              before=tuple((item.get("fromString") or "").split()),
                              after=tuple((item.get("toString") or "").split()))  # fmt: skip
        return None


def _points(text: Any) -> float | None:
    """A story-point value as a changelog writes it (``fromString`` "5", "2.5" or empty)."""
    try:
        return estimate(float(text)) if text not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _linked(changes: Sequence[ItemChange], request: HistoryRequest) -> bool:
    """Whether a former member's history shows it under a linked epic or linked label."""

    def links(label: str) -> bool:
        return label in request.labels or bool(
            request.label_prefix and label.startswith(request.label_prefix)
        )

    for c in changes:
        if c.field == "parent_key" and ({c.before, c.after} & request.epics):
            return True
        if c.field == "labels" and any(links(x) for x in (*c.before, *c.after)):
            return True
    return False


_ISSUE_KEY = re.compile(r"^([A-Z][A-Z0-9_]*)-\d+$")


def _projects(keys: Iterable[str]) -> list[str]:
    """The projects of issue-key-shaped keys (a KR's links may name other sources' ids)."""
    return sorted({m.group(1) for k in keys if (m := _ISSUE_KEY.match(k))})


def pull_history(access: JiraAccess, request: HistoryRequest) -> HistoryResult:
    """Histories of ``request.items`` and of former members (see the module docstring)."""
    reader = HistoryReader(access)
    conn = access.connect()
    zone = conn.zone or dt.UTC
    current: dict[str, WorkItem] = {i.key: i for i in request.items}
    projects = _projects([*request.epics, *current])
    fields = [*reader.session.ids.request(), "created"]
    others = []
    if projects:
        since = request.since.astimezone(zone)
        # Floored to the minute (JQL's precision) and an hour early: nothing is missed.
        since -= dt.timedelta(hours=1)
        others.append(
            f'(project in ({", ".join(projects)}) AND updated >= "{since:%Y/%m/%d %H:%M}")'
        )
    raw, _missing = access.search_keys(set(current), fields, others=others)
    found = {str(r.get("key")): r for r in raw if isinstance(r, Mapping)}
    logs = reader.histories(found)
    histories: list[ItemHistory] = []
    former: list[WorkItem] = []
    for key, issue in sorted(found.items()):
        changes = reader.changes(key, logs.get(key, []))
        if key not in current:
            if not _linked(changes, request):
                continue
            former.append(reader.item(issue))
        created = _when((issue.get("fields") or {}).get("created"))
        histories.append(ItemHistory(source=access.name, key=key, created=created,
                                     changes=tuple(changes)))  # fmt: skip
    unknown = sorted(set(current) - set(found))
    if unknown:  # replaying them as they are now would be a guess
        raise SourceError(
            access.name,
            f"{len(unknown)} item(s) vanished while their history was read "
            f"({', '.join(unknown[:5])}); run the backfill again",
        )
    return HistoryResult(former=tuple(former), histories=tuple(histories),
                         requests=reader.requests)  # fmt: skip
