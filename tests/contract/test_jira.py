"""The Jira connector passes the connector contract against the Jira sandbox (real client)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from connectors.jira.connector import JiraConfig, JiraConnector
from okr_sync.models import ItemKind, OkrTree, RecordRef, StatusCategory, WorkItem
from sandboxes import JiraSandbox
from tests.contract.base import ConnectorContract


def seed(sandbox: JiraSandbox, items: list[WorkItem]) -> None:
    """Create the contract's items so that the sandbox gives them the same keys."""
    kinds = {i.key: i.kind for i in items}
    for project in dict.fromkeys(i.key.split("-")[0] for i in items):
        sandbox.add_project(project, f"Project {project}")
    for item in items:
        if item.kind is ItemKind.EPIC:
            issuetype = "Epic"
        elif item.parent_key and kinds.get(item.parent_key) is not ItemKind.EPIC:
            issuetype = "Sub-task"
        else:
            issuetype = "Story"
        key = sandbox.add_issue(
            item.key.split("-")[0], item.title, issuetype=issuetype,
            status="Done" if item.status_category is StatusCategory.DONE else "To Do",
            parent=item.parent_key, story_points=item.story_points, labels=item.labels,
        )  # fmt: skip
        assert key == item.key


class JiraContract(ConnectorContract):
    mode = "cloud"

    @pytest.fixture(autouse=True)
    def _sandbox(self, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
        self.sandbox = JiraSandbox(self.mode)  # type: ignore[arg-type]
        self.sandbox.start()
        cloud = self.mode == "cloud"
        monkeypatch.setenv(
            "CONTRACT_JIRA_TOKEN", self.sandbox.api_token if cloud else self.sandbox.pat
        )
        self.config = JiraConfig(
            type="jira", url=self.sandbox.url, email=self.sandbox.email if cloud else None,
            token="${CONTRACT_JIRA_TOKEN}",
        )  # fmt: skip
        yield
        self.sandbox.stop()

    def connector(self) -> JiraConnector:
        return JiraConnector("jira", self.config, sleep=lambda _s: None)

    def make_item_source(self, items: list[WorkItem]) -> JiraConnector:
        seed(self.sandbox, items)
        return self.connector()

    def make_target(self, tree: OkrTree) -> JiraConnector:
        self.sandbox.add_project("E", "Epics")
        self.sandbox.add_issue("E", "Epic one", issuetype="Epic")
        return self.connector()

    def query_for_label(self, label: str) -> str:
        return f'labels = "{label}"'

    def sample_record(self) -> tuple[RecordRef, dict[str, Any], dict[str, Any], RecordRef]:
        prop = {
            "key_results": [{"id": "KR-1", "progress": 0.25, "status": "At risk"}],
        }
        later = {
            "key_results": [{"id": "KR-1", "progress": 0.75, "status": "On track"}],
        }
        ref = RecordRef(kind="item", id="E-1")
        return (
            ref,
            {"property": prop, "label": ["okr:KR-1"]},
            {"property": later},
            RecordRef(kind="item", id="E-404"),
        )


class TestJiraCloudContract(JiraContract):
    mode = "cloud"


class TestJiraDataCenterContract(JiraContract):
    mode = "datacenter"
