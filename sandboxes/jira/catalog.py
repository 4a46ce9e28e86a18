"""Static Jira metadata the sandbox serves: statuses, categories, issue types, fields.

Shapes follow the recorded payloads in ``../shared/real-payloads/jira``, beside the
project folder (status categories from a real Server list, the field list from a
Cloud site).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Mode = Literal["cloud", "datacenter"]

# Real ids and colours: ids are 1, 2, 4, 3 in list order (In Progress is 4, Done is 3).
CATEGORIES: dict[str, dict[str, Any]] = {
    "undefined": {"id": 1, "key": "undefined", "colorName": "medium-gray", "name": "No Category"},
    "new": {"id": 2, "key": "new", "colorName": "blue-gray", "name": "To Do"},
    "indeterminate": {
        "id": 4,
        "key": "indeterminate",
        "colorName": "yellow",
        "name": "In Progress",
    },
    "done": {"id": 3, "key": "done", "colorName": "green", "name": "Done"},
}

# name -> (status id, category key)
STATUSES: dict[str, tuple[str, str]] = {
    "To Do": ("10000", "new"),
    "In Progress": ("3", "indeterminate"),
    "In Review": ("10001", "indeterminate"),
    "Done": ("10002", "done"),
    "Closed": ("6", "done"),
}

# Statuses whose workflow sets a resolution. "Closed" deliberately does not: real
# workflows often reach a done category without one, so resolutiondate stays null.
RESOLVING_STATUSES = frozenset({"Done"})

RESOLUTION_DONE: dict[str, Any] = {
    "id": "10000",
    "description": "Work has been completed on this issue.",
    "name": "Done",
}


@dataclass(frozen=True)
class IssueType:
    """One issue type with its hierarchy level (1 epic, 0 standard, -1 sub-task)."""

    id: str
    name: str
    level: int
    description: str
    icon: str

    @property
    def subtask(self) -> bool:
        """Whether this is a sub-task type."""
        return self.level < 0


ISSUE_TYPES: dict[str, IssueType] = {
    t.name: t
    for t in (
        IssueType("10000", "Epic", 1, "A big user story that needs to be broken down.", "epic"),
        IssueType(
            "10001", "Story", 0, "Functionality or a feature expressed as a user goal.", "story"
        ),
        IssueType("10002", "Task", 0, "A small, distinct piece of work.", "task"),
        IssueType("10003", "Bug", 0, "A problem or error.", "bug"),
        IssueType(
            "10004",
            "Sub-task",
            -1,
            "A small piece of work that's part of a larger task.",
            "subtask",
        ),
    )
}

PRIORITY_MEDIUM: dict[str, Any] = {"name": "Medium", "id": "3"}

STORY_POINT_ESTIMATE = "customfield_10016"
STORY_POINTS = "customfield_10026"
EPIC_LINK = "customfield_10014"


@dataclass(frozen=True)
class FieldDef:
    """A field as ``GET /rest/api/{2,3}/field`` lists it."""

    id: str
    name: str
    clause_names: tuple[str, ...]
    schema: dict[str, Any] | None
    custom: bool = False
    navigable: bool = True
    orderable: bool = True
    searchable: bool = True

    def to_json(self) -> dict[str, Any]:
        """The field-list entry."""
        out: dict[str, Any] = {
            "id": self.id,
            "key": self.id,
            "name": self.name,
            "custom": self.custom,
            "orderable": self.orderable,
            "navigable": self.navigable,
            "searchable": self.searchable,
            "clauseNames": list(self.clause_names),
        }
        if self.schema is not None:
            out["schema"] = dict(self.schema)
        if self.custom:
            out["untranslatedName"] = self.name
        return out

    @property
    def is_number(self) -> bool:
        """Whether values are numbers (story-point fields)."""
        return self.schema is not None and self.schema.get("type") == "number"


def _system(
    fid: str, name: str, clauses: tuple[str, ...], schema_type: str | None, **kw: Any
) -> FieldDef:
    schema = {"type": schema_type, "system": fid} if schema_type else None
    return FieldDef(fid, name, clauses, schema, **kw)


def _custom(fid: str, name: str, plugin: str, schema_type: str) -> FieldDef:
    number = int(fid.rsplit("_", 1)[1])
    schema = {"type": schema_type, "custom": plugin, "customId": number}
    return FieldDef(fid, name, (f"cf[{number}]", name), schema, custom=True)


def field_definitions(mode: Mode) -> list[FieldDef]:
    """All fields of the sandbox site, in the order the field list shows them."""
    fields = [
        _system("issuekey", "Key", ("id", "issue", "issuekey", "key"), None, searchable=False),
        _system("summary", "Summary", ("summary",), "string"),
        _system("issuetype", "Issue Type", ("issuetype", "type"), "issuetype"),
        _system("parent", "Parent", ("parent",), None, orderable=False, searchable=mode == "cloud"),
        _system("project", "Project", ("project",), "project"),
        _system("status", "Status", ("status",), "status"),
        _system("labels", "Labels", ("labels",), "array"),
        _system("priority", "Priority", ("priority",), "priority"),
        _system("assignee", "Assignee", ("assignee",), "user"),
        _system("reporter", "Reporter", ("reporter",), "user"),
        _system("description", "Description", ("description",), "string"),
        _system("created", "Created", ("created", "createdDate"), "datetime"),
        _system("updated", "Updated", ("updated", "updatedDate"), "datetime"),
        _system("resolution", "Resolution", ("resolution",), "resolution"),
        _system("resolutiondate", "Resolved", ("resolutiondate", "resolved"), "datetime"),
        # comment is not navigable: only *all or an explicit request returns it.
        _system("comment", "Comment", ("comment",), "comments-page", navigable=False),
    ]
    if mode == "cloud":
        fields.insert(
            4,
            _system(
                "statuscategorychangedate",
                "Status Category Changed",
                ("statusCategoryChangedDate",),
                "datetime",
                orderable=False,
            ),
        )
    fields.append(
        _custom(
            STORY_POINT_ESTIMATE,
            "Story point estimate",
            "com.pyxis.greenhopper.jira:jsw-story-points",
            "number",
        )
    )
    fields.append(
        _custom(
            STORY_POINTS,
            "Story Points",
            "com.atlassian.jira.plugin.system.customfieldtypes:float",
            "number",
        )
    )
    if mode == "datacenter":
        fields.append(
            _custom(EPIC_LINK, "Epic Link", "com.pyxis.greenhopper.jira:gh-epic-link", "any")
        )
    return fields
