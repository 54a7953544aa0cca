"""Late usage and corrections to a finalized period: what re-rating it now adds or takes away. Pure.

A finalized invoice never changes. When usage for its period arrives late, or events in it are
voided or amended, the period is rated again and compared, line by line (component and kind),
with what was already billed for it: the finalized invoice's lines plus every correction billed
since. Each difference becomes a correction line on the next invoice ("late usage for October"),
or, for a reduction when the tenant prefers it, a credit note against the original invoice.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from valueproof.contracts.rating import Charges

__all__ = ["Billed", "Correction", "billed_amounts", "corrections"]

ZERO = Decimal(0)
LineKey = tuple[str, str]  # (component, kind)


@dataclass(frozen=True, slots=True)
class Billed:
    """What a finalized period has been billed: its invoice, and amounts by (component, kind)."""

    invoice: str
    period: Mapping[str, Any]  # the period as the invoice's JSON states it
    ledger_size: int
    quantities: Mapping[LineKey, Decimal]
    amounts: Mapping[LineKey, Decimal]
    descriptions: Mapping[LineKey, str]


@dataclass(frozen=True, slots=True)
class Correction:
    """One line's change since its period was billed, with the leaves that arrived after."""

    invoice: str
    period: Mapping[str, Any]
    component: str
    kind: str
    description: str
    quantity: Decimal
    amount: Decimal
    leaves: tuple[tuple[int, int], ...]


def billed_amounts(
    invoice: str,
    period: Mapping[str, Any],
    ledger_size: int,
    lines: Iterable[Mapping[str, Any]],
    corrected: Iterable[Mapping[str, Any]],
) -> Billed:
    """What was billed for a period: its invoice's lines (JSON) and the correction lines (JSON,
    kind `correction`) that later invoices carried for it."""
    quantities: dict[LineKey, Decimal] = {}
    amounts: dict[LineKey, Decimal] = {}
    descriptions: dict[LineKey, str] = {}
    for line in lines:
        key = (line["component"], line["kind"])
        _add(quantities, amounts, key, line.get("quantity"), line["amount"])
        descriptions.setdefault(key, line["description"])
    for line in corrected:
        key = (line["component"], line["corrects"]["kind"])
        _add(quantities, amounts, key, line.get("quantity"), line["amount"])
    return Billed(invoice, period, ledger_size, quantities, amounts, descriptions)


def _add(
    quantities: dict[LineKey, Decimal],
    amounts: dict[LineKey, Decimal],
    key: LineKey,
    quantity: str | None,
    amount: str,
) -> None:
    amounts[key] = amounts.get(key, ZERO) + Decimal(amount)
    if quantity is not None:
        quantities[key] = quantities.get(key, ZERO) + Decimal(quantity)


def corrections(billed: Billed, rerated: Charges) -> list[Correction]:
    """Each (component, kind) whose amount now differs from what was billed, in the order of
    the re-rated lines, then lines that vanished. Quantities change with them."""
    found: list[Correction] = []
    seen: set[LineKey] = set()
    for line in rerated.lines:
        key = (line.component, line.kind)
        seen.add(key)
        delta = line.amount - billed.amounts.get(key, ZERO)
        if delta == 0:
            continue
        quantity = (line.quantity or ZERO) - billed.quantities.get(key, ZERO)
        leaves = _after((r for s in line.sources for r in s.leaves), billed.ledger_size)
        found.append(
            Correction(
                billed.invoice,
                billed.period,
                line.component,
                line.kind,
                line.description,
                quantity,
                delta,
                leaves,
            )
        )
    for key, amount in billed.amounts.items():
        if key in seen or amount == 0:
            continue
        found.append(
            Correction(
                billed.invoice,
                billed.period,
                key[0],
                key[1],
                billed.descriptions.get(key, key[0]),
                -billed.quantities.get(key, ZERO),
                -amount,
                (),
            )
        )
    return found


def _after(ranges: Iterable[tuple[int, int]], size: int) -> tuple[tuple[int, int], ...]:
    """The parts of inclusive leaf ranges at or after `size`: what the invoice had not seen."""
    return tuple(sorted((max(first, size), last) for first, last in ranges if last >= size))
