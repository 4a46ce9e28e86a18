"""The in-memory connector: the reference implementation of all three Protocols.

Tests build it directly (``MemoryConnector("mem", tree=..., items=...)``) or from
a config (``type: memory`` with inline ``objectives``, ``key_results``, ``items``).
It records every write, and can be told to fail, so tests can observe what the
engine does. It supports incremental pulls by ``updated`` time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator

from connectors._filters import query_problem
from connectors._select import select
from okr_sync.errors import SourceError, WriteError
from okr_sync.interfaces import (
    OBJECTIVE_FIELDS,
    OKR_FIELDS,
    ConnectorConfig,
    WriteSpec,
    okr_records,
)
from okr_sync.models import (
    WORK_ITEM,
    FieldValue,
    KeyResult,
    Objective,
    OkrTree,
    Outcome,
    PullRequest,
    PullResult,
    Record,
    RecordRef,
    WorkItem,
    measure_problem,
)


def _known_measure(kr: KeyResult) -> KeyResult:
    """A KR in the config file names a known measure (else a config error at its line)."""
    unknown = measure_problem(kr.measure) if kr.measure is not None else None
    if unknown:
        raise ValueError(f"{kr.id}: {unknown}")
    return kr


class MemoryConfig(ConnectorConfig):
    """Inline data for a memory connection (mostly for tests and examples).

    A KR's omitted ``start`` or ``target`` stays None, as from any source.
    """

    type: Literal["memory"] = "memory"
    objectives: tuple[Objective, ...] = ()
    key_results: tuple[Annotated[KeyResult, AfterValidator(_known_measure)], ...] = ()
    items: tuple[dict[str, Any], ...] = ()


class MemoryConnector:
    """OKR source, item source and write target held in memory."""

    config_model: ClassVar[type[ConnectorConfig]] = MemoryConfig
    offline: ClassVar[bool] = True
    writable_fields: ClassVar[Mapping[str, frozenset[str]]] = {
        "key_result": OKR_FIELDS,
        "objective": OBJECTIVE_FIELDS,
    }

    query_problem = staticmethod(query_problem)

    def __init__(
        self,
        name: str,
        config: ConnectorConfig | None = None,
        base_dir: Path | None = None,
        *,
        tree: OkrTree | None = None,
        items: Sequence[WorkItem] = (),
    ) -> None:
        self.name = name
        cfg = config if isinstance(config, MemoryConfig) else MemoryConfig()
        self.tree = tree or OkrTree(objectives=cfg.objectives, key_results=cfg.key_results)
        self.items: dict[str, WorkItem] = {}
        for raw in cfg.items:
            self.put(WORK_ITEM.validate_python({**raw, "source": name}))
        for item in items:
            self.put(item)
        self.records: dict[RecordRef, dict[str, FieldValue]] = {}
        self.writes: list[tuple[RecordRef, dict[str, FieldValue]]] = []
        self.pulls: list[PullRequest] = []
        #: Set to make the next pulls fail with this message.
        self.fail_pulls: str | None = None
        #: Record ids whose writes fail.
        self.fail_writes: set[str] = set()

    def put(self, item: WorkItem) -> None:
        """Add or replace an item (tests use this to simulate work)."""
        self.items[item.key] = item.replace(source=self.name)

    def remove(self, key: str) -> None:
        """Delete an item, as if it were deleted in the tool."""
        self.items.pop(key, None)

    # OkrSource
    def pull_okrs(self) -> OkrTree:
        """Return the OKR tree held in memory."""
        if self.fail_pulls:
            raise SourceError(self.name, self.fail_pulls)
        return self.tree

    # ItemSource
    def pull_items(self, request: PullRequest) -> PullResult:
        """Select items as :func:`connectors._select.select` does."""
        self.pulls.append(request)
        if self.fail_pulls:
            raise SourceError(self.name, self.fail_pulls)
        return select(self.name, list(self.items.values()), request, incremental=True)

    # WriteTarget
    def desired_records(self, outcome: Outcome, spec: WriteSpec) -> list[Record]:
        """KR and objective records (see :func:`okr_sync.interfaces.okr_records`)."""
        return okr_records(outcome, spec)

    def read_records(self, refs: Sequence[RecordRef]) -> dict[RecordRef, dict[str, FieldValue]]:
        """Current values; unknown records read as empty."""
        return {ref: dict(self.records.get(ref, {})) for ref in refs}

    def write_record(self, ref: RecordRef, values: Mapping[str, FieldValue]) -> None:
        """Store the values (one call per record), or fail if told to."""
        if ref.id in self.fail_writes:
            raise WriteError(self.name, f"write to {ref.id} refused (simulated failure)")
        self.records.setdefault(ref, {}).update(values)
        self.writes.append((ref, dict(values)))
