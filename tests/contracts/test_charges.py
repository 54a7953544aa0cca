"""Tests for contracts/charges.py: published worked examples, then properties of the price models.

The examples live in vectors/charges_published_examples.json, each naming its product and URL;
the ones marked `constructed` apply a rule their source states without giving the number.
"""

from __future__ import annotations

import decimal
import itertools
import json
import math
from collections.abc import Callable
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from valueproof.contracts.charges import (
    PercentTier,
    Tier,
    TierCharge,
    graduated,
    graduated_percentage,
    package,
    per_unit,
    percentage,
    percentage_of_total,
    total,
    volume,
)

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parent / "vectors" / "charges_published_examples.json").read_text("utf-8")
)
D = Decimal


def _bound(text: str | None) -> Decimal | None:
    return None if text is None else D(text)


def _tiers(rows: list[dict[str, Any]]) -> list[Tier]:
    return [Tier(_bound(r["up_to"]), D(r["unit_price"]), D(r.get("flat_fee", "0"))) for r in rows]


# --- Published examples ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("example", "case"),
    [
        pytest.param(example, case, id=f"{example['product']}-{example['mode']}-{case['quantity']}")
        for example in VECTORS["tiered"]
        for case in example["cases"]
    ],
)
def test_published_tiered_examples(example: dict[str, Any], case: dict[str, str]) -> None:
    price = graduated if example["mode"] == "graduated" else volume
    assert total(price(D(case["quantity"]), _tiers(example["tiers"]))) == D(case["total"])


@pytest.mark.parametrize(
    ("example", "case"),
    [
        pytest.param(example, case, id=f"{example['product']}-{case['quantity']}")
        for example in VECTORS["package"]
        for case in example["cases"]
    ],
)
def test_published_package_examples(example: dict[str, Any], case: dict[str, Any]) -> None:
    charge = package(
        D(case["quantity"]),
        D(example["package_size"]),
        D(example["package_price"]),
        D(example["free_units"]),
    )
    assert (charge.packages, charge.amount) == (case["packages"], D(case["total"]))


@pytest.mark.parametrize(
    "example", [pytest.param(e, id=e["product"]) for e in VECTORS["percentage"]]
)
def test_published_percentage_examples(example: dict[str, Any]) -> None:
    amounts = [D(a) for a in example["amounts"]]
    for count, expected in enumerate(example["total_after_each"], start=1):
        charge = percentage(
            amounts[:count],
            D(example["rate"]),
            D(example["fixed_fee"]),
            _bound(example["minimum"]),
            _bound(example["maximum"]),
            example["free_transactions"],
            D(example["free_volume"]),
        )
        assert charge.amount == D(expected)


@pytest.mark.parametrize(
    "example", [pytest.param(e, id=e["product"]) for e in VECTORS["graduated_percentage"]]
)
def test_published_graduated_percentage_examples(example: dict[str, Any]) -> None:
    # Lago prices each transaction as what it adds to the period's running total.
    tiers = [
        PercentTier(_bound(r["up_to"]), D(r["rate"]), D(r["flat_fee"])) for r in example["tiers"]
    ]
    running = list(itertools.accumulate(D(t) for t in example["transactions"]))
    totals = [total(graduated_percentage(v, tiers)) for v in [D(0), *running]]
    charges = [after - before for before, after in itertools.pairwise(totals)]
    assert charges == [D(c) for c in example["charge_of_each"]]


STRIPE_FLAT = _tiers(next(e for e in VECTORS["tiered"] if "flat rate" in e["example"])["tiers"])


def test_graduated_reports_each_slice_of_stripes_flat_rate_example() -> None:
    assert graduated(D(12), STRIPE_FLAT) == [
        TierCharge(0, D(0), D(5), D(5), D(5), D(10), D(35)),
        TierCharge(1, D(5), D(10), D(5), D(4), D(20), D(40)),
        TierCharge(2, D(10), D(15), D(2), D(3), D(30), D(36)),
    ]
    assert volume(D(12), STRIPE_FLAT) == [TierCharge(2, D(10), D(15), D(12), D(3), D(30), D(66))]


def test_zero_quantity_reaches_no_tier_unlike_stripe() -> None:
    # Stripe bills the first tier's flat fee (10 USD here) at quantity 0 in both modes; we follow
    # Lago and charge nothing: a base fee is a fixed fee, not a tier.
    assert graduated(D(0), STRIPE_FLAT) == []
    assert volume(D(0), STRIPE_FLAT) == []
    assert graduated_percentage(D(0), [PercentTier(None, D("0.01"), D(200))]) == []


def test_up_to_is_inclusive_and_a_fraction_above_it_is_in_the_next_tier() -> None:
    tiers = [Tier(D(5), D(7)), Tier(None, D("6.5"))]
    assert volume(D(5), tiers)[0].tier == 0
    assert volume(D("5.000001"), tiers)[0].tier == 1
    assert [c.quantity for c in graduated(D("5.000001"), tiers)] == [D(5), D("0.000001")]


def test_lago_free_window_record() -> None:
    charge = percentage(
        [D(200), D(100), D(100), D(50)], D("0.012"), D("0.10"), None, None, 3, D(500)
    )
    assert (charge.free_transactions, charge.free_volume, charge.amount) == (3, D(400), D("0.70"))


def test_free_window_covers_a_crossing_transaction_in_part_then_closes() -> None:
    charge = percentage([D(600), D(100)], D("0.01"), D("0.1"), free_volume=D(500))
    # 100 of the first is charged 1% + fee; the window is closed for the second.
    assert (charge.amount, charge.free_volume, charge.free_transactions) == (D("2.2"), D(500), 0)


def test_a_transaction_that_exactly_uses_up_the_free_volume_is_free() -> None:
    # It fits in what remained; the window is then closed, so the next one pays its fixed fee.
    charge = percentage([D(500), D(0)], D("0.01"), D("0.1"), free_volume=D(500))
    assert (charge.amount, charge.free_transactions) == (D("0.1"), 1)


@pytest.mark.parametrize(
    ("earlier", "later", "terms"),
    [
        # Lago's example and the same transactions in reverse: 0.70 and 2.50.
        (
            ["200", "100", "100", "50"],
            ["50", "100", "100", "200"],
            {
                "rate": D("0.012"),
                "fixed_fee": D("0.10"),
                "free_transactions": 3,
                "free_volume": D(500),
            },
        ),
        # Free volume with a fixed fee: which transaction used it up decides who pays the fee.
        (
            ["600", "0"],
            ["0", "600"],
            {"rate": D("0.01"), "fixed_fee": D("0.1"), "free_volume": D(500)},
        ),
    ],
)
def test_percentage_of_total_refuses_when_order_decides(
    earlier: list[str], later: list[str], terms: dict[str, Any]
) -> None:
    first, second = ([D(a) for a in amounts] for amounts in (earlier, later))
    assert percentage(first, **terms).amount != percentage(second, **terms).amount
    with pytest.raises(ValueError, match="which transactions came first"):
        percentage_of_total(sum(first, D(0)), len(first), **terms)


def test_percentage_of_total_prices_a_single_transaction_whatever_the_allowances() -> None:
    terms: dict[str, Any] = {"rate": D("0.01"), "fixed_fee": D("0.1"), "free_volume": D(500)}
    assert percentage_of_total(D(600), 1, **terms) == percentage([D(600)], **terms)


def test_caller_precision_does_not_round_amounts() -> None:
    with decimal.localcontext(decimal.Context(prec=3)):
        charged = per_unit(D("123456.789"), D("1.23456"))
    assert charged == D("152414.81342784")


def test_an_amount_beyond_60_digits_raises_instead_of_rounding() -> None:
    with pytest.raises(decimal.Inexact):
        per_unit(D("1" * 40), D("1." + "1" * 30))


# --- Refusals -------------------------------------------------------------------------------------

OPEN = [Tier(None, D(1))]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: per_unit(D(-1), D(1)), "quantity must be"),
        (lambda: per_unit(D(1), D(-1)), "unit_price must be"),
        (lambda: graduated(D("NaN"), OPEN), "quantity must be"),
        (lambda: volume(D("-0.000001"), OPEN), "quantity must be"),
        (lambda: graduated(D(1), []), "tiers must not be empty"),
        (
            lambda: graduated(D(1), [Tier(D(10), D(1)), Tier(D(5), D(1)), *OPEN]),
            r"tiers\[1\].up_to",
        ),
        (lambda: volume(D(1), [Tier(D(0), D(1)), *OPEN]), r"tiers\[0\].up_to must be greater"),
        (lambda: volume(D(1), [*OPEN, *OPEN]), r"tiers\[0\].up_to is open-ended"),
        (lambda: volume(D(11), [Tier(D(10), D(1))]), "above the last tier"),
        (lambda: graduated(D(1), [Tier(None, D(-1))]), r"tiers\[0\].unit_price"),
        (lambda: graduated(D(1), [Tier(None, D(1), D(-1))]), r"tiers\[0\].flat_fee"),
        (lambda: graduated_percentage(D(-1), [PercentTier(None, D(0))]), "volume must be"),
        (lambda: graduated_percentage(D(1), [PercentTier(None, D(-1))]), r"tiers\[0\].rate"),
        (lambda: package(D(1), D(0), D(1)), "package_size"),
        (lambda: package(D(-1), D(1), D(1)), "quantity must be"),
        (lambda: package(D(1), D(1), D(-1)), "package_price"),
        (lambda: package(D(1), D(1), D(1), D(-1)), "free_units"),
        (lambda: percentage([D(1), D(-1)], D("0.1")), r"amounts\[1\]"),
        (lambda: percentage([D(1)], D("-0.1")), "rate must be"),
        (lambda: percentage([D(1)], D("0.1"), D(-1)), "fixed_fee"),
        (lambda: percentage([D(1)], D("0.1"), minimum=D(2), maximum=D(1)), "above maximum"),
        (lambda: percentage([D(1)], D("0.1"), free_transactions=-1), "free_transactions"),
        (lambda: percentage([D(1)], D("0.1"), free_volume=D(-1)), "free_volume"),
        (lambda: percentage_of_total(D(1), 0, D("0.1")), "cannot carry a volume"),
        (lambda: percentage_of_total(D(0), -1, D("0.1")), "cannot carry a volume"),
    ],
)
def test_refuses_malformed_input(call: Callable[[], object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


# --- Properties -----------------------------------------------------------------------------------


# 50 examples a property keeps the module well under five seconds.
PROPERTY = settings(max_examples=50)


def decimals(low: str, high: str) -> st.SearchStrategy[Decimal]:
    return st.decimals(D(low), D(high), allow_nan=False, allow_infinity=False, places=6)


quantities = decimals("0", "100000")
prices = decimals("0", "100")
fees = decimals("0", "1000")
rates = decimals("0", "1")
no_fee = st.just(D(0))
transaction_amounts = st.lists(decimals("0", "10000"), max_size=8)


@st.composite
def tier_lists(
    draw: st.DrawFn, flat_fees: st.SearchStrategy[Decimal] = fees, order: str = "any"
) -> list[Tier]:
    size = draw(st.integers(1, 5))
    widths = draw(st.lists(decimals("0.000001", "10000"), min_size=size - 1, max_size=size - 1))
    bounds: list[Decimal | None] = [*itertools.accumulate(widths), None]
    unit_prices = draw(st.lists(prices, min_size=size, max_size=size))
    if order != "any":
        unit_prices.sort(reverse=order == "falling")
    flats = draw(st.lists(flat_fees, min_size=size, max_size=size))
    return [Tier(*tier) for tier in zip(bounds, unit_prices, flats, strict=True)]


@PROPERTY
@given(tier_lists(), quantities, quantities)
def test_graduated_total_never_falls_as_quantity_grows(
    tiers: list[Tier], a: Decimal, b: Decimal
) -> None:
    low, high = sorted((a, b))
    assert total(graduated(low, tiers)) <= total(graduated(high, tiers))


@PROPERTY
@given(quantities, prices, fees)
def test_one_open_tier_is_per_unit_plus_its_flat_fee(
    q: Decimal, price: Decimal, fee: Decimal
) -> None:
    tiers = [Tier(None, price, fee)]
    expected = per_unit(q, price) + (fee if q > 0 else 0)
    assert total(graduated(q, tiers)) == expected
    assert graduated(q, tiers) == volume(q, tiers)


@PROPERTY
@given(tier_lists(), decimals("0.000001", "100000"))
def test_volume_prices_the_whole_quantity_at_its_tier(tiers: list[Tier], q: Decimal) -> None:
    index = next(i for i, t in enumerate(tiers) if t.up_to is None or q <= t.up_to)
    [charge] = volume(q, tiers)
    assert charge.tier == index
    assert charge.amount == q * tiers[index].unit_price + tiers[index].flat_fee


@PROPERTY
@given(tier_lists(), quantities)
def test_graduated_slices_partition_the_quantity(tiers: list[Tier], q: Decimal) -> None:
    charges = graduated(q, tiers)
    assert sum((c.quantity for c in charges), D(0)) == q
    assert [c.tier for c in charges] == list(range(len(charges)))
    lowers = [D(0), *(t.up_to for t in tiers[:-1])]
    assert len(charges) == sum(1 for lower in lowers if lower is not None and q > lower)
    for charge, tier in zip(charges, tiers, strict=False):
        upper = q if tier.up_to is None else tier.up_to
        assert charge.lower < charge.lower + charge.quantity <= upper
        assert charge.amount == charge.quantity * tier.unit_price + tier.flat_fee
    for before, after in itertools.pairwise(charges):
        assert after.lower == before.upper


@PROPERTY
@given(tier_lists(), quantities)
def test_graduated_is_at_most_the_top_price_plus_every_flat_fee(
    tiers: list[Tier], q: Decimal
) -> None:
    ceiling = q * max(t.unit_price for t in tiers) + sum((t.flat_fee for t in tiers), D(0))
    assert total(graduated(q, tiers)) <= ceiling


@PROPERTY
@given(tier_lists(order="falling"), quantities)
def test_volume_never_exceeds_graduated_when_prices_fall(tiers: list[Tier], q: Decimal) -> None:
    # Every slice is priced at least at the last reached tier's price, and flat fees only add up.
    assert total(volume(q, tiers)) <= total(graduated(q, tiers))


@PROPERTY
@given(tier_lists(flat_fees=no_fee, order="rising"), quantities)
def test_graduated_never_exceeds_volume_when_prices_rise_without_flat_fees(
    tiers: list[Tier], q: Decimal
) -> None:
    assert total(graduated(q, tiers)) <= total(volume(q, tiers))


def test_graduated_can_exceed_volume_otherwise() -> None:
    # Falling prices: Stripe's own example, 6 fonts (41.5 graduated, 39 volume).
    falling = [Tier(D(5), D(7)), Tier(D(10), D("6.5")), Tier(None, D(6))]
    assert total(graduated(D(6), falling)) > total(volume(D(6), falling))
    # Rising prices with a flat fee on a lower tier: 1 + 10 + 2 graduated, 2 x 2 volume.
    rising = [Tier(D(1), D(1), D(10)), Tier(None, D(2))]
    assert total(graduated(D(2), rising)) > total(volume(D(2), rising))


@PROPERTY
@given(tier_lists(), quantities)
def test_graduated_percentage_is_graduated_at_the_rates(tiers: list[Tier], q: Decimal) -> None:
    percent_tiers = [PercentTier(t.up_to, t.unit_price / 100, t.flat_fee) for t in tiers]
    rated = [Tier(t.up_to, t.rate, t.flat_fee) for t in percent_tiers]
    assert graduated_percentage(q, percent_tiers) == graduated(q, rated)


@PROPERTY
@given(quantities, decimals("0.000001", "1000"), prices, quantities)
def test_package_charges_every_started_package(
    q: Decimal, size: Decimal, price: Decimal, free: Decimal
) -> None:
    charge = package(q, size, price, free)
    packages = math.ceil(Fraction(max(q - free, D(0))) / Fraction(size))
    assert (charge.packages, charge.amount) == (packages, packages * price)
    assert charge.free_units + charge.billable_units == q


@PROPERTY
@given(transaction_amounts, rates, fees)
def test_percentage_of_total_equals_percentage_without_free_units(
    amounts: list[Decimal], rate: Decimal, fixed_fee: Decimal
) -> None:
    from_totals = percentage_of_total(sum(amounts, D(0)), len(amounts), rate, fixed_fee)
    assert from_totals == percentage(amounts, rate, fixed_fee)


@PROPERTY
@given(transaction_amounts, rates, decimals("0", "20000"))
def test_percentage_of_total_equals_percentage_with_free_volume_and_no_fixed_fee(
    amounts: list[Decimal], rate: Decimal, free_volume: Decimal
) -> None:
    from_totals = percentage_of_total(
        sum(amounts, D(0)), len(amounts), rate, free_volume=free_volume
    )
    assert from_totals == percentage(amounts, rate, free_volume=free_volume)


@PROPERTY
@given(transaction_amounts, fees, st.integers(0, 10))
def test_percentage_of_total_equals_percentage_with_free_transactions_and_no_rate(
    amounts: list[Decimal], fixed_fee: Decimal, free_transactions: int
) -> None:
    from_totals = percentage_of_total(
        sum(amounts, D(0)), len(amounts), D(0), fixed_fee, free_transactions
    )
    assert from_totals == percentage(amounts, D(0), fixed_fee, free_transactions=free_transactions)


@PROPERTY
@given(transaction_amounts, rates, fees, st.integers(0, 10), decimals("0", "20000"))
def test_percentage_of_total_is_exact_whenever_it_answers(
    amounts: list[Decimal], rate: Decimal, fixed_fee: Decimal, free_count: int, free_volume: Decimal
) -> None:
    terms: dict[str, Any] = {
        "rate": rate,
        "fixed_fee": fixed_fee,
        "free_transactions": free_count,
        "free_volume": free_volume,
    }
    try:
        from_totals = percentage_of_total(sum(amounts, D(0)), len(amounts), **terms)
    except ValueError as refusal:
        assert "which transactions came first" in str(refusal)
        return
    assert from_totals == percentage(amounts, **terms)


@PROPERTY
@given(transaction_amounts, rates, fees, fees, fees)
def test_percentage_clamps_each_transaction(
    amounts: list[Decimal], rate: Decimal, fixed_fee: Decimal, a: Decimal, b: Decimal
) -> None:
    low, high = sorted((a, b))
    charge = percentage(amounts, rate, fixed_fee, minimum=low, maximum=high)
    assert len(amounts) * low <= charge.amount <= len(amounts) * high
    if charge.minimum_applied == charge.maximum_applied == 0:
        assert charge.amount == percentage(amounts, rate, fixed_fee).amount


@PROPERTY
@given(transaction_amounts, rates, fees)
def test_transactions_inside_the_free_count_cost_nothing(
    amounts: list[Decimal], rate: Decimal, fixed_fee: Decimal
) -> None:
    charge = percentage(amounts, rate, fixed_fee, minimum=D(1), free_transactions=len(amounts))
    assert charge.amount == 0
