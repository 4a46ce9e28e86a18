"""The Notion connector on ``notion-client``.

``connector`` is the connector class; ``client`` builds the client with its one retry
layer and throttle; ``config`` is its config model; ``okrs`` reads objectives and key
results (``choices``: their measure and direction); ``items`` reads the rows of item
databases; ``values`` reads property values; ``pages`` writes pages; ``check`` is the
preflight.
"""

from __future__ import annotations

from connectors.notion.connector import NotionConnector

__all__ = ["NotionConnector"]
