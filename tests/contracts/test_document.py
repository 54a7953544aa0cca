"""Contract documents: what validation accepts, and every refusal naming its field path."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pytest

from valueproof.contracts.errors import ContractInvalid
from valueproof.contracts.validation import compile_contract, parse_contract, read_contract
from valueproof.errors import InvalidInput

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
            "filter": 'group.region == "eu"',
            "tiers": [
                {"up_to": 1000, "unit_price": "0.002"},
                {"from": 1000, "up_to": 5000, "unit_price": "0.0015"},
                {"up_to": None, "unit_price": "0.001"},
            ],
        },
        {"id": "minimum", "type": "commitment", "minimum": "1000.00"},
    ],
    "discounts": [{"id": "launch", "percent": 10}],
}


def problems_of(document: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ContractInvalid) as caught:
        parse_contract(document)
    return dict(caught.value.problems)


def changed(path: str, value: Any) -> dict[str, Any]:
    """BASE with the field at `path` (dotted, list indexes as numbers) set to `value`."""
    document = copy.deepcopy(BASE)
    *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
    target: Any = document
    for part in parents:
        target = target[part]
    target[last] = value
    return document


def test_a_valid_contract_reads_with_exact_decimals_and_utc_dates() -> None:
    document = parse_contract(BASE)
    tiers = document.components[1].tiers  # type: ignore[union-attr]
    assert tiers[0].unit_price == Decimal("0.002")
    assert document.term.start.isoformat() == "2026-01-01T00:00:00+00:00"
    assert document.starts == document.term.start
    compiled = compile_contract(document)
    assert compiled.filters["api"].holds({"group": {"region": "eu"}})
    assert not compiled.filters["api"].holds({"group": {"region": "us"}})


def test_yaml_floats_keep_the_decimal_text_written() -> None:
    text = """
contract: c
account: acme
currency: USD
term: {start: 2026-01-01}
components:
  - {id: api, type: per_unit, meter: api_calls, unit_price: 0.0001}
"""
    document = read_contract(text)
    assert document.components[0].unit_price == Decimal("0.0001")  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("path", "value", "field", "reason"),
    [
        ("components.1.tiers.1.from", 900, "components[1].tiers[1]", "overlaps"),
        ("components.1.tiers.1.from", 1200, "components[1].tiers[1]", "gap"),
        ("components.1.tiers.2.up_to", 9000, "components[1].tiers[2]", "open-ended"),
        (
            "components.1.tiers.0.unit_price",
            "-0.01",
            "components[1].tiers[0].unit_price",
            "greater than or equal to 0",
        ),
        ("components.0.amount", "500.001", "components[0].amount", "more decimals than USD"),
        ("components.0.amount", "500.00 EUR", "components[0].amount", "currency mismatch"),
        ("components.1.filter", "group.region ==", "components[1].filter", "invalid CEL"),
        ("components.1.filter", "event.region == 'eu'", "components[1].filter", "'event'"),
        ("components.1.filter", "nosuch(group)", "components[1].filter", "nosuch"),
        ("currency", "XYZ", "currency", "ISO 4217"),
        ("currency", "XAU", "currency", "no minor unit"),
        ("components.2.applies_to", ["nothing"], "components[2].applies_to[0]", "no component"),
        ("discounts.0.percent", 120, "discounts[0].percent", "less than or equal to 100"),
        ("term.end", "2025-01-01", "term", "end must be after start"),
        ("components.0.type", "bogus", "components[0]", "does not match"),
    ],
)
def test_a_refusal_names_the_field_and_the_reason(
    path: str, value: Any, field: str, reason: str
) -> None:
    found = problems_of(changed(path, value))
    assert field in found, found
    assert reason in found[field]


def test_every_problem_is_reported_not_only_the_first() -> None:
    document = changed("components.0.amount", "1.001")
    document["components"][1]["tiers"][1]["from"] = 900
    document["components"][1]["filter"] = "group.x =="
    found = problems_of(document)
    assert {"components[0].amount", "components[1].tiers[1]", "components[1].filter"} <= set(found)


def test_duplicate_component_ids_and_two_wallets_are_refused() -> None:
    document = copy.deepcopy(BASE)
    document["components"].append({"id": "api", "type": "per_unit", "meter": "m", "unit_price": 1})
    wallet = {"id": "w1", "type": "prepaid_credits", "grants": []}
    document["components"] += [wallet, {**wallet, "id": "w2"}]
    found = problems_of(document)
    assert "is also components[1]" in found["components[3].id"]
    assert "at most one credit wallet" in found["components[5]"]


def test_component_rules_of_their_own() -> None:
    seats = {"id": "s", "type": "seats", "active_meter": "users", "unit_price": 10}
    found = problems_of(changed("components", [seats]))
    assert "exactly one of seats and seats_meter" in found["components[0]"]
    gain = {
        "id": "g",
        "type": "gain_share",
        "metric": "nrr",
        "baseline": {"value": 100},
        "value_per_unit": 1000,
        "tiers": [{"threshold": 10, "percent": 10}, {"threshold": 5, "percent": 5}],
    }
    found = problems_of(changed("components", [gain]))
    assert "ascending" in found["components[0]"]
    percentage = {
        "id": "p",
        "type": "percentage",
        "meter": "pay",
        "percent": 2.9,
        "minimum": 1,
        "maximum": "0.5",
    }
    found = problems_of(changed("components", [percentage]))
    assert "minimum is above maximum" in found["components[0]"]


def test_effective_from_must_lie_inside_the_term() -> None:
    found = problems_of(changed("effective_from", "2025-06-01"))
    assert "before the term start" in found["effective_from"]
    found = problems_of(changed("effective_from", "2027-02-01"))
    assert "before the term end" in found["effective_from"]


def test_naive_date_times_and_garbage_text_are_refused() -> None:
    found = problems_of(changed("term.start", "2026-01-01T00:00:00"))
    assert "term.start" in found
    with pytest.raises(InvalidInput) as caught:
        read_contract("contract: [unclosed")
    assert caught.value.field == "(document)"
    assert "line 1" in caught.value.reason
    assert problems_of([])  # type: ignore[arg-type]
