from __future__ import annotations

from mappings import link
from mappings.rules import Rule
from okr_sync.models import ItemKind, ItemRef, KeyResult, LinkOrigin, WorkItem

KRS = [
    KeyResult(id="KR-1", title="a"),
    KeyResult(id="KR-2", title="b"),
    KeyResult(id="KR-7", title="c"),
]


def wi(key: str, source: str = "jira", **kw: object) -> WorkItem:
    return WorkItem(source=source, key=key, **kw)  # type: ignore[arg-type]


def test_links_from_rules_kr_properties_and_item_labels() -> None:
    items = [wi("E-1", kind=ItemKind.EPIC), wi("E-2", kind=ItemKind.EPIC, labels=("okr:KR-7",)),
             wi("B-1", labels=("bug",)), wi("Q-1", selectors=("rule-2",)), wi("R-1", kr_refs=("KR-2",))]  # fmt: skip
    rules = [Rule(kr="KR-1", epics=("E-1",)), Rule(kr="KR-2", source="jira", query="x", index=1),
             Rule(kr="KR-2", label="bug", index=2)]  # fmt: skip
    krs = [*KRS[:2], KeyResult(id="KR-7", title="c", links=(ItemRef(key="E-1"),))]
    result = link(krs, items, rules)
    got = {(lk.kr_id, lk.item_key, lk.origin) for lk in result.links}
    assert got == {
        ("KR-1", "E-1", LinkOrigin.RULE),
        ("KR-2", "Q-1", LinkOrigin.RULE),
        ("KR-2", "B-1", LinkOrigin.RULE),
        ("KR-2", "R-1", LinkOrigin.ITEM),
        ("KR-7", "E-2", LinkOrigin.ITEM),
        ("KR-7", "E-1", LinkOrigin.KR_PROPERTY),
    }


def test_an_item_linked_to_two_krs_counts_for_both_and_is_reported() -> None:
    items = [wi("E-1", kind=ItemKind.EPIC, labels=("okr:KR-2",))]
    result = link(KRS, items, [Rule(kr="KR-1", epics=("E-1",))])
    assert {lk.kr_id for lk in result.links} == {"KR-1", "KR-2"}
    assert set(result.shared["jira:E-1"]) == {"KR-1", "KR-2"}


def test_rule_naming_an_unknown_kr_is_reported_with_its_line() -> None:
    result = link(KRS, [wi("E-1")], [Rule(kr="KR-99", epics=("E-1",), line=31)])
    (unknown,) = result.unknown_in_rules
    assert (unknown.kr_id, unknown.line) == ("KR-99", 31)
    assert result.links == ()


def test_label_naming_an_unknown_kr_is_reported_not_linked() -> None:
    result = link(KRS, [wi("E-1", labels=("okr:KR-404",))], [])
    assert result.links == () and result.unknown_in_items[0].kr_id == "KR-404"


def test_rule_source_restricts_matches() -> None:
    items = [wi("E-1", source="jira"), wi("E-1", source="notion")]
    result = link(KRS, items, [Rule(kr="KR-1", epics=("E-1",), source="notion")])
    assert [(lk.source, lk.item_key) for lk in result.links] == [("notion", "E-1")]


def test_label_prefix_can_be_disabled() -> None:
    result = link(KRS, [wi("E-1", labels=("okr:KR-1",))], [], label_prefix="")
    assert result.links == ()


def test_rule_needs_exactly_one_selector() -> None:
    import pytest
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="exactly one"):
        Rule(kr="KR-1")
    with pytest.raises(ValidationError, match="exactly one"):
        Rule(kr="KR-1", epics=("E-1",), label="x")
    with pytest.raises(ValidationError, match="needs 'source'"):
        Rule(kr="KR-1", query="project = X")


def test_rules_are_named_from_1_with_their_line() -> None:
    rule = Rule(kr="KR-4", label="bug", index=1, line=31)
    assert rule.name("okr-sync.yaml") == "rule 2 (okr-sync.yaml:31)"
    assert rule.describe("okr-sync.yaml") == "rule 2 (okr-sync.yaml:31): label bug"
