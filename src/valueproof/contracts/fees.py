"""Fee components a contract prices with: a flat fee prorated to the time it covers, seats with a
credit for inactive ones, a price per accepted outcome with caps, and a gain-share on a KPI.

Every function returns exact amounts; an invoice line rounds once, elsewhere (`money.Currency`).
"""

from __future__ import annotations

import decimal
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum

__all__ = [
    "Direction",
    "GainMode",
    "GainShare",
    "GainTier",
    "Improvement",
    "OutcomeCharge",
    "Proration",
    "SeatCharge",
    "gain_share",
    "per_outcome",
    "prorate",
    "seats",
]

# Ratios that do not terminate (20/30) are carried to 40 significant digits, far below any minor
# unit, and the same whatever decimal context the caller has set.
_RATIO = decimal.Context(prec=40, rounding=decimal.ROUND_HALF_EVEN)
_MICROSECOND = timedelta(microseconds=1)
_ZERO = Decimal(0)
_ONE = Decimal(1)
_HUNDRED = Decimal(100)


@dataclass(frozen=True, slots=True)
class Proration:
    """The covered share of a period and the amount for it."""

    fraction: Decimal  # covered time / period time, in [0, 1]
    amount: Decimal  # the full-period amount * fraction


@dataclass(frozen=True, slots=True)
class SeatCharge:
    """Seats purchased for a period, and the credit owed back for the ones nobody used."""

    seats: Decimal
    active: Decimal
    inactive: Decimal  # max(0, seats - active)
    unit_price: Decimal
    amount: Decimal  # seats * unit_price
    credit: Decimal  # >= 0; shown on the invoice as a negative line


@dataclass(frozen=True, slots=True)
class OutcomeCharge:
    """Accepted outcomes of a period and what they are billed after the period's caps."""

    accepted: int
    billable: int  # accepted, limited by the count cap
    unit_price: Decimal
    amount: Decimal  # billable * unit_price, limited by the amount cap
    capped: bool  # whether either cap lowered the charge


@dataclass(frozen=True, slots=True)
class GainTier:
    """A gain-share tier: from `threshold` of improvement on, `share` of the gain is owed."""

    threshold: Decimal  # improvement, in the contract's unit, from which the tier applies
    share: Decimal  # fraction of the gain owed (0.05 = 5%)


class Direction(StrEnum):
    """Which way the KPI improves."""

    HIGHER_IS_BETTER = "higher_is_better"  # net retention, conversion rate
    LOWER_IS_BETTER = "lower_is_better"  # churn, cost per ticket, cycle time


class Improvement(StrEnum):
    """How improvement is measured from baseline to measured value."""

    POINTS = "points"  # the difference: net retention 100 -> 108 is 8 points
    PERCENT = "percent"  # the relative change * 100: 200 -> 230 is 15 percent


class GainMode(StrEnum):
    """How tier shares apply to the gain."""

    WHOLE = "whole"  # the share of the highest tier reached applies to the whole gain
    GRADUATED = "graduated"  # each slice of improvement at its own tier's share


@dataclass(frozen=True, slots=True)
class GainShare:
    """A period's gain-share: the improvement, the gain it is worth, and the amount owed."""

    baseline: Decimal
    measured: Decimal
    improvement: Decimal  # signed: negative when the KPI got worse
    gain: Decimal  # max(0, improvement) * value_per_unit
    tier: int | None  # index of the highest tier reached; None below the first threshold
    share: Decimal  # that tier's share (the marginal share in GRADUATED mode); 0 if none
    amount: Decimal  # owed for the period, within [floor, cap]
    floor_applied: bool  # the floor raised the amount
    cap_applied: bool  # the cap lowered the amount


def prorate(
    amount: Decimal,
    period_start: datetime,
    period_end: datetime,
    covered_start: datetime,
    covered_end: datetime,
) -> Proration:
    """`amount` for the share of the period [period_start, period_end) that the covered window
    overlaps; counted in microseconds, so a term starting at noon is charged from noon."""
    _non_negative("amount", amount)
    _check_interval("period", period_start, period_end, empty_ok=False)
    _check_interval("covered window", covered_start, covered_end, empty_ok=True)
    overlap = min(period_end, covered_end) - max(period_start, covered_start)
    covered = max(overlap, timedelta(0)) // _MICROSECOND
    fraction = _RATIO.divide(Decimal(covered), Decimal((period_end - period_start) // _MICROSECOND))
    return Proration(fraction, _RATIO.multiply(amount, fraction))


def seats(
    seats: Decimal, active: Decimal, unit_price: Decimal, inactive_credit: Decimal = _ONE
) -> SeatCharge:
    """Seats purchased * price, with a credit of `inactive_credit` (0..1) of the seat price for
    each seat left inactive, so that a customer pays only for the seats it uses ("fair billing")."""
    _non_negative("seats", seats)
    _non_negative("active", active)
    _non_negative("unit_price", unit_price)
    _fraction("inactive_credit", inactive_credit)
    # More active users than seats is not this component's concern: extra seats are a true-up.
    inactive = max(_ZERO, seats - active)
    return SeatCharge(
        seats=seats,
        active=active,
        inactive=inactive,
        unit_price=unit_price,
        amount=seats * unit_price,
        credit=inactive * unit_price * inactive_credit,
    )


def per_outcome(
    accepted: int,
    unit_price: Decimal,
    max_count: int | None = None,
    max_amount: Decimal | None = None,
) -> OutcomeCharge:
    """`unit_price` per accepted outcome, capped per period by a count and/or an amount."""
    _count("accepted", accepted)
    _non_negative("unit_price", unit_price)
    billable = accepted
    if max_count is not None:
        _count("max_count", max_count)
        billable = min(accepted, max_count)
    amount = billable * unit_price
    if max_amount is not None:
        _non_negative("max_amount", max_amount)
        amount = min(amount, max_amount)
    capped = billable < accepted or amount < billable * unit_price
    return OutcomeCharge(accepted, billable, unit_price, amount, capped)


def gain_share(
    baseline: Decimal,
    measured: Decimal,
    value_per_unit: Decimal,
    tiers: Sequence[GainTier],
    improvement: Improvement = Improvement.POINTS,
    direction: Direction = Direction.HIGHER_IS_BETTER,
    mode: GainMode = GainMode.WHOLE,
    floor: Decimal | None = None,
    cap: Decimal | None = None,
) -> GainShare:
    """The share of the gain owed for moving a KPI from `baseline` to `measured`, by tier, then
    held within [floor, cap]; a KPI that got worse is a gain of 0, never a negative charge."""
    _finite("baseline", baseline)
    _finite("measured", measured)
    _non_negative("value_per_unit", value_per_unit)
    _check_tiers(tiers)
    _check_bounds(floor, cap)
    change = _improvement(baseline, measured, improvement, direction)
    gain = max(change, _ZERO) * value_per_unit
    tier = _tier_reached(change, tiers)
    share = _ZERO if tier is None else tiers[tier].share
    owed = gain * share if mode is GainMode.WHOLE else _graduated(change, tiers) * value_per_unit
    amount, floor_applied, cap_applied = owed, False, False
    if floor is not None and owed < floor:
        amount, floor_applied = floor, True
    if cap is not None and owed > cap:
        amount, cap_applied = cap, True
    return GainShare(
        baseline=baseline,
        measured=measured,
        improvement=change,
        gain=gain,
        tier=tier,
        share=share,
        amount=amount,
        floor_applied=floor_applied,
        cap_applied=cap_applied,
    )


def _improvement(
    baseline: Decimal, measured: Decimal, improvement: Improvement, direction: Direction
) -> Decimal:
    """Signed improvement: positive when the KPI moved the way the contract wants."""
    change = measured - baseline if direction is Direction.HIGHER_IS_BETTER else baseline - measured
    if improvement is Improvement.POINTS:
        return change
    if baseline == 0:
        raise ValueError("a percent improvement needs a non-zero baseline")
    # Relative to |baseline|, so that the sign still says better or worse for a negative KPI.
    return _RATIO.divide(change * _HUNDRED, abs(baseline))


def _tier_reached(change: Decimal, tiers: Sequence[GainTier]) -> int | None:
    """Index of the highest tier whose threshold the improvement reaches."""
    reached = None
    for index, tier in enumerate(tiers):
        if change >= tier.threshold:
            reached = index
    return reached


def _graduated(change: Decimal, tiers: Sequence[GainTier]) -> Decimal:
    """Σ over tiers of (the slice of improvement inside the tier) * its share; below the first
    threshold nothing is owed, as in a graduated price."""
    owed = _ZERO
    for index, tier in enumerate(tiers):
        if change <= tier.threshold:
            break
        top = change if index + 1 == len(tiers) else min(change, tiers[index + 1].threshold)
        owed += (top - tier.threshold) * tier.share
    return owed


def _check_tiers(tiers: Sequence[GainTier]) -> None:
    if not tiers:
        raise ValueError("a gain-share needs at least one tier")
    for index, tier in enumerate(tiers):
        _non_negative(f"tiers[{index}].threshold", tier.threshold)
        _fraction(f"tiers[{index}].share", tier.share)
        if index and tier.threshold <= tiers[index - 1].threshold:
            raise ValueError(f"tiers[{index}].threshold must be above the previous tier's")


def _check_bounds(floor: Decimal | None, cap: Decimal | None) -> None:
    if floor is not None:
        _non_negative("floor", floor)
    if cap is not None:
        _non_negative("cap", cap)
    if floor is not None and cap is not None and floor > cap:
        raise ValueError(f"floor {floor} is above cap {cap}")


def _check_interval(name: str, start: datetime, end: datetime, *, empty_ok: bool) -> None:
    for moment in (start, end):
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError(f"{name} needs aware datetimes, got {moment.isoformat()}")
    if end < start or (end == start and not empty_ok):
        raise ValueError(
            f"{name} must end after it starts: {start.isoformat()} .. {end.isoformat()}"
        )


def _count(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")


def _finite(name: str, value: Decimal) -> None:
    if not isinstance(value, Decimal):
        raise TypeError(f"{name} must be a Decimal, got {type(value).__name__}")
    if not value.is_finite():
        raise ValueError(f"{name} must be a finite number, got {value}")


def _non_negative(name: str, value: Decimal) -> None:
    _finite(name, value)
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")


def _fraction(name: str, value: Decimal) -> None:
    _non_negative(name, value)
    if value > 1:
        raise ValueError(f"{name} must be a fraction between 0 and 1, got {value}")
