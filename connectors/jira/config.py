"""The Jira connection's config, its connection state, and what its helpers may use.

:class:`JiraAccess` is the part of :class:`~connectors.jira.connector.JiraConnector`
that the preflight (:mod:`connectors.jira.check`) and the epic writer
(:mod:`connectors.jira.write`) use: they receive the connector as a ``JiraAccess``
and so never import the connector class back.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from pydantic import Field

from connectors._urls import ServiceUrl
from connectors.jira.client import JiraCaller
from connectors.jira.issues import FieldIds
from okr_sync.interfaces import ConnectorConfig, SecretRef


class JiraConfig(ConnectorConfig):
    """``type: jira``. Secrets only as environment references."""

    type: Literal["jira"]
    #: https (http only on loopback), no credentials inside: see :mod:`connectors._urls`.
    url: ServiceUrl
    email: str | None = None
    token: SecretRef
    #: "auto" uses what serverInfo says; a fixed value is checked against it.
    deployment: Literal["auto", "cloud", "datacenter"] = "auto"
    scope: str | None = None
    story_points_field: str | None = None
    epic_link_field: str | None = None
    kr_field: str | None = None
    fields: dict[str, str] = Field(default_factory=dict)
    label_prefix: str = "okr:"
    property_key: str = Field(default="okr-sync", min_length=1, max_length=255)
    page_size: int = Field(default=100, ge=1, le=5000)
    # Upper bounds keep every setting usable as a time span (a huge one overflows).
    overlap_minutes: int = Field(default=10, ge=0, le=1440)
    max_retries: int = Field(default=8, ge=0, le=20)
    max_wait_seconds: float = Field(default=120.0, gt=0, le=86_400)
    timeout_seconds: float = Field(default=30.0, gt=0, le=3600)


@dataclass
class Connection:
    """A signed-in client and what the site told about itself and the API user."""

    client: Any
    cloud: bool
    #: The API user's time zone; None with ``zone_problem`` saying why it is unknown.
    zone: dt.tzinfo | None
    me: dict[str, Any]
    fields: list[dict[str, Any]]
    zone_problem: str | None = None


@dataclass
class Session:
    """A connection with the configured and discovered field ids resolved."""

    client: Any
    cloud: bool
    zone: dt.tzinfo | None
    ids: FieldIds


class JiraAccess(Protocol):
    """The connector's own code paths, as its check and its epic writer use them."""

    name: str
    config: JiraConfig
    site: str
    caller: JiraCaller
    clock: Callable[[], dt.datetime]
    #: Epics as this run's pull read them, with the entity property (key → search JSON).
    pulled_epics: dict[str, dict[str, Any]]
    #: Whether this run's pull was incremental: its window of changes then shows every
    #: edit of a linked epic since the last run, so a settled epic it did not bring can
    #: be answered unread. After a full pull (which brings rule-found epics without the
    #: property) every epic it did not bring with the property is read.
    pulled_incrementally: bool

    def connect(self) -> Connection:
        """Connect once (serverInfo, myself, the field list)."""
        ...

    def session(self) -> Session:
        """The connection with field ids resolved."""
        ...

    def search(
        self,
        jql: str,
        fields: list[str],
        *,
        selector: str | None = None,
        properties: str | None = None,
        page_size: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Issues matching ``jql``, page after page."""
        ...

    def count(self, jql: str, selector: str | None) -> int:
        """How many issues match ``jql``."""
        ...

    def query_problem(self, query: object) -> str | None:
        """What is wrong with a rule's query, or None."""
        ...

    def search_keys(
        self,
        keys: set[str],
        fields: list[str],
        *,
        since: str | None = None,
        properties: str | None = None,
        others: Sequence[str] = (),
        keys_only: bool = False,
        parents: tuple[str, Collection[str]] | None = None,
        budget: int | None = None,
    ) -> tuple[list[dict[str, Any]], set[str]]:
        """Issues by key, batched; and the unknown keys."""
        ...
