"""The ``type: notion`` connection's config: databases and their property names.

The defaults follow the usual Notion OKR layout (Notion's own OKR template and
common team templates): an Objectives database with a parent-objective
relation, a Key Results database related to it with Start, Target, Current,
Progress, Status, a due date, Last synced, a text property listing Jira epic
keys and a relation to an Initiatives database.
"""

from __future__ import annotations

import re
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from connectors._urls import ServiceUrl, is_loopback
from okr_sync.interfaces import ConnectorConfig, SecretRef

_HEX_ID = re.compile(
    r"([0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})", re.I
)


def id_in_url(ref: str) -> str:
    """The id in any Notion URL (app.notion.com too), else the text itself."""
    found = _HEX_ID.findall(ref.split("?", 1)[0])
    if not found:
        return ref
    hexes = str(found[-1]).replace("-", "").lower()
    return f"{hexes[:8]}-{hexes[8:12]}-{hexes[12:16]}-{hexes[16:20]}-{hexes[20:]}"


class _Names(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class KeyResultProperties(_Names):
    """Property names in the Key Results database (None: not used)."""

    title: str = "Name"
    id: str | None = (
        None  # a unique_id or text property; default: the first unique_id, else the page id
    )
    objective: str | None = "Objective"
    start: str | None = "Start"
    target: str | None = "Target"
    current: str | None = "Current"
    progress: str | None = "Progress"
    status: str | None = "Status"
    period: str | None = "Due"
    last_synced: str | None = "Last synced"
    #: The forecast at period end (P50, a number: a percent format shows it) and its range.
    forecast: str | None = "Forecast"
    forecast_range: str | None = "Forecast range"
    epics: str | None = "Jira epics"
    initiatives: str | None = "Initiatives"
    measure: str | None = None
    #: A select or status with options "Increase"/"Decrease" (any case), or a checkbox
    #: that means "lower is better" when checked (see :mod:`connectors.notion.okrs`).
    direction: str | None = "Direction"
    unit: str | None = None
    weight: str | None = None


class ObjectiveProperties(_Names):
    """Property names in the Objectives database (None: not used)."""

    title: str = "Name"
    id: str | None = None
    parent: str | None = "Parent objective"
    owner: str | None = "Owner"
    period: str | None = None
    progress: str | None = "Progress"
    status: str | None = "Status"
    last_synced: str | None = "Last synced"
    weight: str | None = None


class ItemDatabase(_Names):
    """A database whose rows are work items (initiatives, projects, tasks).

    ``status`` is a status, select or checkbox property (``null``: the rows have no
    status, none is ever done). Which of its values mean done: ``done`` when it is
    set; otherwise, for a status property, the options in Notion's *Complete*
    group (and those in *In progress* are in progress), and for a select the
    default names below. A checkbox is done when checked.
    """

    database: str
    filter: dict[str, Any] | None = None
    title: str = "Name"
    status: str | None = "Status"
    done: tuple[str, ...] = ("Done", "Complete", "Completed")
    in_progress: tuple[str, ...] = ("In progress", "In Progress", "Doing", "Started")
    labels: str | None = None  # a multi_select or select property
    key_results: str | None = None  # a relation to the Key Results database
    numbers: dict[str, str] = Field(default_factory=dict)  # sum:<name> → property


class NotionConfig(ConnectorConfig):
    """``type: notion``. Databases by id or URL; the token only as an environment reference."""

    type: Literal["notion"]
    token: SecretRef
    objectives: str | None = None
    key_results: str | None = None
    key_result_properties: KeyResultProperties = KeyResultProperties()
    objective_properties: ObjectiveProperties = ObjectiveProperties()
    items: tuple[ItemDatabase, ...] = ()
    epics_source: str | None = None  # item source of the epic keys listed on KRs (e.g. jira)
    #: https (http only on loopback), no credentials inside: see :mod:`connectors._urls`.
    base_url: ServiceUrl = "https://api.notion.com"
    #: Notion's published limit is an average of 3 requests/s per integration; only a
    #: local base_url (a sandbox on loopback) may be driven faster.
    # Lower and upper bounds keep every setting usable as a time span (a huge one overflows).
    requests_per_second: float = Field(default=2.8, ge=0.01)
    #: Page writes in flight at once (the throttle still sets the rate); default: enough
    #: to keep it busy at the latency measured (rate × latency, plus one); 1: one at a time.
    writes_in_flight: int | None = Field(default=None, ge=1, le=16)
    overlap_minutes: int = Field(default=2, ge=1, le=1440)
    max_retries: int = Field(default=6, ge=0, le=20)
    max_wait_seconds: float = Field(default=120.0, gt=0, le=86_400)
    timeout_seconds: float = Field(default=30.0, gt=0, le=3600)
    version: Literal["2025-09-03"] = "2025-09-03"

    def source_identity(self) -> str:
        """The Key Results (and Objectives) databases, by id however the config names them."""
        parts = [id_in_url(db) for db in (self.key_results, self.objectives) if db]
        return "notion:" + ",".join(parts)

    @field_validator("requests_per_second")
    @classmethod
    def _within_notion_limit(cls, value: float, info: ValidationInfo) -> float:
        host = urlsplit(str(info.data.get("base_url", ""))).hostname or ""
        if value > 3 and not is_loopback(host):
            raise ValueError(
                "Notion allows an average of 3 requests/s per integration; "
                f"{value:g} would be refused with 429s (only a local sandbox may go faster)"
            )
        return value
