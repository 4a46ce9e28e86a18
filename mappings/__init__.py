"""The mapping layer: pure functions that link pulled work items to key results.

Links come from three places (all optional, all combined):

1. rules in the config file (:class:`mappings.rules.Rule`): epic keys, a source
   query, or a label;
2. the KR itself: ``KeyResult.links`` lists epic keys or initiative rows;
3. the items: a label such as ``okr:KR-7`` or a field the source maps to ``kr_refs``.

An item linked to two KRs counts for both and is reported in ``shared``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from mappings.rules import Rule
from okr_sync.models import KeyResult, Link, LinkOrigin, WorkItem

__all__ = ["LinkResult", "Rule", "UnknownKr", "link"]


@dataclass(frozen=True)
class UnknownKr:
    """A rule (or an item's label) that names a KR the OKR source does not have."""

    kr_id: str
    where: str
    line: int | None = None


@dataclass(frozen=True)
class LinkResult:
    """All links of a run, plus what could not be linked."""

    links: tuple[Link, ...]
    by_kr: dict[str, tuple[Link, ...]]
    shared: dict[str, tuple[str, ...]]
    unknown_in_rules: tuple[UnknownKr, ...] = ()
    unknown_in_items: tuple[UnknownKr, ...] = ()
    selectors: dict[str, tuple[str, ...]] = field(default_factory=dict)


def _source_matches(rule_source: str | None, item: WorkItem) -> bool:
    return rule_source is None or rule_source == item.source


def link(
    key_results: Sequence[KeyResult],
    items: Iterable[WorkItem],
    rules: Sequence[Rule] = (),
    *,
    label_prefix: str = "okr:",
    config_file: str = "config",
) -> LinkResult:
    """Link items to KRs. Pure: the same inputs always give the same links.

    Args:
        key_results: the KRs of the OKR tree.
        items: every pulled item, from all item sources.
        rules: the config's mapping rules.
        label_prefix: item labels ``<prefix><KR id>`` link the item to that KR.
        config_file: named in the rule descriptions recorded as provenance.
    """
    known = {kr.id for kr in key_results}
    by_key: dict[str, list[WorkItem]] = defaultdict(list)
    by_label: dict[str, list[WorkItem]] = defaultdict(list)
    by_selector: dict[str, list[WorkItem]] = defaultdict(list)
    found: dict[tuple[str, str, str], Link] = {}
    unknown_items: list[UnknownKr] = []

    def add(kr_id: str, item: WorkItem, origin: LinkOrigin, detail: str) -> None:
        key = (kr_id, item.source, item.key)
        if key not in found:  # the first way an item reached a KR is the one recorded
            found[key] = Link(
                kr_id=kr_id, item_key=item.key, source=item.source, origin=origin,
                detail=detail, kind=item.kind,
            )  # fmt: skip

    # Index only what a rule or a KR asks for: most items are epic children, found by neither.
    wanted_keys = {key for rule in rules for key in rule.epics}
    wanted_keys.update(ref.key for kr in key_results for ref in kr.links)
    wanted_labels = {rule.label for rule in rules if rule.label}
    wanted_selectors = {rule.id for rule in rules}

    # The one loop over every pulled item (half a million): the empty tuples are tested
    # before they are looped over, and what a label means is worked out once per label
    # (a few hundred distinct ones): wanted by a rule, and the KR it names, if any.
    prefix_length = len(label_prefix)
    meaning: dict[str, tuple[bool, str | None]] = {}
    for item in items:
        if item.key in wanted_keys:
            by_key[item.key].append(item)
        for label in item.labels:
            known_label = meaning.get(label)
            if known_label is None:
                names = prefix_length and label.startswith(label_prefix)
                known_label = meaning[label] = (
                    label in wanted_labels,
                    label[prefix_length:] if names else None,
                )
            wanted, kr_id = known_label
            if wanted:
                by_label[label].append(item)
            if kr_id is not None:
                if kr_id in known:
                    add(kr_id, item, LinkOrigin.ITEM, f"label {label} on {item.key}")
                else:
                    unknown_items.append(
                        UnknownKr(kr_id, f"label {label} on {item.source}:{item.key}")
                    )
        if item.selectors:
            for selector in item.selectors:
                if selector in wanted_selectors:
                    by_selector[selector].append(item)
        if item.kr_refs:
            for kr_id in item.kr_refs:
                if kr_id in known:
                    add(kr_id, item, LinkOrigin.ITEM, f"{item.key} names {kr_id}")
                else:
                    unknown_items.append(UnknownKr(kr_id, f"field on {item.source}:{item.key}"))

    selectors: dict[str, list[str]] = defaultdict(list)
    unknown_rules: list[UnknownKr] = []
    for rule in rules:
        description = rule.describe(config_file)
        if rule.kr not in known:
            unknown_rules.append(UnknownKr(rule.kr, description, rule.line))
            continue
        selectors[rule.kr].append(description)
        if rule.epics:
            matched = [i for key in rule.epics for i in by_key.get(key, ())]
        elif rule.label:
            matched = list(by_label.get(rule.label, ()))
        else:
            matched = list(by_selector.get(rule.id, ()))
        for item in matched:
            if _source_matches(rule.source, item):
                add(rule.kr, item, LinkOrigin.RULE, description)

    for kr in key_results:
        for ref in kr.links:
            selectors[kr.id].append(
                f"KR property: {ref.key}" + (f" in {ref.source}" if ref.source else "")
            )
            for item in by_key.get(ref.key, ()):
                if _source_matches(ref.source, item):
                    add(kr.id, item, LinkOrigin.KR_PROPERTY, f"listed on {kr.id}")
    if label_prefix:
        for kr in key_results:
            selectors[kr.id].append(f"items labelled {label_prefix}{kr.id}")

    links = tuple(found.values())
    by_kr: dict[str, list[Link]] = defaultdict(list)
    krs_of_item: dict[str, list[str]] = defaultdict(list)
    for lk in links:
        by_kr[lk.kr_id].append(lk)
        krs_of_item[f"{lk.source}:{lk.item_key}"].append(lk.kr_id)
    shared = {key: tuple(krs) for key, krs in krs_of_item.items() if len(krs) > 1}
    return LinkResult(
        links=links,
        by_kr={kr: tuple(lks) for kr, lks in by_kr.items()},
        shared=shared,
        unknown_in_rules=tuple(unknown_rules),
        unknown_in_items=tuple(unknown_items),
        selectors={kr: tuple(s) for kr, s in selectors.items()},
    )
