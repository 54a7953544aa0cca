"""The pure cores of billing, by property: taxes, corrections, the invoice's totals."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from valueproof.billing.corrections import billed_amounts, corrections
from valueproof.billing.invoice import Customer, invoice_document, unit_price
from valueproof.billing.taxes import TaxProfile, TaxRate, totals
from valueproof.contracts.lines import Line, Source
from valueproof.contracts.rating import Charges
from valueproof.money import Rounding, currency
from valueproof.periods import BillingPeriod

USD = currency("USD")
cents = st.integers(min_value=-(10**9), max_value=10**9).map(lambda n: Decimal(n).scaleb(-2))
rates = st.lists(
    st.integers(min_value=0, max_value=300_000).map(lambda n: Decimal(n).scaleb(-6)),
    min_size=1,
    max_size=3,
)
PERIOD = BillingPeriod(
    0,
    datetime(2026, 11, 1, tzinfo=UTC),
    datetime(2026, 12, 1, tzinfo=UTC),
    datetime(2026, 11, 1, tzinfo=UTC),
    datetime(2026, 12, 1, tzinfo=UTC),
)


def _profile(values: list[Decimal], inclusive: bool) -> TaxProfile:
    return TaxProfile(tuple(TaxRate(f"T{i}", r) for i, r in enumerate(values)), inclusive)


@given(cents, rates)
def test_exclusive_tax_is_each_rate_rounded_once_on_top(subtotal: Decimal, values: list) -> None:
    found = totals(subtotal, _profile(values, False), USD, Rounding.HALF_EVEN)
    assert [t.amount for t in found.taxes] == [
        USD.round(subtotal * r, Rounding.HALF_EVEN) for r in values
    ]
    assert found.total == subtotal + found.tax_total
    assert all(USD.fits(t.amount) for t in found.taxes)


@given(cents, rates)
def test_inclusive_tax_never_changes_the_total(subtotal: Decimal, values: list) -> None:
    found = totals(subtotal, _profile(values, True), USD, Rounding.HALF_EVEN)
    assert found.total == subtotal
    net = found.taxes[0].base
    # the net and the taxes add up to the gross within a minor unit per rate (each rounded once)
    assert abs(net + found.tax_total - subtotal) <= Decimal("0.01") * (len(values) + 1)


@given(cents, rates)
def test_an_exempt_account_pays_no_tax(subtotal: Decimal, values: list) -> None:
    profile = TaxProfile(tuple(TaxRate("T", r) for r in values), exempt=True)
    found = totals(subtotal, profile, USD, Rounding.HALF_UP)
    assert found.taxes == () and found.total == subtotal


def _line(component: str, amount: Decimal, quantity: Decimal | None = None) -> Line:
    source = Source("meter", component, quantity or Decimal(0), 1, ((10, 20),))
    return Line(component, "per_unit", component, quantity, amount, amount, {}, (source,))


def _charges(lines: list[Line]) -> Charges:
    total = sum((line.amount for line in lines), Decimal(0))
    return Charges("c", 1, 0, "acme", "USD", "half_even", PERIOD, tuple(lines), total, 15)


amounts = st.dictionaries(st.sampled_from(["a", "b", "c", "d"]), cents, max_size=4)


@given(amounts, amounts)
def test_billed_plus_corrections_is_what_rating_says_now(before: dict, after: dict) -> None:
    billed_lines = [
        {"component": k, "kind": "per_unit", "description": k, "quantity": None, "amount": str(v)}
        for k, v in before.items()
    ]
    billed = billed_amounts("INV-1", {"start": "2026-11-01T00:00:00Z"}, 15, billed_lines, [])
    now = _charges([_line(k, v) for k, v in after.items()])
    fixes = corrections(billed, now)
    result = dict(before)
    for fix in fixes:
        result[fix.component] = result.get(fix.component, Decimal(0)) + fix.amount
    assert {k: v for k, v in result.items() if v} == {k: v for k, v in after.items() if v}
    assert all(fix.amount != 0 for fix in fixes)
    # a second close with those corrections billed finds nothing more to correct
    carried = [
        {
            "component": f.component,
            "corrects": {"kind": f.kind},
            "quantity": None,
            "amount": str(f.amount),
        }
        for f in fixes
    ]
    again = billed_amounts("INV-1", {"start": "2026-11-01T00:00:00Z"}, 15, billed_lines, carried)
    assert corrections(again, now) == []


@given(st.lists(cents, min_size=1, max_size=6), cents.filter(lambda c: c >= 0), rates)
def test_an_invoice_adds_up(amounts_: list, balance: Decimal, values: list) -> None:
    charges = _charges([_line(f"c{i}", a, Decimal(i + 1)) for i, a in enumerate(amounts_)])
    customer = Customer("acme", "Acme", tax=_profile(values, False))
    document = invoice_document(charges, customer, (), balance)
    lines = [Decimal(line["amount"]) for line in document["lines"]]
    assert Decimal(document["subtotal"]) == sum(lines, Decimal(0))
    drawn = [line for line in document["lines"] if line["kind"] == "balance"]
    before = sum((a for a in amounts_), Decimal(0))
    assert sum((-Decimal(d["amount"]) for d in drawn), Decimal(0)) == min(
        balance, max(Decimal(0), before)
    )
    taxes = sum((Decimal(t["amount"]) for t in document["taxes"]), Decimal(0))
    assert Decimal(document["total"]) == Decimal(document["subtotal"]) + taxes
    assert all("unit_price" in line and "quantity" in line for line in document["lines"])


def test_a_line_shows_the_contracts_unit_price_only_where_it_is_the_lines_price() -> None:
    seat = {"unit_price": Decimal("20.00")}
    assert unit_price(Decimal(3), Decimal("60.00"), seat) == Decimal("20.00")
    # a seat credit for 7 inactive seats at 50% copies the seats' detail: its own price is -10
    assert str(unit_price(Decimal(7), Decimal("-70.00"), seat)) == "-10"
    # a fee prorated to 12 of 30 days: the share of the price actually charged
    assert str(unit_price(Decimal(1), Decimal("8.00"), seat)) == "8"
    assert unit_price(None, Decimal("499.00"), {}) == Decimal("499.00")


@given(
    st.integers(min_value=1, max_value=10**6).map(Decimal),
    st.integers(min_value=-(10**8), max_value=10**8).map(lambda n: Decimal(n).scaleb(-4)),
)
def test_quantity_times_unit_price_is_the_line_within_rounding(
    quantity: Decimal, price: Decimal
) -> None:
    exact = quantity * price
    shown = unit_price(quantity, exact, {})
    assert abs(shown * quantity - exact) <= Decimal("0.0000005") * quantity
    assert "E" not in str(shown)  # decimal text, as every amount on the document
