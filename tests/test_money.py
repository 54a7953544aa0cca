"""Money: ISO 4217 minor units from the official table, the one rounding step, amounts as text."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from valueproof.errors import InvalidInput
from valueproof.money import Rounding, amount_text, currency, decimal_text


@pytest.mark.parametrize(
    ("code", "minor"), [("USD", "0.01"), ("EUR", "0.01"), ("JPY", "1"), ("BHD", "0.001")]
)
def test_minor_units_come_from_iso_4217(code: str, minor: str) -> None:
    assert currency(code).minor_unit == Decimal(minor)


def test_codes_without_minor_units_or_unknown_are_refused_naming_the_field() -> None:
    with pytest.raises(InvalidInput, match="no minor unit") as caught:
        currency("XAU", "price.currency")
    assert caught.value.field == "price.currency"
    with pytest.raises(InvalidInput, match="not an ISO 4217"):
        currency("usd")


@pytest.mark.parametrize(
    ("amount", "rule", "rounded"),
    [
        ("2.675", Rounding.HALF_EVEN, "2.68"),
        ("2.665", Rounding.HALF_EVEN, "2.66"),
        ("2.665", Rounding.HALF_UP, "2.67"),
        ("-2.665", Rounding.HALF_UP, "-2.67"),
        ("2.669", Rounding.DOWN, "2.66"),
        ("-2.669", Rounding.DOWN, "-2.66"),
    ],
)
def test_each_rounding_rule(amount: str, rule: Rounding, rounded: str) -> None:
    assert currency("USD").round(Decimal(amount), rule) == Decimal(rounded)


def test_fits_says_whether_an_amount_is_whole_minor_units() -> None:
    usd, jpy = currency("USD"), currency("JPY")
    assert usd.fits(Decimal("12.50")) and not usd.fits(Decimal("12.505"))
    assert jpy.fits(Decimal("1200")) and not jpy.fits(Decimal("1200.5"))


amounts = st.decimals(min_value=-(10**9), max_value=10**9, places=8, allow_nan=False)


@given(amounts, st.sampled_from(list(Rounding)), st.sampled_from(["USD", "JPY", "BHD"]))
def test_rounding_lands_on_a_minor_unit_within_one_step_and_is_idempotent(
    amount: Decimal, rule: Rounding, code: str
) -> None:
    money = currency(code)
    rounded = money.round(amount, rule)
    assert money.fits(rounded)
    limit = money.minor_unit if rule is Rounding.DOWN else money.minor_unit / 2
    assert abs(rounded - amount) <= limit
    assert money.round(rounded, rule) == rounded
    if rule is Rounding.DOWN:
        assert abs(rounded) <= abs(amount)


@pytest.mark.parametrize(
    ("amount", "code", "text"),
    [
        ("1234.5", "USD", "1,234.50 USD"),
        ("1235", "JPY", "1,235 JPY"),
        ("-0.50", "EUR", "-0.50 EUR"),
        ("0.0004", "USD", "0.0004 USD"),
        ("1E+6", "USD", "1,000,000.00 USD"),
        ("-0", "USD", "0.00 USD"),
        ("12.3450", "BHD", "12.345 BHD"),
    ],
)
def test_amounts_print_in_the_currencys_minor_units(amount: str, code: str, text: str) -> None:
    assert amount_text(Decimal(amount), currency(code)) == text


def test_only_finite_numbers_print() -> None:
    with pytest.raises(ValueError, match="not a finite number"):
        decimal_text(Decimal("NaN"))


_GROUPED = re.compile(r"-?(0|[1-9][0-9]{0,2}(,[0-9]{3})*)(\.[0-9]+)?")


@given(
    st.decimals(allow_nan=False, allow_infinity=False),
    st.sampled_from(["USD", "JPY", "BHD", "EUR"]),
)
def test_printed_amounts_read_back_exactly_with_at_least_the_minor_units(
    amount: Decimal, code: str
) -> None:
    money = currency(code)
    text = amount_text(amount, money)
    number, printed_code = text.split(" ")
    assert printed_code == code
    assert _GROUPED.fullmatch(number), text
    assert Decimal(number.replace(",", "")) == amount  # nothing rounded away
    decimals = number.partition(".")[2]
    assert len(decimals) >= money.exponent
    assert len(decimals) == money.exponent or not decimals.endswith("0")
    assert number.startswith("-") == (amount < 0)
