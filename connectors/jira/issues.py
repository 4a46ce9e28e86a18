"""Jira issues as work items, field discovery, and the JQL okr-sync sends.

Pure functions over Jira's JSON; no requests are made here.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from okr_sync.errors import SourceError
from okr_sync.models import ItemKind, StatusCategory, WorkItem

STORY_POINT_SCHEMA = "com.pyxis.greenhopper.jira:jsw-story-points"
EPIC_LINK_SCHEMA = "com.pyxis.greenhopper.jira:gh-epic-link"
STORY_POINT_NAMES = ("story point estimate", "story points")


@dataclass(frozen=True)
class FieldIds:
    """Field ids found on this site (or set in the config)."""

    story_points: tuple[str, ...] = ()
    #: True when ``story_points`` is the configured ``story_points_field``
    points_configured: bool = False
    epic_link: str | None = None
    kr_field: str | None = None
    numeric: Mapping[str, str] = field(default_factory=dict)

    def request(self) -> list[str]:
        """The fields every search asks for: only what okr-sync reads."""
        wanted = ["summary", "issuetype", "status", "parent", "labels", "updated"]
        extra = [*self.story_points, self.epic_link, self.kr_field, *self.numeric.values()]
        return wanted + [f for f in extra if f and f not in wanted]


def find_field(fields: Sequence[Mapping[str, Any]], wanted: str, source: str, what: str) -> str:
    """A field id from an id, a name or a clause name, case-insensitively."""
    lowered = wanted.lower()
    hits = [
        f for f in fields
        if str(f.get("id", "")).lower() == lowered or str(f.get("name", "")).lower() == lowered
        or lowered in (str(c).lower() for c in f.get("clauseNames") or ())
    ]  # fmt: skip
    if not hits:
        raise SourceError(source, f"no field {wanted!r} ({what}) on this Jira site")
    return str(hits[0]["id"])


def discover_fields(
    fields: Sequence[Mapping[str, Any]],
    source: str,
    *,
    story_points: str | None,
    epic_link: str | None,
    kr_field: str | None,
    numeric: Mapping[str, str],
    need_epic_link: bool,
) -> FieldIds:
    """Resolve configured field names to ids, and find the story points fields.

    Story points: an explicit ``story_points_field`` is the only candidate. Otherwise
    every story-point field is a candidate, in this order: the Jira Software estimate
    field (``jsw-story-points``, "Story point estimate" on Cloud), then fields named
    "Story point estimate" or "Story Points". Sites often carry both (team- and
    company-managed projects use different ones): every candidate is read, and
    :mod:`connectors.jira.points` chooses one per project.
    """
    if story_points:
        points: tuple[str, ...] = (find_field(fields, story_points, source, "story_points_field"),)
    else:
        by_schema = [
            f for f in fields if (f.get("schema") or {}).get("custom") == STORY_POINT_SCHEMA
        ]
        by_name = [f for f in fields if str(f.get("name", "")).lower() in STORY_POINT_NAMES]
        points = tuple(dict.fromkeys(str(f["id"]) for f in [*by_schema, *by_name]))
    link: str | None = None
    if epic_link:
        link = find_field(fields, epic_link, source, "epic_link_field")
    elif need_epic_link:
        found = [f for f in fields if (f.get("schema") or {}).get("custom") == EPIC_LINK_SCHEMA]
        if not found:
            raise SourceError(
                source, "no Epic Link field on this Data Center site; set epic_link_field"
            )
        link = str(found[0]["id"])
    return FieldIds(
        story_points=points,
        points_configured=bool(story_points),
        epic_link=link,
        kr_field=find_field(fields, kr_field, source, "kr_field") if kr_field else None,
        numeric={k: find_field(fields, v, source, f"fields.{k}") for k, v in numeric.items()},
    )


def user_zone(name: object, source: str) -> dt.tzinfo:
    """The API user's time zone (``/myself`` ``timeZone``): JQL date literals are read in it.

    Jira reads ``updated >= "2026/11/15 09:30"`` in the searching user's zone, so a
    zone okr-sync cannot resolve would shift every incremental window by hours: an
    error naming the zone, never UTC in its place. The IANA database comes with the
    ``tzdata`` package, so a real zone name resolves on every platform.
    """
    if not isinstance(name, str) or not name:
        raise SourceError(
            source,
            "Jira did not say the API user's time zone (no 'timeZone' in /myself); okr-sync "
            "needs it to write the dates of incremental pulls",
        )
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise SourceError(
            source,
            f"the API user's time zone {name!r} (from /myself) is not a time zone okr-sync "
            "knows; set the Jira profile's time zone to an IANA name (e.g. Europe/Berlin) or "
            "update the tzdata package",
        ) from None


def updated_since(cursor: str, overlap_minutes: int, zone: dt.tzinfo) -> str:
    """``updated >= "yyyy/MM/dd HH:mm"``: cursor minus overlap, in the user's zone, floored."""
    moment = dt.datetime.fromisoformat(cursor) - dt.timedelta(minutes=overlap_minutes)
    local = moment.astimezone(zone).replace(second=0, microsecond=0)
    return f'updated >= "{local:%Y/%m/%d %H:%M}"'


_CATEGORY = {"done": StatusCategory.DONE, "indeterminate": StatusCategory.IN_PROGRESS}


def _number(value: Any) -> float | None:
    """A finite number from a field value (or its ``{"value": n}``); anything else is None.

    NaN and infinities (JSON decoders accept ``NaN``, ``Infinity`` and ``1e999``)
    are no number at all: one of them would poison every sum it enters.
    """
    if isinstance(value, dict):
        value = value.get("value")
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def estimate(value: Any) -> float | None:
    """A story point estimate: a finite number of at least 0 (anything else is no estimate)."""
    number = _number(value)
    return number if number is not None and number >= 0 else None


def _refs(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    values = value if isinstance(value, list) else [value]
    out = []
    for v in values:
        text = v.get("value") if isinstance(v, dict) else v
        if isinstance(text, str):
            out += [part.strip() for part in re.split(r"[,\s]+", text) if part.strip()]
    return tuple(out)


def to_item(
    raw: Mapping[str, Any],
    source: str,
    site: str,
    ids: FieldIds,
    points_field: str | Literal[False] | None = False,
) -> WorkItem:
    """One Jira issue (search JSON) as a :class:`WorkItem`.

    Done means ``statusCategory.key == "done"`` (not a resolution date). On Cloud
    the epic is ``fields.parent``; on Data Center the Epic Link field. Story points
    come from ``points_field`` only: the field chosen for the issue's project
    (:mod:`connectors.jira.points`), never whichever candidate happens to hold a value
    (left out: the site's one candidate, if it has exactly one).
    """
    if points_field is False:
        points_field = ids.story_points[0] if len(ids.story_points) == 1 else None
    key = raw.get("key") if isinstance(raw, Mapping) else None
    fields = raw.get("fields") if isinstance(raw, Mapping) else None
    if not isinstance(key, str) or not isinstance(fields, dict):
        raise SourceError(source, f"search: malformed issue {str(raw)[:80]!r}")

    def part(value: Any, name: str) -> Mapping[str, Any]:
        # What decides kind, done-ness or links must be what Jira sends; a guess
        # would silently move numbers, so a malformed one fails the pull.
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise SourceError(
                source, f"issue {key}: field {name!r} is malformed: {str(value)[:80]!r}"
            )
        return value

    issuetype = part(fields.get("issuetype"), "issuetype")
    level = issuetype.get("hierarchyLevel")
    is_epic = level == 1 or (level is None and str(issuetype.get("name", "")).lower() == "epic")
    category = part(part(fields.get("status"), "status").get("statusCategory"), "status")
    status = category.get("key")
    parent = part(fields.get("parent"), "parent").get("key")
    if ids.epic_link and isinstance(fields.get(ids.epic_link), str):
        parent = fields[ids.epic_link]
    labels = fields.get("labels") or []
    if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
        raise SourceError(source, f"issue {key}: field 'labels' is malformed: {str(labels)[:80]!r}")
    return WorkItem(
        source=source,
        key=key,
        title=str(fields.get("summary") or ""),
        kind=ItemKind.EPIC if is_epic else ItemKind.ISSUE,
        parent_key=parent if isinstance(parent, str) else None,
        status_category=_CATEGORY.get(str(status), StatusCategory.TODO),
        story_points=estimate(fields.get(points_field)) if points_field else None,
        fields={name: _number(fields.get(fid)) for name, fid in ids.numeric.items()},
        labels=tuple(labels),
        kr_refs=_refs(fields.get(ids.kr_field)) if ids.kr_field else (),
        updated=_when(fields.get("updated")),
        url=f"{site.rstrip('/')}/browse/{key}",
    )


def _when(value: Any) -> dt.datetime | None:
    """An ISO timestamp (Jira's carry an offset; one without is read as UTC)."""
    try:
        moment = dt.datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None
    return moment.replace(tzinfo=dt.UTC) if moment and moment.tzinfo is None else moment
