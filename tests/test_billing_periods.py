"""Billing periods: anchored boundaries, clamped short months, clipped first and last periods."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from valueproof.periods import Cadence, billing_period_at, billing_periods


def utc(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, tzinfo=UTC)


def test_a_monthly_term_from_the_tenth_anchored_on_the_first() -> None:
    periods = list(
        billing_periods(utc(2026, 1, 10), utc(2026, 4, 10), Cadence.MONTHLY, 1, utc(2030, 1, 1))
    )
    assert [(p.start.day, p.start.month, p.end.day, p.end.month) for p in periods] == [
        (10, 1, 1, 2),
        (1, 2, 1, 3),
        (1, 3, 1, 4),
        (1, 4, 10, 4),
    ]
    assert [p.partial for p in periods] == [True, False, False, True]
    assert periods[0].full_start == utc(2026, 1, 1)


def test_anchor_days_past_a_months_end_clamp_to_it() -> None:
    periods = list(billing_periods(utc(2026, 1, 31), None, Cadence.MONTHLY, 31, utc(2026, 4, 1)))
    assert [p.start for p in periods] == [
        utc(2026, 1, 31),
        utc(2026, 2, 28),
        utc(2026, 3, 31),
    ]


def test_quarterly_and_annual_periods_step_from_the_terms_month() -> None:
    quarter = billing_period_at(utc(2026, 2, 15), None, Cadence.QUARTERLY, 15, utc(2026, 11, 23))
    assert quarter is not None
    assert (quarter.index, quarter.start, quarter.end) == (3, utc(2026, 11, 15), utc(2027, 2, 15))
    year = billing_period_at(utc(2026, 2, 15), None, Cadence.ANNUAL, 1, utc(2027, 1, 5))
    assert year is not None
    assert (year.start, year.end) == (utc(2026, 2, 15), utc(2027, 2, 1))


def test_outside_the_term_there_is_no_period() -> None:
    assert (
        billing_period_at(utc(2026, 1, 1), utc(2027, 1, 1), Cadence.MONTHLY, 1, utc(2025, 12, 31))
        is None
    )
    assert (
        billing_period_at(utc(2026, 1, 1), utc(2027, 1, 1), Cadence.MONTHLY, 1, utc(2027, 1, 1))
        is None
    )


@settings(max_examples=200, deadline=None)
@given(
    st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1)),
    st.integers(min_value=0, max_value=2000),
    st.integers(min_value=1, max_value=31),
    st.sampled_from(list(Cadence)),
)
def test_the_period_at_an_instant_is_the_one_the_sequence_reaches(
    start: datetime, offset_days: int, anchor: int, cadence: Cadence
) -> None:
    term_start = start.replace(tzinfo=UTC)
    moment = term_start + timedelta(days=offset_days, hours=offset_days % 24)
    found = billing_period_at(term_start, None, cadence, anchor, moment)
    walked = list(billing_periods(term_start, None, cadence, anchor, moment))[-1]
    assert found == walked
    assert found.start <= moment < found.end
