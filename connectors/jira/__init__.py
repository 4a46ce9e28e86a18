"""The Jira connector (Cloud and Data Center) on the ``jira`` client.

``connector`` is the connector class; ``client`` builds the session with its one retry
layer; ``pull`` runs a full or incremental pull (with exact membership); ``issues``
interprets issues; ``points`` chooses each project's story-point field; ``jql`` writes
the JQL okr-sync sends; ``write`` reads and writes epic fields; ``check`` is the preflight.
"""

from __future__ import annotations

from connectors.jira.connector import JiraConnector

__all__ = ["JiraConnector"]
