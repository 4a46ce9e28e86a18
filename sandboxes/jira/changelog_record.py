"""The sandbox's change history: every edit it receives leaves a changelog entry.

Only the fields okr-sync replays are tracked (status, parent / Epic Link, story
points, labels), each as Jira writes its changelog items: ``field``, ``fieldtype``,
``fieldId`` (Cloud only), ``from``/``fromString``, ``to``/``toString``. Creation
leaves no entry (as in Jira: the issue's ``created`` time says when it began).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sandboxes.jira.catalog import EPIC_LINK, STATUSES
from sandboxes.jira.model import History, StoredIssue

#: The store (``sandboxes.jira.store.JiraStore``, which imports this module).
JiraStore = Any


def tracked(store: JiraStore, issue: StoredIssue) -> dict[str, Any]:
    """The tracked fields' values now, to compare after an edit."""
    return {
        "status": issue.status,
        "parent": issue.parent_id,
        "points": issue.custom.get(store.story_points_field),
        "labels": list(issue.labels),
    }


def _number(value: Any) -> str | None:
    if value is None:
        return None
    return str(int(value)) if float(value).is_integer() else str(value)


def _key(store: JiraStore, issue_id: int | None) -> str | None:
    found = store.issues.get(issue_id) if issue_id is not None else None
    return found.key if found else None


def record_history(
    store: JiraStore, issue: StoredIssue, before: dict[str, Any], at: datetime
) -> None:
    """Append one changelog entry for what changed since ``before`` (none when nothing did)."""
    after = tracked(store, issue)
    cloud = store.mode == "cloud"
    items: list[dict[str, Any]] = []

    def item(field: str, fieldtype: str, field_id: str, old: Any, new: Any,
             old_text: str | None, new_text: str | None) -> None:  # fmt: skip
        entry: dict[str, Any] = {"field": field, "fieldtype": fieldtype}
        if cloud:  # Data Center's changelog items carry no fieldId
            entry["fieldId"] = field_id
        entry.update({"from": old, "fromString": old_text, "to": new, "toString": new_text})
        items.append(entry)

    if before["status"] != after["status"]:
        old, new = before["status"], after["status"]
        item("status", "jira", "status", STATUSES[old][0], STATUSES[new][0], old, new)
    if before["parent"] != after["parent"]:
        old_id, new_id = before["parent"], after["parent"]
        old_text, new_text = _key(store, old_id), _key(store, new_id)
        old_ref = None if old_id is None else str(old_id)
        new_ref = None if new_id is None else str(new_id)
        if cloud:
            item("IssueParentAssociation", "jira", "parent", old_ref, new_ref, old_text, new_text)
        elif not issue.type.subtask:
            item("Epic Link", "custom", EPIC_LINK, old_ref, new_ref, old_text, new_text)
    if before["points"] != after["points"]:
        name = store.field_by_id[store.story_points_field].name
        old_points, new_points = _number(before["points"]), _number(after["points"])
        item(name, "custom", store.story_points_field, None, None, old_points, new_points)
    if before["labels"] != after["labels"]:
        old_labels, new_labels = " ".join(before["labels"]), " ".join(after["labels"])
        item("labels", "jira", "labels", None, None, old_labels or None, new_labels or None)
    if items:
        issue.history.append(History(store.next_history_id, at, items))
        store.next_history_id += 1
