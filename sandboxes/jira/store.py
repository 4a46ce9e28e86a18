"""The sandbox's data model: projects and issues with properties, comments and links.

One ``JiraStore`` holds everything a fake Jira site knows. Issues keep a single
internal parent link; how it shows depends on the deployment (see
``structural_parent`` and ``epic_of``). Every method expects the caller to hold
``lock`` when it runs concurrently with the HTTP server; the human-facing
methods of ``JiraSandbox`` take it for you.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sandboxes.jira.catalog import (
    CATEGORIES,
    EPIC_LINK,
    ISSUE_TYPES,
    RESOLVING_STATUSES,
    STATUSES,
    STORY_POINT_ESTIMATE,
    STORY_POINTS,
    FieldDef,
    Mode,
    field_definitions,
)
from sandboxes.jira.changelog_record import record_history, tracked
from sandboxes.jira.model import (
    PROJECT_KEY,
    Board,
    Comment,
    Project,
    RemoteLink,
    StoredIssue,
)


class VersionedLock:
    """The store's lock: every entry may change the store, so it moves ``version``.

    Searches answer from a cache of query results keyed by ``version`` (see
    :mod:`sandboxes.jira.search`): anything that takes the lock to change issues,
    through the HTTP API or the sandbox's own methods, invalidates it. Reads take
    :meth:`reading` instead, which leaves the version alone.
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self.version = 0

    def __enter__(self) -> VersionedLock:
        self._lock.acquire()
        self.version += 1
        return self

    def __exit__(self, *exc: object) -> None:
        self._lock.release()

    def reading(self) -> threading.RLock:
        """The lock for a request that changes nothing (the cache stays valid)."""
        return self._lock


class JiraStore:
    """Projects, issues and fields of one fake site."""

    def __init__(
        self,
        mode: Mode,
        *,
        site_time_zone: str,
        user_time_zone: str,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.mode: Mode = mode
        self.site_zone = ZoneInfo(site_time_zone)
        self.user_zone = ZoneInfo(user_time_zone)
        #: Taken by every change; entering it counts as one (see :class:`VersionedLock`).
        self.lock = VersionedLock()
        self._clock = clock or (lambda: datetime.now(UTC))
        self.fields: list[FieldDef] = field_definitions(mode)
        self.field_by_id = {f.id: f for f in self.fields}
        self.story_points_field = STORY_POINT_ESTIMATE if mode == "cloud" else STORY_POINTS
        self.projects: dict[str, Project] = {}
        self.boards: dict[int, Board] = {}
        self.issues: dict[int, StoredIssue] = {}
        self._by_key: dict[str, int] = {}
        self._next_project_id = 10000
        self._next_issue_id = 10001
        self._next_comment_id = 10100
        self._next_link_id = 10000
        self.next_history_id = 10000
        #: Added to every approximate count (a test's stale count: Jira documents it as
        #: an estimate in which recent updates may be missing).
        self.count_error = 0

    def approximate(self, count: int) -> int:
        """What ``approximate-count`` answers for ``count`` matching issues."""
        return max(0, count + self.count_error)

    # -- time --------------------------------------------------------------

    def now(self) -> datetime:
        """The sandbox clock, always time-zone aware."""
        value = self._clock()
        return value if value.tzinfo else value.replace(tzinfo=UTC)

    # -- lookups -----------------------------------------------------------

    def project(self, ref: str) -> Project | None:
        """A project by key, name (case-insensitive) or id."""
        text = ref.strip()
        found = self.projects.get(text.upper())
        if found:
            return found
        for proj in self.projects.values():
            if proj.name.casefold() == text.casefold() or str(proj.id) == text:
                return proj
        return None

    def get(self, ref: str | int) -> StoredIssue | None:
        """An issue by id, key, or a key it had before a move."""
        text = str(ref).strip()
        if text.isdigit():
            return self.issues.get(int(text))
        issue_id = self._by_key.get(text.upper())
        return self.issues.get(issue_id) if issue_id is not None else None

    def require(self, ref: str) -> StoredIssue:
        """Like ``get`` but raises ``KeyError`` for an unknown issue."""
        issue = self.get(ref)
        if issue is None:
            raise KeyError(f"no issue {ref!r} in the sandbox")
        return issue

    def field(self, ref: str) -> FieldDef | None:
        """A field by id, name or JQL clause name (case-insensitive)."""
        if ref in self.field_by_id:
            return self.field_by_id[ref]
        folded = ref.casefold()
        for f in self.fields:
            if f.name.casefold() == folded or folded in (c.casefold() for c in f.clause_names):
                return f
        return None

    def parent(self, issue: StoredIssue) -> StoredIssue | None:
        """The internal parent (epic of a story, story of a sub-task)."""
        return self.issues.get(issue.parent_id) if issue.parent_id is not None else None

    def structural_parent(self, issue: StoredIssue) -> StoredIssue | None:
        """What ``fields.parent`` and JQL ``parent`` show.

        Cloud shows every parent; Data Center only a sub-task's parent, since
        epic children there link through the Epic Link field instead.
        """
        if self.mode == "datacenter" and not issue.type.subtask:
            return None
        return self.parent(issue)

    def epic_of(self, issue: StoredIssue) -> StoredIssue | None:
        """The Epic Link value (Data Center only): the parent epic of a non-sub-task."""
        if self.mode != "datacenter" or issue.type.subtask:
            return None
        return self.parent(issue)

    # -- seeding and changes -------------------------------------------------

    def add_project(self, key: str, name: str) -> Project:
        """Create a project; keys are upper-case letters and digits, as in Jira."""
        if not PROJECT_KEY.match(key):
            raise ValueError(f"invalid project key {key!r}")
        if key in self.projects:
            raise ValueError(f"project {key} already exists")
        proj = Project(self._next_project_id, key, name)
        self._next_project_id += 1
        self.projects[key] = proj
        return proj

    def add_issue(
        self,
        project: str,
        summary: str,
        *,
        issuetype: str,
        status: str,
        parent: str | None,
        story_points: float | None,
        labels: Sequence[str],
        fields: Mapping[str, Any] | None,
        updated: datetime | None,
        created: datetime | None = None,
        number: int | None = None,
    ) -> StoredIssue:
        """Create an issue; see ``JiraSandbox.add_issue``."""
        proj = self.projects.get(project)
        if proj is None:
            raise ValueError(f"unknown project {project!r}; call add_project first")
        if number is None:
            number = proj.next_number
        if number < 1 or f"{proj.key}-{number}" in self._by_key:
            raise ValueError(f"cannot create {proj.key}-{number}: the key is taken or invalid")
        _check_status(status)
        if issuetype not in ISSUE_TYPES:
            raise ValueError(f"unknown issue type {issuetype!r}; known: {sorted(ISSUE_TYPES)}")
        stamp = _aware(updated) if updated else self.now()
        born = _aware(created) if created else min(stamp, self.now())
        issue = StoredIssue(
            id=self._next_issue_id,
            key=f"{proj.key}-{number}",
            project=proj.key,
            summary=summary,
            issuetype=issuetype,
            status=status,
            created=born,
            updated=stamp,
            status_changed=born,
            labels=list(labels),
        )
        for f in self.fields:
            if f.custom:
                issue.custom[f.id] = None
        if status in RESOLVING_STATUSES:
            issue.resolution, issue.resolutiondate = "Done", stamp
        if parent is not None:
            self._link_parent(issue, parent)
        if story_points is not None:
            issue.custom[self.story_points_field] = float(story_points)
        self._apply_fields(issue, fields or {}, stamp)
        self._next_issue_id += 1
        proj.next_number = max(proj.next_number, number + 1)  # keys only ever grow, as in Jira
        self.issues[issue.id] = issue
        self._by_key[issue.key] = issue.id
        return issue

    def update_issue(self, key: str, changes: Mapping[str, Any]) -> None:
        """Apply a human's change; see ``JiraSandbox.update_issue``."""
        issue = self.require(key)
        known = {"summary", "status", "labels", "story_points", "parent", "issuetype"}
        known |= {"description", "fields", "updated"}
        unknown = set(changes) - known
        if unknown:
            raise TypeError(
                f"update_issue got unknown changes {sorted(unknown)}; known: {sorted(known)}"
            )
        stamp = _aware(changes["updated"]) if changes.get("updated") else self.now()
        before = tracked(self, issue)
        if "issuetype" in changes:
            if changes["issuetype"] not in ISSUE_TYPES:
                raise ValueError(f"unknown issue type {changes['issuetype']!r}")
            issue.issuetype = changes["issuetype"]
        if "summary" in changes:
            issue.summary = str(changes["summary"])
        if "labels" in changes:
            issue.labels = list(changes["labels"])
        if "description" in changes:
            issue.description = changes["description"]
        if "parent" in changes:
            self.set_parent(issue, self.require(changes["parent"]) if changes["parent"] else None)
        if "story_points" in changes:
            points = changes["story_points"]
            issue.custom[self.story_points_field] = None if points is None else float(points)
        if "status" in changes:
            self.set_status(issue, changes["status"], stamp)
        self._apply_fields(issue, changes.get("fields") or {}, stamp)
        issue.updated = stamp
        record_history(self, issue, before, stamp)

    def set_status(self, issue: StoredIssue, status: str, stamp: datetime) -> None:
        """Change status, keeping category-change time and resolution consistent."""
        _check_status(status)
        before = issue.category
        issue.status = status
        if issue.category != before:
            issue.status_changed = stamp
        if issue.category != "done":
            issue.resolution = issue.resolutiondate = None
        elif status in RESOLVING_STATUSES and issue.resolution is None:
            issue.resolution, issue.resolutiondate = "Done", stamp

    def set_parent(self, issue: StoredIssue, parent: StoredIssue | None) -> None:
        """Link or unlink a parent; raises ``ValueError`` when the hierarchy forbids it."""
        if parent is None:
            issue.parent_id = None
            return
        if parent.id == issue.id or parent.type.level != issue.type.level + 1:
            raise ValueError(
                f"{parent.key} ({parent.issuetype}) cannot be the parent of "
                f"{issue.key} ({issue.issuetype})"
            )
        issue.parent_id = parent.id

    def _link_parent(self, issue: StoredIssue, ref: str) -> None:
        parent = self.get(ref)
        if parent is None:
            raise ValueError(f"unknown parent issue {ref!r}")
        self.set_parent(issue, parent)

    def _apply_fields(self, issue: StoredIssue, fields: Mapping[str, Any], stamp: datetime) -> None:
        for name, value in fields.items():
            if name == "resolution":
                issue.resolution = value if value is None else str(value)
                issue.resolutiondate = None if value is None else (issue.resolutiondate or stamp)
                continue
            if name == "resolutiondate":
                issue.resolutiondate = None if value is None else _aware(value)
                continue
            f = self.field(name)
            if f is None:
                raise ValueError(f"unknown field {name!r}")
            if f.id == EPIC_LINK:
                self.set_parent(issue, self.require(value) if value else None)
            elif f.custom:
                issue.custom[f.id] = value
            elif f.id in ("summary", "description"):
                setattr(issue, f.id, value)
            elif f.id == "labels":
                issue.labels = list(value)
            elif f.id == "status":
                self.set_status(issue, value, stamp)
            elif f.id == "parent":
                self.set_parent(issue, self.require(value) if value else None)
            else:
                raise ValueError(f"the sandbox cannot seed field {name!r}")

    def delete_issue(self, key: str) -> None:
        """Delete an issue. Its sub-tasks go with it; other children lose their parent."""
        issue = self.require(key)
        for child in list(self.issues.values()):
            if child.parent_id == issue.id:
                if child.type.subtask:
                    self.delete_issue(child.key)
                else:
                    child.parent_id = None
        del self.issues[issue.id]
        for k in [k for k, v in self._by_key.items() if v == issue.id]:
            del self._by_key[k]

    def move_issue(self, key: str, project: str) -> str:
        """Move an issue to another project: new key, same id, old key still resolves."""
        issue = self.require(key)
        target = self.projects.get(project)
        if target is None:
            raise ValueError(f"unknown project {project!r}")
        if target.key == issue.project:
            return issue.key
        issue.old_keys.append(issue.key)
        issue.key = f"{target.key}-{target.next_number}"
        issue.project = target.key
        target.next_number += 1
        self._by_key[issue.key] = issue.id
        issue.updated = self.now()
        return issue.key

    def touch(self, issue: StoredIssue) -> None:
        """Bump ``updated`` after a write through the API."""
        issue.updated = self.now()

    def new_comment(self, issue: StoredIssue, body: Any) -> Comment:
        """Append a comment (not idempotent, as in Jira)."""
        now = self.now()
        comment = Comment(self._next_comment_id, body, now, now)
        self._next_comment_id += 1
        issue.comments.append(comment)
        return comment

    def upsert_link(self, issue: StoredIssue, data: dict[str, Any]) -> tuple[RemoteLink, bool]:
        """Create a remote link, or replace the one with the same globalId.

        Returns the link and whether it was created. A replaced link keeps its id;
        fields missing from ``data`` become null, as Jira documents.
        """
        global_id = data.get("globalId")
        if global_id:
            for link in issue.remote_links:
                if link.data.get("globalId") == global_id:
                    link.data = data
                    return link, False
        link = RemoteLink(self._next_link_id, data)
        self._next_link_id += 1
        issue.remote_links.append(link)
        return link, True

    def snapshot(self, issue: StoredIssue) -> dict[str, Any]:
        """A deep copy of the stored issue, for tests and the demo."""
        parent = self.parent(issue)
        return {
            "id": str(issue.id),
            "key": issue.key,
            "project": issue.project,
            "summary": issue.summary,
            "issuetype": issue.issuetype,
            "status": issue.status,
            "status_category": CATEGORIES[issue.category]["key"],
            "parent": parent.key if parent else None,
            "labels": list(issue.labels),
            "story_points": issue.custom.get(self.story_points_field),
            "fields": copy.deepcopy(issue.custom),
            "description": copy.deepcopy(issue.description),
            "created": issue.created,
            "updated": issue.updated,
            "resolution": issue.resolution,
            "resolutiondate": issue.resolutiondate,
            "properties": copy.deepcopy(issue.properties),
            "comments": [
                {"id": str(c.id), "body": copy.deepcopy(c.body), "created": c.created}
                for c in issue.comments
            ],
            "remote_links": [
                {"id": link.id, **copy.deepcopy(link.data)} for link in issue.remote_links
            ],
            "old_keys": list(issue.old_keys),
        }


def _check_status(status: str) -> None:
    if status not in STATUSES:
        raise ValueError(f"unknown status {status!r}; known: {sorted(STATUSES)}")


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)
