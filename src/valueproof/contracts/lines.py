"""Charge lines: one amount each, rounded once, with what it was computed from."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from valueproof.money import Currency, Rounding

__all__ = ["Line", "Source", "leaf_ranges", "make_line", "total"]


@dataclass(frozen=True, slots=True)
class Source:
    """A line's input: a meter's total, an outcome count or a KPI reading, and its leaves."""

    kind: str  # "meter", "outcome" or "reading"
    key: str
    quantity: Decimal
    events: int = 0
    leaves: tuple[tuple[int, int], ...] = ()  # inclusive ranges of ledger leaf indexes


@dataclass(frozen=True, slots=True)
class Line:
    """One charge of the period, or a credit when negative."""

    component: str
    kind: str
    description: str
    quantity: Decimal | None
    exact: Decimal  # before rounding
    amount: Decimal  # `exact` rounded once to the currency's minor unit
    detail: Mapping[str, Any] = field(default_factory=dict)
    sources: tuple[Source, ...] = ()


def make_line(
    money: Currency,
    rounding: Rounding,
    component: str,
    kind: str,
    description: str,
    quantity: Decimal | None,
    exact: Decimal,
    detail: Mapping[str, Any],
    sources: tuple[Source, ...] = (),
) -> Line:
    """A line whose amount is `exact` rounded once, by the contract's rule."""
    amount = money.round(exact, rounding)
    return Line(component, kind, description, quantity, exact, amount, detail, sources)


def total(lines: Iterable[Line]) -> Decimal:
    """The sum of the lines' rounded amounts."""
    return sum((line.amount for line in lines), Decimal(0))


def leaf_ranges(spans: Iterable[tuple[int | None, int | None]]) -> tuple[tuple[int, int], ...]:
    """Merge (first, last) leaf spans into disjoint inclusive ranges, in order."""
    merged: list[tuple[int, int]] = []
    for first, last in sorted((f, t) for f, t in spans if f is not None and t is not None):
        if merged and first <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], last))
        else:
            merged.append((first, last))
    return tuple(merged)
