"""Local fakes of the work-management APIs okr-sync talks to, for tests and demos.

``JiraSandbox`` serves a faithful subset of the Jira Cloud / Data Center REST API on
loopback; drive it with the real ``jira`` client. Nothing runs at import time.
"""

from __future__ import annotations

from connectors.sandbox.jira_faults import FaultPlan
from connectors.sandbox.jira_sandbox import JiraSandbox
from connectors.sandbox.jql import JqlError

__all__ = ["FaultPlan", "JiraSandbox", "JqlError"]
