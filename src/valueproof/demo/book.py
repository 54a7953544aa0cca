"""A seeded sample book of business for a consumption-priced vendor: its accounts and their usage.

Three product lines (background checks, messaging, logistics) with weekly and yearly seasonality,
per-account trends, noise and a few accounts that go quiet. Every account carries its ground truth
in an `AccountProfile`, so analytics can be tested against what the generator actually did.
This module holds the window (`BookSpec`) and streams the usage; the product lines, accounts,
event habits and catalogue live in their own modules.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from operator import itemgetter
from typing import Any, Final, TypeVar

import numpy as np
import numpy.typing as npt

from valueproof.demo.accounts import AccountProfile, DemoAccount, draw_account
from valueproof.demo.lines import (
    LINES,
    YEAR_DAYS,
    FloatArray,
    ProductLine,
    hour_weights,
    weekly_multipliers,
    yearly_multipliers,
)
from valueproof.demo.mixes import Mix, cumulative_weights
from valueproof.errors import InvalidInput

__all__ = ["BookSpec", "demo_accounts", "demo_events"]

T = TypeVar("T")

_EPOCH_DAY: Final = date(1970, 1, 1)
_DAILY_NOISE: Final = 0.15  # sigma of the day-to-day lognormal noise on top of Poisson counts
_MINUTE_SECOND: Final = tuple(f"{m:02d}:{s:02d}Z" for m in range(60) for s in range(60))


@dataclass(frozen=True, slots=True, kw_only=True)
class BookSpec:
    """Which book: `days` of usage ending at `end` (aware UTC, exclusive), volumes times `scale`."""

    end: datetime
    seed: int = 7
    accounts: int = 200
    days: int = 730
    scale: float = 1.0

    def __post_init__(self) -> None:
        if self.end.tzinfo is None or self.end.utcoffset() != timedelta(0):
            raise InvalidInput("end", "must be a timezone-aware UTC datetime")
        if self.seed < 0:
            raise InvalidInput("seed", "must not be negative")
        if self.accounts < 0:
            raise InvalidInput("accounts", "must not be negative")
        if self.days < 1:
            raise InvalidInput("days", "must be at least 1")
        if not (math.isfinite(self.scale) and self.scale >= 0):
            raise InvalidInput("scale", "must be a finite number, zero or more")

    @property
    def start(self) -> datetime:
        """The inclusive start of the window; `end` is exclusive."""
        return self.end - timedelta(days=self.days)


def demo_accounts(spec: BookSpec) -> list[DemoAccount]:
    """The book's accounts; account i is the same in every book with this seed and end."""
    taken: set[str] = set()
    accounts = []
    for index in range(spec.accounts):
        account = draw_account(spec.seed, spec.end, index, taken)
        taken.add(account.name)
        accounts.append(account)
    return accounts


# --- the window and each account's expected volume in it --------------------------------------


@dataclass(frozen=True, slots=True)
class _Calendar:
    """The UTC days the window touches, and the window itself in seconds since the epoch."""

    first_day: int  # days since 1970-01-01
    day_count: int
    start_second: int  # first whole second inside the window
    end_second: int  # first whole second after it

    @property
    def epoch_days(self) -> npt.NDArray[np.int64]:
        return np.arange(self.first_day, self.first_day + self.day_count, dtype=np.int64)


def _calendar(spec: BookSpec) -> _Calendar:
    first = spec.start.date()
    last = (spec.end - timedelta(microseconds=1)).date()
    return _Calendar(
        first_day=(first - _EPOCH_DAY).days,
        day_count=(last - first).days + 1,
        start_second=_ceil_second(spec.start),
        end_second=_ceil_second(spec.end),
    )


def _ceil_second(moment: datetime) -> int:
    micros = (moment - datetime(1970, 1, 1, tzinfo=moment.tzinfo)) // timedelta(microseconds=1)
    return -(-micros // 1_000_000)


def _expected_daily(
    rng: np.random.Generator,
    profile: AccountProfile,
    line: ProductLine,
    calendar: _Calendar,
    scale: float,
) -> FloatArray:
    """Expected volume on each calendar day: level, trend, seasonality, noise, going quiet."""
    days = calendar.epoch_days
    years = (days - days[0]) / YEAR_DAYS
    trend = (1.0 + profile.trend_per_year) ** years
    # 1970-01-01 was a Thursday: weekday 3 with Monday as 0
    weekly = weekly_multipliers(line, profile.weekly_amplitude)[(days + 3) % 7]
    yearly = yearly_multipliers(line, profile.yearly_amplitude, days.astype(np.float64) + 0.5)
    noise = rng.lognormal(-(_DAILY_NOISE**2) / 2, _DAILY_NOISE, size=len(days))
    level = profile.base_daily_volume * scale * trend * weekly * yearly * noise
    if profile.quiet_since is not None:
        quiet_day = (profile.quiet_since.date() - _EPOCH_DAY).days
        level = np.where(days >= quiet_day, level * profile.quiet_level, level)
    return np.asarray(level, dtype=np.float64)


# --- usage streams ------------------------------------------------------------------------------


# Days drawn per numpy call: amortizes numpy's per-call cost, and bounds what is held in memory.
_BLOCK_DAYS: Final = 31


@dataclass(frozen=True, slots=True)
class _Block:
    """A run of consecutive calendar days, drawn together."""

    first: int  # index of its first day in the calendar
    epoch_days: npt.NDArray[np.int64]
    hour_prefixes: tuple[tuple[str, ...], ...]  # per day, "2024-05-01T13:" for each hour
    start_second: int  # the window, in seconds since the epoch
    end_second: int

    @property
    def day_count(self) -> int:
        return len(self.epoch_days)


def _blocks(calendar: _Calendar) -> Iterator[_Block]:
    all_days = calendar.epoch_days
    for first in range(0, calendar.day_count, _BLOCK_DAYS):
        epoch_days = all_days[first : first + _BLOCK_DAYS]
        yield _Block(
            first=first,
            epoch_days=epoch_days,
            hour_prefixes=tuple(_hour_prefixes(int(day)) for day in epoch_days),
            start_second=calendar.start_second,
            end_second=calendar.end_second,
        )


def _hour_prefixes(epoch_day: int) -> tuple[str, ...]:
    text = (_EPOCH_DAY + timedelta(days=epoch_day)).isoformat()
    return tuple(f"{text}T{hour:02d}:" for hour in range(24))


def _event_seed(seed: int, external_id: str) -> np.random.SeedSequence:
    # Keyed by external id so any subset of accounts, in any order, yields the same events.
    digest = hashlib.sha256(external_id.encode()).digest()[:16]
    return np.random.SeedSequence([seed, 2, int.from_bytes(digest, "big")])


IntArray = npt.NDArray[np.int64]


@dataclass(slots=True)
class _Stream:
    """One account's usage, drawn a block of days at a time from the account's own generator."""

    account: DemoAccount
    line: ProductLine
    rng: np.random.Generator
    daily: FloatArray
    hour_cdf: FloatArray
    hour_weights: FloatArray
    mix: Mix
    issued: int = 0

    def draw(self, block: _Block) -> list[list[dict[str, Any]]]:
        """The account's events in `block`, one time-ordered list per day."""
        daily = self.daily[block.first : block.first + block.day_count]
        if self.line.product == "messaging":
            return self._hourly_totals(block, daily)
        return self._single_events(block, daily)

    def _single_events(self, block: _Block, daily: FloatArray) -> list[list[dict[str, Any]]]:
        counts = self.rng.poisson(daily)
        total = int(counts.sum())
        hours = np.searchsorted(self.hour_cdf, self.rng.random(total), side="right")
        seconds = hours * 3_600 + self.rng.integers(0, 3_600, size=total)
        offsets = np.repeat(np.arange(block.day_count), counts)
        order = np.argsort(offsets * 86_400 + seconds, kind="stable")
        # properties are drawn independently of time, so they need no reordering
        properties = self.mix.properties(self.rng, total)
        return self._by_day(block, offsets[order], seconds[order], properties, None)

    def _hourly_totals(self, block: _Block, daily: FloatArray) -> list[list[dict[str, Any]]]:
        by_hour = np.outer(self.hour_weights, self.mix.channel_shares)
        totals = self.rng.poisson(daily[:, None, None] * by_hour[None, :, :])
        offsets, hours, channels = np.nonzero(totals)  # row-major: day, hour, channel order
        properties = [{"channel": self.mix.channels[c]} for c in channels.tolist()]
        values = totals[offsets, hours, channels].tolist()
        return self._by_day(block, offsets, hours * 3_600, properties, values)

    def _by_day(
        self,
        block: _Block,
        offsets: IntArray,
        seconds: IntArray,
        properties: list[dict[str, Any]],
        values: list[int] | None,
    ) -> list[list[dict[str, Any]]]:
        absolute = block.epoch_days[offsets] * 86_400 + seconds
        inside = (absolute >= block.start_second) & (absolute < block.end_second)
        if not inside.all():
            offsets, seconds = offsets[inside], seconds[inside]
            properties = _kept(properties, inside)
            values = None if values is None else _kept(values, inside)
        events = self._events(_stamps(block, offsets, seconds), properties, values)
        bounds = np.searchsorted(offsets, np.arange(block.day_count + 1)).tolist()
        return [events[bounds[i] : bounds[i + 1]] for i in range(block.day_count)]

    def _events(
        self, stamps: list[str], properties: list[dict[str, Any]], values: list[int] | None
    ) -> list[dict[str, Any]]:
        account, event_type = self.account.external_id, self.line.event_type
        prefix = f"{account}-{self.line.id_short}-"
        numbers = range(self.issued + 1, self.issued + len(stamps) + 1)
        self.issued += len(stamps)
        events: list[dict[str, Any]] = [
            {
                "id": f"{prefix}{n}",
                "account": account,
                "type": event_type,
                "timestamp": stamp,
                "properties": props,
            }
            for n, stamp, props in zip(numbers, stamps, properties, strict=True)
        ]
        if values is not None:
            for event, value in zip(events, values, strict=True):
                event["value"] = value
        return events


def _kept(items: list[T], inside: npt.NDArray[np.bool_]) -> list[T]:
    return [item for item, ok in zip(items, inside.tolist(), strict=True) if ok]


def _stamps(block: _Block, offsets: IntArray, seconds: IntArray) -> list[str]:
    """RFC 3339 UTC timestamps for seconds into the block's days."""
    hours, within = np.divmod(seconds, 3_600)
    prefixes = block.hour_prefixes
    return [
        prefixes[day][hour] + _MINUTE_SECOND[rest]
        for day, hour, rest in zip(offsets.tolist(), hours.tolist(), within.tolist(), strict=True)
    ]


def _stream(account: DemoAccount, spec: BookSpec, calendar: _Calendar) -> _Stream:
    line = LINES[account.attributes["product"]]
    region = account.attributes["region"]
    rng = np.random.default_rng(_event_seed(spec.seed, account.external_id))
    weights = hour_weights(line, region)
    return _Stream(
        account=account,
        line=line,
        rng=rng,
        daily=_expected_daily(rng, account.profile, line, calendar, spec.scale),
        hour_cdf=cumulative_weights(weights),
        hour_weights=weights,
        mix=Mix.draw(rng, line.product, region),
    )


def demo_events(
    spec: BookSpec, accounts: Sequence[DemoAccount] | None = None
) -> Iterator[dict[str, Any]]:
    """Stream the book's usage day by day, in timestamp order across all accounts.

    Memory holds about a month of events at a time, however long the window. An account's events
    depend only on the seed, the window, the scale and the account itself, so passing a subset of
    the accounts yields the same events for each.
    """
    chosen = demo_accounts(spec) if accounts is None else accounts
    calendar = _calendar(spec)
    streams = [_stream(account, spec, calendar) for account in chosen]
    for block in _blocks(calendar):
        drawn = [stream.draw(block) for stream in streams]
        for offset in range(block.day_count):
            day = [event for days in drawn for event in days[offset]]
            # Same-format UTC strings sort chronologically; the stable sort keeps ties in order.
            day.sort(key=itemgetter("timestamp"))
            yield from day
