"""Tests for contracts/diff.py: changes at field paths, components and discounts matched by id."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from valueproof.contracts.diff import (
    Change,
    diff_documents,
    pending_changes,
    resolve_path,
)
from valueproof.contracts.records import document_json
from valueproof.contracts.validation import parse_contract

BASE: dict[str, Any] = {
    "contract": "acme-2026",
    "account": "acme",
    "currency": "USD",
    "term": {"start": "2026-01-01", "end": "2027-01-01"},
    "components": [
        {"id": "platform", "type": "flat", "amount": "500.00"},
        {
            "id": "api",
            "type": "graduated",
            "meter": "api_calls",
            "tiers": [
                {"up_to": 1000, "unit_price": "0.002"},
                {"from": 1000, "up_to": None, "unit_price": "0.001"},
            ],
        },
    ],
    "discounts": [{"id": "launch", "percent": 10}, {"id": "loyalty", "percent": 5}],
}


def stored(document: dict[str, Any]) -> dict[str, Any]:
    """A document as the store keeps it (`document_json`): every field explicit."""
    return document_json(parse_contract(document))


def edited(change: Any) -> dict[str, Any]:
    document = copy.deepcopy(BASE)
    change(document)
    return stored(document)


def test_equal_documents_have_no_changes() -> None:
    assert diff_documents(stored(BASE), stored(BASE)) == []


def test_a_changed_price_is_named_by_component_id_and_tier_position() -> None:
    def cheaper(document: dict[str, Any]) -> None:
        document["components"][1]["tiers"][1]["unit_price"] = "0.0008"

    assert diff_documents(stored(BASE), edited(cheaper)) == [
        Change("components[api].tiers[1].unit_price", "changed", "0.001", "0.0008")
    ]


def test_an_inserted_component_is_one_addition_not_a_cascade() -> None:
    seats = {"id": "seats", "type": "seats", "seats": 10, "active_meter": "active", "unit_price": 5}

    def insert(document: dict[str, Any]) -> None:
        document["components"].insert(0, seats)

    new = edited(insert)
    changes = diff_documents(stored(BASE), new)
    assert changes == [Change("components[seats]", "added", None, new["components"][0])]


def test_a_removed_component_and_discount_carry_their_old_value() -> None:
    def drop(document: dict[str, Any]) -> None:
        del document["components"][0]
        del document["discounts"][1]

    old = stored(BASE)
    assert diff_documents(old, edited(drop)) == [
        Change("components[platform]", "removed", old["components"][0], None),
        Change("discounts[loyalty]", "removed", old["discounts"][1], None),
    ]


def test_a_reorder_alone_is_one_reordered_change_with_both_orders() -> None:
    def swap(document: dict[str, Any]) -> None:
        document["components"].reverse()

    assert diff_documents(stored(BASE), edited(swap)) == [
        Change("components", "reordered", ["platform", "api"], ["api", "platform"])
    ]


def test_a_reorder_with_a_change_reports_both() -> None:
    def swap_and_change(document: dict[str, Any]) -> None:
        document["discounts"].reverse()
        document["discounts"][0]["percent"] = 7

    assert diff_documents(stored(BASE), edited(swap_and_change)) == [
        Change("discounts", "reordered", ["launch", "loyalty"], ["loyalty", "launch"]),
        Change("discounts[loyalty].percent", "changed", "5", "7"),
    ]


def test_a_component_of_another_type_changes_type_and_swaps_fields() -> None:
    def per_unit(document: dict[str, Any]) -> None:
        component = document["components"][1]
        del component["tiers"]
        component.update(type="per_unit", unit_price="0.002")

    assert diff_documents(stored(BASE), edited(per_unit)) == [
        Change("components[api].type", "changed", "graduated", "per_unit"),
        Change("components[api].unit_price", "added", None, "0.002"),
        Change(
            "components[api].tiers",
            "removed",
            stored(BASE)["components"][1]["tiers"],
            None,
        ),
    ]


def test_other_lists_are_compared_by_position() -> None:
    def third_tier(document: dict[str, Any]) -> None:
        tiers = document["components"][1]["tiers"]
        tiers[1]["up_to"] = 5000
        tiers.append({"from": 5000, "up_to": None, "unit_price": "0.0005"})

    new = edited(third_tier)
    assert diff_documents(stored(BASE), new) == [
        Change("components[api].tiers[1].up_to", "changed", None, "5000"),
        Change("components[api].tiers[2]", "added", None, new["components"][1]["tiers"][2]),
    ]


def test_lists_without_distinct_ids_fall_back_to_positions() -> None:
    old = {"components": [{"id": "a", "x": 1}, {"id": "a", "x": 2}]}
    new = {"components": [{"id": "a", "x": 1}, {"id": "a", "x": 3}]}
    assert diff_documents(old, new) == [Change("components[1].x", "changed", 2, 3)]


def test_resolve_path_reads_ids_positions_and_dotted_ids() -> None:
    document = {"components": [{"id": "api.v2", "tiers": [{"from": None}, {"from": "10"}]}]}
    assert resolve_path(document, "components[api.v2].tiers[1].from") == "10"
    assert resolve_path(document, "components[0].id") == "api.v2"
    for missing in ("components[web]", "components[3]", "components[0].tiers.x", "x", "]["):
        with pytest.raises(KeyError):
            resolve_path(document, missing)


def test_pending_changes_follow_what_apply_would_store() -> None:
    class Latest:  # the only part of a StoredVersion `pending_changes` reads
        document = parse_contract(BASE)

    same_value = copy.deepcopy(BASE)
    same_value["components"][0]["amount"] = "500.0"  # equal in value: apply says unchanged
    assert pending_changes(Latest(), parse_contract(same_value)) == []
    new = pending_changes(None, parse_contract(BASE))
    assert {c.kind for c in new} == {"added"}
    assert [c.path for c in new] == list(stored(BASE))


# Property tests over JSON-like documents whose `components` are keyed lists.

_keys = st.sampled_from(["a", "b", "from", "up_to", "tiers"])
_scalars = st.none() | st.booleans() | st.integers(-3, 3) | st.sampled_from(["x", "0.5", ""])
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_keys, inner, max_size=3),
    max_leaves=8,
)
_component = st.fixed_dictionaries(
    {"id": st.sampled_from(["api", "web", "seats.v2", "gpu"])},
    optional={"price": _values, "tiers": st.lists(_values, max_size=3)},
)
_documents = st.fixed_dictionaries(
    {},
    optional={
        "currency": _scalars,
        "term": _values,
        "components": st.lists(_component, max_size=4, unique_by=lambda c: c["id"]),
        "discounts": st.lists(_component, max_size=3),  # ids may repeat: compared by position
    },
)


@settings(max_examples=300, deadline=None)
@given(_documents)
def test_a_document_has_no_changes_from_itself(document: dict[str, Any]) -> None:
    assert diff_documents(document, copy.deepcopy(document)) == []


@settings(max_examples=500, deadline=None)
@given(_documents, _documents)
def test_changes_are_empty_exactly_when_the_documents_are_equal(
    old: dict[str, Any], new: dict[str, Any]
) -> None:
    assert (diff_documents(old, new) == []) == (old == new)


@settings(max_examples=500, deadline=None)
@given(_documents, _documents)
def test_every_change_resolves_to_its_values_in_the_documents(
    old: dict[str, Any], new: dict[str, Any]
) -> None:
    for change in diff_documents(old, new):
        if change.kind == "reordered":
            assert [c["id"] for c in resolve_path(old, change.path)] == change.old
            assert [c["id"] for c in resolve_path(new, change.path)] == change.new
            continue
        if change.kind != "added":
            assert resolve_path(old, change.path) == change.old
        else:
            with pytest.raises(KeyError):
                resolve_path(old, change.path)
        if change.kind != "removed":
            assert resolve_path(new, change.path) == change.new
        else:
            with pytest.raises(KeyError):
                resolve_path(new, change.path)
