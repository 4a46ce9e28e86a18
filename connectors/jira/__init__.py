"""The Jira connector (Cloud and Data Center) on the ``jira`` client.

``connector`` is the connector class; ``client`` builds the session with its one retry
layer; ``issues`` reads and interprets issues; ``write`` reads and writes epic fields;
``check`` is the preflight.
"""

from __future__ import annotations

from connectors.jira.connector import JiraConnector

__all__ = ["JiraConnector"]
