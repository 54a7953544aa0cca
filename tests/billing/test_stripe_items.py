"""`stripe_items`, pure: one integer item per line (and per exclusive tax) in minor units, which
add up to the invoice, and never a rounded amount."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from valueproof.billing.stripe_handoff import Item, minor_units, stripe_items
from valueproof.errors import InvalidInput
from valueproof.money import currency

EXPONENTS = {"USD": 2, "JPY": 0, "BHD": 3}
MINOR = st.integers(min_value=-(10**12), max_value=10**12)


@st.composite
def documents(draw: st.DrawFn) -> tuple[dict[str, Any], int]:
    """An invoice document (the fields the items read) and its total in minor units."""
    code = draw(st.sampled_from(sorted(EXPONENTS)))
    exponent = EXPONENTS[code]
    amounts = draw(st.lists(MINOR, max_size=8))
    lines = [
        {
            "description": f"line {n}",
            "quantity": str(draw(st.integers(min_value=0, max_value=10**9))),
            "unit_price": str(Decimal(draw(MINOR)).scaleb(-exponent - 2)),
            "amount": str(Decimal(amount).scaleb(-exponent)),
        }
        for n, amount in enumerate(amounts)
    ]
    taxes = [
        {
            "name": f"T{n}",
            "rate": "0.0625",
            "base": "1",
            "amount": str(Decimal(a).scaleb(-exponent)),
        }
        for n, a in enumerate(draw(st.lists(MINOR, max_size=3)))
    ]
    inclusive = draw(st.booleans())
    total = sum(amounts) + (
        0 if inclusive else sum(int(Decimal(t["amount"]).scaleb(exponent)) for t in taxes)
    )
    document = {"currency": code, "lines": lines, "taxes": taxes, "tax_inclusive": inclusive}
    return document, total


@given(documents())
def test_items_are_whole_minor_units_one_per_line_and_add_up_to_the_total(
    drawn: tuple[dict[str, Any], int],
) -> None:
    document, total = drawn
    items = stripe_items(document)
    taxes = 0 if document["tax_inclusive"] else len(document["taxes"])
    assert len(items) == len(document["lines"]) + taxes
    assert all(type(item.amount) is int for item in items)
    assert sum(item.amount for item in items) == total
    for item, line in zip(items, document["lines"], strict=False):
        assert (
            f"{line['quantity']} x {line['unit_price']} {document['currency']}" in item.description
        )


@given(documents())
def test_without_taxes_the_items_are_the_lines_alone(drawn: tuple[dict[str, Any], int]) -> None:
    document, _ = drawn
    assert len(stripe_items(document, with_taxes=False)) == len(document["lines"])


def test_an_amount_finer_than_the_minor_unit_is_refused_not_rounded() -> None:
    document = {
        "currency": "USD",
        "lines": [{"description": "x", "quantity": "1", "unit_price": "0.005", "amount": "0.005"}],
        "taxes": [],
        "tax_inclusive": False,
    }
    with pytest.raises(InvalidInput) as raised:
        stripe_items(document)
    assert raised.value.field == "lines[0].amount"


def test_minor_units_of_each_exponent() -> None:
    assert minor_units(Decimal("-12.34"), currency("USD"), "a") == -1234
    assert minor_units(Decimal("500"), currency("JPY"), "a") == 500
    assert minor_units(Decimal("1.005"), currency("BHD"), "a") == 1005
    assert stripe_items(
        {
            "currency": "JPY",
            "lines": [
                {"description": "Fee", "quantity": "1", "unit_price": "500", "amount": "500"}
            ],
            "taxes": [{"name": "CT", "rate": "0.1", "base": "500", "amount": "50"}],
            "tax_inclusive": False,
        }
    ) == [Item(500, "Fee: 1 x 500 JPY"), Item(50, "CT 10% on 500 JPY")]
