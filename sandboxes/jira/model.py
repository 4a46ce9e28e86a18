"""The sandbox's records: projects, boards, issues, comments and remote links."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sandboxes.jira.catalog import ISSUE_TYPES, STATUSES, IssueType

PROJECT_KEY = re.compile(r"^[A-Z][A-Z0-9_]{0,9}$")
_ISSUE_KEY = re.compile(r"^([A-Za-z][A-Za-z0-9_]*)-(\d+)$")


@dataclass
class Project:
    """A Jira project."""

    id: int
    key: str
    name: str
    next_number: int = 1


@dataclass
class Board:
    """A Jira Software board of one project; ``estimation`` is its estimation field id."""

    id: int
    name: str
    project: str
    type: str = "scrum"
    estimation: str | None = None


@dataclass
class Comment:
    """A comment; ``body`` is a string (posted through v2) or an ADF doc (v3)."""

    id: int
    body: Any
    created: datetime
    updated: datetime


@dataclass
class History:
    """One changelog entry: when, and the field changes made together (Jira's ``items``)."""

    id: int
    created: datetime
    items: list[dict[str, Any]]


@dataclass
class RemoteLink:
    """A remote issue link: ``data`` holds globalId, application, relationship, object."""

    id: int
    data: dict[str, Any]


@dataclass
class StoredIssue:
    """One issue as the sandbox stores it."""

    id: int
    key: str
    project: str
    summary: str
    issuetype: str
    status: str
    created: datetime
    updated: datetime
    status_changed: datetime
    parent_id: int | None = None
    labels: list[str] = field(default_factory=list)
    custom: dict[str, Any] = field(default_factory=dict)
    description: Any = None
    resolution: str | None = None
    resolutiondate: datetime | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    comments: list[Comment] = field(default_factory=list)
    remote_links: list[RemoteLink] = field(default_factory=list)
    old_keys: list[str] = field(default_factory=list)
    history: list[History] = field(default_factory=list)

    @property
    def number(self) -> int:
        """The number part of the key."""
        return int(self.key.rsplit("-", 1)[1])

    @property
    def type(self) -> IssueType:
        """The issue type."""
        return ISSUE_TYPES[self.issuetype]

    @property
    def category(self) -> str:
        """The status category key: new, indeterminate or done."""
        return STATUSES[self.status][1]


def issue_key_parts(text: str) -> tuple[str, int] | None:
    """Split ``PAY-12`` into ``("PAY", 12)``; None when it is not key-shaped."""
    m = _ISSUE_KEY.match(text.strip())
    return (m.group(1).upper(), int(m.group(2))) if m else None
