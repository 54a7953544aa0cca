"""Taxes on an invoice: one line per rate, each rounded once; inclusive, exclusive or exempt. Pure.

Not a tax engine: the rates are what the vendor set on the account's billing profile (or what
Stripe Tax computes after the hand-off). Exclusive rates add `base * rate` on top of the lines;
inclusive rates take each rate's share out of amounts that already hold it,
`gross * rate / (1 + sum of rates)`, so the total stays what the lines say.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from valueproof.money import Currency, Rounding

__all__ = ["TaxLine", "TaxProfile", "TaxRate", "Totals", "totals"]

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class TaxRate:
    """One named rate, a fraction: VAT 0.19, a state tax 0.0625."""

    name: str
    rate: Decimal


@dataclass(frozen=True, slots=True)
class TaxProfile:
    """How an account is taxed: its tax id and jurisdiction (printed), its rates, and whether
    prices include tax or the account is exempt (reverse charge, a non-profit)."""

    rates: tuple[TaxRate, ...] = ()
    inclusive: bool = False
    exempt: bool = False
    tax_id: str | None = None
    jurisdiction: str | None = None


@dataclass(frozen=True, slots=True)
class TaxLine:
    """A rate's tax on the invoice: its base and its amount, rounded once."""

    name: str
    rate: Decimal
    base: Decimal
    amount: Decimal


@dataclass(frozen=True, slots=True)
class Totals:
    """An invoice's subtotal (the lines), its tax lines, and what is due."""

    subtotal: Decimal
    taxes: tuple[TaxLine, ...]
    tax_total: Decimal
    total: Decimal


def totals(subtotal: Decimal, profile: TaxProfile, money: Currency, rounding: Rounding) -> Totals:
    """The taxes and total on `subtotal` (the sum of the rounded lines) under `profile`."""
    if profile.exempt or not profile.rates:
        return Totals(subtotal, (), ZERO, subtotal)
    lines = tuple(_tax_lines(subtotal, profile.rates, profile.inclusive, money, rounding))
    tax_total = sum((line.amount for line in lines), ZERO)
    total = subtotal if profile.inclusive else subtotal + tax_total
    return Totals(subtotal, lines, tax_total, total)


def _tax_lines(
    subtotal: Decimal,
    rates: Sequence[TaxRate],
    inclusive: bool,
    money: Currency,
    rounding: Rounding,
) -> list[TaxLine]:
    if not inclusive:
        return [
            TaxLine(r.name, r.rate, subtotal, money.round(subtotal * r.rate, rounding))
            for r in rates
        ]
    divisor = 1 + sum((r.rate for r in rates), ZERO)
    net = money.round(subtotal / divisor, rounding)
    return [
        TaxLine(r.name, r.rate, net, money.round(subtotal * r.rate / divisor, rounding))
        for r in rates
    ]
