"""Usage price models as pure functions over exact Decimals: per unit, graduated and volume tiers,
packages, and percentages of transactions. Rounding to the currency happens later, once per line.
"""

from __future__ import annotations

import decimal
import functools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import ParamSpec, TypeVar

__all__ = [
    "PackageCharge",
    "PercentTier",
    "PercentageCharge",
    "Tier",
    "TierCharge",
    "graduated",
    "graduated_percentage",
    "package",
    "per_unit",
    "percentage",
    "percentage_of_total",
    "total",
    "volume",
]

_ZERO = Decimal(0)

# Amounts stay exact: 60 digits is far beyond any bill, and a result that would need rounding
# raises decimal.Inexact instead of being rounded silently.
_EXACT = decimal.Context(
    prec=60,
    traps=[decimal.Inexact, decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow],
)

_P = ParamSpec("_P")
_R = TypeVar("_R")


def _exact(function: Callable[_P, _R]) -> Callable[_P, _R]:
    """Run `function` under the exact context, whatever context its caller has set."""

    @functools.wraps(function)
    def run(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        with decimal.localcontext(_EXACT):
            return function(*args, **kwargs)

    return run


@dataclass(frozen=True, slots=True)
class Tier:
    """Units in (previous up_to, up_to] cost `unit_price` each; `flat_fee` is charged once when the
    quantity enters the tier (Stripe's `flat_amount`)."""

    up_to: Decimal | None  # inclusive upper bound; None = open-ended, last tier only
    unit_price: Decimal
    flat_fee: Decimal = _ZERO


@dataclass(frozen=True, slots=True)
class TierCharge:
    """What one tier charged: its slice of the quantity and the exact amount."""

    tier: int  # 0-based index of the tier
    lower: Decimal  # the quantity the tier starts after (exclusive), 0 for the first
    upper: Decimal | None  # the tier's up_to
    quantity: Decimal  # units priced in this tier
    unit_price: Decimal  # for graduated_percentage, the rate
    flat_fee: Decimal
    amount: Decimal  # quantity * unit_price + flat_fee, exact


@dataclass(frozen=True, slots=True)
class PercentTier:
    """Amounts in (previous up_to, up_to] are charged `rate` (0.01 = 1%), plus `flat_fee` once."""

    up_to: Decimal | None
    rate: Decimal
    flat_fee: Decimal = _ZERO


@dataclass(frozen=True, slots=True)
class PackageCharge:
    """Units sold in whole packages: `quantity` = `free_units` + `billable_units`."""

    quantity: Decimal
    free_units: Decimal  # free units used, at most the quantity
    billable_units: Decimal
    packages: int
    package_size: Decimal
    package_price: Decimal
    amount: Decimal


@dataclass(frozen=True, slots=True)
class PercentageCharge:
    """A percentage of transaction amounts plus a fixed fee each, after the free allowances."""

    transactions: int
    free_transactions: int  # fixed fees the free allowances waived (0 without a fixed fee)
    volume: Decimal
    free_volume: Decimal  # volume the free allowances took out of the rate's base (0 at rate 0)
    amount: Decimal
    minimum_applied: int  # transactions whose fee was raised to the per-transaction minimum
    maximum_applied: int  # transactions whose fee was lowered to the per-transaction maximum


def _check_amount(value: Decimal, name: str) -> None:
    """Refuse what no quantity or price can be: NaN, infinities and negatives."""
    if not value.is_finite() or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value}")


def _check_tiers(tiers: Sequence[Tier], price_field: str) -> None:
    """Tiers must exist, ascend strictly from 0, be open-ended only last, and hold no negatives."""
    if not tiers:
        raise ValueError("tiers must not be empty")
    lower = _ZERO
    for index, tier in enumerate(tiers):
        _check_amount(tier.unit_price, f"tiers[{index}].{price_field}")
        _check_amount(tier.flat_fee, f"tiers[{index}].flat_fee")
        if tier.up_to is None:
            if index != len(tiers) - 1:
                raise ValueError(f"tiers[{index}].up_to is open-ended but is not the last tier")
        elif not tier.up_to.is_finite() or tier.up_to <= lower:
            raise ValueError(f"tiers[{index}].up_to must be greater than {lower}, got {tier.up_to}")
        else:
            lower = tier.up_to


def _slices(quantity: Decimal, tiers: Sequence[Tier], price_field: str) -> list[TierCharge]:
    """The graduated reading of `quantity`: each tier it reaches, with the units inside it."""
    _check_amount(quantity, "quantity")
    _check_tiers(tiers, price_field)
    last = tiers[-1].up_to
    if last is not None and quantity > last:
        raise ValueError(f"quantity {quantity} is above the last tier's up_to ({last})")
    charges = []
    lower = _ZERO
    for index, tier in enumerate(tiers):
        if quantity <= lower:
            break
        top = quantity if tier.up_to is None else min(quantity, tier.up_to)
        charges.append(_tier_charge(index, lower, tier, top - lower))
        lower = top
    return charges


def _tier_charge(index: int, lower: Decimal, tier: Tier, quantity: Decimal) -> TierCharge:
    """`quantity` units priced in `tier`, flat fee included."""
    amount = quantity * tier.unit_price + tier.flat_fee
    return TierCharge(index, lower, tier.up_to, quantity, tier.unit_price, tier.flat_fee, amount)


@_exact
def per_unit(quantity: Decimal, unit_price: Decimal) -> Decimal:
    """Every unit at the same price (Stripe `per_unit`, Lago "standard")."""
    _check_amount(quantity, "quantity")
    _check_amount(unit_price, "unit_price")
    return quantity * unit_price


@_exact
def graduated(quantity: Decimal, tiers: Sequence[Tier]) -> list[TierCharge]:
    """Each tier prices its own slice of the quantity, plus its flat fee once reached (Stripe and
    Lago "graduated"). A quantity of 0 reaches no tier and costs nothing, as in Lago."""
    return _slices(quantity, tiers, "unit_price")


@_exact
def volume(quantity: Decimal, tiers: Sequence[Tier]) -> list[TierCharge]:
    """The whole quantity at the price of the tier it falls into, plus that tier's flat fee
    (Stripe "volume", Lago "volume", Orb "bulk"); at most one TierCharge.

    A quantity of 0 reaches no tier and costs nothing, as in Lago. Stripe bills the first tier's
    flat fee at 0 (docs.stripe.com/subscriptions/pricing-models/tiered-pricing); a base fee here
    is a fixed fee, not a tier.
    """
    reached = _slices(quantity, tiers, "unit_price")
    if not reached:
        return []
    top = reached[-1]
    return [_tier_charge(top.tier, top.lower, tiers[top.tier], quantity)]


@_exact
def graduated_percentage(volume: Decimal, tiers: Sequence[PercentTier]) -> list[TierCharge]:
    """Each slice of the volume at its tier's rate, plus the tier's flat fee once reached (Lago
    "graduated percentage"); it is graduated pricing with the rate as the unit price."""
    _check_amount(volume, "volume")
    priced = [Tier(tier.up_to, tier.rate, tier.flat_fee) for tier in tiers]
    return _slices(volume, priced, "rate")


@_exact
def total(charges: Iterable[TierCharge]) -> Decimal:
    """The exact sum of tier charges."""
    return sum((charge.amount for charge in charges), _ZERO)


@_exact
def package(
    quantity: Decimal,
    package_size: Decimal,
    package_price: Decimal,
    free_units: Decimal = _ZERO,
) -> PackageCharge:
    """Units sold in packages, a started package charged in full, free units first (Lago "package";
    Orb and Chargebee round up the same way)."""
    _check_amount(quantity, "quantity")
    _check_amount(package_price, "package_price")
    _check_amount(free_units, "free_units")
    if not package_size.is_finite() or package_size <= 0:
        raise ValueError(f"package_size must be a finite number > 0, got {package_size}")
    free = min(quantity, free_units)
    billable = quantity - free
    whole, rest = divmod(billable, package_size)
    packages = int(whole) + (1 if rest else 0)
    return PackageCharge(
        quantity, free, billable, packages, package_size, package_price, packages * package_price
    )


def _check_percentage_terms(
    rate: Decimal, fixed_fee: Decimal, free_transactions: int, free_volume: Decimal
) -> None:
    """The terms every percentage charge shares: no negatives, no NaN."""
    _check_amount(rate, "rate")
    _check_amount(fixed_fee, "fixed_fee")
    _check_amount(free_volume, "free_volume")
    if free_transactions < 0:
        raise ValueError(f"free_transactions must be >= 0, got {free_transactions}")


def _free_share(
    index: int, before: Decimal, amount: Decimal, free_transactions: int, free_volume: Decimal
) -> Decimal | None:
    """How much of transaction `index` the free window covers, or None once the window is closed.

    Lago's percentage model: the window stays open while every allowance set still applies ("the
    first 3 events or $500 are free"); a transaction that crosses the free volume is free in part.
    """
    if free_transactions == 0 and free_volume == 0:
        return None
    if free_transactions > 0 and index >= free_transactions:
        return None
    if free_volume == 0:
        return amount
    if before >= free_volume:
        return None
    # One that fits in what remains is wholly free, fixed fee included (Lago's code would charge
    # the fee on the one that uses the free volume up exactly; its docs do not say).
    return min(amount, free_volume - before)


@_exact
def percentage(
    amounts: Sequence[Decimal],
    rate: Decimal,
    fixed_fee: Decimal = _ZERO,
    minimum: Decimal | None = None,
    maximum: Decimal | None = None,
    free_transactions: int = 0,
    free_volume: Decimal = _ZERO,
) -> PercentageCharge:
    """`rate` of each transaction's amount plus `fixed_fee`, clamped per transaction to [minimum,
    maximum], after the free window over the transactions in time order (Lago "percentage")."""
    _check_percentage_terms(rate, fixed_fee, free_transactions, free_volume)
    for name, bound in (("minimum", minimum), ("maximum", maximum)):
        if bound is not None:
            _check_amount(bound, name)
    if minimum is not None and maximum is not None and minimum > maximum:
        raise ValueError(f"minimum {minimum} is above maximum {maximum}")
    seen = amount = exempt = _ZERO
    free = raised = lowered = 0
    for index, value in enumerate(amounts):
        _check_amount(value, f"amounts[{index}]")
        share = _free_share(index, seen, value, free_transactions, free_volume)
        seen += value
        if share is not None:
            exempt += share
            if share == value:
                free += 1
                continue
        charged = value if share is None else value - share
        fee = charged * rate + fixed_fee
        if minimum is not None and fee < minimum:
            fee, raised = minimum, raised + 1
        elif maximum is not None and fee > maximum:
            fee, lowered = maximum, lowered + 1
        amount += fee
    return PercentageCharge(
        transactions=len(amounts),
        free_transactions=free if fixed_fee != 0 else 0,
        volume=seen,
        free_volume=exempt if rate != 0 else _ZERO,
        amount=amount,
        minimum_applied=raised,
        maximum_applied=lowered,
    )


def _window_from_totals(
    volume: Decimal, transactions: int, free_transactions: int, free_volume: Decimal
) -> tuple[Decimal | None, int | None]:
    """The free window's volume and count of wholly free transactions, None where order decides."""
    if free_transactions == 0 and free_volume == 0:
        return _ZERO, 0
    within_count = free_transactions == 0 or transactions <= free_transactions
    within_volume = free_volume == 0 or volume < free_volume
    if within_count and within_volume:
        return volume, transactions
    if within_count:
        # The window closes once free_volume is used up, after however many transactions that took.
        return free_volume, None
    # The window is the first free_transactions transactions, whose amounts only events can tell.
    return (_ZERO if volume == 0 else None), (free_transactions if within_volume else None)


@_exact
def percentage_of_total(
    volume: Decimal,
    transactions: int,
    rate: Decimal,
    fixed_fee: Decimal = _ZERO,
    free_transactions: int = 0,
    free_volume: Decimal = _ZERO,
) -> PercentageCharge:
    """`percentage` without per-transaction min/max, from a period's total volume and count alone.

    Free allowances cover the first transactions in time order; when which ones came first changes
    the amount, totals cannot tell, so this raises ValueError rather than guess.
    """
    _check_amount(volume, "volume")
    _check_percentage_terms(rate, fixed_fee, free_transactions, free_volume)
    if transactions < 0 or (transactions == 0 and volume != 0):
        raise ValueError(f"{transactions} transactions cannot carry a volume of {volume}")
    if transactions == 1:
        # One transaction has only one order.
        return percentage(
            [volume], rate, fixed_fee, free_transactions=free_transactions, free_volume=free_volume
        )
    window_volume, window_count = _window_from_totals(
        volume, transactions, free_transactions, free_volume
    )
    exempt = window_volume if rate != 0 else _ZERO
    waived = window_count if fixed_fee != 0 else 0
    if exempt is None or waived is None:
        raise ValueError(
            "the free allowances make this charge depend on which transactions came first; "
            "price the transactions themselves with percentage()"
        )
    amount = (volume - exempt) * rate + (transactions - waived) * fixed_fee
    return PercentageCharge(transactions, waived, volume, exempt, amount, 0, 0)
