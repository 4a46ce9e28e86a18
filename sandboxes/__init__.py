"""Local fakes of the work-management APIs okr-sync talks to, for tests and demos.

``JiraSandbox`` serves a faithful subset of the Jira Cloud / Data Center REST API on
loopback; drive it with the real ``jira`` client. ``NotionSandbox`` does the same for
the Notion API (versions 2025-09-03 and 2022-06-28); drive it with the real
``notion_client.Client``. Nothing runs at import time.
"""

from __future__ import annotations

from sandboxes.jira.faults import FaultPlan
from sandboxes.jira.jql import JqlError
from sandboxes.jira.sandbox import JiraSandbox
from sandboxes.notion.faults import NotionFaultPlan
from sandboxes.notion.sandbox import NotionSandbox

__all__ = ["FaultPlan", "JiraSandbox", "JqlError", "NotionFaultPlan", "NotionSandbox"]
