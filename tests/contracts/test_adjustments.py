"""Tests for contracts/adjustments.py: commitment true-up, discounts and the invoice cap."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from valueproof.contracts.adjustments import (
    amount_discount,
    commitment_true_up,
    invoice_cap,
    percent_discount,
    prorate_commitment,
)
from valueproof.contracts.fees import prorate

money = st.decimals(min_value=0, max_value=10**9, places=2, allow_nan=False, allow_infinity=False)
percents = st.decimals(min_value=0, max_value=100, places=3, allow_nan=False, allow_infinity=False)
fractions = st.decimals(min_value=0, max_value=1, places=6, allow_nan=False, allow_infinity=False)


# Worked examples from Orb's "Applying adjustments and discounts"
# (docs.withorb.com/product-catalog/adjustments).


def test_orb_percentage_discount_example() -> None:
    # "a 20% discount on a $500 charge results in a $400 final amount"
    discount = percent_discount(Decimal(500), Decimal(20))
    assert (discount, Decimal(500) - discount) == (Decimal(100), Decimal(400))


def test_orb_amount_discount_example() -> None:
    # "a $100 discount reduces the charge by exactly $100"
    assert amount_discount(Decimal(500), Decimal(100)) == Decimal(100)


def test_orb_minimum_and_maximum_examples() -> None:
    # "at least $50" and "at most $1000": the true-up lifts a small subtotal to the minimum and the
    # cap brings a large one down to the maximum.
    assert commitment_true_up(Decimal(50), Decimal(18)).shortfall == Decimal(32)
    assert invoice_cap(Decimal(1_250), Decimal(1_000)) == Decimal(250)


def test_orb_example_2_inputs_in_orbs_adjustment_order() -> None:
    # Orb, "Invoice calculation examples", Example 2's inputs
    # (docs.withorb.com/invoicing/invoice-calculation-examples): 200 compute hours at $0.10, a 10%
    # discount, a $50 minimum and a $500 maximum, applied in the order that page gives (amount
    # discount, percent discount, minimum, maximum). The arithmetic below is ours.
    subtotal = 200 * Decimal("0.10")
    discounted = subtotal - percent_discount(subtotal, Decimal(10))
    assert discounted == Decimal(18)
    with_minimum = discounted + commitment_true_up(Decimal(50), discounted).shortfall
    assert with_minimum == Decimal(50)
    assert invoice_cap(with_minimum, Decimal(500)) == 0


# Minimum commitment


@pytest.mark.parametrize(
    ("minimum", "committed", "shortfall"),
    [
        (Decimal(1_000), Decimal(0), Decimal(1_000)),  # nothing used
        (Decimal(1_000), Decimal("999.99"), Decimal("0.01")),
        (Decimal(1_000), Decimal(1_000), Decimal(0)),  # met exactly
        (Decimal(1_000), Decimal(2_500), Decimal(0)),  # exceeded: never a negative true-up
        (Decimal(0), Decimal(0), Decimal(0)),
    ],
)
def test_true_up(minimum: Decimal, committed: Decimal, shortfall: Decimal) -> None:
    assert commitment_true_up(minimum, committed).shortfall == shortfall


def test_prorated_commitment_for_a_term_starting_on_the_10th() -> None:
    # A $3,000 monthly minimum, term starting November 10th: 21 of 30 days.
    fraction = prorate(
        Decimal(1),
        datetime(2026, 11, 1, tzinfo=UTC),
        datetime(2026, 12, 1, tzinfo=UTC),
        datetime(2026, 11, 10, tzinfo=UTC),
        datetime(2027, 11, 10, tzinfo=UTC),
    ).fraction
    minimum = prorate_commitment(Decimal(3_000), fraction)
    assert minimum == Decimal(2_100)
    assert commitment_true_up(minimum, Decimal(1_600)).shortfall == Decimal(500)


@pytest.mark.parametrize(
    ("call", "reason"),
    [
        (lambda: commitment_true_up(Decimal(-1), Decimal(0)), "minimum must be a finite amount"),
        (lambda: commitment_true_up(Decimal(1), Decimal(-1)), "committed must be a finite"),
        (lambda: prorate_commitment(Decimal(1), Decimal("1.01")), "between 0 and 1"),
        (lambda: prorate_commitment(Decimal(1), Decimal(-1)), "fraction must be a finite"),
        (lambda: percent_discount(Decimal(1), Decimal(101)), "between 0 and 100"),
        (lambda: percent_discount(Decimal(-1), Decimal(1)), "base must be a finite"),
        (lambda: amount_discount(Decimal(1), Decimal(-1)), "amount must be a finite"),
        (lambda: invoice_cap(Decimal(1), Decimal(-1)), "maximum must be a finite"),
        (lambda: invoice_cap(Decimal("Infinity"), Decimal(1)), "total must be a finite"),
    ],
)
def test_refuses_malformed_amounts(call: Callable[[], object], reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        call()


def test_refuses_floats() -> None:
    with pytest.raises(TypeError, match="Decimal"):
        percent_discount(100.0, Decimal(10))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("base", "percent", "discount"),
    [
        (Decimal(0), Decimal(50), Decimal(0)),
        (Decimal(100), Decimal(0), Decimal(0)),
        (Decimal(100), Decimal(100), Decimal(100)),
        (Decimal("0.01"), Decimal("33.333"), Decimal("0.0033333")),  # exact, not rounded
    ],
)
def test_percent_discount_edges(base: Decimal, percent: Decimal, discount: Decimal) -> None:
    assert percent_discount(base, percent) == discount


def test_amount_discount_never_exceeds_the_base() -> None:
    assert amount_discount(Decimal(40), Decimal(100)) == Decimal(40)


def test_invoice_cap_reached_exactly_or_not_at_all() -> None:
    assert invoice_cap(Decimal(1_000), Decimal(1_000)) == 0
    assert invoice_cap(Decimal(10), Decimal(1_000)) == 0


@given(money, money)
def test_true_up_lifts_to_the_minimum_and_no_further(minimum: Decimal, committed: Decimal) -> None:
    true_up = commitment_true_up(minimum, committed)
    assert true_up.shortfall >= 0
    assert true_up.committed + true_up.shortfall >= minimum
    assert true_up.committed + true_up.shortfall == max(minimum, committed)


@given(money, fractions)
def test_prorated_commitment_is_within_the_minimum(minimum: Decimal, fraction: Decimal) -> None:
    assert 0 <= prorate_commitment(minimum, fraction) <= minimum


@given(money, percents, percents)
def test_percent_discount_is_within_base_and_monotone(
    base: Decimal, one: Decimal, other: Decimal
) -> None:
    low, high = sorted((one, other))
    assert 0 <= percent_discount(base, low) <= percent_discount(base, high) <= base


@given(money, money)
def test_amount_discount_is_within_base(base: Decimal, amount: Decimal) -> None:
    discount = amount_discount(base, amount)
    assert 0 <= discount <= base
    assert discount <= amount


@given(money, money)
def test_invoice_cap_brings_the_total_to_at_most_the_maximum(
    total: Decimal, maximum: Decimal
) -> None:
    reduction = invoice_cap(total, maximum)
    assert 0 <= reduction <= total
    assert total - reduction == min(total, maximum)
