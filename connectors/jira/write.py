"""Writing KR state back onto Jira epics.

Logical fields of an epic record (``write: {jira: {items: [...]}}``):

- ``property``: the issue entity property (key ``okr-sync``) with, for each KR the
  epic serves, its id, title, progress, status and URL, plus the sync date;
- ``label``: the labels ``okr:<KR id>`` (added, never removed);
- ``remote_link``: a remote link to each KR page, upserted by ``globalId``
  ``okr-sync:<KR id>`` (idempotent);
- ``comment``: a comment when a KR's status changes. Comments are not
  idempotent, so the property keeps a receipt of the statuses already commented,
  and before posting, the epic's comments are searched for the change's marker:
  a retry or a rerun after a crash never posts it twice. The first sync of a KR
  records its status without commenting.

Every write ends with the property PUT, which also carries the receipts; an
epic whose values are unchanged gets no request at all. Edits use
``notifyUsers=false`` (Jira ignores it without admin rights).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from okr_sync.errors import WriteError
from okr_sync.interfaces import WriteSpec
from okr_sync.models import FieldValue, ItemKind, KrResult, Outcome, Record, RecordRef

if TYPE_CHECKING:
    from connectors.jira.config import JiraAccess

ITEM_FIELDS = frozenset({"property", "label", "remote_link", "comment"})
_RECEIPTS = ("remote_links", "commented", "comment_seq")  # bookkeeping kept in the property


def _marker(kr_id: str, status: str, seq: int) -> str:
    # Numbered per KR and epic, so the marker of one change is the same on every
    # retry or rerun (whatever the day), and differs from any earlier change.
    return f"[okr-sync:{kr_id}:{status}:#{seq}]"


class EpicWriter:
    """Builds, reads and writes epic records for one :class:`~connectors.jira.config.JiraAccess`."""

    def __init__(self, connector: JiraAccess) -> None:
        self.connector = connector
        self._desired: dict[RecordRef, dict[str, FieldValue]] = {}
        self._stored: dict[RecordRef, dict[str, Any]] = {}
        self._comments: dict[tuple[str, str], str] = {}
        self._day = ""

    # --- desired -------------------------------------------------------------------
    def desired(self, outcome: Outcome, spec: WriteSpec) -> list[Record]:
        """Records for the epics of this site linked to KRs.

        An epic serving a KR that is stale or failed gets no record at all:
        rewriting its property without that KR would publish partial data.
        """
        name = self.connector.name
        prefix = self.connector.config.label_prefix
        results = {r.kr_id: r for r in outcome.key_results}
        urls = {kr.id: kr.url for kr in outcome.tree.key_results}
        labels = outcome.status_labels
        by_epic: dict[str, list[KrResult]] = {}
        for link in outcome.links:
            if link.source == name and link.kind is ItemKind.EPIC and link.kr_id in results:
                by_epic.setdefault(link.item_key, []).append(results[link.kr_id])
        self._day = outcome.synced_on.isoformat()
        records = []
        for epic, krs in sorted(by_epic.items()):
            krs = sorted({k.kr_id: k for k in krs}.values(), key=lambda k: k.kr_id)
            if not all(k.writable for k in krs):
                continue
            status = {k.kr_id: labels[k.status] if k.status else "" for k in krs}
            fields: dict[str, FieldValue] = {}
            if "property" in spec.items:
                fields["property"] = {
                    "key_results": [
                        {"id": k.kr_id, "title": k.title, "progress": round(k.progress or 0.0, 4),
                         "status": status[k.kr_id], "url": urls.get(k.kr_id)}
                        for k in krs
                    ],
                }  # fmt: skip
            if "label" in spec.items:
                fields["label"] = sorted(f"{prefix}{k.kr_id}" for k in krs)
            if "remote_link" in spec.items:
                fields["remote_link"] = [
                    {"globalId": f"okr-sync:{k.kr_id}", "url": urls[k.kr_id], "title": f"{k.kr_id}: {k.title}"}
                    for k in krs if urls.get(k.kr_id)
                ]  # fmt: skip
            if "comment" in spec.items:
                fields["comment"] = status
                for k in krs:
                    self._comments[(epic, k.kr_id)] = _comment_text(k, status[k.kr_id])
            ref = RecordRef(kind="item", id=epic)
            self._desired[ref] = fields
            records.append(Record(ref=ref, fields=fields, owner=",".join(k.kr_id for k in krs)))
        return records

    # --- read ----------------------------------------------------------------------
    def read(self, refs: Sequence[RecordRef]) -> dict[RecordRef, dict[str, FieldValue]]:
        """Current values, from one batched search carrying the entity property."""
        keys = [r.id for r in refs if r.kind == "item"]
        prop = self.connector.config.property_key
        issues, _missing = self.connector.search_keys(set(keys), ["labels"], properties=prop)
        raw = {str(issue.get("key")): issue for issue in issues}
        out: dict[RecordRef, dict[str, FieldValue]] = {}
        for ref in refs:
            current = raw.get(ref.id)
            if current is None:
                out[ref] = {}
                continue
            found = (current.get("properties") or {}).get(prop)
            stored: dict[str, Any] = found if isinstance(found, dict) else {}
            self._stored[ref] = stored
            want = self._desired.get(ref, {})
            present = set((current.get("fields") or {}).get("labels") or ())
            values: dict[str, FieldValue] = {
                "property": _comparable(stored),
                # Only the labels okr-sync manages: an okr: label it would not add is not its business.
                "label": sorted(
                    present & set(want["label"])
                    if isinstance(want.get("label"), list)
                    else {x for x in present if x.startswith(self.connector.config.label_prefix)}
                ),
                "remote_link": stored.get("remote_links"),
                "comment": stored.get("commented"),
            }
            out[ref] = values
        return out

    # --- write -------------------------------------------------------------------------
    def write(self, ref: RecordRef, values: Mapping[str, FieldValue]) -> None:
        """Apply one epic's changes; the property (with receipts) goes last."""
        connector = self.connector
        session = connector.session()
        key = ref.id
        stored = dict(self._stored.get(ref, {}))
        base = session.client.server_url.rstrip("/") + f"/rest/api/2/issue/{key}"
        http = session.client._session
        if values.get("label"):
            body: dict[str, Any] = {
                "update": {"labels": [{"add": label} for label in values["label"]]}
            }
            connector.caller.call(
                f"PUT labels on {key}",
                http.put,
                f"{base}?notifyUsers=false",
                data=json.dumps(body),
                write=True,
            )
        if "remote_link" in values:
            for link in values["remote_link"] or []:
                body = {"globalId": link["globalId"], "relationship": "OKR",
                        "object": {"url": link["url"], "title": link["title"]}}  # fmt: skip
                connector.caller.call(
                    f"POST remote link on {key}",
                    http.post,
                    f"{base}/remotelink",
                    data=json.dumps(body),
                    write=True,
                )
            stored["remote_links"] = values["remote_link"]
        if "comment" in values:
            seq = dict(stored.get("comment_seq") or {})
            stored["commented"] = self._comment(
                key, base, http, stored.get("commented") or {}, values["comment"] or {}, seq
            )
            if seq:
                stored["comment_seq"] = seq
        prop = values.get("property")
        if prop is None:
            prop = {k: v for k, v in stored.items() if k not in _RECEIPTS}
        # The sync date is stamped on write, outside the compared value: a new day
        # alone never rewrites an epic, and any real change refreshes it.
        day = self._day or connector.clock().date().isoformat()
        document = {
            **prop,
            "synced_on": day,
            **{k: stored[k] for k in _RECEIPTS if k in stored},
        }
        text = json.dumps(document, sort_keys=True)
        if len(text) > 32768:
            raise WriteError(
                connector.name,
                f"the {connector.config.property_key} property of {key} would exceed 32768 characters",
            )
        connector.caller.call(
            f"PUT property on {key}", http.put, f"{base}/properties/{connector.config.property_key}",
            data=text, write=True,
        )  # fmt: skip
        self._stored[ref] = document

    def _comment(
        self,
        key: str,
        base: str,
        http: Any,
        commented: Mapping[str, str],
        wanted: Mapping[str, str],
        seq: dict[str, int],
    ) -> dict[str, str]:
        """Post one comment per KR whose status changed since the last comment (de-duplicated).

        ``seq`` (updated in place) numbers each KR's comments on this epic.
        """
        caller = self.connector.caller
        changed = {kr: s for kr, s in wanted.items() if commented.get(kr) not in (None, s)}
        if changed:
            existing = caller.call(
                f"GET comments on {key}",
                http.get,
                f"{base}/comment",
                params={"maxResults": 100, "orderBy": "-created"},
                write=True,
            )
            bodies = " ".join(str(c.get("body")) for c in (existing.json().get("comments") or []))
            for kr, status in sorted(changed.items()):
                seq[kr] = int(seq.get(kr, 0)) + 1
                marker = _marker(kr, status, seq[kr])
                if marker in bodies:
                    continue  # posted by an earlier attempt that did not record it
                text = f"{self._comments.get((key, kr), f'{kr}: {status}')}\n{marker}"
                caller.call(
                    f"POST comment on {key}", http.post, f"{base}/comment",
                    data=json.dumps({"body": text}), idempotent=False, write=True,
                )  # fmt: skip
        return {**commented, **wanted}


def _comparable(stored: Mapping[str, Any]) -> dict[str, Any] | None:
    """The stored property as the plan compares it: without receipts and sync date."""
    prop = {k: v for k, v in stored.items() if k not in (*_RECEIPTS, "synced_on")}
    return prop or None


def _comment_text(kr: KrResult, status: str) -> str:
    progress = f"{(kr.progress or 0) * 100:.0f} %"
    expected = (
        f" against {(kr.expected or 0) * 100:.0f} % of the period elapsed"
        if kr.expected is not None
        else ""
    )
    figures = ""
    if kr.done is not None and kr.total is not None:
        figures = f" ({kr.done:.0f} of {kr.total:.0f} {'points' if kr.measure == 'points_done' else 'items'} done)"
    return f"{kr.kr_id} {kr.title} is now {status}: {progress}{figures}{expected}."
