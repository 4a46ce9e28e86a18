"""The domain model shared by the engine, the connectors and the mapping layer.

Every model is a frozen pydantic v2 model: values flow one way through a run
(pull → link → compute → plan → apply) and nothing mutates them on the way.
Connectors and mappings may import this module, :mod:`okr_sync.interfaces`
and :mod:`okr_sync.errors`; nothing else of the engine.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter
from pydantic.dataclasses import dataclass as pydantic_dataclass

#: A value written to or read from a target field. Only JSON-compatible values
#: travel between the engine and the targets, so they can be stored and compared.
FieldValue = Any


class Frozen(BaseModel):
    """Base class: immutable, strict about unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


class StatusCategory(StrEnum):
    """Where a work item stands, normalised across tools (Jira's statusCategory)."""

    TODO = "todo"
    IN_PROGRESS = "in_progress"
    DONE = "done"


class ItemKind(StrEnum):
    """What a work item is: an epic (container), an issue, or a database row."""

    EPIC = "epic"
    ISSUE = "issue"
    ROW = "row"


class Status(StrEnum):
    """A key result's or objective's status, compared against elapsed time."""

    NOT_STARTED = "not_started"
    ON_TRACK = "on_track"
    AT_RISK = "at_risk"
    OFF_TRACK = "off_track"
    ACHIEVED = "achieved"


DEFAULT_STATUS_LABELS: dict[Status, str] = {
    Status.NOT_STARTED: "Not started",
    Status.ON_TRACK: "On track",
    Status.AT_RISK: "At risk",
    Status.OFF_TRACK: "Off track",
    Status.ACHIEVED: "Achieved",
}


class Direction(StrEnum):
    """Whether a KR's number should go up or down."""

    INCREASE = "increase"
    DECREASE = "decrease"


#: Measures whose progress is a share of linked work (done ÷ all); README "How numbers are computed".
RATIO_MEASURES = frozenset({"issues_done", "points_done", "initiatives_done"})
#: Measures that yield a current value; progress is (current − start) ÷ (target − start).
VALUE_MEASURES = frozenset({"count", "count:done", "manual"})


def measure_problem(name: str) -> str | None:
    """Why ``name`` is not a measure okr-sync knows, or None when it is one.

    Lives in the contract so an OKR source (a YAML file, a Notion select) can reject
    a typo where it reads it, with its line, instead of computing the wrong measure.
    """
    if name in RATIO_MEASURES or name in VALUE_MEASURES:
        return None
    if name.startswith("sum:") and len(name) > 4:
        return None
    allowed = ", ".join(sorted(RATIO_MEASURES | VALUE_MEASURES))
    return f"unknown measure {name!r}; use one of {allowed} or sum:<field>"


class ItemRef(Frozen):
    """A reference from a KR to a work item, e.g. an epic key listed on the KR page."""

    key: str
    source: str | None = Field(
        default=None, description="Item source name; None means any item source."
    )


#: A number a source gives: NaN or ±infinity would poison every sum and ratio it enters,
#: so a source must turn them into "no value" or an error naming the record.
Finite = Annotated[float, Field(allow_inf_nan=False)]


class Objective(Frozen):
    """An objective; ``parent_id`` builds the cascade (company → team)."""

    id: str
    title: str
    owner: str | None = None
    parent_id: str | None = None
    period_start: dt.date | None = None
    period_end: dt.date | None = None
    weight: float = Field(default=1.0, ge=0, allow_inf_nan=False)
    url: str | None = None


class KeyResult(Frozen):
    """A key result as its OKR source holds it.

    ``current`` is the value a human (or the last sync) put on the KR; okr-sync
    reads it only for the ``manual`` measure. ``measure`` is the source's own
    choice and may be overridden in the config. ``start`` and ``target`` are None
    when the source has none: no default stands in for them, and a KR whose
    measure needs them fails with the reason (README "How numbers are computed").
    """

    id: str
    title: str
    objective_id: str | None = None
    start: Finite | None = None
    target: Finite | None = None
    current: Finite | None = None
    unit: str | None = None
    direction: Direction | None = None
    period_start: dt.date | None = None
    period_end: dt.date | None = None
    weight: float = Field(default=1.0, ge=0, allow_inf_nan=False)
    measure: str | None = None
    links: tuple[ItemRef, ...] = ()
    url: str | None = None
    #: Why this KR cannot be computed (set by its source), or None.
    problem: str | None = None


class OkrTree(Frozen):
    """Everything an OKR source yields: objectives and their key results."""

    objectives: tuple[Objective, ...] = ()
    key_results: tuple[KeyResult, ...] = ()


@pydantic_dataclass(frozen=True, slots=True, config=ConfigDict(extra="forbid"))
class WorkItem:
    """One unit of work pulled from an item source (a Jira issue, a Notion row).

    ``kr_refs`` holds KR ids that the tool itself links the item to (a custom
    field, a relation); labels such as ``okr:KR-7`` are read by the mapping
    layer. ``selectors`` names the query selectors (rule ids) that matched the
    item at its source, because only the source can evaluate its own queries.

    A validated, frozen pydantic *dataclass* with slots rather than a
    ``BaseModel``: a run can hold half a million items, and this form takes
    about a third of the memory (no per-instance ``__dict__`` or fields-set).
    Use :data:`WORK_ITEM` to validate or dump it and :meth:`replace` to copy it.
    """

    source: str
    key: str
    title: str = ""
    kind: ItemKind = ItemKind.ISSUE
    parent_key: str | None = None
    status_category: StatusCategory = StatusCategory.TODO
    story_points: Finite | None = None
    fields: dict[str, Finite | None] = Field(default_factory=dict)
    labels: tuple[str, ...] = ()
    kr_refs: tuple[str, ...] = ()
    selectors: tuple[str, ...] = ()
    updated: dt.datetime | None = None
    url: str | None = None

    def replace(self, **changes: Any) -> WorkItem:
        """A validated copy with some fields changed."""
        return dataclasses.replace(self, **changes)


#: Validates and serialises :class:`WorkItem` (from dicts and JSON, to JSON).
WORK_ITEM: TypeAdapter[WorkItem] = TypeAdapter(WorkItem)


# --- selectors: what the engine asks an item source for ------------------------


class QuerySelector(Frozen):
    """A source-specific query (JQL string, Notion filter, simple field filter).

    ``count_only``: the engine needs only how many items match (a ``count`` KR
    linked by this one query), so the source may answer with a count in
    ``PullResult.counts`` instead of the items (Jira Cloud: approximate-count).
    """

    id: str
    query: str | dict[str, Any]
    count_only: bool = False


class PullRequest(Frozen):
    """What an item source should return in one pull.

    The source returns every item matching any selector, and for every epic it
    returns, the epic's direct children (so progress can be computed from them).
    ``cursor`` is the value the source returned last time (None: pull in full).
    With a cursor, ``known_epics`` lists the epics already in the item cache, so
    a source can ask for their changed children without re-reading the epics, and
    ``cached_keys`` lists every item the cache holds, so a source can fetch in full
    the items that joined the selection without changing (see :class:`PullResult`).
    """

    keys: frozenset[str] = frozenset()
    queries: tuple[QuerySelector, ...] = ()
    labels: frozenset[str] = frozenset()
    kr_ids: frozenset[str] = frozenset()
    label_prefix: str = "okr:"
    cursor: str | None = None
    known_epics: frozenset[str] = frozenset()
    cached_keys: frozenset[str] = frozenset()


class PullResult(Frozen):
    """What an item source returned.

    ``incremental`` means ``items`` holds only what changed since the cursor and
    must be merged into the cached items; otherwise it is the whole set.
    An incremental result must carry ``members``: the key of every item in the
    whole selection now (roots and children, as a full pull would return them).
    The engine drops cached items that are no longer members, so an item that
    left the selection (a label removed, moved to another epic, deleted) stops
    counting at once; and ``items`` must hold every member that is not in the
    request's ``cached_keys``, so cache and result together are exactly what a
    full pull would return. An incremental result without ``members`` fails the
    source for that run (the engine cannot tell what left).
    ``missing_keys`` lists requested keys that the source does not have.
    ``failed_selectors`` maps a query selector (rule id) whose query the source could
    not run (a JQL typo) to the reason: only the KRs of that rule fail, the rest of
    the pull stands. The source returns none of that selector's items, and leaves
    out of ``members`` whatever only it selected, so nothing counts from the cache.
    """

    items: tuple[WorkItem, ...] = ()
    cursor: str | None = None
    incremental: bool = False
    members: frozenset[str] | None = None
    missing_keys: frozenset[str] = frozenset()
    counts: dict[str, int] = Field(default_factory=dict)
    failed_selectors: dict[str, str] = Field(default_factory=dict)
    description: str = ""


# --- linking ------------------------------------------------------------------


class LinkOrigin(StrEnum):
    """Where a link between an item and a KR was declared."""

    RULE = "rule"
    KR_PROPERTY = "kr_property"
    ITEM = "item"


@dataclass(frozen=True, slots=True)
class Link:
    """One item linked to one KR as an initiative, with where the link came from.

    A frozen slotted dataclass, not a model: :func:`mappings.link` makes one per item
    and KR (tens of thousands a run) from values already validated (the item's own,
    a :class:`LinkOrigin`, a text it writes), where validating again would be a tenth
    of the link phase.
    """

    kr_id: str
    item_key: str
    source: str
    origin: LinkOrigin
    detail: str = ""
    kind: ItemKind = ItemKind.ISSUE


# --- results ------------------------------------------------------------------


@dataclass(slots=True, unsafe_hash=True)
class Exclusion:
    """An item that was looked at but not counted, and why (see :class:`CountedItem`)."""

    key: str
    reason: str


@dataclass(slots=True, unsafe_hash=True)
class CountedItem:
    """An item counted towards a KR, with what it contributed.

    ``title`` is the item's title when the run saw it, so ``explain`` can name a
    Notion row by its title rather than its page id.

    A slotted dataclass, not a frozen one: a run makes one per counted item of every
    KR (a third of a million at 5,000 KRs), and a frozen dataclass sets each field
    through ``object.__setattr__``, which made a fifth of the compute. Treat it as
    frozen all the same: nothing changes one once made (a :class:`Provenance` holds
    them in tuples), and it hashes by its values (``unsafe_hash``) so that the frozen
    models holding it stay hashable.
    """

    key: str
    done: bool
    value: float = 1.0
    source: str = ""
    title: str = ""


class Provenance(Frozen):
    """How a KR's number was obtained: enough to explain it to a human."""

    selectors: tuple[str, ...] = ()
    counted: tuple[CountedItem, ...] = ()
    excluded: tuple[Exclusion, ...] = ()
    unestimated: tuple[str, ...] = ()
    shared: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


class Forecast(Frozen):
    """A KR's progress forecast at its period end (0..1, as written), with its range.

    ``p10``/``p50``/``p90``: the 10th, 50th and 90th percentiles of the simulated
    progress at period end (``okr_sync.core.forecast`` documents the method);
    ``range_text`` is what is written as ``forecast_range`` ("62–81 %");
    ``history_days`` the days of history it rests on, ``horizon_days`` the days left.
    """

    p10: float
    p50: float
    p90: float
    range_text: str
    history_days: int
    horizon_days: int


class KrResult(Frozen):
    """The computed state of one key result in one run.

    ``progress`` is 0..1, rounded to the 4 decimal places that are written (never
    up to 1), and ``status`` is judged from that very value, so what is written, the status
    and ``explain`` agree; ``expected`` is the elapsed share of the period
    (rounded to 4 places). A stale or failed KR carries no numbers that may be
    written; ``error`` says why. ``skipped`` says why nothing was computed
    although nothing failed (nothing linked yet, no Current entered for a manual
    KR): nothing is written for such a KR either. ``closed`` says its period has
    ended: its numbers are the final ones recorded, and nothing more is written.
    """

    kr_id: str
    title: str
    measure: str
    start: float | None = None
    target: float | None = None
    unit: str | None = None
    current: float | None = None
    done: float | None = None
    total: float | None = None
    progress: float | None = None
    expected: float | None = None
    status: Status | None = None
    stale: bool = False
    error: str | None = None
    skipped: str | None = None
    #: Why nothing more is written: the KR's period has ended (its numbers are the final ones).
    closed: str | None = None
    provenance: Provenance = Provenance()
    #: The KR's period (its own, its objective's or the cycle's), kept with the run so
    #: that ``okr-sync report`` can draw the expected pace without the OKR source.
    period_start: dt.date | None = None
    period_end: dt.date | None = None
    #: The progress forecast at period end, or None; ``forecast_note`` then says why.
    forecast: Forecast | None = None
    forecast_note: str | None = None

    @property
    def writable(self) -> bool:
        """True when the numbers may be written back."""
        return (
            not self.stale
            and self.error is None
            and self.progress is not None
            and self.closed is None
        )


class ObjectivePart(Frozen):
    """One unit of an objective's roll-up: one of its KRs or child objectives.

    ``progress`` is the value the weighted mean used (None: unknown, which makes
    the objective stale); ``note`` says why it is not this run's own number (a
    KR's last recorded progress stood in, or why none is known).
    """

    kind: Literal["key_result", "objective"]
    id: str
    title: str = ""
    weight: float = 1.0
    progress: float | None = None
    note: str = ""


class ObjectiveResult(Frozen):
    """The rolled-up state of one objective.

    ``notes`` say where the roll-up stood in for a KR it could not compute this
    run (the KR's last recorded progress, and why). ``parts`` are its KRs and
    child objectives with their weights and the progress each contributed, as
    recorded with the run for ``okr-sync explain``.
    """

    objective_id: str
    title: str
    progress: float | None = None
    expected: float | None = None
    status: Status | None = None
    stale: bool = False
    error: str | None = None
    notes: tuple[str, ...] = ()
    parts: tuple[ObjectivePart, ...] = ()

    @property
    def writable(self) -> bool:
        """True when the numbers may be written back."""
        return not self.stale and self.error is None and self.progress is not None


class Outcome(Frozen):
    """Everything a run computed, handed to write targets to derive their records."""

    tree: OkrTree
    key_results: tuple[KrResult, ...]
    objectives: tuple[ObjectiveResult, ...]
    links: tuple[Link, ...]
    status_labels: dict[Status, str]
    synced_on: dt.date


# --- records, plans and summaries ----------------------------------------------

RecordKind = Literal["key_result", "objective", "item"]


class RecordRef(Frozen):
    """A page or issue in a write target: what okr-sync writes to."""

    kind: RecordKind
    id: str


class Record(Frozen):
    """The values okr-sync wants a record to hold. ``owner`` is the KR or objective id."""

    ref: RecordRef
    fields: dict[str, FieldValue]
    owner: str


class ChangeAction(StrEnum):
    """What the plan does with a field."""

    WRITE = "write"
    OVERWRITE = "overwrite"
    SKIP = "skip"


class FieldChange(Frozen):
    """One field of one record whose value will (or, on a conflict, would) change."""

    target: str
    ref: RecordRef
    owner: str
    field: str
    before: FieldValue = None
    after: FieldValue = None
    last_written: FieldValue = None
    conflict: bool = False
    action: ChangeAction = ChangeAction.WRITE


class Plan(Frozen):
    """All field changes of a run; applying it needs no further decisions."""

    changes: tuple[FieldChange, ...] = ()

    def writes(self) -> dict[tuple[str, RecordRef], list[FieldChange]]:
        """Changes to apply, grouped into one write per target record."""
        grouped: dict[tuple[str, RecordRef], list[FieldChange]] = {}
        for change in self.changes:
            if change.action is not ChangeAction.SKIP:
                grouped.setdefault((change.target, change.ref), []).append(change)
        return grouped

    @property
    def conflicts(self) -> tuple[FieldChange, ...]:
        """Changes where a human edited the field since okr-sync last wrote it."""
        return tuple(c for c in self.changes if c.conflict)


class WriteFailure(Frozen):
    """A write that failed, with the KR or objective it belonged to."""

    target: str
    ref: RecordRef
    owner: str
    error: str


class RunSummary(Frozen):
    """What a run did, as shown by ``sync --json`` and stored in the state store."""

    run_id: int | None = None
    started_at: dt.datetime
    finished_at: dt.datetime | None = None
    dry_run: bool = False
    key_results: tuple[KrResult, ...] = ()
    objectives: tuple[ObjectiveResult, ...] = ()
    plan: Plan = Plan()
    writes: int = 0
    failures: tuple[WriteFailure, ...] = ()
    source_errors: dict[str, str] = Field(default_factory=dict)
    shared_items: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    notes: tuple[str, ...] = ()
    #: A stop was requested during the writes: some planned writes were not started.
    stopped_early: bool = False

    @property
    def failed(self) -> tuple[str, ...]:
        """Ids of KRs and objectives that failed or were stale, plus failed writes."""
        ids = [r.kr_id for r in self.key_results if r.error or r.stale]
        ids += [o.objective_id for o in self.objectives if o.error]
        ids += [f.owner for f in self.failures]
        return tuple(dict.fromkeys(ids))


# --- change history (``okr-sync backfill``) ------------------------------------------

#: The item fields whose history can be replayed, by what ``ItemChange.field`` calls them.
REPLAYED_FIELDS = ("status_category", "parent_key", "story_points", "labels")


class ItemChange(Frozen):
    """One field of one item changing at ``at``: ``before`` → ``after``.

    ``field`` is one of :data:`REPLAYED_FIELDS`; values are what a :class:`WorkItem`
    holds there (a status category, a parent key or None, points or None, a
    tuple of labels).
    """

    at: dt.datetime
    field: Literal["status_category", "parent_key", "story_points", "labels"]
    before: Any = None
    after: Any = None


class ItemHistory(Frozen):
    """An item's creation time and its changes to the replayed fields, oldest first."""

    source: str
    key: str
    created: dt.datetime | None = None
    changes: tuple[ItemChange, ...] = ()


class HistoryRequest(Frozen):
    """What a backfill asks a history-capable item source for.

    ``items`` are the source's items as the normal pull found them now; ``since``
    is the first moment to replay. The source adds the items that were linked
    earlier and left since (moved out of a linked epic, a linked label removed):
    ``epics`` are the linked epic keys, ``labels`` the labels that link.
    """

    items: tuple[WorkItem, ...] = ()
    since: dt.datetime
    epics: frozenset[str] = frozenset()
    labels: frozenset[str] = frozenset()
    label_prefix: str = "okr:"


class HistoryResult(Frozen):
    """Histories of the items asked about and of former members, with their items now.

    ``former`` are items no longer selected today that were linked since ``since``;
    ``histories`` covers every item of ``request.items`` and ``former``.
    ``requests`` counts the changelog requests made (for the figures).
    """

    former: tuple[WorkItem, ...] = ()
    histories: tuple[ItemHistory, ...] = ()
    notes: tuple[str, ...] = ()
    requests: int = 0
