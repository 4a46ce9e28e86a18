"""Issue edits (``PUT /rest/api/{2,3}/issue/{key}``).

Validates ``fields`` and ``update`` operations, then applies them all or nothing, as
Jira does (400 ``errors{field: message}``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sandboxes.jira.catalog import EPIC_LINK
from sandboxes.jira.changelog_record import record_history, tracked
from sandboxes.jira.http import ApiError
from sandboxes.jira.model import StoredIssue
from sandboxes.jira.store import JiraStore

CANNOT_SET = "Field '{0}' cannot be set. It is not on the appropriate screen, or unknown."
_NOT_ADF = "Operation value must be an Atlassian Document (see the Atlassian Document Format)"
_OPS = ("set", "add", "remove", "edit", "copy")


def is_adf_doc(value: Any) -> bool:
    """Whether ``value`` looks like an ADF document (``type: doc``, version 1, content list)."""
    return (
        isinstance(value, dict)
        and value.get("type") == "doc"
        and value.get("version") == 1
        and isinstance(value.get("content"), list)
    )


class EditPlan:
    """Collects validated changes for one issue; ``apply`` runs them."""

    def __init__(self, store: JiraStore, issue: StoredIssue, version: str) -> None:
        self.store = store
        self.issue = issue
        self.version = version
        self.errors: dict[str, str] = {}
        self.changes: list[Callable[[], None]] = []

    def collect(self, body: Any) -> None:
        """Validate a whole edit body; problems land in ``errors``."""
        if not isinstance(body, dict):
            raise ApiError(400, ["The request body must be a JSON object."])
        fields = body.get("fields") or {}
        update = body.get("update") or {}
        if not isinstance(fields, dict) or not isinstance(update, dict):
            raise ApiError(400, ["'fields' and 'update' must be JSON objects."])
        for name, value in fields.items():
            self._set(name, value)
        for name, ops in update.items():
            if not isinstance(ops, list):
                self.errors[name] = f"Field '{name}' expects a list of operations."
                continue
            for op in ops:
                self._operation(name, op)
        for prop in body.get("properties") or []:
            if not isinstance(prop, dict) or "key" not in prop:
                raise ApiError(400, ["Each property needs a 'key' and a 'value'."])
            self.changes.append(self._property_setter(prop["key"], prop.get("value")))

    def _property_setter(self, key: str, value: Any) -> Callable[[], None]:
        return lambda: self.issue.properties.__setitem__(key, value)

    def apply(self) -> None:
        """Run the collected changes (call only when ``errors`` is empty), and log them."""
        before = tracked(self.store, self.issue)
        for change in self.changes:
            change()
        record_history(self.store, self.issue, before, self.store.now())

    # -- one field ------------------------------------------------------------

    def _set(self, name: str, value: Any) -> None:
        issue, store = self.issue, self.store
        f = store.field_by_id.get(name)
        if name == "summary":
            if not isinstance(value, str) or not value.strip():
                self.errors[name] = "You must specify a summary of the issue."
            elif "\n" in value or "\r" in value:
                self.errors[name] = "The summary is invalid because it contains newline characters."
            else:
                self.changes.append(lambda: setattr(issue, "summary", value))
        elif name == "description":
            if self.version == "3" and value is not None and not is_adf_doc(value):
                self.errors[name] = _NOT_ADF
            elif self.version == "2" and value is not None and not isinstance(value, str):
                self.errors[name] = "Operation value must be a string"
            else:
                self.changes.append(lambda: setattr(issue, "description", value))
        elif name == "labels":
            self._labels_set(value)
        elif name == "parent" and store.mode == "cloud":
            self._parent(name, value)
        elif name == EPIC_LINK and f is not None:
            self._parent(name, {"key": value} if isinstance(value, str) else value)
        elif f is not None and f.custom and f.is_number:
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int | float)
            ):
                self.errors[name] = "Operation value must be a number"
            else:
                number = None if value is None else float(value)
                self.changes.append(lambda: issue.custom.__setitem__(name, number))
        else:
            self.errors[name] = CANNOT_SET.format(name)

    def _labels_set(self, value: Any) -> None:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.errors["labels"] = "The labels must be a list of strings."
            return
        if self._bad_labels(value):
            return
        self.changes.append(lambda: setattr(self.issue, "labels", list(dict.fromkeys(value))))

    def _bad_labels(self, labels: list[str]) -> bool:
        for label in labels:
            if not label or any(ch.isspace() for ch in label):
                self.errors["labels"] = f"The label '{label}' contains spaces which is invalid."
                return True
            if len(label) > 255:
                self.errors["labels"] = "The label must not exceed 255 characters."
                return True
        return False

    def _parent(self, name: str, value: Any) -> None:
        if value is None or (isinstance(value, dict) and value.get("none") is True):
            self.changes.append(lambda: self.store.set_parent(self.issue, None))
            return
        ref = value.get("key") or value.get("id") if isinstance(value, dict) else None
        parent = self.store.get(str(ref)) if ref else None
        if parent is None:
            self.errors[name] = "Could not find issue by id or key."
            return
        if parent.id == self.issue.id or parent.type.level != self.issue.type.level + 1:
            self.errors[name] = "Given parent work item does not belong to appropriate hierarchy."
            return
        self.changes.append(lambda: self.store.set_parent(self.issue, parent))

    # -- update operations --------------------------------------------------------

    def _operation(self, name: str, op: Any) -> None:
        if not isinstance(op, dict) or len(op) != 1 or next(iter(op)) not in _OPS:
            self.errors[name] = f"Field '{name}' has an invalid operation; use set, add or remove."
            return
        verb, value = next(iter(op.items()))
        if name == "labels" and verb in ("add", "remove"):
            if not isinstance(value, str) or self._bad_labels([value]):
                self.errors.setdefault("labels", "A label must be a string.")
                return
            self.changes.append(lambda: self._label_op(verb, value))
        elif name == "comment" and verb == "add":
            body = value.get("body") if isinstance(value, dict) else None
            if not _valid_comment_body(body, self.version):
                self.errors["comment"] = "Comment body is not valid!"
                return
            self.changes.append(lambda: self._comment(body))
        elif verb == "set":
            self._set(name, value)
        else:
            self.errors[name] = f"The operation '{verb}' is not supported for field '{name}'."

    def _comment(self, body: Any) -> None:
        self.store.new_comment(self.issue, body)

    def _label_op(self, verb: str, label: str) -> None:
        labels = self.issue.labels
        if verb == "add" and label not in labels:
            labels.append(label)
        elif verb == "remove" and label in labels:
            labels.remove(label)


def _valid_comment_body(body: Any, version: str) -> bool:
    if version == "3":
        return is_adf_doc(body)
    return isinstance(body, str) and bool(body.strip())
