"""Money: ISO 4217 minor units from the official table, and the one rounding step."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from valueproof.errors import InvalidInput
from valueproof.money import Rounding, currency


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
