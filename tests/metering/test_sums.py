"""Tests for metering/sums.py: a sum in two BIGINT words is exact, and no step of the SQL that
adds or reads the words leaves the 64-bit range (hypothesis, against Python's integers)."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from valueproof.metering.quantities import from_micros
from valueproof.metering.sums import HALF, WORD, join, join_summed, split

INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
# Sums far past one BIGINT: up to 10**12 events of the largest quantity in one bucket.
SUMS = st.integers(min_value=-(2**63) * 10**12, max_value=2**63 * 10**12)


def fits(number: int) -> bool:
    return -(2**63) <= number < 2**63


def sql_div(left: int, right: int) -> int:
    """SQL integer division (both backends): truncates toward zero."""
    quotient = abs(left) // abs(right)
    return quotient if (left >= 0) == (right > 0) else -quotient


def sql_mod(left: int, right: int) -> int:
    """SQL `%` (both backends): the sign of the dividend."""
    return left - right * sql_div(left, right)


@given(SUMS)
def test_words_join_back_to_the_sum(micros: int) -> None:
    high, low = split(micros)
    assert 0 <= low < WORD
    assert join(high, low) == micros


@given(SUMS, SUMS)
def test_the_upserts_carry_adds_exactly_within_64_bits(stored: int, delta: int) -> None:
    (high, low), (more_high, more_low) = split(stored), split(delta)
    carried = low + more_low  # what sums.carry_sql computes in SQL, step by step
    assert fits(carried)
    new_high = high + more_high + sql_div(carried, WORD)
    new_low = carried - sql_div(carried, WORD) * WORD
    assert 0 <= new_low < WORD
    assert join(new_high, new_low) == stored + delta


@given(INT64)
def test_one_quantity_moves_the_high_word_by_at_most_ten(value: int) -> None:
    high, _ = split(value)
    assert -10 <= high <= 9


@given(st.lists(SUMS, max_size=40))
def test_sums_of_many_rows_read_back_exactly(rows: list[int]) -> None:
    words = [split(row) for row in rows]
    upper = sum(sql_div(low, HALF) for _, low in words)  # what sums.summed asks SQL for
    lower = sum(sql_mod(low, HALF) for _, low in words)
    high = sum(high for high, _ in words)
    assert fits(high) and fits(upper) and fits(lower)
    assert join_summed(high, upper, lower) == sum(rows)


@given(st.integers(min_value=-(10**40), max_value=10**40))
def test_a_quantity_reads_exactly_at_any_size(micros: int) -> None:
    text = str(from_micros(micros))
    whole, _, fraction = text.removeprefix("-").partition(".")
    assert int(whole + fraction.ljust(6, "0")) == abs(micros)  # every digit kept, none rounded
    assert text.startswith("-") == (micros < 0)
    assert not fraction.endswith("0") and "E" not in text


@given(INT64)
def test_a_quantity_in_the_bigint_range_reads_as_before(micros: int) -> None:
    # The ledger leaves of events on record carry this text: it must not change by a byte.
    before = Decimal(micros).scaleb(-6)
    integral = before == before.to_integral_value()
    assert str(from_micros(micros)) == str(
        before.quantize(Decimal(1)) if integral else before.normalize()
    )


def test_the_words_of_the_edges() -> None:
    assert split(2**63) == (9, 223372036854775808)
    assert split(-(2**63)) == (-10, 776627963145224192)
    assert from_micros(2**63 + 1) == Decimal("9223372036854.775809")
