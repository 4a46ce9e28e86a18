"""Data source ids and schemas kept from one run to the next, and checked against every read.

Each run used to read, per configured database, the database (for its data
source id) and the data source (its schema): six requests on top of the queries
for the default layout, whatever changed. Now the state store keeps both
(:class:`~okr_sync.interfaces.CachingConnector`), and a run reads a schema again
only when it must:

- **when the pages disagree with it.** Every page a query returns carries all of
  its data source's properties, each with its name, id and type. A property
  renamed, deleted, added or given another type shows in the first page read, and
  the schema is read again before anything is built from it; so a renamed Target
  or Initiatives still fails its KRs with a reason, never reads as empty.
- **when a page cannot show what counts.** Options and status groups are not on
  the pages: an item database whose done state comes from a status or select is
  read every run (a status option moved to the Complete group counts from the
  next run on), and before the first write of a run, the schema of each database
  whose Status is written is read again, so a label is checked against the
  options Notion has now.
- **when it is a day old** (:data:`MAX_AGE`): anything else a page cannot show,
  such as a second data source added to a configured database, is seen within a day.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from typing import Any

#: A kept schema (and data source id) older than this is read again.
MAX_AGE = dt.timedelta(hours=24)
_FORMAT = 1

Signature = dict[str, tuple[str, str]]


def signature(properties: Mapping[str, Any]) -> Signature:
    """Property name → (id, type): what a page shows of its data source's schema."""
    out: Signature = {}
    for name, prop in properties.items():
        if isinstance(prop, Mapping):
            out[str(name)] = (str(prop.get("id")), str(prop.get("type")))
    return out


class SchemaCache:
    """Data source ids by configured database, and data source objects by id."""

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        """Forget everything (a connector may serve several runs)."""
        #: Configured database reference → data source id.
        self.sources: dict[str, str] = {}
        #: Data source id → the data source object (title and properties).
        self.raw: dict[str, dict[str, Any]] = {}
        #: When each data source id was resolved or its schema read (ISO, UTC).
        self.read_at: dict[str, str] = {}
        #: Data source ids whose schema was read in this run.
        self.fresh: set[str] = set()
        #: Configured references resolved in this run.
        self.resolved: set[str] = set()

    def restore(self, text: str | None, now: dt.datetime) -> None:
        """Replace the cache with what a run saved, less what is older than :data:`MAX_AGE`."""
        self.clear()
        try:
            saved = json.loads(text) if text else None
        except ValueError:
            return
        if not isinstance(saved, dict) or saved.get("format") != _FORMAT:
            return
        read_at = {str(k): str(v) for k, v in (saved.get("read_at") or {}).items()}

        def young(key: str) -> bool:
            try:
                return now - dt.datetime.fromisoformat(read_at[key]) < MAX_AGE
            except (KeyError, ValueError, TypeError):
                return False

        for ref, source in (saved.get("sources") or {}).items():
            if young(f"ref:{ref}"):
                self.sources[str(ref)] = str(source)
                self.read_at[f"ref:{ref}"] = read_at[f"ref:{ref}"]
        for source, raw in (saved.get("schemas") or {}).items():
            if young(str(source)) and isinstance(raw, dict):
                self.raw[str(source)] = raw
                self.read_at[str(source)] = read_at[str(source)]

    def dump(self) -> str:
        """The cache as the state store keeps it."""
        return json.dumps(
            {"format": _FORMAT, "sources": self.sources, "schemas": self.raw,
             "read_at": self.read_at},
            sort_keys=True, separators=(",", ":"),
        )  # fmt: skip

    def resolve(self, ref: str, source: str, now: dt.datetime) -> None:
        """A configured database read this run: its data source id."""
        self.sources[ref] = source
        self.read_at[f"ref:{ref}"] = now.isoformat()
        self.resolved.add(ref)

    def keep(self, source: str, raw: Mapping[str, Any], now: dt.datetime) -> dict[str, Any]:
        """A schema read this run (only its title and properties are kept)."""
        kept = {"title": raw.get("title") or [], "properties": raw.get("properties") or {}}
        self.raw[source] = kept
        self.read_at[source] = now.isoformat()
        self.fresh.add(source)
        return kept

    def agrees(self, source: str, pages: Iterable[Mapping[str, Any]]) -> bool:
        """Whether every page shows the properties the kept schema has (names, ids, types)."""
        raw = self.raw.get(source)
        if raw is None:
            return False
        expected = signature(raw.get("properties") or {})
        for page in pages:
            props = page.get("properties")
            if isinstance(props, Mapping) and signature(props) != expected:
                return False
        return True
