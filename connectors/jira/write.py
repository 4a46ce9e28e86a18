"""Writing KR state back onto Jira epics: only the fields named under ``write:``.

Logical fields of an epic record (``write: {jira: {items: [...]}}``):

- ``property``: the issue entity property (key ``okr-sync``) with, for each KR the
  epic serves, its id, title, progress, status and URL, plus the sync date; with
  ``forecast`` and ``forecast_range`` named too, each KR's forecast at period end
  (P50, 0..1; None without one) and its range ("62–81 %"; empty without one) — they
  are keys of the property, not fields of their own, so they need ``property``;
- ``label``: the labels ``okr:<KR id>`` (added, never removed);
- ``remote_link``: a remote link to each KR page, upserted by ``globalId``
  ``okr-sync:<KR id>`` (idempotent);
- ``comment``: a check-in comment when the epic is first linked to a KR and whenever
  the KR's status changes, at most once per change.

Nothing else is touched: an epic gets requests only for the fields named, and only
when their values change. What the plan compares each field with, and why:

- ``property`` and ``label``: the epic's own values, read with one batched search.
- ``remote_link``: okr-sync's links on the epic. When ``property`` is named too, the
  property keeps the list okr-sync last wrote (one search reads it for every epic);
  otherwise the links are read from the epic (``GET …/remotelink``, one per epic), as
  writing the property would touch a field nobody named.
- ``comment``: the comments themselves. Each check-in ends with a marker
  ``[okr-sync:<KR id>:<status>:#<n>]``, numbered per KR and epic; the latest marker of
  a KR is the status okr-sync last announced there. That receipt lives in the one
  place a comment cannot be without, so it survives any order of failures: a comment
  posted whose answer was lost, a later write that failed, humans editing the epic or
  adding any number of comments (the comments are read in full, not only the newest
  page). A new comment is posted only when the latest marker says another status, so
  a change is announced once. The comments come with the same batched search (the
  ``comment`` field); an epic whose comment list is longer than the search shows is
  read page by page.

Label edits ask for ``notifyUsers=false``; Jira refuses the whole edit (403 "To discard
the user notification either admin or project admin permissions are required") when
the API user is no (project) admin, so on that answer the edit is sent again without
it, and the connector stops asking for the rest of the run.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from connectors.jira.client import get_json
from okr_sync.errors import OkrSyncError, WriteError
from okr_sync.interfaces import WriteSpec
from okr_sync.models import FieldValue, ItemKind, KrResult, Outcome, Record, RecordRef

if TYPE_CHECKING:
    from connectors.jira.config import JiraAccess

#: Keys each KR's entry in the property gains when named too (``items: [property, forecast]``).
PROPERTY_EXTRAS = frozenset({"forecast", "forecast_range"})
ITEM_FIELDS = frozenset({"property", "label", "remote_link", "comment"}) | PROPERTY_EXTRAS
#: Bookkeeping kept in the property (only when the property itself is named).
_RECEIPTS = ("remote_links",)
#: Keys earlier versions kept in the property; dropped when it is next written.
_OLD_RECEIPTS = ("commented", "comment_seq")
# The marker is read back however Jira renders it: as posted, with its brackets escaped
# (``\[…\]``), or as a link (``[text|okr-sync:…]``) — on Cloud the body is stored as ADF
# and turned back into wiki markup, where square brackets are link syntax.
_MARKER = re.compile(
    r"\\?\[(?:[^\]|]*\|)?okr-sync:(?P<kr>[^:\]|\\]+):(?P<status>[^\]|\\]*):#(?P<seq>\d+)"
    r"(?:\|[^\]]*)?\\?\]"
)
_COMMENT_PAGE = 100  # Cloud serves at most 100 comments a page (maxResults=1000 echoes 100)


def _marker(kr_id: str, status: str, seq: int) -> str:
    # Numbered per KR and epic, so the marker of one change is the same on every
    # retry or rerun (whatever the day), and differs from any earlier change.
    return f"[okr-sync:{kr_id}:{status}:#{seq}]"


@dataclass(frozen=True)
class Announced:
    """The latest check-in of one KR on one epic."""

    status: str
    seq: int


def latest_markers(bodies: Sequence[Any]) -> dict[str, Announced]:
    """Per KR, the highest-numbered marker among comment bodies."""
    out: dict[str, Announced] = {}
    for text in bodies:
        for found in _MARKER.finditer(str(text)):
            kr, seq = found["kr"], int(found["seq"])
            if kr not in out or seq > out[kr].seq:
                out[kr] = Announced(found["status"], seq)
    return out


class EpicWriter:
    """Builds, reads and writes epic records for one :class:`~connectors.jira.config.JiraAccess`."""

    def __init__(self, connector: JiraAccess) -> None:
        self.connector = connector
        self._desired: dict[RecordRef, dict[str, FieldValue]] = {}
        self._stored: dict[RecordRef, dict[str, Any]] = {}
        self._announced: dict[RecordRef, dict[str, Announced]] = {}
        self._comments: dict[tuple[str, str], KrResult] = {}
        #: The fields named under ``write:`` (set by :meth:`desired`, which a run calls first).
        self._named: frozenset[str] = ITEM_FIELDS
        self._day = ""
        #: Whether edits still ask Jira not to notify watchers (needs admin rights).
        self._quiet = True

    def _edit(self, key: str, base: str, http: Any, body: dict[str, Any]) -> None:
        """PUT an issue edit, quietly where the API user may ask for that."""
        caller = self.connector.caller
        data = json.dumps(body)
        if self._quiet:
            try:
                caller.call(f"PUT labels on {key}", http.put, f"{base}?notifyUsers=false",
                            data=data, write=True)  # fmt: skip
                return
            except OkrSyncError as exc:
                if "notification" not in str(exc).lower():
                    raise
                self._quiet = False  # not an admin: Jira refused the flag, not the edit
        caller.call(f"PUT labels on {key}", http.put, base, data=data, write=True)

    # --- desired -------------------------------------------------------------------
    def desired(self, outcome: Outcome, spec: WriteSpec) -> list[Record]:
        """Records for the epics of this site linked to KRs, with the named fields only.

        An epic serving a KR that is stale or failed gets no record at all:
        rewriting its property without that KR would publish partial data.
        """
        name = self.connector.name
        prefix = self.connector.config.label_prefix
        self._named = frozenset(spec.items) & ITEM_FIELDS
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
            # A closed KR (its period ended) keeps its final values in the property; an epic
            # whose KRs are all closed gets no write at all.
            if all(k.closed for k in krs) or not all(
                k.writable or (k.closed and k.progress is not None) for k in krs
            ):
                continue
            status = {k.kr_id: labels[k.status] if k.status else "" for k in krs}
            fields: dict[str, FieldValue] = {}
            if "property" in self._named:
                fields["property"] = {
                    "key_results": [
                        {"id": k.kr_id, "title": k.title, "progress": round(k.progress or 0.0, 4),
                         "status": status[k.kr_id], "url": urls.get(k.kr_id), **self._extras(k)}
                        for k in krs
                    ],
                }  # fmt: skip
            if "label" in self._named:
                fields["label"] = sorted(f"{prefix}{k.kr_id}" for k in krs)
            if "remote_link" in self._named and any(urls.get(k.kr_id) for k in krs):
                fields["remote_link"] = [
                    {"globalId": f"okr-sync:{k.kr_id}", "url": urls[k.kr_id], "title": f"{k.kr_id}: {k.title}"}
                    for k in krs if urls.get(k.kr_id)
                ]  # fmt: skip
            if "comment" in self._named:
                fields["comment"] = status
                for k in krs:
                    self._comments[(epic, k.kr_id)] = k
            if not fields:
                continue
            ref = RecordRef(kind="item", id=epic)
            self._desired[ref] = fields
            records.append(Record(ref=ref, fields=fields, owner=",".join(k.kr_id for k in krs)))
        return records

    def _extras(self, kr: KrResult) -> dict[str, FieldValue]:
        """The forecast keys named under ``write:`` for one KR's entry in the property."""
        made = kr.forecast
        values = {
            "forecast": made.p50 if made else None,
            "forecast_range": made.range_text if made else "",
        }
        return {k: v for k, v in values.items() if k in self._named}

    @staticmethod
    def write_problem(section: str, fields: Sequence[str]) -> str | None:
        """Why a ``write:`` list cannot be honoured (forecast keys without the property)."""
        extras = sorted(PROPERTY_EXTRAS & set(fields))
        if section == "items" and extras and "property" not in fields:
            verb = "goes" if len(extras) == 1 else "go"
            return (
                f"{', '.join(extras)} {verb} into the entity property: name property too "
                f"(items: [property, {', '.join(extras)}])"
            )
        return None

    # --- read ----------------------------------------------------------------------
    def read(self, refs: Sequence[RecordRef]) -> dict[RecordRef, dict[str, FieldValue]]:
        """Current values of the named fields (see the module docstring for how each is read)."""
        keys = [r.id for r in refs if r.kind == "item"]
        prop = self.connector.config.property_key
        named = self._named
        fields = ["labels"] + (["comment"] if "comment" in named else [])
        issues, _missing = self.connector.search_keys(
            set(keys), fields, properties=prop if "property" in named else None
        )
        raw = {str(issue.get("key")): issue for issue in issues}
        return {ref: self._values(ref, raw.get(ref.id)) for ref in refs}

    def read_unsettled(
        self, refs: Sequence[RecordRef], settled: Mapping[RecordRef, dict[str, FieldValue]]
    ) -> dict[RecordRef, dict[str, FieldValue]]:
        """Current values, reading only epics neither the pull read nor okr-sync settled.

        When only the property and labels are named (``remote_link`` too, kept in the
        property), an epic the pull read with its property this run is answered from that
        read. A settled epic (everything wanted equals okr-sync's last confirmed write
        there) that the pull did not see change is answered with those values, unread:
        a label edit moves ``updated`` and so shows in the pull, and the entity property
        is okr-sync's own, shown nowhere in Jira's UI. Comments, and links without the
        property, are read as before: those are where humans write.
        """
        named = self._named
        own = {"property", "label", *PROPERTY_EXTRAS} | (
            {"remote_link"} if "property" in named else set()
        )
        if not named <= own:
            return self.read(refs)
        pulled = self.connector.pulled_epics
        out: dict[RecordRef, dict[str, FieldValue]] = {}
        unread: list[RecordRef] = []
        for ref in refs:
            raw = pulled.get(ref.id)
            if raw is not None and isinstance(raw.get("properties"), dict):
                out[ref] = self._values(ref, raw)
            elif raw is None and ref in settled and self.connector.pulled_incrementally:
                out[ref] = dict(settled[ref])
            else:
                unread.append(ref)
        if unread:
            out.update(self.read(unread))
        return out

    def _values(self, ref: RecordRef, current: Mapping[str, Any] | None) -> dict[str, FieldValue]:
        """The named fields' values in one epic's search JSON (``{}``: no such epic)."""
        prop = self.connector.config.property_key
        named = self._named
        if current is None:
            return {}
        found = (current.get("properties") or {}).get(prop)
        stored: dict[str, Any] = found if isinstance(found, dict) else {}
        self._stored[ref] = stored
        want = self._desired.get(ref, {})
        issue_fields = current.get("fields") or {}
        present = set(issue_fields.get("labels") or ())
        values: dict[str, FieldValue] = {}
        if "property" in named:
            values["property"] = _comparable(stored)
        if "label" in named:
            # Only the labels okr-sync manages: an okr: label it would not add is not its business.
            values["label"] = sorted(
                present & set(want["label"])
                if isinstance(want.get("label"), list)
                else {x for x in present if x.startswith(self.connector.config.label_prefix)}
            )
        if "remote_link" in named:
            values["remote_link"] = (
                stored.get("remote_links") if "property" in named else self._links(ref.id)
            )
        if "comment" in named:
            announced = latest_markers(self._comment_bodies(ref.id, issue_fields.get("comment")))
            self._announced[ref] = announced
            # Only the KRs the epic serves now: a marker of a KR unlinked since is history.
            wanted = want.get("comment") if ref in self._desired else announced
            values["comment"] = {
                kr: announced[kr].status for kr in sorted(wanted or {}) if kr in announced
            } or None
        return values

    def _http(self, key: str) -> tuple[str, Any]:
        session = self.connector.session()
        base = session.client.server_url.rstrip("/") + f"/rest/api/2/issue/{key}"
        return base, session.client._session

    def _links(self, key: str) -> list[dict[str, Any]]:
        """okr-sync's remote links on an epic, as the record holds them (sorted by globalId)."""
        base, http = self._http(key)
        answer = self.connector.caller.call(
            f"GET remote links of {key}", get_json, http, f"{base}/remotelink"
        )
        links = []
        for link in answer or []:
            gid = link.get("globalId") if isinstance(link, dict) else None
            if isinstance(gid, str) and gid.startswith("okr-sync:"):
                obj = link.get("object") or {}
                links.append({"globalId": gid, "url": obj.get("url"), "title": obj.get("title")})
        return sorted(links, key=lambda x: x["globalId"])

    def _comment_bodies(self, key: str, shown: Any) -> list[Any]:
        """Every comment body of an epic: the search's, or page by page when it shows fewer."""
        if isinstance(shown, dict):
            comments = shown.get("comments") or []
            total = shown.get("total")
            if isinstance(comments, list) and (
                not isinstance(total, int) or total <= len(comments)
            ):
                return [c.get("body") for c in comments if isinstance(c, dict)]
        base, http = self._http(key)
        bodies: list[Any] = []
        for _ in range(10_000):
            page = self.connector.caller.call(
                f"GET comments on {key}", get_json, http, f"{base}/comment",
                params={"startAt": len(bodies), "maxResults": _COMMENT_PAGE},
            )  # fmt: skip
            got = page.get("comments") if isinstance(page, dict) else None
            if not isinstance(got, list):
                raise WriteError(self.connector.name, f"GET comments on {key}: malformed answer")
            bodies += [c.get("body") for c in got if isinstance(c, dict)]
            if not got or len(bodies) >= int(page.get("total") or 0):
                return bodies
        return bodies

    # --- write -------------------------------------------------------------------------
    def write(self, ref: RecordRef, values: Mapping[str, FieldValue]) -> None:
        """Apply one epic's changed fields: labels, links, comments, then the property."""
        connector = self.connector
        key = ref.id
        stored = dict(self._stored.get(ref, {}))
        base, http = self._http(key)
        if values.get("label"):
            body: dict[str, Any] = {
                "update": {"labels": [{"add": label} for label in values["label"]]}
            }
            self._edit(key, base, http, body)
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
            self._comment(ref, base, http, values["comment"] or {})
        if "property" not in values and not ("property" in self._named and "remote_link" in values):
            return  # the property changes only when it, or the receipt it keeps, does
        prop = values.get("property")
        if prop is None:
            prop = _comparable(stored) or {}
        # The sync date is stamped on write, outside the compared value: a new day
        # alone never rewrites an epic, and any real change refreshes it.
        day = self._day or connector.clock().date().isoformat()
        document = {**prop, "synced_on": day, **{k: stored[k] for k in _RECEIPTS if k in stored}}
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

    def _comment(self, ref: RecordRef, base: str, http: Any, wanted: Mapping[str, str]) -> None:
        """Post one check-in per KR whose latest marker on the epic says another status."""
        announced = self._announced.get(ref, {})
        for kr, status in sorted(wanted.items()):
            latest = announced.get(kr)
            if latest is not None and latest.status == status:
                continue  # announced already (perhaps by an attempt whose answer was lost)
            seq = (latest.seq if latest else 0) + 1
            result = self._comments.get((ref.id, kr))
            said = _comment_text(result, status, first=latest is None) if result else kr
            text = f"{said}\n{_marker(kr, status, seq)}"
            self.connector.caller.call(
                f"POST comment on {ref.id}", http.post, f"{base}/comment",
                data=json.dumps({"body": text}), idempotent=False, write=True,
            )  # fmt: skip
            announced = {**announced, kr: Announced(status, seq)}
            self._announced[ref] = announced


def _comparable(stored: Mapping[str, Any]) -> dict[str, Any] | None:
    """The stored property as the plan compares it: without receipts and sync date."""
    skip = (*_RECEIPTS, *_OLD_RECEIPTS, "synced_on")
    prop = {k: v for k, v in stored.items() if k not in skip}
    return prop or None


def _comment_text(kr: KrResult, status: str, *, first: bool) -> str:
    progress = f"{(kr.progress or 0) * 100:.0f} %"
    expected = (
        f" against {(kr.expected or 0) * 100:.0f} % of the period elapsed"
        if kr.expected is not None
        else ""
    )
    figures = ""
    if kr.done is not None and kr.total is not None:
        figures = f" ({kr.done:.0f} of {kr.total:.0f} {'points' if kr.measure == 'points_done' else 'items'} done)"
    if first:
        return f"This epic counts towards {kr.kr_id} {kr.title}, {status}: {progress}{figures}{expected}."
    return f"{kr.kr_id} {kr.title} is now {status}: {progress}{figures}{expected}."
