"""Tests for periods.py: RFC 3339 parsing and UTC buckets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from valueproof.errors import InvalidInput
from valueproof.periods import (
    Granularity,
    bucket_start,
    bucket_starts,
    format_micros,
    format_rfc3339,
    from_micros,
    next_bucket,
    parse_instant_field,
    parse_rfc3339,
    to_micros,
)

instants = st.datetimes(
    min_value=datetime(1971, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-23T10:00:00Z", datetime(2026, 11, 23, 10, tzinfo=UTC)),
        ("2026-11-23t10:00:00z", datetime(2026, 11, 23, 10, tzinfo=UTC)),
        ("2026-11-23T12:00:00+02:00", datetime(2026, 11, 23, 10, tzinfo=UTC)),
        ("2026-11-23T10:00:00.123456Z", datetime(2026, 11, 23, 10, 0, 0, 123456, tzinfo=UTC)),
    ],
)
def test_parses_rfc3339(text: str, expected: datetime) -> None:
    assert parse_rfc3339(text) == expected


@pytest.mark.parametrize(
    "text",
    ["2026-11-23", "2026-11-23T10:00:00", "20261123T100000Z", "yesterday", "2026-13-01T00:00:00Z"],
)
def test_refuses_what_rfc3339_does_not_allow(text: str) -> None:
    with pytest.raises(ValueError, match="RFC 3339"):
        parse_rfc3339(text)


@given(instants)
def test_micros_round_trip(moment: datetime) -> None:
    assert from_micros(to_micros(moment)) == moment
    assert parse_rfc3339(format_rfc3339(moment)) == moment


@given(instants, st.sampled_from(list(Granularity)))
def test_bucket_contains_the_instant(moment: datetime, granularity: Granularity) -> None:
    start = bucket_start(moment, granularity)
    assert start <= moment < next_bucket(start, granularity)


def test_month_buckets_follow_the_calendar() -> None:
    starts = list(
        bucket_starts(
            datetime(2025, 11, 15, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC), Granularity.MONTH
        )
    )
    assert [s.month for s in starts] == [11, 12, 1]
    assert next_bucket(starts[-1], Granularity.MONTH) - starts[-1] == timedelta(days=31)


@given(st.integers(min_value=0, max_value=253402300799999999))  # 1970 up to the year 9999
def test_format_micros_is_format_rfc3339_of_the_same_instant(micros: int) -> None:
    assert format_micros(micros) == format_rfc3339(from_micros(micros))


@pytest.mark.parametrize(
    "text",
    [
        "0001-01-01T00:00:00Z",
        "0001-01-01T00:00:00+01:00",  # before year 1 in UTC: an overflow, not a crash
        "9999-12-31T23:59:59Z",
        "1969-12-31T23:59:59Z",
        "9000-01-01T00:00:00Z",
    ],
)
def test_a_query_instant_near_datetimes_limits_is_refused_naming_the_field(text: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_instant_field("at", text)
    assert refused.value.field == "at"


def test_a_query_instant_inside_the_range_is_taken() -> None:
    assert parse_instant_field("at", "1970-01-01T00:00:00Z") == datetime(1970, 1, 1, tzinfo=UTC)
    assert parse_instant_field("at", "8999-12-31T23:00:00Z").year == 8999
