"""Tests for metering/quantities.py: exact micro-unit quantities."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from valueproof.metering.quantities import from_micros, to_micros


@pytest.mark.parametrize(
    ("value", "micros"),
    [(1, 1_000_000), (0.1, 100_000), ("2.5", 2_500_000), ("0.000001", 1), (0, 0)],
)
def test_to_micros(value: object, micros: int) -> None:
    assert to_micros(value) == micros


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (True, "boolean"),
        ("1.0000001", "more than 6 decimal places"),
        ("abc", "not a number"),
        (float("nan"), "finite"),
        (10**20, "out of range"),
        ([1], "must be a number"),
    ],
)
def test_to_micros_refuses(value: object, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        to_micros(value)


@pytest.mark.parametrize(
    "text",
    [" 3 ", "1_000", "+3", "1e3", "NaN", "Infinity", "", ".5", "5.", "007", "0x10", "\uff13"],
)
def test_strings_must_be_plain_decimals(text: str) -> None:
    with pytest.raises(ValueError, match="not a number in plain decimal notation"):
        to_micros(text)


@given(st.decimals(min_value=-(10**12), max_value=10**12, places=6, allow_nan=False))
def test_every_plain_decimal_string_is_taken(quantity: Decimal) -> None:
    assert to_micros(format(quantity, "f")) == int(quantity.scaleb(6))


@given(st.decimals(min_value=-(10**12), max_value=10**12, places=6, allow_nan=False))
def test_round_trip_is_exact(quantity: Decimal) -> None:
    assert from_micros(to_micros(str(quantity))) == quantity


@given(st.lists(st.integers(min_value=0, max_value=10**9), max_size=50))
def test_sums_are_exact(parts: list[int]) -> None:
    assert from_micros(sum(parts)) == sum((from_micros(p) for p in parts), Decimal(0))
