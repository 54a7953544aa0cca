"""The demo vendor's three product lines and the shape of their volume over the week, year and day.

Each line's seasonal shapes are normalized to multipliers with mean 1, so an account's amplitudes
say how strongly it follows its line's rhythm.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

WEEK_DAYS: Final = 7.0
YEAR_DAYS: Final = 365.25


@dataclass(frozen=True, slots=True)
class ProductLine:
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


LINES: Final[dict[str, ProductLine]] = {
    "background_checks": ProductLine(
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
    "messaging": ProductLine(
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
    "logistics": ProductLine(
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
LINE_ORDER: Final = ("background_checks", "messaging", "logistics")
_UTC_OFFSET_HOURS: Final = {"NA": -6, "EMEA": 1, "APAC": 8, "LATAM": -4}


# --- seasonal multipliers -----------------------------------------------------------------------


def _unit_shape(values: FloatArray) -> tuple[FloatArray, float]:
    """`values` relative to their mean, minus one, and half their peak-to-trough swing."""
    relative = values / values.mean() - 1.0
    return relative, float(relative.max() - relative.min()) / 2.0


def weekly_swing(line: ProductLine) -> float:
    return _unit_shape(np.array(line.weekday_factors))[1]


def _yearly_raw(line: ProductLine, phase: FloatArray) -> FloatArray:
    raw = np.ones_like(phase)
    for center, width, height in line.yearly_bumps:
        distance = np.abs(phase - center)
        distance = np.minimum(distance, YEAR_DAYS - distance)
        raw += height * np.exp(-0.5 * (distance / width) ** 2)
    return np.asarray(raw, dtype=np.float64)


_YEAR_GRID: Final = np.linspace(0.0, YEAR_DAYS, 1461, endpoint=False)


def yearly_swing(line: ProductLine) -> float:
    return _unit_shape(_yearly_raw(line, _YEAR_GRID))[1]


def weekly_multipliers(line: ProductLine, amplitude: float) -> FloatArray:
    """Volume multiplier by weekday (Monday first), with mean 1 and the given half-swing."""
    relative, swing = _unit_shape(np.array(line.weekday_factors))
    return 1.0 + relative * (amplitude / swing)


def yearly_multipliers(line: ProductLine, amplitude: float, epoch_days: FloatArray) -> FloatArray:
    """Volume multiplier on each day; the phase runs from 1970-01-01 with a 365.25-day period."""
    mean = float(_yearly_raw(line, _YEAR_GRID).mean())
    relative = _yearly_raw(line, epoch_days % YEAR_DAYS) / mean - 1.0
    return 1.0 + relative * (amplitude / yearly_swing(line))


def hour_weights(line: ProductLine, region: str) -> FloatArray:
    """Share of a day's volume in each UTC hour, from the line's local-time shape."""
    local = np.array(line.local_hours)
    # local hour = UTC hour + offset, so UTC hour h takes the local weight at h + offset
    utc = np.roll(local, -_UTC_OFFSET_HOURS[region])
    return np.asarray(utc / utc.sum(), dtype=np.float64)
