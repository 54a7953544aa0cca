"""The demo book's customers: names, attributes and the ground-truth profile drawn for each."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Literal, TypeVar

import numpy as np

from valueproof.demo.lines import (
    LINE_ORDER,
    LINES,
    WEEK_DAYS,
    YEAR_DAYS,
    ProductLine,
    weekly_swing,
    yearly_swing,
)

Archetype = Literal["growing", "flat", "declining", "quiet"]
T = TypeVar("T")


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


_PREFIXES: Final = (
    "Acme",
    "Northwind",
    "Bluebird",
    "Summit",
    "Harbor",
    "Pioneer",
    "Evergreen",
    "Redwood",
    "Ironclad",
    "Silverline",
    "Keystone",
    "Lighthouse",
    "Meridian",
    "Cobalt",
    "Granite",
    "Juniper",
    "Lakeside",
    "Maple",
    "Orion",
    "Pinnacle",
    "Quarry",
    "Riverbend",
    "Sable",
    "Tidewater",
    "Union",
    "Vantage",
    "Willow",
    "Zenith",
    "Atlas",
    "Beacon",
    "Cascade",
    "Driftwood",
    "Elmwood",
    "Foxglove",
    "Highland",
    "Ivory",
    "Jetstream",
    "Kestrel",
    "Larkspur",
    "Monarch",
    "Nimbus",
    "Oakridge",
    "Prairie",
    "Quill",
    "Rookery",
    "Sterling",
    "Topaz",
    "Upland",
    "Verdant",
    "Wavecrest",
)
_SIZES: Final = (("smb", 0.55), ("mid", 0.32), ("enterprise", 0.13))
_REGIONS: Final = (("NA", 0.45), ("EMEA", 0.30), ("APAC", 0.15), ("LATAM", 0.10))
_ARCHETYPES: Final[tuple[tuple[Archetype, float], ...]] = (
    ("growing", 0.32),
    ("flat", 0.36),
    ("declining", 0.25),
    ("quiet", 0.07),
)


def draw_account(seed: int, end: datetime, index: int, taken: set[str]) -> DemoAccount:
    """Account `index` of the book with this seed and end; its name is not one in `taken`."""
    rng = np.random.default_rng([seed, 0, index])
    line = LINES[_product_of(seed, index)]
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
        profile=_profile(rng, line, size, end),
    )


def _product_of(seed: int, index: int) -> str:
    # Each run of three consecutive accounts holds one of each line, so lines stay in near-equal
    # thirds for any `accounts` while account i's line never depends on how many there are.
    order = np.random.default_rng([seed, 1, index // 3]).permutation(len(LINE_ORDER))
    return LINE_ORDER[int(order[index % 3])]


def _company_name(rng: np.random.Generator, suffixes: tuple[str, ...], taken: set[str]) -> str:
    name = ""
    for _attempt in range(20):
        name = f"{_pick(rng, _PREFIXES, None)} {_pick(rng, suffixes, None)}"
        if name not in taken:
            return name
    return f"{name} {len(taken)}"


def _profile(
    rng: np.random.Generator, line: ProductLine, size: str, end: datetime
) -> AccountProfile:
    archetype = _pick(rng, *_unzip(_ARCHETYPES))
    trend = {
        "growing": (0.3, 0.9),
        "flat": (-0.05, 0.05),
        "declining": (-0.45, -0.2),
        "quiet": (-0.1, 0.1),
    }[archetype]
    quiet_since, quiet_level = None, 1.0
    if archetype == "quiet":
        last_midnight = end.replace(hour=0, minute=0, second=0, microsecond=0)
        quiet_since = last_midnight - timedelta(days=int(rng.integers(21, 71)))
        quiet_level = 0.0 if rng.random() < 0.5 else float(rng.uniform(0.02, 0.08))
    return AccountProfile(
        archetype=archetype,
        trend_per_year=round(float(rng.uniform(*trend)), 4),
        weekly_amplitude=float(rng.uniform(*line.weekly_strength)) * weekly_swing(line),
        yearly_amplitude=float(rng.uniform(*line.yearly_strength)) * yearly_swing(line),
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
