"""Money: ISO 4217 currencies, their minor units, the one explicit rounding step, amounts as text.

Amounts are `Decimal`. Prices may carry more decimals than the currency has (a unit price of
0.0004 USD is common); a charge line rounds once, to the currency's minor unit, with the rule its
contract names. Floats never enter.
"""

from __future__ import annotations

import decimal
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from iso4217 import Currency as _Iso

from valueproof.errors import InvalidInput


class Rounding(StrEnum):
    """How a line's exact amount becomes an amount in minor units."""

    HALF_EVEN = "half_even"  # banker's rounding: unbiased over many lines (the default)
    HALF_UP = "half_up"  # ties away from zero, as most invoices printed by hand
    DOWN = "down"  # towards zero: never charge a fraction of a minor unit

    @property
    def mode(self) -> str:
        return _MODES[self]


_MODES = {
    Rounding.HALF_EVEN: decimal.ROUND_HALF_EVEN,
    Rounding.HALF_UP: decimal.ROUND_HALF_UP,
    Rounding.DOWN: decimal.ROUND_DOWN,
}


@dataclass(frozen=True, slots=True)
class Currency:
    """An ISO 4217 currency that has minor units (so not XAU, XDR and the like)."""

    code: str
    exponent: int

    @property
    def minor_unit(self) -> Decimal:
        """The smallest amount: 0.01 for USD, 1 for JPY, 0.001 for BHD."""
        return Decimal(1).scaleb(-self.exponent)

    def round(self, amount: Decimal, rounding: Rounding) -> Decimal:
        """`amount` rounded to this currency's minor unit."""
        return amount.quantize(self.minor_unit, rounding=rounding.mode)

    def fits(self, amount: Decimal) -> bool:
        """Whether `amount` is a whole number of minor units."""
        return amount == amount.quantize(self.minor_unit, rounding=decimal.ROUND_DOWN)


def currency(code: str, field: str = "currency") -> Currency:
    """The currency with ISO 4217 code `code`; an unknown code is InvalidInput naming `field`."""
    try:
        iso = _Iso(code)
    except ValueError:
        raise InvalidInput(field, f"{code!r} is not an ISO 4217 currency code") from None
    if iso.exponent is None:
        raise InvalidInput(field, f"{code} has no minor unit (ISO 4217 'N.A.'); cannot bill in it")
    return Currency(iso.code, iso.exponent)


def decimal_text(value: Decimal, places: int = 0) -> str:
    """`value` as a document prints it: thousands separated by commas, at least `places` decimals
    and more only where `value` has them (`0.0004`), never rounded and never through a float."""
    if not value.is_finite():
        raise ValueError(f"{value} is not a finite number")
    sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)  # finite, so not 'n', 'N' or 'F'
    text = "".join(map(str, digits))
    if exponent >= 0:
        whole, fraction = text + "0" * exponent, ""
    else:
        text = text.rjust(1 - exponent, "0")
        whole, fraction = text[:exponent], text[exponent:]
    fraction = fraction.rstrip("0").ljust(places, "0")
    negative = sign == 1 and any(digits)  # -0 prints as 0
    return f"{'-' if negative else ''}{int(whole):,}{'.' if fraction else ''}{fraction}"


def amount_text(amount: Decimal, money: Currency) -> str:
    """An amount with its currency as an invoice prints it, in the currency's minor units:
    `1,234.50 USD`, `1,235 JPY`; a unit price keeps its finer decimals (`0.0004 USD`)."""
    return f"{decimal_text(amount, money.exponent)} {money.code}"
