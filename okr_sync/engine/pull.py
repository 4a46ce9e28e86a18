"""Pulling the item sources for one run: requests, caches, membership, fingerprints.

:class:`Puller` builds each source's :class:`~okr_sync.models.PullRequest` from the
OKR tree and the mapping rules, decides whether the source's cache still means what
it says (the fingerprint of the request, the connection's whole config and okr-sync's
version; ``pull.full_every_hours``; ``--full``), pulls, and merges an incremental
result into the cache by its membership (see :func:`merge`).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from okr_sync import __version__
from okr_sync.config.loading import LoadedConfig
from okr_sync.core.evaluate import fingerprint as make_fingerprint
from okr_sync.core.evaluate import rules_by_kr
from okr_sync.errors import OkrSyncError, SourceError
from okr_sync.interfaces import ItemSource
from okr_sync.models import (
    ItemKind,
    OkrTree,
    PullRequest,
    PullResult,
    QuerySelector,
    WorkItem,
)
from okr_sync.state.store import CacheUpdate, CursorState, StateStore

log = logging.getLogger(__name__)


def describe(exc: Exception) -> str:
    """Our own errors speak for themselves; anything else is a connector bug, named as such."""
    return str(exc) if isinstance(exc, OkrSyncError) else f"unexpected {type(exc).__name__}: {exc}"


def not_found(
    requests: Mapping[str, PullRequest], missing: Mapping[str, frozenset[str]]
) -> set[str]:
    """Keys that every source asked for them (and that answered) reported missing."""
    out = set()
    for key in {k for r in requests.values() for k in r.keys}:
        asked = [name for name, r in requests.items() if key in r.keys and name in missing]
        if asked and all(key in missing[name] for name in asked):
            out.add(key)
    return out


def merge(
    name: str, cached: list[WorkItem], result: PullResult
) -> tuple[list[WorkItem], CacheUpdate]:
    """A source's items this run, and how its cache changes (see :class:`PullResult`).

    Raises:
        SourceError: an incremental result without membership, or one whose members
            are neither pulled nor cached (the source broke its contract; counting
            what is left would be a plausible wrong number).
    """
    pulled = tuple(result.items)
    if not result.incremental:
        return list(pulled), CacheUpdate(pulled, replace=True)
    if result.members is None:
        raise SourceError(name, "an incremental pull did not say which items are still selected")
    merged = {i.key: i for i in cached if i.key in result.members}
    merged.update((i.key, i) for i in pulled)
    unknown = result.members - merged.keys()
    if unknown:
        shown = ", ".join(sorted(unknown)[:5])
        raise SourceError(
            name, f"{len(unknown)} selected item(s) neither pulled nor cached: {shown}"
        )
    removed = frozenset(i.key for i in cached) - result.members
    if removed:
        log.info("%s: %d cached item(s) left the selection", name, len(removed))
    return list(merged.values()), CacheUpdate(pulled, replace=False, removed=removed)


@dataclass
class Pulled:
    """What the item sources gave, per source, in one run."""

    items: list[WorkItem] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    missing: dict[str, frozenset[str]] = field(default_factory=dict)
    cursors: dict[str, CursorState] = field(default_factory=dict)
    caches: dict[str, CacheUpdate] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    #: rule id → why its query could not run (only that rule's KRs fail)
    failed_selectors: dict[str, str] = field(default_factory=dict)


class Puller:
    """Pulls the item sources of one config, over a state store's caches and cursors."""

    def __init__(
        self,
        loaded: LoadedConfig,
        connectors: Mapping[str, Any],
        state: StateStore,
        *,
        full: bool = False,
    ) -> None:
        self.loaded = loaded
        self.cfg = loaded.config
        self.connectors = connectors
        self.state = state
        #: Pull every source in full, whatever its cache (``sync --full``).
        self.full = full

    def requests(self, tree: OkrTree) -> dict[str, PullRequest]:
        """Each item source's request: the keys, queries and labels its rules and KRs name."""
        prefix = self.cfg.mapping.label_prefix
        kr_ids = frozenset(kr.id for kr in tree.key_results)
        counted_by_query = self._count_only_rules(tree)
        requests = {}
        for name in self.cfg.items:
            rules = [r for r in self.cfg.mapping.rules if r.source in (None, name)]
            keys = {k for r in rules for k in r.epics}
            keys |= {
                ref.key for kr in tree.key_results for ref in kr.links if ref.source in (None, name)
            }
            requests[name] = PullRequest(
                keys=frozenset(keys),
                queries=tuple(
                    QuerySelector(id=r.id, query=r.query, count_only=r.id in counted_by_query)
                    for r in rules
                    if r.query is not None
                ),
                labels=frozenset(r.label for r in rules if r.label),
                kr_ids=kr_ids,
                label_prefix=prefix,
            )
        return requests

    def _count_only_rules(self, tree: OkrTree) -> set[str]:
        """Query rules whose KR needs only a count: a ``count`` KR linked by that one query."""
        rules_of = rules_by_kr(self.cfg.mapping.rules)
        out = set()
        for kr in tree.key_results:
            rules = rules_of.get(kr.id, [])
            measure = self.loaded.measure_for(kr.id, kr.measure)
            if (
                measure == "count"
                and not kr.links
                and len(rules) == 1
                and rules[0].query is not None
            ):
                out.add(rules[0].id)
        return out

    def pull(self, requests: dict[str, PullRequest], started: dt.datetime) -> Pulled:
        """Pull every item source: incrementally where its cache still means what it says."""
        pulled_all = Pulled()
        items, errors, missing = pulled_all.items, pulled_all.errors, pulled_all.missing
        cursors, caches = pulled_all.cursors, pulled_all.caches
        full_every = dt.timedelta(hours=self.cfg.pull.full_every_hours)
        for name, request in requests.items():
            fingerprint = self._fingerprint(name, request)
            saved = self.state.cursor(name)
            fresh = (
                not self.full
                and saved is not None
                and saved.fingerprint == fingerprint
                and saved.cursor is not None
                and saved.full_at is not None
                and started - dt.datetime.fromisoformat(saved.full_at) < full_every
            )
            cached: list[WorkItem] = []
            if fresh and saved is not None:
                cached = self.state.cached_items(name)
                epics = frozenset(i.key for i in cached if i.kind is ItemKind.EPIC)
                request = request.model_copy(
                    update={
                        "cursor": saved.cursor,
                        "known_epics": epics,
                        "cached_keys": frozenset(i.key for i in cached),
                    }
                )
            source: ItemSource = self.connectors[name]
            try:
                result = source.pull_items(request)
                source_items, update = merge(name, cached, result)
            except Exception as exc:  # one broken source never sinks the others
                errors[name] = self.explain_error(exc)
                log.warning(
                    "pull from %s failed: %s", name, errors[name],
                    extra={"event": "failure", "source": name, "error": errors[name]},
                    exc_info=not isinstance(exc, OkrSyncError) and log.isEnabledFor(logging.DEBUG),
                )  # fmt: skip
                continue
            pulled = list(result.items)
            # A full pull restarts the clock of pull.full_every_hours.
            full_at = saved.full_at if result.incremental and saved else started.isoformat()
            items += source_items
            missing[name] = result.missing_keys
            pulled_all.counts.update(result.counts)
            for selector, reason in result.failed_selectors.items():
                error = self.explain_error(SourceError(name, reason, selector=selector))
                pulled_all.failed_selectors[selector] = error
                log.warning(
                    "a query of %s failed: %s", name, error,
                    extra={"event": "failure", "source": name, "error": error},
                )  # fmt: skip
            caches[name] = update
            cursors[name] = CursorState(
                cursor=result.cursor, fingerprint=fingerprint, full_at=full_at
            )
            log.info(
                "pulled %s: %s",
                name,
                result.description or f"{len(pulled)} items",
                extra={
                    "event": "pull",
                    "source": name,
                    "items": len(pulled),
                    "incremental": result.incremental,
                },
            )
        return pulled_all

    def _fingerprint(self, name: str, request: PullRequest) -> str:
        """What the cached items of a source mean: the request and the source's whole config.

        Items are cached already interpreted (done or not, numbers, status), so any
        change to the connection's config (``done:``, ``numbers:``, a filter, the
        story-points field…), to the selection, or to okr-sync itself makes the cache
        meaningless: a changed fingerprint forces a full pull of that source.
        """
        return make_fingerprint(
            {
                "request": request.model_dump(
                    mode="json", exclude={"cursor", "known_epics", "cached_keys"}
                ),
                "connection": self.loaded.connections[name].model_dump(mode="json"),
                "version": __version__,
            }
        )

    def explain_error(self, exc: Exception) -> str:
        """The error, pointing at the config line of the rule whose query failed."""
        text = describe(exc)
        selector = getattr(exc, "selector", None)
        for rule in self.cfg.mapping.rules:
            if selector is not None and rule.id == selector:
                return f"{text} (in {rule.describe(self.loaded.path.name)})"
        return text
