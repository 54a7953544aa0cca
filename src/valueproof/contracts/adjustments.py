"""Adjustments to a period's charges: the minimum-commitment true-up, discounts and an invoice cap.

Each returns the exact amount of its own invoice line, as a positive number; which lines apply,
and in what order, is the rating module's decision.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

__all__ = [
    "TrueUp",
    "amount_discount",
    "commitment_true_up",
    "invoice_cap",
    "percent_discount",
    "prorate_commitment",
]

_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class TrueUp:
    """A minimum commitment against what counted towards it, and the shortfall billed on top."""

    minimum: Decimal
    committed: Decimal  # the period's spend that counts towards the minimum
    shortfall: Decimal  # max(0, minimum - committed): the true-up line


def commitment_true_up(minimum: Decimal, committed: Decimal) -> TrueUp:
    """The true-up that brings the period's committed spend up to the minimum, if short of it."""
    _non_negative("minimum", minimum)
    _non_negative("committed", committed)
    return TrueUp(minimum, committed, max(_ZERO, minimum - committed))


def prorate_commitment(minimum: Decimal, fraction: Decimal) -> Decimal:
    """The minimum for a partial first or last period: minimum * fraction, where `fraction` is the
    covered share of the period (`fees.prorate(...).fraction`), so a short period owes less."""
    _non_negative("minimum", minimum)
    _non_negative("fraction", fraction)
    if fraction > 1:
        raise ValueError(f"fraction must be between 0 and 1, got {fraction}")
    return minimum * fraction


def percent_discount(base: Decimal, percent: Decimal) -> Decimal:
    """The discount of `percent` (0..100) on `base`, exact: 20 percent of 500 is 100."""
    _non_negative("base", base)
    _non_negative("percent", percent)
    if percent > 100:
        raise ValueError(f"percent must be between 0 and 100, got {percent}")
    # scaleb moves the decimal point: dividing by 100 without a rounding step.
    return (base * percent).scaleb(-2)


def amount_discount(base: Decimal, amount: Decimal) -> Decimal:
    """A fixed discount, never more than `base`: a discount never makes a total negative."""
    _non_negative("base", base)
    _non_negative("amount", amount)
    return min(base, amount)


def invoice_cap(total: Decimal, maximum: Decimal) -> Decimal:
    """The reduction (>= 0) that brings `total` down to `maximum`; 0 when it is already below."""
    _non_negative("total", total)
    _non_negative("maximum", maximum)
    return max(_ZERO, total - maximum)


def _non_negative(name: str, value: Decimal) -> None:
    if not isinstance(value, Decimal):
        raise TypeError(f"{name} must be a Decimal, got {type(value).__name__}")
    if not value.is_finite() or value < 0:
        raise ValueError(f"{name} must be a finite amount >= 0, got {value}")
