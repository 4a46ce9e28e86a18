"""Turn stored issues into the JSON Jira sends, for REST v2 or v3, Cloud or Data Center."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sandboxes.jira.catalog import (
    CATEGORIES,
    EPIC_LINK,
    ISSUE_TYPES,
    PRIORITY_MEDIUM,
    RESOLUTION_DONE,
    STATUSES,
)
from sandboxes.jira.jql_values import adf_text
from sandboxes.jira.model import Comment, Project, RemoteLink, StoredIssue
from sandboxes.jira.store import JiraStore

ISSUE_EXPAND = "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations"
ACCOUNT_ID = "5b10ac8d82e05b22cc7d4ef5"
DC_USER = "okr-sync-bot"


@dataclass(frozen=True)
class FieldSelection:
    """Which fields to render; ``id_only`` is the bare ``{"id": ...}`` shape of search/jql."""

    ids: tuple[str, ...]
    id_only: bool = False


def select_fields(store: JiraStore, requested: Sequence[str], default: str) -> FieldSelection:
    """Resolve a ``fields`` parameter: ids, names or clause names, ``*all``, ``*navigable``, ``-x``."""
    tokens = list(requested) or [default]
    chosen: list[str] = []
    excluded: set[str] = set()
    for token in tokens:
        if token in ("*all", "*navigable"):
            chosen += [f.id for f in store.fields if token == "*all" or f.navigable]
        elif token.startswith("-"):
            f = store.field(token[1:])
            if f is not None:
                excluded.add(f.id)
        elif token != "id":
            f = store.field(token)
            if f is not None:
                chosen.append(f.id)
    ids = tuple(dict.fromkeys(i for i in chosen if i not in excluded and i != "issuekey"))
    return FieldSelection(ids, id_only=all(t == "id" for t in tokens))


def adf_doc(text: str) -> dict[str, Any]:
    """A plain string as an Atlassian Document Format doc, one paragraph per line."""
    paragraphs = [
        {"type": "paragraph", "content": [{"type": "text", "text": line}] if line else []}
        for line in text.split("\n")
    ]
    return {"type": "doc", "version": 1, "content": paragraphs}


class Renderer:
    """JSON shapes for one REST version of one site."""

    def __init__(self, store: JiraStore, base: str, version: str, email: str) -> None:
        self.store = store
        self.base = base
        self.version = version
        self.email = email
        self.api = f"{base}/rest/api/{version}"
        self.cloud = store.mode == "cloud"

    def ts(self, value: datetime | None) -> str | None:
        """``2022-12-08T02:22:18.889-0800`` in the site time zone."""
        if value is None:
            return None
        local = value.astimezone(self.store.site_zone)
        return (
            local.strftime("%Y-%m-%dT%H:%M:%S.")
            + f"{local.microsecond // 1000:03d}"
            + local.strftime("%z")
        )

    def text(self, body: Any) -> Any:
        """A rich-text value as this version shows it: ADF in v3, a string in v2."""
        if body is None:
            return None
        if self.version == "3":
            return body if isinstance(body, dict) else adf_doc(str(body))
        return body if isinstance(body, str) else adf_text(body)

    def user(self) -> dict[str, Any]:
        """The API user (also reporter and comment author)."""
        avatars = {s: f"{self.base}/secure/useravatar?size={n}" for s, n in _AVATARS}
        tz = self.store.user_zone.key
        if self.cloud:
            return {
                "self": f"{self.api}/user?accountId={ACCOUNT_ID}",
                "accountId": ACCOUNT_ID,
                "emailAddress": self.email,
                "avatarUrls": avatars,
                "displayName": "okr-sync bot",
                "active": True,
                "timeZone": tz,
                "accountType": "atlassian",
            }
        return {
            "self": f"{self.api}/user?username={DC_USER}",
            "name": DC_USER,
            "key": "JIRAUSER10100",
            "emailAddress": self.email,
            "avatarUrls": avatars,
            "displayName": "okr-sync bot",
            "active": True,
            "timeZone": tz,
        }

    def project(self, proj: Project) -> dict[str, Any]:
        """A project reference."""
        return {
            "self": f"{self.api}/project/{proj.id}",
            "id": str(proj.id),
            "key": proj.key,
            "name": proj.name,
            "projectTypeKey": "software",
            "simplified": False,
            "avatarUrls": {s: f"{self.base}/secure/projectavatar?size={n}" for s, n in _AVATARS},
        }

    def category(self, key: str) -> dict[str, Any]:
        """A status category."""
        cat = CATEGORIES[key]
        return {"self": f"{self.api}/statuscategory/{cat['id']}", **cat}

    def status(self, name: str) -> dict[str, Any]:
        """A status with its category."""
        sid, cat = STATUSES[name]
        return {
            "self": f"{self.api}/status/{sid}",
            "description": "",
            "iconUrl": f"{self.base}/",
            "name": name,
            "id": sid,
            "statusCategory": self.category(cat),
        }

    def issuetype(self, name: str) -> dict[str, Any]:
        """An issue type; Cloud adds ``hierarchyLevel``."""
        t = ISSUE_TYPES[name]
        out: dict[str, Any] = {
            "self": f"{self.api}/issuetype/{t.id}",
            "id": t.id,
            "description": t.description,
            "iconUrl": f"{self.base}/images/icons/issuetypes/{t.icon}.svg",
            "name": t.name,
            "subtask": t.subtask,
        }
        if self.cloud:
            out["hierarchyLevel"] = t.level
        return out

    def priority(self) -> dict[str, Any]:
        """The one priority every sandbox issue has."""
        return {
            "self": f"{self.api}/priority/{PRIORITY_MEDIUM['id']}",
            "iconUrl": f"{self.base}/images/icons/priorities/medium.svg",
            **PRIORITY_MEDIUM,
        }

    def issue_self(self, issue: StoredIssue) -> str:
        """The issue's ``self`` URL (by id, as Jira writes it)."""
        return f"{self.api}/issue/{issue.id}"

    def issue(
        self,
        issue: StoredIssue,
        selection: FieldSelection,
        properties: Sequence[str] = (),
        expand: Iterable[str] = (),
    ) -> dict[str, Any]:
        """One issue with the selected fields, requested properties and expansions."""
        if selection.id_only and not properties:
            return {"id": str(issue.id)}
        out: dict[str, Any] = {
            "expand": ISSUE_EXPAND,
            "id": str(issue.id),
            "self": self.issue_self(issue),
            "key": issue.key,
        }
        fields: dict[str, Any] = {}
        for fid in selection.ids:
            present, value = self.field_value(issue, fid)
            if present:
                fields[fid] = value
        if not selection.id_only:
            out["fields"] = fields
        if properties:
            wanted = issue.properties if "*all" in properties else properties
            out["properties"] = {k: issue.properties[k] for k in wanted if k in issue.properties}
        expand = set(expand)
        if "names" in expand:
            out["names"] = {fid: self.store.field_by_id[fid].name for fid in fields}
        if "schema" in expand:
            schemas = {fid: self.store.field_by_id[fid].schema for fid in fields}
            out["schema"] = {fid: s for fid, s in schemas.items() if s is not None}
        return out

    def field_value(self, issue: StoredIssue, fid: str) -> tuple[bool, Any]:
        """``(present, value)``; a missing parent is absent, not null, as in Jira."""
        store = self.store
        simple: dict[str, Any] = {
            "summary": lambda: issue.summary,
            "issuetype": lambda: self.issuetype(issue.issuetype),
            "project": lambda: self.project(store.projects[issue.project]),
            "status": lambda: self.status(issue.status),
            "statuscategorychangedate": lambda: self.ts(issue.status_changed),
            "labels": lambda: list(issue.labels),
            "priority": self.priority,
            "assignee": lambda: None,
            "reporter": self.user,
            "description": lambda: self.text(issue.description),
            "created": lambda: self.ts(issue.created),
            "updated": lambda: self.ts(issue.updated),
            "resolution": lambda: self.resolution(issue),
            "resolutiondate": lambda: self.ts(issue.resolutiondate),
            "comment": lambda: self.comments_page(issue, 0, len(issue.comments)),
        }
        if fid in simple:
            return True, simple[fid]()
        if fid == "parent":
            parent = store.structural_parent(issue)
            return (True, self.parent_ref(parent)) if parent else (False, None)
        if fid == EPIC_LINK:
            epic = store.epic_of(issue)
            return True, epic.key if epic else None
        if fid in store.field_by_id:
            return True, issue.custom.get(fid)
        return False, None

    def resolution(self, issue: StoredIssue) -> dict[str, Any] | None:
        """The resolution object, or null."""
        if issue.resolution is None:
            return None
        return {
            "self": f"{self.api}/resolution/{RESOLUTION_DONE['id']}",
            **RESOLUTION_DONE,
            "name": issue.resolution,
        }

    def parent_ref(self, parent: StoredIssue) -> dict[str, Any]:
        """The ``fields.parent`` object: id, key, self and a few of the parent's fields."""
        return {
            "id": str(parent.id),
            "key": parent.key,
            "self": self.issue_self(parent),
            "fields": {
                "summary": parent.summary,
                "status": self.status(parent.status),
                "priority": self.priority(),
                "issuetype": self.issuetype(parent.issuetype),
            },
        }

    def comment(self, issue: StoredIssue, comment: Comment) -> dict[str, Any]:
        """One comment; the body is ADF in v3 and text in v2."""
        out = {
            "self": f"{self.api}/issue/{issue.id}/comment/{comment.id}",
            "id": str(comment.id),
            "author": self.user(),
            "body": self.text(comment.body),
            "updateAuthor": self.user(),
            "created": self.ts(comment.created),
            "updated": self.ts(comment.updated),
        }
        if self.cloud:
            out["jsdPublic"] = True
        return out

    def comments_page(self, issue: StoredIssue, start: int, limit: int) -> dict[str, Any]:
        """A page of comments as ``GET .../comment`` and ``fields.comment`` show it."""
        chosen = issue.comments[start : start + limit]
        return {
            "comments": [self.comment(issue, c) for c in chosen],
            "self": f"{self.api}/issue/{issue.id}/comment",
            "maxResults": limit,
            "total": len(issue.comments),
            "startAt": start,
        }

    def remote_link(self, issue: StoredIssue, link: RemoteLink) -> dict[str, Any]:
        """A remote link; its ``self`` has no version segment, as in Jira."""
        out: dict[str, Any] = {
            "id": link.id,
            "self": f"{self.base}/rest/api/issue/{issue.key}/remotelink/{link.id}",
        }
        if link.data.get("globalId") is not None:
            out["globalId"] = link.data["globalId"]
        out["application"] = link.data.get("application") or {}
        if link.data.get("relationship") is not None:
            out["relationship"] = link.data["relationship"]
        out["object"] = link.data.get("object")
        return out


_AVATARS = (("48x48", 48), ("24x24", 24), ("16x16", 16), ("32x32", 32))
