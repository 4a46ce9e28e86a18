"""Writing computed values onto Notion KR and objective pages.

Logical fields map to the configured properties: ``progress`` (a number, written
as a 0..1 fraction so a percent format shows it right), ``current``,
``status`` (a status or select property, by option name), ``last_synced`` (a
date) and, for KRs, ``forecast`` (a number, 0..1 like progress), ``forecast_range``
(text, "62–81 %") and ``comment``: a check-in comment when the KR's status
changes, with the figures behind it. Comments are not idempotent (DOCS
``create-a-comment``; notion-client retries a refused POST): each carries a marker
naming the change (``[okr-sync:KR-1:On track→At risk]``), and before posting, the
page's comments are listed: when the *latest* okr-sync marker on the page is
this very change, it was announced already — by an attempt whose PATCH failed
or never ran (the comment goes first, so a run that dies in between leaves its
marker), even if a human edited the page since — and nothing is posted. The
same change made again later (On track → At risk → On track → At risk) follows
another marker, so it is announced again: at most one check-in per change.

Writes run a few at a time (:mod:`okr_sync.engine.inflight`), never two on one
page: a page's comment still goes before its PATCH. Status labels are checked
against the options before anything is planned; when the schema is one kept from
an earlier run (:mod:`connectors.notion.schemas`), it is read again before the
first write of the run and every label is checked once more, so a label whose
option was deleted since stops the writes before any is made.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from connectors.notion.values import number, plain, write_value
from okr_sync.errors import OkrSyncError, WriteError
from okr_sync.interfaces import WriteSpec, okr_records
from okr_sync.models import FieldValue, KrResult, Outcome, Record, RecordRef

if TYPE_CHECKING:
    from connectors.notion.access import NotionAccess
    from connectors.notion.okrs import Schema

FIELD_TO_LOGICAL = {"progress": "progress", "current": "current", "status": "status",
                    "last_synced": "last_synced", "forecast": "forecast",
                    "forecast_range": "forecast_range"}  # fmt: skip
READ_ONLY = frozenset({"formula", "rollup"})


def missing_status_options(schema: Schema, labels: Iterable[str]) -> list[str]:
    """Status labels that the Status property has no option for (none if there is no Status).

    The API cannot create status options (and a select would silently gain one),
    so every label okr-sync writes must already be an option.
    """
    if not schema.kind("status"):
        return []
    options = schema.options("status")
    return sorted({label for label in labels if label not in options})


class PageWriter:
    """Builds, reads and writes page records for one :class:`~connectors.notion.access.NotionAccess`."""

    def __init__(self, connector: NotionAccess) -> None:
        self.connector = connector
        self.notes: list[str] = []
        self.comment = False
        self._text: dict[str, str] = {}
        #: Status labels the plan may write, by record kind (checked before the first write).
        self._labels: dict[str, set[str]] = {}
        self._confirmed = False
        self._blocked: str | None = None
        self._lock = threading.Lock()

    def _schema(self, kind: str, *, fresh: bool = False) -> Schema:
        cfg = self.connector.config
        ref = cfg.key_results if kind == "key_result" else cfg.objectives
        names = cfg.key_result_properties if kind == "key_result" else cfg.objective_properties
        role = "Key Results" if kind == "key_result" else "Objectives"
        if not ref:
            raise WriteError(
                self.connector.name, f"no {role.lower()} database is configured to write to"
            )
        read = self.connector.fresh_schema if fresh else self.connector.schema
        return read(ref, role, names)

    def desired(self, outcome: Outcome, spec: WriteSpec) -> list[Record]:
        """Records per page, only with writable properties; unknown status labels stop everything.

        Raises:
            WriteError: a configured property is missing or a status label is not an option.
        """
        self.notes = []
        self._labels = {}
        self._confirmed = False
        self._blocked = None
        records = okr_records(outcome, spec)
        # A check-in comment is not a field of its own: it goes with a status change.
        self.comment = "comment" in spec.key_results
        for kr in outcome.key_results if self.comment else ():
            if kr.status is not None:
                self._text[kr.kr_id] = _check_in(kr, outcome.status_labels[kr.status])
        problems: list[str] = []
        for kind in ("key_result", "objective"):
            fields = spec.key_results if kind == "key_result" else spec.objectives
            if not fields:
                continue
            schema = self._schema(kind)
            for field in fields:
                if field == "comment":
                    continue
                logical = FIELD_TO_LOGICAL[field]
                prop_kind = schema.kind(logical)
                if prop_kind is None:
                    problems.append(f"the {schema.database} database has no property for {field}")
                elif prop_kind in READ_ONLY:
                    self.notes.append(
                        f"{schema.database}: {schema.resolved[logical]!r} is a {prop_kind} in Notion, "
                        f"so okr-sync does not write {field} there and lets Notion compute it"
                    )
            labels = {
                r.fields["status"] for r in records if r.ref.kind == kind and r.fields.get("status")
            }
            if "status" not in fields:
                continue
            self._labels[kind] = labels
            if missing_status_options(schema, labels):  # perhaps added since the schema was kept
                schema = self._schema(kind, fresh=True)
            unknown = missing_status_options(schema, labels)
            if unknown:
                problems.append(_missing(schema, unknown))
        if problems:
            raise WriteError(
                self.connector.name, "; ".join(problems) + " — nothing was written to Notion"
            )
        return [self._writable(r) for r in records]

    def _writable(self, record: Record) -> Record:
        schema = self._schema(record.ref.kind)
        keep = {
            f: v
            for f, v in record.fields.items()
            if schema.kind(FIELD_TO_LOGICAL[f]) not in READ_ONLY
        }
        return record.model_copy(update={"fields": keep})

    def read(self, refs: Sequence[RecordRef]) -> dict[RecordRef, dict[str, FieldValue]]:
        """Values from the pages read this run (no extra request)."""
        out: dict[RecordRef, dict[str, FieldValue]] = {}
        for ref in refs:
            page = self.connector.pages.get(ref)
            if page is None:
                out[ref] = {}
                continue
            schema = self._schema(ref.kind)
            values: dict[str, FieldValue] = {}
            for field, logical in FIELD_TO_LOGICAL.items():
                name = schema.resolved.get(logical)
                if not name:
                    continue
                prop = page["properties"].get(name) or {}
                if logical in ("progress", "current", "forecast"):
                    values[field] = number(prop)
                elif logical == "last_synced":
                    raw = plain(prop)
                    values[field] = raw[:10] if isinstance(raw, str) else None
                else:
                    values[field] = plain(prop)
            out[ref] = values
        return out

    def confirm(self) -> None:
        """Before the first write: every status label against the options Notion has now.

        Thread-safe and done once per plan; a label with no option (or a schema that
        cannot be read) blocks every write of the run, before any is made.
        """
        with self._lock:
            if self._confirmed:
                return
            problems: list[str] = []
            try:
                for kind, labels in self._labels.items():
                    schema = self._schema(kind, fresh=True)  # no request if read this run
                    unknown = missing_status_options(schema, labels)
                    if unknown:
                        problems.append(_missing(schema, unknown))
            except OkrSyncError as exc:
                problems.append(f"reading the status options before writing failed: {exc}")
            if problems:
                self._blocked = "; ".join(problems) + " — nothing was written to Notion"
            self._confirmed = True

    def write(self, ref: RecordRef, values: Mapping[str, FieldValue]) -> None:
        """Comment first (de-duplicated), then one PATCH with every changed property."""
        connector = self.connector
        self.confirm()
        if self._blocked:
            raise WriteError(connector.name, self._blocked)
        page = connector.pages.get(ref)
        if page is None:
            raise WriteError(connector.name, f"no Notion page for {ref.id}")
        schema = self._schema(ref.kind)
        if self.comment and ref.kind == "key_result" and values.get("status"):
            before = plain(page["properties"].get(schema.resolved.get("status", "")) or {})
            if before and before != values["status"]:  # a change, not the first sync
                self._comment(ref.id, page, str(before), str(values["status"]))
        properties: dict[str, Any] = {}
        for field, value in values.items():
            name = schema.resolved.get(FIELD_TO_LOGICAL[field], "")
            if name not in schema.properties:  # gone since the pages were read
                raise WriteError(connector.name, f"the {schema.database} database has no "
                                 f"property for {field} any more; {ref.id} was not written")  # fmt: skip
            kind = str(schema.properties[name]["type"])
            properties[name] = write_value(kind, value, database=schema.database, name=name)
        if properties:
            updated = connector.caller.call(
                f"PATCH the page of {ref.id}", connector.client().pages.update, str(page["id"]),
                properties=properties, write=True,
            )  # fmt: skip
            if isinstance(updated, dict) and "properties" in updated:
                connector.pages[ref] = updated

    def _comment(self, kr_id: str, page: Mapping[str, Any], before: str, after: str) -> None:
        """Post the check-in unless the KR's latest check-in already announced this change."""
        connector = self.connector
        page_id = str(page["id"])
        marker = f"[okr-sync:{kr_id}:{before}→{after}]"
        ours = re.compile(rf"\[okr-sync:{re.escape(kr_id)}:[^\]]*\]")
        client = connector.client()
        cursor: str | None = None
        seen: set[str] = set()
        latest: tuple[str, int, str] | None = None  # (created_time, position, marker)
        position = 0
        while True:
            kwargs = {
                "block_id": page_id,
                "page_size": 100,
                **({"start_cursor": cursor} if cursor else {}),
            }
            listed = connector.caller.call(
                f"list comments of {kr_id}", client.comments.list, write=True, read=True, **kwargs
            )
            for comment in listed.get("results") or ():
                text = "".join(t.get("plain_text", "") for t in comment.get("rich_text") or ())
                # Listed "in ascending chronological order" (DOCS comment-object);
                # created_time is floored to the minute, so among equal times the
                # later one in the list is the newer.
                position += 1
                for found in ours.findall(text):
                    key = (str(comment.get("created_time") or ""), position, found)
                    latest = key if latest is None or key > latest else latest
            cursor = listed.get("next_cursor") if listed.get("has_more") else None
            if not cursor:
                break
            if cursor in seen:  # trusting it would list the same page forever
                raise WriteError(
                    connector.name, f"list comments of {kr_id}: Notion repeated a cursor"
                )
            seen.add(cursor)
        if latest is not None and latest[2] == marker:
            return  # announced by an earlier attempt whose status write did not land
        text = f"{self._text.get(kr_id, f'{kr_id}: {after}')} {marker}"
        connector.caller.call(
            f"comment on {kr_id}", client.comments.create, parent={"page_id": page_id},
            rich_text=[{"type": "text", "text": {"content": text[:2000]}}], idempotent=False, write=True,
        )  # fmt: skip


def _missing(schema: Schema, unknown: Sequence[str]) -> str:
    return (
        f"the {schema.database} database's {schema.resolved['status']!r} has no option "
        f"{', '.join(map(repr, unknown))} (it has: {', '.join(schema.options('status')) or 'none'}); "
        "add the option in Notion or map the label under status.labels in the config"
    )


def _check_in(kr: KrResult, label: str) -> str:
    """E.g. "At risk: 12 of 40 issues done, 30 % against 55 % of the period elapsed"."""
    parts = [f"{label}:"]
    if kr.done is not None and kr.total is not None:
        unit = "points" if kr.measure == "points_done" else "items"
        parts.append(f"{kr.done:.0f} of {kr.total:.0f} {unit} done,")
    parts.append(f"{(kr.progress or 0) * 100:.0f} %")
    if kr.expected is not None:
        parts.append(f"against {kr.expected * 100:.0f} % of the period elapsed")
    return " ".join(parts)
