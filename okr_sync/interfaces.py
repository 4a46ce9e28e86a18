"""The connector contract: three small Protocols, the config base class, secrets.

A connector is one class, built from its own config model, that implements any
of :class:`OkrSource`, :class:`ItemSource` and :class:`WriteTarget`. The
reference implementation is :mod:`connectors.memory`; every connector passes the
contract tests in ``tests/contract``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, Protocol, runtime_checkable

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from okr_sync.errors import AuthError
from okr_sync.models import (
    FieldValue,
    HistoryRequest,
    HistoryResult,
    OkrTree,
    Outcome,
    PullRequest,
    PullResult,
    Record,
    RecordKind,
    RecordRef,
)
from okr_sync.yamlpos import YamlDocument, load_yaml

__all__ = [
    "ENV_REF",
    "ENV_REF_TEXT",
    "OBJECTIVE_FIELDS",
    "OKR_FIELDS",
    "CheckContext",
    "CheckLevel",
    "CheckResult",
    "Checkable",
    "ConnectorConfig",
    "ItemSource",
    "OkrSource",
    "QueryCheck",
    "SecretRef",
    "WriteSpec",
    "WriteTarget",
    "YamlDocument",
    "env_name",
    "load_yaml",
    "okr_records",
    "resolve_path",
    "resolve_secret",
]

#: An environment reference such as ``${NOTION_TOKEN}`` (unanchored text, and anchored).
ENV_REF_TEXT = r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}"
_ENV_REF = ENV_REF = re.compile(f"^{ENV_REF_TEXT}$")


def _check_secret_ref(value: str) -> str:
    if not _ENV_REF.match(value):
        raise ValueError(
            "secrets must come from the environment: write an environment reference such as "
            '"${JIRA_API_TOKEN}" and export the token in that variable'
        )
    return value


#: A config value that must be an environment reference like ``${NOTION_TOKEN}``.
SecretRef = Annotated[str, AfterValidator(_check_secret_ref)]


def env_name(ref: str) -> str:
    """The variable name in an environment reference (``${X}`` → ``X``)."""
    match = _ENV_REF.match(ref)
    if not match:
        raise ValueError(f"not an environment reference: {ref!r}")
    return match.group(1)


def resolve_secret(ref: str, *, connection: str) -> str:
    """Read a secret from the environment at the moment it is needed.

    Raises:
        AuthError: the variable is unset or empty (the message names the variable only).
    """
    name = env_name(ref)
    value = os.environ.get(name, "")
    if not value:
        raise AuthError(connection, f"environment variable {name} is not set or empty")
    return value


class ConnectorConfig(BaseModel):
    """Base of every connector's config model; ``type`` picks the connector."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: str

    def source_identity(self) -> str:
        """What names the OKR source this connection reads, when it is a config's OKR source.

        A state store records it and refuses a config whose OKR source differs, so two
        teams' histories never mix. Never a secret. Override to name the data (a
        database id, a file) rather than only the connector type.
        """
        return self.type


class WriteSpec(BaseModel):
    """Which logical fields the config asks a target to write, per record kind."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key_results: tuple[str, ...] = ()
    objectives: tuple[str, ...] = ()
    items: tuple[str, ...] = ()

    def for_kind(self, kind: RecordKind) -> tuple[str, ...]:
        """The fields configured for one record kind."""
        return {"key_result": self.key_results, "objective": self.objectives}.get(kind, self.items)


@runtime_checkable
class OkrSource(Protocol):
    """Yields the OKR tree."""

    name: str

    def pull_okrs(self) -> OkrTree:
        """Return all objectives and key results. Raises SourceError on failure."""
        ...


@runtime_checkable
class ItemSource(Protocol):
    """Yields work items for the selectors in a :class:`PullRequest`."""

    name: str

    def pull_items(self, request: PullRequest) -> PullResult:
        """Return matching items (and epics' direct children). Raises SourceError."""
        ...


@runtime_checkable
class HistorySource(Protocol):
    """An item source that can say what its items looked like before (for ``backfill``)."""

    name: str

    def pull_history(self, request: HistoryRequest) -> HistoryResult:
        """Histories of the items and of former members (see :class:`HistoryRequest`)."""
        ...

    def history_problem(self) -> str | None:
        """Why this source's items cannot be replayed at all (None: they can)."""
        ...


@runtime_checkable
class WriteTarget(Protocol):
    """Holds pages or issues that okr-sync writes computed values to."""

    name: str
    writable_fields: ClassVar[Mapping[str, frozenset[str]]]

    def desired_records(self, outcome: Outcome, spec: WriteSpec) -> list[Record]:
        """Pure: the records and values this target should hold after the run."""
        ...

    def read_records(self, refs: Sequence[RecordRef]) -> dict[RecordRef, dict[str, FieldValue]]:
        """Current values of the given records; a missing record maps to ``{}``."""
        ...

    def write_record(self, ref: RecordRef, values: Mapping[str, FieldValue]) -> None:
        """Write all changed fields of one record in one idempotent request."""
        ...


@runtime_checkable
class RefreshableTarget(Protocol):
    """A write target that can say, cheaply, what changed since it was read this run."""

    def refresh_records(self, refs: Sequence[RecordRef]) -> dict[RecordRef, dict[str, FieldValue]]:
        """Current values of those of ``refs`` that changed since the read (others omitted)."""
        ...


@runtime_checkable
class SettlingTarget(Protocol):
    """A write target that may leave alone records still holding okr-sync's confirmed write."""

    def read_unsettled(
        self, refs: Sequence[RecordRef], settled: Mapping[RecordRef, dict[str, FieldValue]]
    ) -> dict[RecordRef, dict[str, FieldValue]]:
        """Current values, as ``read_records``, reading what the target cannot vouch for.

        ``settled`` records (every field wanted equals okr-sync's last confirmed write:
        nothing pending, nothing accepted) may be answered with those values, unread,
        where the target documents why no human change can hide there.
        """
        ...


@runtime_checkable
class ConcurrentTarget(Protocol):
    """A write target whose ``write_record`` may run on several threads at once.

    The applier keeps every state-store call on its own thread; only the target's
    requests overlap, so a service's latency does not cap the rate its limit allows.
    Two calls never write the same record.
    """

    def write_slots(self) -> int:
        """How many writes may be in flight at once (1: one after another)."""
        ...


@runtime_checkable
class CachingConnector(Protocol):
    """A connector that keeps what it learned about the service between runs (e.g. schemas).

    The engine hands back what the last recorded run left (``restore``) before any
    pull, and keeps what ``to_save`` returns with the run's cursors. The connector
    must check what it restores against what the service answers: a cache never
    stands in for a value.
    """

    def restore(self, saved: str | None) -> None:
        """Take what the last recorded run saved (None: nothing, or it no longer applies)."""
        ...

    def to_save(self) -> str | None:
        """What to keep for the next run (None: nothing)."""
        ...


CheckLevel = Literal["ok", "warn", "fail"]


class CheckResult(BaseModel):
    """One line of ``okr-sync check``: what was checked, how it went, what to do about it.

    ``fail`` is a problem that breaks or falsifies a sync; ``warn`` is worth a look
    but a sync still runs. Messages and hints never carry a secret.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    connection: str
    subject: str
    level: CheckLevel
    message: str
    hint: str = ""
    #: Item keys this result reports as not found. A key that rules leave to any
    #: item source is only a problem when every source asked for it misses it.
    missing_keys: tuple[str, ...] = Field(default=(), exclude=True)


class QueryCheck(BaseModel):
    """A mapping rule's query, for the source that runs it to validate."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kr: str
    rule_id: str
    query: Any
    #: The rule as every message names it, e.g. ``rule 3 (okr-sync.yaml:31)``.
    where: str


class CheckContext(BaseModel):
    """What a connection's preflight check needs to know about the rest of the config."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: What the connection is used as: ``okrs``, ``items``, ``target``.
    roles: frozenset[str] = frozenset()
    #: Item keys linked to KRs that this source is asked for → where each is linked.
    item_keys: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    #: The rules whose query this source runs.
    queries: tuple[QueryCheck, ...] = ()
    #: Every status label okr-sync may write.
    status_labels: tuple[str, ...] = ()
    #: The fields the config asks this connection to hold (None: not a target).
    write: WriteSpec | None = None
    #: The measures of the KRs (``points_done``, ``sum:arr``, ...).
    measures: frozenset[str] = frozenset()
    #: The config file's name, for hints.
    config_file: str = "okr-sync.yaml"


@runtime_checkable
class Checkable(Protocol):
    """Optional: a preflight check of the connection against the live service (or files)."""

    name: str

    def check(self, context: CheckContext) -> list[CheckResult]:
        """Check credentials, access and shape; report every problem, never raise for one."""
        ...


OKR_FIELDS: frozenset[str] = frozenset(
    {"progress", "current", "status", "last_synced", "forecast", "forecast_range"}
)
OBJECTIVE_FIELDS: frozenset[str] = frozenset({"progress", "status", "last_synced"})


def okr_records(outcome: Outcome, spec: WriteSpec) -> list[Record]:
    """The default records for targets that hold KR and objective pages.

    Stale or failed KRs yield no record: nothing computed from partial data is
    written. ``current`` is never written for ``manual`` KRs (humans own it).
    ``forecast`` (P50, 0..1 like progress) and ``forecast_range`` ("62–81 %") are
    empty for a KR without a forecast.
    Progress is a 0..1 fraction rounded to 4 places so reruns compare equal.
    """
    records: list[Record] = []
    labels = outcome.status_labels
    synced = outcome.synced_on.isoformat()
    for kr in outcome.key_results:
        if not kr.writable or not spec.key_results:
            continue
        values: dict[str, Any] = {
            "progress": round(kr.progress or 0.0, 4),
            "status": labels[kr.status] if kr.status else None,
            "last_synced": synced,
        }
        if kr.measure != "manual" and kr.current is not None:
            values["current"] = round(kr.current, 4)
        # No forecast (too little history): the fields are cleared, never left at an old one.
        values["forecast"] = kr.forecast.p50 if kr.forecast else None
        values["forecast_range"] = kr.forecast.range_text if kr.forecast else ""
        fields = {f: values[f] for f in spec.key_results if f in values}
        records.append(
            Record(ref=RecordRef(kind="key_result", id=kr.kr_id), fields=fields, owner=kr.kr_id)
        )
    for obj in outcome.objectives:
        if not obj.writable or not spec.objectives:
            continue
        values = {
            "progress": round(obj.progress or 0.0, 4),
            "status": labels[obj.status] if obj.status else None,
            "last_synced": synced,
        }
        fields = {f: values[f] for f in spec.objectives if f in values}
        records.append(
            Record(
                ref=RecordRef(kind="objective", id=obj.objective_id),
                fields=fields,
                owner=obj.objective_id,
            )
        )
    return records


def resolve_path(path: str | Path, base_dir: Path) -> Path:
    """A config path, relative paths taken from the config file's folder."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else base_dir / p
