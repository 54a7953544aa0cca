"""A seeded sample book of business for a consumption-priced vendor: its accounts and their usage.

Three product lines (background checks, messaging, logistics) with weekly and yearly seasonality,
per-account trends, noise and a few accounts that go quiet. Every account carries its ground truth
in an `AccountProfile`, so analytics can be tested against what the generator actually did.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from operator import itemgetter
from typing import Any, Final, Literal, TypeVar

import numpy as np
import numpy.typing as npt

from valueproof.errors import InvalidInput

Archetype = Literal["growing", "flat", "declining", "quiet"]
FloatArray = npt.NDArray[np.float64]
T = TypeVar("T")

WEEK_DAYS: Final = 7.0
YEAR_DAYS: Final = 365.25
_EPOCH_DAY: Final = date(1970, 1, 1)
_DAILY_NOISE: Final = 0.15  # sigma of the day-to-day lognormal noise on top of Poisson counts


@dataclass(frozen=True, slots=True)
class AccountProfile:
    """What the generator did to one account: the ground truth analytics should recover.

    `trend_per_year` is the fractional change in volume a year (0.5 is +50%); the amplitudes are
    half the peak-to-trough swing of the weekly and yearly multipliers, relative to their mean.
    `base_daily_volume` is the level at the window's start before seasonality, at scale 1 (events
    a day, or messages a day for messaging); after `quiet_since` volume drops to `quiet_level`
    times what it would have been (0.0: it stopped).
    """

    archetype: Archetype
    trend_per_year: float
    weekly_amplitude: float
    yearly_amplitude: float
    quiet_since: datetime | None
    base_daily_volume: float
    quiet_level: float = 1.0
    periods_days: tuple[float, ...] = (WEEK_DAYS, YEAR_DAYS)


@dataclass(frozen=True, slots=True)
class DemoAccount:
    """One customer of the demo vendor, with its attributes and its ground-truth profile."""

    external_id: str
    name: str
    attributes: dict[str, str]
    profile: AccountProfile


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


def _string(required: bool = True) -> dict[str, Any]:
    return {"type": "string", "required": required}


EVENT_TYPES: Final[list[dict[str, Any]]] = [
    {
        "key": "background_check.completed",
        "description": "A background check finished; one event per check.",
        "properties": {"package": _string(), "country": _string()},
    },
    {
        "key": "message.sent",
        "description": "Messages sent in one hour on one channel; `value` is how many.",
        "properties": {"channel": _string()},
    },
    {
        "key": "shipment.delivered",
        "description": "A shipment was delivered; one event per shipment (TL or LTL).",
        "properties": {
            "mode": _string(),
            "weight_kg": {"type": "number", "required": True},
            "lane": _string(),
        },
    },
]

METERS: Final[list[dict[str, Any]]] = [
    {
        "key": "background_checks",
        "event_type": "background_check.completed",
        "aggregation": "count",
        "value_property": None,
        "group_by": ["package"],
        "filters": [],
        "unit": "check",
    },
    {
        "key": "countries_checked",
        "event_type": "background_check.completed",
        "aggregation": "unique_count",
        "value_property": "country",
        "group_by": [],
        "filters": [],
        "unit": "country",
    },
    {
        "key": "messages",
        "event_type": "message.sent",
        "aggregation": "sum",
        "value_property": None,
        "group_by": ["channel"],
        "filters": [],
        "unit": "message",
    },
    {
        "key": "shipments",
        "event_type": "shipment.delivered",
        "aggregation": "count",
        "value_property": None,
        "group_by": ["mode"],
        "filters": [],
        "unit": "shipment",
    },
    {
        "key": "shipped_weight_kg",
        "event_type": "shipment.delivered",
        "aggregation": "sum",
        "value_property": "weight_kg",
        "group_by": ["mode"],
        "filters": [],
        "unit": "kg",
    },
]


@dataclass(frozen=True, slots=True)
class _Line:
    """A product line: its event type, customers, seasonal shapes and typical volumes."""

    product: str
    event_type: str
    id_short: str
    industries: dict[str, tuple[str, ...]]  # industry -> company-name suffixes
    weekday_factors: tuple[float, ...]  # Monday first
    weekly_strength: tuple[float, float]
    yearly_bumps: tuple[tuple[float, float, float], ...]  # (day of year, width in days, height)
    yearly_strength: tuple[float, float]
    local_hours: tuple[float, ...]  # relative volume by local hour of day
    base_by_size: dict[str, float]  # median daily volume at scale 1


# Relative volume by local hour of day, midnight first.
# fmt: off
_CHECK_HOURS: Final = (
    0.2, 0.1, 0.1, 0.1, 0.1, 0.2, 0.5, 1.2, 2.5, 3.5, 3.8, 3.6,
    3.0, 3.4, 3.6, 3.3, 2.8, 2.0, 1.2, 0.8, 0.6, 0.5, 0.4, 0.3,
)
_MESSAGE_HOURS: Final = (
    0.3, 0.15, 0.1, 0.1, 0.1, 0.2, 0.6, 1.5, 2.6, 3.0, 3.2, 3.1,
    3.0, 2.8, 2.7, 2.7, 2.8, 3.0, 3.3, 3.4, 3.0, 2.2, 1.3, 0.7,
)
_SHIPMENT_HOURS: Final = (
    0.05, 0.05, 0.05, 0.05, 0.2, 0.8, 1.8, 2.8, 3.4, 3.6, 3.6, 3.5,
    3.0, 3.2, 3.3, 3.1, 2.6, 1.8, 1.0, 0.5, 0.3, 0.2, 0.1, 0.05,
)
# fmt: on


_LINES: Final[dict[str, _Line]] = {
    "background_checks": _Line(
        product="background_checks",
        event_type="background_check.completed",
        id_short="bgc",
        industries={
            "staffing": ("Staffing", "Talent", "Workforce", "Recruiting"),
            "healthcare": ("Health", "Care Partners", "Medical Group", "Clinics"),
            "gig_economy": ("Rides", "Tasks", "Couriers", "Gigs"),
            "financial_services": ("Bank", "Capital", "Credit Union", "Financial"),
            "education": ("Academy", "Schools", "Learning", "College"),
        },
        weekday_factors=(1.2, 1.15, 1.1, 1.05, 0.95, 0.3, 0.2),
        weekly_strength=(0.6, 1.0),
        # January hiring, late-summer hiring, the holiday lull
        yearly_bumps=((14.0, 18.0, 0.6), (231.0, 25.0, 0.7), (358.0, 7.0, -0.5)),
        yearly_strength=(0.6, 1.0),
        local_hours=_CHECK_HOURS,
        base_by_size={"smb": 2.5, "mid": 9.0, "enterprise": 35.0},
    ),
    "messaging": _Line(
        product="messaging",
        event_type="message.sent",
        id_short="msg",
        industries={
            "ecommerce": ("Shop", "Goods", "Market", "Outfitters"),
            "fintech": ("Pay", "Wallet", "Lending", "Money"),
            "healthcare": ("Telehealth", "Pharmacy", "Dental", "Care"),
            "travel": ("Travel", "Airways", "Hotels", "Trips"),
            "saas": ("Software", "Cloud", "Labs", "Apps"),
        },
        # campaigns go out on Tuesdays and Thursdays
        weekday_factors=(1.0, 1.35, 1.05, 1.3, 0.95, 0.6, 0.55),
        weekly_strength=(0.5, 1.0),
        # Black Friday to Christmas
        yearly_bumps=((330.0, 20.0, 0.9), (353.0, 9.0, 0.4)),
        yearly_strength=(0.5, 1.0),
        local_hours=_MESSAGE_HOURS,
        base_by_size={"smb": 200.0, "mid": 2_000.0, "enterprise": 20_000.0},
    ),
    "logistics": _Line(
        product="logistics",
        event_type="shipment.delivered",
        id_short="shp",
        industries={
            "retail": ("Stores", "Retail", "Mart", "Supply"),
            "manufacturing": ("Manufacturing", "Industries", "Works", "Fabrication"),
            "food_and_beverage": ("Foods", "Beverages", "Farms", "Provisions"),
            "automotive": ("Motors", "Auto Parts", "Automotive", "Components"),
            "chemicals": ("Chemicals", "Materials", "Polymers", "Coatings"),
        },
        weekday_factors=(1.15, 1.2, 1.2, 1.2, 1.1, 0.12, 0.05),
        weekly_strength=(0.75, 1.0),
        # peak season before the holidays, a lull after them
        yearly_bumps=((323.0, 28.0, 1.0), (362.0, 6.0, -0.4), (35.0, 20.0, -0.25)),
        yearly_strength=(0.6, 1.0),
        local_hours=_SHIPMENT_HOURS,
        base_by_size={"smb": 2.5, "mid": 10.0, "enterprise": 40.0},
    ),
}
_LINE_ORDER: Final = ("background_checks", "messaging", "logistics")

_PREFIXES: Final = (
    "Acme", "Northwind", "Bluebird", "Summit", "Harbor", "Pioneer", "Evergreen", "Redwood",
    "Ironclad", "Silverline", "Keystone", "Lighthouse", "Meridian", "Cobalt", "Granite", "Juniper",
    "Lakeside", "Maple", "Orion", "Pinnacle", "Quarry", "Riverbend", "Sable", "Tidewater", "Union",
    "Vantage", "Willow", "Zenith", "Atlas", "Beacon", "Cascade", "Driftwood", "Elmwood", "Foxglove",
    "Highland", "Ivory", "Jetstream", "Kestrel", "Larkspur", "Monarch", "Nimbus", "Oakridge",
    "Prairie", "Quill", "Rookery", "Sterling", "Topaz", "Upland", "Verdant", "Wavecrest",
)  # fmt: skip
_SIZES: Final = (("smb", 0.55), ("mid", 0.32), ("enterprise", 0.13))
_REGIONS: Final = (("NA", 0.45), ("EMEA", 0.30), ("APAC", 0.15), ("LATAM", 0.10))
_ARCHETYPES: Final[tuple[tuple[Archetype, float], ...]] = (
    ("growing", 0.32),
    ("flat", 0.36),
    ("declining", 0.25),
    ("quiet", 0.07),
)
_UTC_OFFSET_HOURS: Final = {"NA": -6, "EMEA": 1, "APAC": 8, "LATAM": -4}
_COUNTRIES: Final = {
    "NA": ("US", "CA"),
    "EMEA": ("GB", "DE", "FR", "NL", "ES"),
    "APAC": ("AU", "IN", "SG", "JP"),
    "LATAM": ("BR", "MX", "CO", "CL"),
}
_CITIES: Final = {
    "NA": ("CHI", "DAL", "ATL", "LAX", "NYC", "SEA", "DEN", "MEM"),
    "EMEA": ("LON", "ROT", "HAM", "PAR", "MIL", "MAD", "WAW"),
    "APAC": ("SIN", "SHA", "SYD", "TYO", "BOM", "HKG"),
    "LATAM": ("SAO", "MEX", "BOG", "SCL", "LIM", "BUE"),
}
_PACKAGES: Final = ("basic", "standard", "premium")
_CHANNELS: Final = ("sms", "email", "whatsapp")
_MINUTE_SECOND: Final = tuple(f"{m:02d}:{s:02d}Z" for m in range(60) for s in range(60))


# --- accounts -------------------------------------------------------------------------------


def demo_accounts(spec: BookSpec) -> list[DemoAccount]:
    """The book's accounts; account i is the same in every book with this seed and end."""
    taken: set[str] = set()
    accounts = []
    for index in range(spec.accounts):
        account = _account(spec, index, taken)
        taken.add(account.name)
        accounts.append(account)
    return accounts


def _account(spec: BookSpec, index: int, taken: set[str]) -> DemoAccount:
    rng = np.random.default_rng([spec.seed, 0, index])
    line = _LINES[_product_of(spec.seed, index)]
    industry = _pick(rng, tuple(line.industries), None)
    size = _pick(rng, *_unzip(_SIZES))
    region = _pick(rng, *_unzip(_REGIONS))
    name = _company_name(rng, line.industries[industry], taken)
    return DemoAccount(
        external_id=f"{_slug(name)}-{index:03d}",
        name=name,
        attributes={
            "industry": industry,
            "size": size,
            "region": region,
            "product": line.product,
        },
        profile=_profile(rng, line, size, spec),
    )


def _product_of(seed: int, index: int) -> str:
    # Each run of three consecutive accounts holds one of each line, so lines stay in near-equal
    # thirds for any `accounts` while account i's line never depends on how many there are.
    order = np.random.default_rng([seed, 1, index // 3]).permutation(len(_LINE_ORDER))
    return _LINE_ORDER[int(order[index % 3])]


def _company_name(rng: np.random.Generator, suffixes: tuple[str, ...], taken: set[str]) -> str:
    name = ""
    for _attempt in range(20):
        name = f"{_pick(rng, _PREFIXES, None)} {_pick(rng, suffixes, None)}"
        if name not in taken:
            return name
    return f"{name} {len(taken)}"


def _profile(rng: np.random.Generator, line: _Line, size: str, spec: BookSpec) -> AccountProfile:
    archetype = _pick(rng, *_unzip(_ARCHETYPES))
    trend = {
        "growing": (0.3, 0.9),
        "flat": (-0.05, 0.05),
        "declining": (-0.45, -0.2),
        "quiet": (-0.1, 0.1),
    }[archetype]
    quiet_since, quiet_level = None, 1.0
    if archetype == "quiet":
        last_midnight = spec.end.replace(hour=0, minute=0, second=0, microsecond=0)
        quiet_since = last_midnight - timedelta(days=int(rng.integers(21, 71)))
        quiet_level = 0.0 if rng.random() < 0.5 else float(rng.uniform(0.02, 0.08))
    return AccountProfile(
        archetype=archetype,
        trend_per_year=round(float(rng.uniform(*trend)), 4),
        weekly_amplitude=float(rng.uniform(*line.weekly_strength)) * _weekly_swing(line),
        yearly_amplitude=float(rng.uniform(*line.yearly_strength)) * _yearly_swing(line),
        quiet_since=quiet_since,
        base_daily_volume=round(line.base_by_size[size] * float(rng.lognormal(0.0, 0.35)), 3),
        quiet_level=quiet_level,
    )


def _pick(rng: np.random.Generator, options: tuple[T, ...], weights: tuple[float, ...] | None) -> T:
    return options[int(rng.choice(len(options), p=weights))]


def _unzip(pairs: tuple[tuple[T, float], ...]) -> tuple[tuple[T, ...], tuple[float, ...]]:
    return tuple(p[0] for p in pairs), tuple(p[1] for p in pairs)


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


# --- the expected volume curve ----------------------------------------------------------------


def _unit_shape(values: FloatArray) -> tuple[FloatArray, float]:
    """`values` relative to their mean, minus one, and half their peak-to-trough swing."""
    relative = values / values.mean() - 1.0
    return relative, float(relative.max() - relative.min()) / 2.0


def _weekly_swing(line: _Line) -> float:
    return _unit_shape(np.array(line.weekday_factors))[1]


def _yearly_raw(line: _Line, phase: FloatArray) -> FloatArray:
    raw = np.ones_like(phase)
    for center, width, height in line.yearly_bumps:
        distance = np.abs(phase - center)
        distance = np.minimum(distance, YEAR_DAYS - distance)
        raw += height * np.exp(-0.5 * (distance / width) ** 2)
    return np.asarray(raw, dtype=np.float64)


_YEAR_GRID: Final = np.linspace(0.0, YEAR_DAYS, 1461, endpoint=False)


def _yearly_swing(line: _Line) -> float:
    return _unit_shape(_yearly_raw(line, _YEAR_GRID))[1]


def _weekly_multipliers(line: _Line, amplitude: float) -> FloatArray:
    """Volume multiplier by weekday (Monday first), with mean 1 and the given half-swing."""
    relative, swing = _unit_shape(np.array(line.weekday_factors))
    return 1.0 + relative * (amplitude / swing)


def _yearly_multipliers(line: _Line, amplitude: float, epoch_days: FloatArray) -> FloatArray:
    """Volume multiplier on each day; the phase runs from 1970-01-01 with a 365.25-day period."""
    mean = float(_yearly_raw(line, _YEAR_GRID).mean())
    relative = _yearly_raw(line, epoch_days % YEAR_DAYS) / mean - 1.0
    return 1.0 + relative * (amplitude / _yearly_swing(line))


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
    line: _Line,
    calendar: _Calendar,
    scale: float,
) -> FloatArray:
    """Expected volume on each calendar day: level, trend, seasonality, noise, going quiet."""
    days = calendar.epoch_days
    years = (days - days[0]) / YEAR_DAYS
    trend = (1.0 + profile.trend_per_year) ** years
    # 1970-01-01 was a Thursday: weekday 3 with Monday as 0
    weekly = _weekly_multipliers(line, profile.weekly_amplitude)[(days + 3) % 7]
    yearly = _yearly_multipliers(line, profile.yearly_amplitude, days.astype(np.float64) + 0.5)
    noise = rng.lognormal(-(_DAILY_NOISE**2) / 2, _DAILY_NOISE, size=len(days))
    level = profile.base_daily_volume * scale * trend * weekly * yearly * noise
    if profile.quiet_since is not None:
        quiet_day = (profile.quiet_since.date() - _EPOCH_DAY).days
        level = np.where(days >= quiet_day, level * profile.quiet_level, level)
    return np.asarray(level, dtype=np.float64)


def _hour_weights(line: _Line, region: str) -> FloatArray:
    """Share of a day's volume in each UTC hour, from the line's local-time shape."""
    local = np.array(line.local_hours)
    # local hour = UTC hour + offset, so UTC hour h takes the local weight at h + offset
    utc = np.roll(local, -_UTC_OFFSET_HOURS[region])
    return np.asarray(utc / utc.sum(), dtype=np.float64)


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
    line: _Line
    rng: np.random.Generator
    daily: FloatArray
    hour_cdf: FloatArray
    hour_weights: FloatArray
    mix: _Mix
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
    line = _LINES[account.attributes["product"]]
    region = account.attributes["region"]
    rng = np.random.default_rng(_event_seed(spec.seed, account.external_id))
    weights = _hour_weights(line, region)
    return _Stream(
        account=account,
        line=line,
        rng=rng,
        daily=_expected_daily(rng, account.profile, line, calendar, spec.scale),
        hour_cdf=_cumulative(weights),
        hour_weights=weights,
        mix=_Mix.draw(rng, line.product, region),
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


# --- what each account's events look like ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Mix:
    """An account's habits: which packages, countries, channels, modes and lanes it uses."""

    product: str
    # option name -> (options, cumulative weights)
    choices: dict[str, tuple[tuple[str, ...], FloatArray]] = field(default_factory=dict)
    channels: tuple[str, ...] = ()
    channel_shares: tuple[float, ...] = ()
    truckload_share: float = 0.0

    @staticmethod
    def draw(rng: np.random.Generator, product: str, region: str) -> _Mix:
        if product == "background_checks":
            return _check_mix(rng, region)
        if product == "messaging":
            return _message_mix(rng, region)
        return _shipment_mix(rng, region)

    def properties(self, rng: np.random.Generator, count: int) -> list[dict[str, Any]]:
        if self.product == "background_checks":
            packages = self._sample(rng, "package", count)
            countries = self._sample(rng, "country", count)
            return [{"package": p, "country": c} for p, c in zip(packages, countries, strict=True)]
        return self._shipments(rng, count)

    def _sample(self, rng: np.random.Generator, name: str, count: int) -> list[str]:
        options, cumulative = self.choices[name]
        picked = np.searchsorted(cumulative, rng.random(count), side="right")
        return [options[i] for i in picked.tolist()]

    def _shipments(self, rng: np.random.Generator, count: int) -> list[dict[str, Any]]:
        truckload = (rng.random(count) < self.truckload_share).tolist()
        full = np.clip(rng.lognormal(math.log(14_000.0), 0.25, count), 2_000.0, 24_000.0)
        partial = np.clip(rng.lognormal(math.log(900.0), 0.7, count), 50.0, 9_000.0)
        weights = np.round(np.where(truckload, full, partial), 1).tolist()
        lanes = self._sample(rng, "lane", count)
        return [
            {"mode": "TL" if tl else "LTL", "weight_kg": kg, "lane": lane}
            for tl, kg, lane in zip(truckload, weights, lanes, strict=True)
        ]


def _check_mix(rng: np.random.Generator, region: str) -> _Mix:
    countries = list(_COUNTRIES[region])
    if rng.random() < 0.4:  # some employers also screen abroad
        abroad = [c for r, cs in _COUNTRIES.items() if r != region for c in cs]
        countries += [abroad[i] for i in rng.choice(len(abroad), size=2, replace=False)]
    home = len(_COUNTRIES[region])
    concentration = np.array([3.0] * home + [0.3] * (len(countries) - home))
    return _Mix(
        product="background_checks",
        choices={
            "package": (_PACKAGES, _cumulative(rng.dirichlet([5.0, 3.5, 1.5]))),
            "country": (tuple(countries), _cumulative(rng.dirichlet(concentration))),
        },
    )


def _message_mix(rng: np.random.Generator, region: str) -> _Mix:
    # WhatsApp is the default channel outside North America
    preference = np.array([0.5, 0.4, 0.1] if region == "NA" else [0.3, 0.3, 0.4])
    used = int(rng.choice(3, p=[0.65, 0.25, 0.1])) + 1
    picked = sorted(rng.choice(3, size=used, replace=False, p=preference).tolist())
    shares = rng.dirichlet([2.0] * used)
    return _Mix(
        product="messaging",
        channels=tuple(_CHANNELS[i] for i in picked),
        channel_shares=tuple(float(s) for s in shares),
    )


def _shipment_mix(rng: np.random.Generator, region: str) -> _Mix:
    cities = _CITIES[region]
    lane_count = int(rng.integers(2, 9))
    lanes: set[str] = set()
    while len(lanes) < lane_count:
        origin, destination = rng.choice(len(cities), size=2, replace=False).tolist()
        lanes.add(f"{cities[origin]}-{cities[destination]}")
    return _Mix(
        product="logistics",
        choices={"lane": (tuple(sorted(lanes)), _cumulative(rng.dirichlet([1.0] * lane_count)))},
        truckload_share=float(rng.beta(2.0, 3.0)),
    )


def _cumulative(weights: FloatArray) -> FloatArray:
    """Cumulative weights ending at exactly 1, for sampling with `searchsorted`."""
    cumulative = np.cumsum(weights)
    cumulative[-1] = 1.0
    return np.asarray(cumulative, dtype=np.float64)
