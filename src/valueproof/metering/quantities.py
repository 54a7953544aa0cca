"""Usage quantities: exact decimals with up to six fractional digits, stored as integer micro-units.

Integers keep rollup sums exact and identical on SQLite and PostgreSQL (a float sum depends on
the order it is added in); six digits cover sub-cent amounts, fractional GB and seat-hours.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal

MICRO = 1_000_000
_LIMIT = 2**63 // MICRO  # the largest whole quantity a BIGINT of micro-units holds
# A decimal string as JSON writes a number, without exponent: no spaces, signs, underscores.
DECIMAL_TEXT = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?")


def to_micros(value: object) -> int:
    """Micro-units of a JSON number or a strict decimal string (`DECIMAL_TEXT`); ValueError
    with the reason otherwise."""
    if isinstance(value, bool):
        raise ValueError("must be a number, not a boolean")
    if isinstance(value, int):
        micros = value * MICRO
    elif isinstance(value, float | str):
        micros = _decimal_micros(value)
    else:
        raise ValueError(f"must be a number, not {type(value).__name__}")
    if not -_LIMIT < micros // MICRO < _LIMIT:
        raise ValueError(f"is out of range (at most {_LIMIT:,} in magnitude)")
    return micros


def _decimal_micros(value: float | str) -> int:
    if isinstance(value, str):
        # Decimal() itself would take " 3 ", "1_000", "+3", "1e3" and "NaN".
        if DECIMAL_TEXT.fullmatch(value) is None:
            raise ValueError(f"is not a number in plain decimal notation: {value[:40]!r}")
        if len(value) > 100:
            raise ValueError("is longer than 100 characters")
    elif not math.isfinite(value):
        raise ValueError("must be finite")
    # str() of a float is its shortest round-trip form: 0.1 stays 0.1, not 0.1000000000000000055
    number = Decimal(str(value))
    scaled = number.scaleb(6)
    if scaled != scaled.to_integral_value():
        raise ValueError("has more than 6 decimal places")
    return int(scaled)


def from_micros(micros: int) -> Decimal:
    """The exact decimal quantity of a micro-unit integer, without trailing zeros."""
    # Built from its digits: decimal arithmetic would round a sum past 28 digits (the context's
    # precision), and sums of quantities are unbounded (see `metering.sums`).
    whole, fraction = divmod(abs(micros), MICRO)
    sign = "-" if micros < 0 else ""
    if not fraction:
        return Decimal(f"{sign}{whole}")
    return Decimal(f"{sign}{whole}.{fraction:06d}".rstrip("0"))
