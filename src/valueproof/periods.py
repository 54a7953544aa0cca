"""Time on the wire (RFC 3339) and the hour/day/month buckets usage is reported in, all in UTC."""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from valueproof.errors import InvalidInput

MICROS_PER_SECOND = 1_000_000
SECONDS_PER_HOUR = 3_600
MICROS_PER_HOUR = SECONDS_PER_HOUR * MICROS_PER_SECOND
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NAIVE_EPOCH = datetime(1970, 1, 1)  # naive UTC: isoformat() then carries no offset


class Granularity(StrEnum):
    """The bucket sizes usage queries answer in."""

    HOUR = "hour"
    DAY = "day"
    MONTH = "month"


def parse_rfc3339(text: str) -> datetime:
    """Parse an RFC 3339 timestamp (`2026-11-23T10:00:00Z`, offsets allowed) into aware UTC.

    Raises ValueError with the reason. `datetime.fromisoformat` alone also accepts ISO 8601 forms
    RFC 3339 excludes (dates alone, basic format, no offset), so the shape is checked first.
    """
    if len(text) < 20 or text[4] != "-" or text[7] != "-" or text[10] not in "Tt ":
        raise ValueError(f"not an RFC 3339 date-time: {text!r}")
    last = text[-1]
    if last not in "Zz" and text[-6] not in "+-":
        raise ValueError(f"RFC 3339 needs a UTC offset or Z: {text!r}")
    try:
        parsed = datetime.fromisoformat(text[:-1] + "+00:00" if last in "Zz" else text)
    except ValueError:
        raise ValueError(f"not a valid RFC 3339 date-time: {text!r}") from None
    return parsed.astimezone(UTC)


def format_rfc3339(moment: datetime) -> str:
    """Render an aware datetime as RFC 3339 UTC with a `Z` suffix."""
    text = moment.astimezone(UTC).isoformat()
    return text.removesuffix("+00:00") + "Z"


def format_micros(micros: int) -> str:
    """RFC 3339 UTC text of microseconds since the epoch: format_rfc3339's text, in half the time
    (ingest renders one per event for its ledger leaf)."""
    return (_NAIVE_EPOCH + timedelta(microseconds=micros)).isoformat() + "Z"


def to_micros(moment: datetime) -> int:
    """Microseconds since the Unix epoch; exact, unlike `timestamp()`."""
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * MICROS_PER_SECOND + delta.microseconds


def from_micros(micros: int) -> datetime:
    """Aware UTC datetime from microseconds since the Unix epoch."""
    return _EPOCH + timedelta(microseconds=micros)


def hour_of(micros: int) -> int:
    """The hour bucket (hours since the epoch) that holds an instant."""
    return micros // MICROS_PER_HOUR


def month_of_hour(hour: int) -> int:
    """The calendar month (UTC) an hour bucket falls in, as year * 12 + month - 1."""
    moment = hour_start(hour)
    return moment.year * 12 + moment.month - 1


def month_start_hour(month: int) -> int:
    """The first hour bucket of a month numbered as `month_of_hour` numbers it."""
    return hour_of(to_micros(datetime(month // 12, month % 12 + 1, 1, tzinfo=UTC)))


def hour_start(hour: int) -> datetime:
    """The instant an hour bucket starts."""
    return from_micros(hour * MICROS_PER_HOUR)


def bucket_start(moment: datetime, granularity: Granularity) -> datetime:
    """The start of the bucket of `granularity` that contains `moment` (UTC)."""
    moment = moment.astimezone(UTC)
    if granularity is Granularity.HOUR:
        return moment.replace(minute=0, second=0, microsecond=0)
    if granularity is Granularity.DAY:
        return moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def next_bucket(start: datetime, granularity: Granularity) -> datetime:
    """The start of the bucket after the one starting at `start`."""
    if granularity is Granularity.HOUR:
        return start + timedelta(hours=1)
    if granularity is Granularity.DAY:
        return start + timedelta(days=1)
    if start.month == 12:
        return start.replace(year=start.year + 1, month=1)
    return start.replace(month=start.month + 1)


def bucket_starts(start: datetime, end: datetime, granularity: Granularity) -> Iterator[datetime]:
    """Starts of every bucket that overlaps [start, end)."""
    current = bucket_start(start, granularity)
    while current < end:
        yield current
        current = next_bucket(current, granularity)


# Instants a query or an option may name: windows, periods and buckets are computed around
# them, so one near datetime's own limits (year 1 or 9999) would overflow on the way.
QUERY_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
QUERY_LATEST = datetime(9000, 1, 1, tzinfo=UTC)


def parse_instant_field(field: str, text: str) -> datetime:
    """`parse_rfc3339` for user input: a bad value, or one outside 1970-01-01 to 9000-01-01,
    is InvalidInput naming `field`."""
    try:
        moment = parse_rfc3339(text)
    except (ValueError, OverflowError) as error:
        raise InvalidInput(field, str(error)) from None
    if not QUERY_EARLIEST <= moment < QUERY_LATEST:
        raise InvalidInput(
            field,
            f"{text!r} is outside {format_rfc3339(QUERY_EARLIEST)} to "
            f"{format_rfc3339(QUERY_LATEST)}",
        )
    return moment


class Cadence(StrEnum):
    """How often a contract bills: the length of its billing period in months."""

    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    ANNUAL = "annual"

    @property
    def months(self) -> int:
        return {"monthly": 1, "quarterly": 3, "annual": 12}[self.value]


@dataclass(frozen=True, slots=True)
class BillingPeriod:
    """One billing period: [start, end) clipped to the term, inside its full anchored period."""

    index: int  # 0 for the period the term starts in
    start: datetime
    end: datetime
    full_start: datetime
    full_end: datetime

    @property
    def partial(self) -> bool:
        return self.start != self.full_start or self.end != self.full_end


def _anchor(year: int, month: int, day: int) -> datetime:
    """Midnight UTC of `day` in the month, clamped to the month's last day (31 -> Feb 28)."""
    year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
    return datetime(year, month, min(day, calendar.monthrange(year, month)[1]), tzinfo=UTC)


def _first_boundary(term_start: datetime, cadence: Cadence, anchor_day: int) -> tuple[int, int]:
    """(year, month) of the last anchor on or before the term start."""
    year, month = term_start.year, term_start.month
    if _anchor(year, month, anchor_day) > term_start:
        month -= cadence.months
    return year, month


def _period(
    term_start: datetime,
    term_end: datetime | None,
    first: tuple[int, int],
    cadence: Cadence,
    anchor_day: int,
    index: int,
) -> BillingPeriod:
    year, month = first
    full_start = _anchor(year, month + index * cadence.months, anchor_day)
    full_end = _anchor(year, month + (index + 1) * cadence.months, anchor_day)
    start = max(full_start, term_start)
    end = full_end if term_end is None else min(full_end, term_end)
    return BillingPeriod(index, start, end, full_start, full_end)


def billing_periods(
    term_start: datetime,
    term_end: datetime | None,
    cadence: Cadence,
    anchor_day: int,
    until: datetime,
) -> Iterator[BillingPeriod]:
    """The billing periods of a term, in order, up to the one that contains `until`.

    Boundaries fall on `anchor_day` (clamped to short months) every `cadence` months, counted
    from the term start's month; the first and last periods are clipped to the term.
    """
    first = _first_boundary(term_start, cadence, anchor_day)
    index = 0
    while True:
        period = _period(term_start, term_end, first, cadence, anchor_day, index)
        if period.start >= period.end or period.start > until:
            return
        yield period
        index += 1


def billing_period_at(
    term_start: datetime,
    term_end: datetime | None,
    cadence: Cadence,
    anchor_day: int,
    moment: datetime,
) -> BillingPeriod | None:
    """The billing period of the term that contains `moment`, or None outside the term."""
    if moment < term_start or (term_end is not None and moment >= term_end):
        return None
    year, month = first = _first_boundary(term_start, cadence, anchor_day)
    step = cadence.months
    # Counted in months, then corrected: the anchor day may fall after `moment`'s day.
    index = max(0, ((moment.year - year) * 12 + moment.month - month) // step)
    while index > 0 and _anchor(year, month + index * step, anchor_day) > moment:
        index -= 1
    while _anchor(year, month + (index + 1) * step, anchor_day) <= moment:
        index += 1
    return _period(term_start, term_end, first, cadence, anchor_day, index)
