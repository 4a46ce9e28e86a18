"""What the Notion connector's helpers may use of it.

:class:`NotionAccess` is the part of :class:`~connectors.notion.connector.NotionConnector`
that the preflight (:mod:`connectors.notion.check`) and the page writer
(:mod:`connectors.notion.pages`) use: they receive the connector as a ``NotionAccess``
and so never import the connector class back.
"""

from __future__ import annotations

from typing import Any, Protocol

from connectors.notion.client import NotionCaller
from connectors.notion.config import NotionConfig
from connectors.notion.okrs import Schema
from okr_sync.models import RecordRef


class NotionAccess(Protocol):
    """The connector's own code paths, as its check and its page writer use them."""

    name: str
    config: NotionConfig
    caller: NotionCaller
    #: The pages last read, by record: what a write patches and a re-read refreshes.
    pages: dict[RecordRef, dict[str, Any]]

    def client(self) -> Any:
        """The ``notion_client.Client``, built on first use."""
        ...

    def data_source(self, ref: str, role: str) -> str:
        """The data source id behind a configured database id."""
        ...

    def source_schema(self, ref: str, role: str) -> dict[str, Any]:
        """The data source object as Notion returns it (kept, or read once per run)."""
        ...

    def schema(self, ref: str, role: str, names: Any) -> Schema:
        """The configured property names resolved against the data source."""
        ...

    def fresh_schema(self, ref: str, role: str, names: Any) -> Schema:
        """Like :meth:`schema`, from the data source as read in this run."""
        ...
