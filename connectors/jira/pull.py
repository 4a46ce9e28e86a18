"""A pull: every issue of the selection (full), or what changed plus exact membership (incremental).

The selection is the *roots* (``key in (…)`` for listed epic keys, ``labels in (…)``
for label rules and ``okr:<KR id>`` labels, each rule's own JQL) and every direct
child of every epic among them (``parent in (…)`` on Cloud, the Epic Link field on
Data Center).

**Full pull**: the roots by key and label (OR-ed, batched), each rule's JQL on its
own (so its items are tagged with the rule), then the children of every epic found.

**Incremental pull**: an issue that *leaves* the selection (a label removed, moved to
another epic, deleted, no longer matching a rule) is not returned by an ``updated >=``
window, so the result must say what is still selected (``PullResult.members``). The
cheapest exact way is a membership query that asks for keys only: Jira Cloud's
``search/jql`` serves up to 5,000 issues per page when only ``id`` or ``key`` is asked
for, against 100 when other fields are (SPEC: "The greatest number of items returned
per page is achieved when requesting ``id`` or ``key`` only. It returns max 5000
issues"; measured: ``maxResults=5000&fields=summary`` returned 100 issues with a token,
``fields=key`` 5,000). Data Center's ``/search`` clamps every page to
``jira.search.views.default.max`` (1,000 unless an admin changed it) whatever the
fields, and echoes the size it used. So an incremental pull makes:

1. one key-only membership query per rule (which also proves the rule's JQL runs);
2. the changed issues of every path at once, in full: ``(key in … OR labels in … OR
   parent in (<cached epics>) OR (<rule>) …) AND updated >= "<cursor − overlap>"``;
3. one key-only membership query for the roots by key and label and the children of
   the cached epics (when a cached epic left the selection, roots and children are
   asked apart, so that epic's children do not count as members);
4. in full, by key, every member neither cached nor just pulled (an issue that joined
   without changing, e.g. through a rule's relative date), the children of epics new
   to the selection, and any cached member whose rules changed (the cursor remembers
   which rule matched which key, so a rule's tag on a cached item is never stale).

Without searched rules, step 3 is first tried as one count (:meth:`Puller.by_count`):
the selection as one statement, counted (``approximate-count`` on Cloud, ``total`` on
Data Center); a count equal to the cached members plus the changed ones proves that none
left, and a no-op rerun costs one page of changes and one count. Otherwise (rules, a
selection too long for one statement, any other count) it costs one membership page per
rule, one page of changes, and ``ceil(members / 5000)`` membership pages on Cloud
(``/ 1000`` on Data Center). The epics' query of a full pull and, on Cloud, the changes'
query ask for the ``okr-sync`` entity property, kept for the writer
(``JiraAccess.pulled_epics``), which then reads those epics no more.

The cursor (opaque to the engine) is JSON: the run's start, each rule's members, and
each project's story-point field. A pull that finds a project's story-point field
changed since (a board's estimation setting, issues estimated in another field)
re-reads everything, because the cached items were read with the old field.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from connectors.jira.client import QueryError
from connectors.jira.issues import to_item, updated_since
from connectors.jira.jql import LONG_JQL_CHARS, in_clauses, or_groups, strip_order_by
from connectors.jira.points import PointsChooser, Values, project_of
from okr_sync.errors import SourceError
from okr_sync.models import ItemKind, PullRequest, PullResult, QuerySelector, WorkItem

if TYPE_CHECKING:
    from connectors.jira.config import JiraAccess

log = logging.getLogger(__name__)

#: Issues per key-only page: Cloud's search/jql cap for ``id``/``key`` only (see above).
KEYS_PAGE_CLOUD = 5000
#: Data Center's default ``jira.search.views.default.max``; the server clamps and echoes.
KEYS_PAGE_DC = 1000
_KEY = ["key"]


@dataclass
class Cursor:
    """What an incremental pull needs from the last one."""

    at: str
    rules: dict[str, set[str]] = field(default_factory=dict)
    points: dict[str, str | None] = field(default_factory=dict)

    def encode(self) -> str:
        """The cursor as the engine stores it."""
        return json.dumps(
            {"v": 1, "at": self.at, "rules": {r: sorted(k) for r, k in self.rules.items()},
             "points": self.points},
            sort_keys=True, separators=(",", ":"),
        )  # fmt: skip

    @staticmethod
    def decode(text: str) -> Cursor | None:
        """A stored cursor, or None when it is not one of ours (then the pull is full)."""
        try:
            data = json.loads(text)
            dt.datetime.fromisoformat(data["at"])
            rules = {str(r): set(map(str, k)) for r, k in data["rules"].items()}
            points = {str(p): (str(f) if f else None) for p, f in data["points"].items()}
        except (ValueError, TypeError, KeyError, AttributeError):
            return None
        return Cursor(str(data["at"]), rules, points)


class _Restart(Exception):
    """A project's story-point field changed: the cached items must be read again."""


class Puller:
    """One pull for one request (see the module docstring)."""

    def __init__(self, access: JiraAccess, request: PullRequest, started: dt.datetime) -> None:
        self.access = access
        self.request = request
        self.started = started
        self.session = access.session()
        self.fields = self.session.ids.request()
        ids = self.session.ids
        names = {str(f.get("id")): str(f.get("name")) for f in access.connect().fields}
        self.points = PointsChooser(access, ids.story_points, ids.points_configured, names)
        self.found: dict[str, WorkItem] = {}
        self.failed: dict[str, str] = {}
        self.counts: dict[str, int] = {}
        self._values: dict[str, dict[str, Values]] = {}
        self._deferred: dict[str, set[str]] = {}
        cfg = access.config
        labels = set(request.labels)
        if request.label_prefix:
            labels |= {f"{request.label_prefix}{kr}" for kr in request.kr_ids}
        scope = f" AND ({strip_order_by(cfg.scope)})" if cfg.scope else ""
        self.label_clauses = [f"({c}{scope})" for c in in_clauses("labels", labels)]
        link = (self.session.ids.epic_link or "").rsplit("_", 1)[-1]
        self.child_field = "parent" if self.session.cloud else f"cf[{link}]"
        self.keys_page = KEYS_PAGE_CLOUD if self.session.cloud else KEYS_PAGE_DC
        #: The entity property okr-sync writes, asked for with the epics (the writer reuses it).
        self.prop = cfg.property_key

    # --- issues ----------------------------------------------------------------------
    def convert(self, raw: Mapping[str, Any], *, with_property: bool = False) -> WorkItem:
        """A search result as a work item, its story points from its project's field.

        ``with_property``: the epics' (or the changes') search, which asks for the entity
        property where it can: an epic's answer is kept for the writer, which need not read
        the epic again this run when it holds the property, and reads it when it does not.
        """
        access = self.access
        key = raw.get("key") if isinstance(raw, Mapping) else None
        project = project_of(key) if isinstance(key, str) else ""
        known = self.points.known(project) if project else None
        item = to_item(raw, access.name, access.site, self.session.ids, known or None)
        if self.points.needs_choice:
            fields = raw.get("fields")
            values = self.points.values_of(fields if isinstance(fields, Mapping) else {})
            if values is not None:
                self._values.setdefault(project, {})[item.key] = values
            else:
                self._values.get(project, {}).pop(item.key, None)
        if known is False:
            self._deferred.setdefault(project, set()).add(item.key)
        self.found[item.key] = item
        if with_property and item.kind is ItemKind.EPIC:
            self.access.pulled_epics[item.key] = dict(raw)
        return item

    def fetch(self, keys: Iterable[str]) -> set[str]:
        """Issues by key, in full; the keys Jira no longer has."""
        wanted = set(keys)
        if not wanted:
            return set()
        raws, missing = self.access.search_keys(wanted, self.fields)
        got = {self.convert(raw).key for raw in raws}
        return (wanted - got) | missing

    def members(self, keys: Iterable[str] = (), others: Iterable[str] = (),
                selector: str | None = None,
                parents: Iterable[str] = ()) -> tuple[set[str], set[str]]:  # fmt: skip
        """Keys matching (keys only, big pages); and the unknown requested keys.

        ``parents``: epics whose direct children are members too.
        """
        raws, missing = self.access.search_keys(
            set(keys), _KEY, others=list(others), keys_only=True,
            parents=(self.child_field, set(parents)),
        )  # fmt: skip
        return {self._key(raw, selector) for raw in raws}, missing

    def rule_members(self, jql: str, selector: str) -> set[str]:
        """Keys matching one rule's JQL (keys only)."""
        found = self.access.search(jql, _KEY, selector=selector, page_size=self.keys_page)
        return {self._key(raw, selector) for raw in found}

    def _key(self, raw: Mapping[str, Any], selector: str | None) -> str:
        key = raw.get("key") if isinstance(raw, Mapping) else None
        if not isinstance(key, str):
            raise SourceError(self.access.name, f"search: malformed issue {str(raw)[:80]!r}",
                              selector=selector)  # fmt: skip
        return key

    def children(self, epics: Iterable[str]) -> set[str]:
        """Every direct child of ``epics``, in full."""
        keys: set[str] = set()
        for clause in in_clauses(self.child_field, epics, LONG_JQL_CHARS):
            keys |= {self.convert(raw).key for raw in self.access.search(clause, self.fields)}
        return keys

    def rule_query(self, selector: QuerySelector) -> str | None:
        """A rule's JQL ready to combine, or None (and the rule failed) when it cannot be one."""
        problem = self.access.query_problem(selector.query)
        query = strip_order_by(str(selector.query)) if problem is None else ""
        if problem is None and not query:
            problem = "a Jira rule's query needs a condition before its ORDER BY"
        if problem:
            self.failed[selector.id] = problem
            return None
        return query

    def searched_rules(self) -> Iterator[tuple[QuerySelector, str]]:
        """Each rule to search, with its JQL (broken ones are failed here).

        Count-only rules are left out: they are counted last, after every search of
        the pull (see :meth:`count_all`).
        """
        for selector in self.request.queries:
            query = self.rule_query(selector)
            if query is not None and not selector.count_only:
                yield selector, query

    def count_all(self) -> None:
        """Count-only rules (a ``count`` KR linked by one query), answered by a count."""
        for selector in self.request.queries:
            if not selector.count_only or selector.id in self.failed:
                continue
            query = self.rule_query(selector)
            if query is None:
                continue
            try:
                self.counts[selector.id] = self.access.count(query, selector.id)
            except QueryError as exc:
                self.failed[selector.id] = _reason(exc)

    # --- full --------------------------------------------------------------------------
    def full(self) -> PullResult:
        """Everything selected, in full (see the module docstring)."""
        request = self.request
        raws, missing = self.access.search_keys(
            set(request.keys), self.fields, others=self.label_clauses, properties=self.prop,
            budget=LONG_JQL_CHARS,
        )  # fmt: skip
        for raw in raws:
            self.convert(raw, with_property=True)
        missing |= set(request.keys) - set(self.found)
        tags: dict[str, set[str]] = {}
        for selector, query in self.searched_rules():
            try:
                raws = list(self.access.search(query, self.fields, selector=selector.id))
            except QueryError as exc:
                self.failed[selector.id] = _reason(exc)
                continue
            tags[selector.id] = {self.convert(raw).key for raw in raws}
        epics = {k for k, i in self.found.items() if i.kind is ItemKind.EPIC}
        self.children(epics)
        self.count_all()
        points = self.finish_points({})
        selected = set(self.found)
        return self.result(selected, tags, points, frozenset(missing), incremental=False)

    # --- incremental ---------------------------------------------------------------------
    def incremental(self, before: Cursor) -> PullResult:
        """What changed, in full, and exactly what is still selected (module docstring)."""
        request = self.request
        zone = self.session.zone
        assert zone is not None  # checked by the connector before any pull
        self.access.pulled_incrementally = True
        since = updated_since(before.at, self.access.config.overlap_minutes, zone)
        by_rule: dict[str, set[str]] = {}
        rule_clauses: list[str] = []
        for selector, query in self.searched_rules():
            try:
                by_rule[selector.id] = self.rule_members(query, selector.id)
            except QueryError as exc:
                self.failed[selector.id] = _reason(exc)
                continue
            rule_clauses.append(f"({query})")
        known = set(request.known_epics)
        cached = set(request.cached_keys)
        keys = set(request.keys)
        # A cached epic deleted since is dropped from the children's clause (Data Center
        # refuses a JQL naming it), never failing the pull.
        changed, _ = self.access.search_keys(
            keys,
            self.fields,
            since=since,
            others=[*self.label_clauses, *rule_clauses],
            parents=(self.child_field, known),
            # Data Center takes `properties` by GET only (see search_keys): in statements
            # short enough for a URL, this query would cost many requests on every run.
            properties=self.prop if self.session.cloud else None,
            budget=LONG_JQL_CHARS,
        )
        for raw in changed:
            self.convert(raw, with_property=True)
        searched = any(not q.count_only for q in request.queries)
        counted = None if searched else self.by_count(keys, known, cached)
        if counted is not None:
            return self.finish(before, counted, by_rule, frozenset(keys - counted), cached, known)
        roots, missing = self.members(keys, self.label_clauses, parents=known)
        by_rules = set().union(*by_rule.values())
        kept = {
            e for e in known
            if e in roots | by_rules and (e not in self.found or self.found[e].kind is ItemKind.EPIC)
        }  # fmt: skip
        if known - kept:  # the children of an epic that left are no members
            roots, missing = self.members(keys, self.label_clauses)
            if kept:
                roots |= self.members(parents=kept)[0]
        missing |= keys - roots
        return self.finish(before, roots | by_rules, by_rule, frozenset(missing), cached, known)

    def by_count(self, keys: set[str], known: set[str], cached: set[str]) -> set[str] | None:
        """The selection proven by one count, or None when a count cannot prove it.

        Without searched rules the selection is one JQL statement S (listed keys, labels,
        children of the cached epics). An issue joins S only by an edit, so every joiner
        is among the changed issues just pulled (C); an issue leaves S by an edit or by
        being deleted, archived or moved, none of which C shows. So S now holds at most
        ``cached ∪ C``, and exactly that when none left: Jira's count of S equal to
        ``|cached ∪ C|`` proves it (a moved issue, under a new key in C and its old one
        in the cache, makes the count fall short too). Any other count, a statement too
        long for one query, a cached epic that is no epic any more, or a ``scope`` (its
        JQL, like a rule's, can let an issue in without an edit: sprints, groups, relative
        dates): None, and the key-only membership proof runs as before.
        """
        if self.access.config.scope:
            return None
        clauses = [
            *in_clauses("key", keys, LONG_JQL_CHARS),
            *in_clauses(self.child_field, known, LONG_JQL_CHARS),
            *self.label_clauses,
        ]
        groups = or_groups(clauses, LONG_JQL_CHARS)
        if len(groups) != 1:
            return None
        if any(self.found[e].kind is not ItemKind.EPIC for e in known & set(self.found)):
            return None
        predicted = cached | set(self.found)
        try:
            count = self.access.count(groups[0], None)
        except QueryError:
            return None  # e.g. Data Center refusing a key deleted since: the proof says which
        if count != len(predicted):
            log.info(
                "%s: %d issues selected, %d expected from the cache: proving which are members",
                self.access.name, count, len(predicted),
            )  # fmt: skip
            return None
        return predicted

    def finish(self, before: Cursor, selected: set[str], by_rule: dict[str, set[str]],
               missing: frozenset[str], cached: set[str],
               known: set[str]) -> PullResult:  # fmt: skip
        """The members' missing pieces (joined unchanged, new epics' children, retagged)."""
        selected -= self.fetch(selected - cached - set(self.found))
        new_epics = {
            k for k in selected
            if k in self.found and self.found[k].kind is ItemKind.EPIC and k not in known
        }  # fmt: skip
        selected |= self.children(new_epics)
        # Rules whose query failed keep their earlier tags (their KRs fail anyway).
        for rule in set(self.failed) & set(before.rules):
            by_rule[rule] = before.rules[rule] & selected
        retag = {
            k for k in (selected & cached) - set(self.found)
            if _tags(k, by_rule) != _tags(k, before.rules)
        }  # fmt: skip
        selected -= self.fetch(retag)
        self.count_all()
        points = self.finish_points(before.points, touched_only=True, selected=selected)
        return self.result(selected, by_rule, points, missing, incremental=True)

    # --- points and the result ------------------------------------------------------------
    def finish_points(self, before: Mapping[str, str | None], *, touched_only: bool = False,
                      selected: set[str] | None = None) -> dict[str, str | None]:  # fmt: skip
        """Decide each touched project's field, set deferred items' points; the projects' fields.

        Raises _Restart when an incremental pull finds a project's field changed.
        """
        touched = {project_of(k) for k in self.found}
        out: dict[str, str | None] = {}
        if touched_only and selected is not None:
            alive = {project_of(k) for k in selected}
            out = {p: f for p, f in before.items() if p in alive}
        for project in sorted(touched):
            keep: str | Literal[False] | None = before.get(project, False)
            chosen = self.points.decide(project, self._values.get(project, {}), keep)
            if touched_only and project in before and chosen.field_id != before[project]:
                raise _Restart(project)
            out[project] = chosen.field_id
            values = self._values.get(project, {})
            at = self.points.candidates.index(chosen.field_id) if chosen.field_id else None
            for key in self._deferred.get(project, ()):
                value = values.get(key)
                points = value[at] if value is not None and at is not None else None
                self.found[key] = self.found[key].replace(story_points=points)
        return out

    def result(self, selected: set[str], tags: Mapping[str, set[str]],
               points: dict[str, str | None], missing: frozenset[str], *,
               incremental: bool) -> PullResult:  # fmt: skip
        """The PullResult and the next cursor."""
        items = []
        for key, item in self.found.items():
            if key not in selected:
                continue  # left the selection between two queries: not counted
            rules = _tags(key, tags)
            items.append(item.replace(selectors=tuple(sorted(rules))) if rules else item)
        cursor = Cursor(
            self.started.isoformat(),
            {r: keys & selected for r, keys in tags.items()},
            points,
        )
        site = self.access.site
        text = f"{len(items)} issues from {site}" + (
            " (changed since last run)" if incremental else ""
        )
        notes = [
            f"{p.project}: {self.points.name(p.field_id)}, from {p.why}"
            + (f" (other story-point field differs on {', '.join(p.disagree[:5])}"
               + (f" and {len(p.disagree) - 5} more" if len(p.disagree) > 5 else "") + ")"
               if p.disagree else "")
            for p in self.points.chosen.values() if self.points.needs_choice
        ]  # fmt: skip
        if notes:
            text += "; story points: " + "; ".join(notes)
        return PullResult(
            items=tuple(items),
            cursor=cursor.encode(),
            incremental=incremental,
            members=frozenset(selected) if incremental else None,
            missing_keys=missing,
            counts=self.counts,
            failed_selectors=self.failed,
            description=text,
        )


def _tags(key: str, by_rule: Mapping[str, set[str]]) -> set[str]:
    return {rule for rule, keys in by_rule.items() if key in keys}


def _reason(exc: SourceError) -> str:
    """A failed query's reason without the connection's name (the engine adds its own)."""
    return str(exc).removeprefix(f"{exc.source}: ")


def pull(access: JiraAccess, request: PullRequest, started: dt.datetime) -> PullResult:
    """Pull for ``request``: incremental when it carries one of our cursors, else full."""
    before = Cursor.decode(request.cursor) if request.cursor else None
    if before is not None:
        try:
            return Puller(access, request, started).incremental(before)
        except _Restart:
            pass  # a project's story-point field changed: read everything again
    return Puller(access, request, started).full()
