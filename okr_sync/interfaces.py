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
from typing import Annotated, Any, ClassVar, Protocol, runtime_checkable

from pydantic import AfterValidator, BaseModel, ConfigDict

from okr_sync.errors import AuthError
from okr_sync.models import (
    FieldValue,
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
    "ConnectorConfig",
    "ItemSource",
    "OkrSource",
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


OKR_FIELDS: frozenset[str] = frozenset({"progress", "current", "status", "last_synced"})
OBJECTIVE_FIELDS: frozenset[str] = frozenset({"progress", "status", "last_synced"})


def okr_records(outcome: Outcome, spec: WriteSpec) -> list[Record]:
    """The default records for targets that hold KR and objective pages.

    Stale or failed KRs yield no record: nothing computed from partial data is
    written. ``current`` is never written for ``manual`` KRs (humans own it).
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
