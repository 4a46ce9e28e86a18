"""How `explain` words what moved between two runs."""

from __future__ import annotations

from okr_sync.core.provenance import describe_change, describe_rollup, item_label, scope_change
from okr_sync.models import CountedItem, Exclusion, ObjectivePart, Provenance


def prov(*items: CountedItem) -> Provenance:
    return Provenance(counted=items)


def test_items_are_named_by_title_and_notion_page_ids_are_not_shown() -> None:
    assert item_label("PAY-7", "Login page") == "Login page (PAY-7)"
    assert item_label("59833787-2cf9-4fdf-8782-e53db20768a5", "Tracing") == "Tracing"
    assert item_label("598337872cf94fdf8782e53db20768a5", "Tracing") == "Tracing"
    assert item_label("59833787-2cf9-4fdf-8782-e53db20768a5") == (
        "59833787-2cf9-4fdf-8782-e53db20768a5"  # no title recorded: the id is all there is
    )


def test_a_moved_value_of_the_same_items_is_named() -> None:
    before = prov(CountedItem("D-1", True, 10_000, title="Acme"), CountedItem("D-2", False, 5))
    after = prov(CountedItem("D-1", True, 15_000, title="Acme"), CountedItem("D-2", False, 5))
    text = describe_change(0.2, 0.3, scope_change(before, after))
    assert text == "20 % → 30 %: 1 changed value (Acme (D-1) 10000 → 15000)"


def test_current_is_named_only_when_the_items_do_not_explain_the_move() -> None:
    same = scope_change(prov(), prov())
    assert describe_change(0.5, 0.6, same, current=(650, 600)) == (
        "50 % → 60 %: Current moved 650 → 600"
    )
    grown = scope_change(prov(), prov(CountedItem("PAY-9", False, title="New")))
    assert describe_change(0.5, 0.4, grown, current=(5, 6)) == (
        "50 % → 40 %: 1 added to scope: New (PAY-9)"
    )
    assert describe_change(0.5, 0.5, same, current=(3, 3)) == (
        "50 % → 50 %: no change in the counted items"
    )


def test_an_objective_names_each_part_that_moved() -> None:
    def part(ident: str, progress: float | None, weight: float = 1) -> ObjectivePart:
        return ObjectivePart(kind="key_result", id=ident, weight=weight, progress=progress)

    old = [part("KR-1", 0.3), part("KR-2", 0.5), part("KR-3", 0.1)]
    new = [part("KR-1", 0.4), part("KR-2", 0.5, weight=2), part("KR-4", 0)]
    assert describe_rollup(0.3, 0.33, old, new) == (
        "30 % → 33 %: KR-1 30 % → 40 %; KR-2 weight 1 → 2; KR-4 added (0 %); KR-3 removed"
    )


def test_provenance_hashes_and_compares_by_its_values() -> None:
    # Frozen models hash their fields: the counted items and exclusions they hold must
    # hash by value too (they are slotted dataclasses for speed, not frozen ones).
    def made() -> Provenance:
        return Provenance(
            counted=(CountedItem("D-1", True, 2.0, "jira", "Acme"),),
            excluded=(Exclusion("D-9", "not a direct child (sub-item of D-1)"),),
        )

    assert made() == made() and hash(made()) == hash(made())
    assert hash(made()) != hash(prov(CountedItem("D-1", False, 2.0, "jira", "Acme")))
