"""An invoice as a document: rated lines, corrections, credit applied, taxes and totals. Pure.

`invoice_document` turns a period's `Charges` into the JSON an invoice is stored, rendered,
put on the ledger and re-computed from. Every line carries a quantity and a unit price (a line
without a quantity is one of something at its amount); amounts are decimal text in the
currency's minor units, each rounded once where rating made it. The same inputs give the same
document, and `ledger.leaves.leaf_bytes` the same leaf.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from valueproof.billing.corrections import Correction
from valueproof.billing.taxes import TaxProfile, totals
from valueproof.contracts.rating import Charges, line_json, period_json
from valueproof.money import Rounding, currency
from valueproof.periods import format_rfc3339

__all__ = ["Customer", "invoice_document", "unit_price"]

ZERO = Decimal(0)
ONE = Decimal(1)
_PRICE_PLACES = Decimal("0.000001")


@dataclass(frozen=True, slots=True)
class Customer:
    """Who the invoice is addressed to, and how the account is taxed."""

    account: str
    name: str
    email: str | None = None
    address: str | None = None
    tax: TaxProfile = field(default_factory=TaxProfile)


def unit_price(quantity: Decimal | None, exact: Decimal, detail: Mapping[str, Any]) -> Decimal:
    """The price of one unit of a line: the contract's own unit price where the line is that
    price times its quantity, else the line's exact amount over its quantity, to six decimals (a
    tiered line's average, a prorated fee's share, a seat credit's part of a seat)."""
    stated = detail.get("unit_price")
    if isinstance(stated, Decimal) and quantity is not None and stated * quantity == exact:
        return stated
    if quantity is None:
        return exact
    if quantity == 0:
        return ZERO
    average = (exact / quantity).quantize(_PRICE_PLACES, rounding=ROUND_HALF_EVEN).normalize()
    # normalize() writes 10 as 1E+1: a whole number is given back its units
    return average.quantize(ONE) if average == average.to_integral_value() else average


def invoice_document(
    charges: Charges,
    customer: Customer,
    corrections: Sequence[Correction] = (),
    balance: Decimal = ZERO,
    *,
    number: str | None = None,
    issued_at: datetime | None = None,
    due_at: datetime | None = None,
    replaces: str | None = None,
) -> dict[str, Any]:
    """The invoice of a period's charges: its lines, then corrections to earlier periods, then
    credit drawn from the account's balance (at most what is due), taxes and totals."""
    money = currency(charges.currency)
    rounding = Rounding(charges.rounding)
    lines = [_charge_line(line) for line in charges.lines]
    lines.extend(_correction_line(c) for c in corrections)
    before = sum((Decimal(line["amount"]) for line in lines), ZERO)
    drawn = min(balance, max(ZERO, before))
    if drawn > 0:
        lines.append(_balance_line(drawn))
    subtotal = before - drawn
    sums = totals(subtotal, customer.tax, money, rounding)
    return {
        "number": number,
        "account": charges.account,
        "contract": charges.contract,
        "version": charges.version,
        "version_leaf": charges.version_leaf,
        "currency": charges.currency,
        "rounding": charges.rounding,
        "period": period_json(charges.period),
        "issued_at": None if issued_at is None else format_rfc3339(issued_at),
        "due_at": None if due_at is None else format_rfc3339(due_at),
        "ledger_size": charges.ledger_size,
        "customer": _customer_json(customer),
        "lines": lines,
        "subtotal": str(sums.subtotal),
        "taxes": [
            {"name": t.name, "rate": str(t.rate), "base": str(t.base), "amount": str(t.amount)}
            for t in sums.taxes
        ],
        "tax_inclusive": customer.tax.inclusive,
        "tax_exempt": customer.tax.exempt,
        "tax_total": str(sums.tax_total),
        "total": str(sums.total),
        "replaces": replaces,
        "warnings": [{"field": f, "reason": r} for f, r in charges.warnings],
    }


def _charge_line(line: Any) -> dict[str, Any]:
    shown = line_json(line)
    shown["quantity"] = str(ONE if line.quantity is None else line.quantity)
    shown["unit_price"] = str(unit_price(line.quantity, line.exact, line.detail))
    return shown


def _correction_line(correction: Correction) -> dict[str, Any]:
    start = correction.period["start"][:7]
    description = f"Late usage for {start}: {correction.description}"
    if correction.amount < 0:
        description = f"Correction for {start}: {correction.description}"
    quantity = correction.quantity if correction.quantity else ONE
    return {
        "component": correction.component,
        "kind": "correction",
        "description": description,
        "quantity": str(quantity),
        "unit_price": str(unit_price(quantity, correction.amount, {})),
        "exact": str(correction.amount),
        "amount": str(correction.amount),
        "detail": {},
        "corrects": {
            "invoice": correction.invoice,
            "period": dict(correction.period),
            "kind": correction.kind,
        },
        "sources": [
            {
                "kind": "late",
                "key": correction.component,
                "leaves": [list(r) for r in correction.leaves],
            }
        ],
    }


def _balance_line(drawn: Decimal) -> dict[str, Any]:
    return {
        "component": "credit_balance",
        "kind": "balance",
        "description": "Credit balance applied",
        "quantity": "1",
        "unit_price": str(-drawn),
        "exact": str(-drawn),
        "amount": str(-drawn),
        "detail": {},
        "sources": [],
    }


def _customer_json(customer: Customer) -> dict[str, Any]:
    return {
        "account": customer.account,
        "name": customer.name,
        "email": customer.email,
        "address": customer.address,
        "tax_id": customer.tax.tax_id,
        "jurisdiction": customer.tax.jurisdiction,
    }
