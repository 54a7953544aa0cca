"""Rating: one contract version, one billing period and its data in; charge lines out. Pure.

`rate` is the one function preview, invoicing and simulation share. Every line says what it was
computed from (meter totals, tiers, outcome counts, readings, and the ledger leaves behind
them) and rounds once, to the currency's minor unit, by the contract's rounding rule. The same
inputs give the same lines, and `charges_bytes` the same bytes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson

from valueproof.contracts import adjustments, fees, wallet
from valueproof.contracts.components import component_lines
from valueproof.contracts.document import (
    USAGE_TYPES,
    Commitment,
    ContractDocument,
    PrepaidCredits,
)
from valueproof.contracts.inputs import RatingInput, when_context
from valueproof.contracts.lines import Line, make_line, total
from valueproof.contracts.validation import CompiledContract
from valueproof.money import Currency, currency
from valueproof.periods import BillingPeriod, format_rfc3339

__all__ = ["Charges", "charges_bytes", "charges_json", "line_json", "period_json", "rate"]

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Charges:
    """A period's charges under one contract version."""

    contract: str
    version: int
    version_leaf: int
    account: str
    currency: str
    rounding: str
    period: BillingPeriod
    lines: tuple[Line, ...]
    total: Decimal
    ledger_size: int
    warnings: tuple[tuple[str, str], ...] = ()  # (field path, reason), from the inputs


def rate(terms: CompiledContract, version: int, version_leaf: int, inputs: RatingInput) -> Charges:
    """The charges of `inputs.period` under this version of the contract."""
    document = terms.document
    money = currency(document.currency)
    applying = _applying(terms, inputs)
    lines = list(component_lines(terms, inputs, money, applying))
    by_component = _amounts_by_component(lines)
    for component in document.components:
        if isinstance(component, Commitment) and component.id in applying:
            lines.extend(_true_up(component, inputs, by_component, money, document))
    for component in document.components:
        if isinstance(component, PrepaidCredits) and component.id in applying:
            lines.extend(_credits(component, inputs, by_component, money, document))
    lines.extend(_discounts(terms, applying, lines, money))
    if document.invoice_maximum is not None:
        reduction = adjustments.invoice_cap(total(lines), document.invoice_maximum)
        if reduction:
            lines.append(
                _line(
                    money,
                    document,
                    "invoice_maximum",
                    "cap",
                    "Invoice maximum",
                    -reduction,
                    {"maximum": document.invoice_maximum},
                )
            )
    return Charges(
        contract=document.contract,
        version=version,
        version_leaf=version_leaf,
        account=document.account,
        currency=money.code,
        rounding=document.rounding.value,
        period=inputs.period,
        lines=tuple(lines),
        total=total(lines),
        ledger_size=inputs.ledger_size,
        warnings=inputs.warnings,
    )


def _line(
    money: Currency,
    document: ContractDocument,
    component: str,
    kind: str,
    description: str,
    exact: Decimal,
    detail: Mapping[str, Any],
) -> Line:
    return make_line(money, document.rounding, component, kind, description, None, exact, detail)


def _amounts_by_component(lines: Sequence[Line]) -> dict[str, Decimal]:
    """Each component's charges this period, what commitments and credits draw on. An outcome
    credit refunds an earlier period, so it neither uses up nor shortens this one's."""
    totals: dict[str, Decimal] = {}
    for line in lines:
        if line.kind != "outcome_credit":
            totals[line.component] = totals.get(line.component, ZERO) + line.amount
    return totals


def _applying(terms: CompiledContract, inputs: RatingInput) -> frozenset[str]:
    """The components (by id) and discounts (`discount:<id>`) whose `when` holds this period."""
    document = terms.document
    keys = [c.id for c in document.components] + [f"discount:{d.id}" for d in document.discounts]
    if not terms.whens:
        return frozenset(keys)
    context = when_context(inputs)
    return frozenset(
        key for key in keys if key not in terms.whens or terms.whens[key].holds(context)
    )


def _targets(component: Any, document: Any) -> list[str]:
    if component.applies_to is not None:
        return list(component.applies_to)
    return [c.id for c in document.components if c.type in USAGE_TYPES]


def _true_up(
    component: Commitment,
    inputs: RatingInput,
    by_component: Mapping[str, Decimal],
    money: Currency,
    document: Any,
) -> list[Line]:
    period = inputs.period
    minimum = component.minimum
    fraction = Decimal(1)
    if component.prorate and period.partial:
        fraction = _fraction(period)
        minimum = adjustments.prorate_commitment(minimum, fraction)
    targets = _targets(component, document)
    committed = sum((by_component.get(t, ZERO) for t in targets), ZERO)
    true_up = adjustments.commitment_true_up(minimum, committed)
    detail = {
        "minimum": component.minimum,
        "prorated_minimum": minimum,
        "fraction": fraction,
        "committed": committed,
        "applies_to": targets,
    }
    return [
        _line(
            money,
            document,
            component.id,
            "true_up",
            component.description or "Minimum commitment true-up",
            true_up.shortfall,
            detail,
        )
    ]


def _fraction(period: BillingPeriod) -> Decimal:
    share = fees.prorate(Decimal(1), period.full_start, period.full_end, period.start, period.end)
    return share.fraction


def _credits(
    component: PrepaidCredits,
    inputs: RatingInput,
    by_component: Mapping[str, Decimal],
    money: Currency,
    document: Any,
) -> list[Line]:
    targets = _targets(component, document)
    charges = max(ZERO, sum((by_component.get(t, ZERO) for t in targets), ZERO))
    period = inputs.period
    current = wallet.WalletPeriod(period.start, period.end, charges)
    grants = [wallet.Grant(g.id, g.amount, g.granted, g.expires) for g in component.grants]
    recurring = None
    if component.recurring is not None:
        rule = component.recurring
        recurring = wallet.Recurring(rule.amount, rule.rollover_cap, rule.expires_after_periods)
    drawdowns = wallet.draw_down(grants, [*inputs.wallet_history, current], recurring)
    now = drawdowns[-1]
    detail = {
        "charges": charges,
        "covered": now.covered,
        "overage": now.overage,
        "draws": [{"grant": d.grant, "amount": d.amount} for d in now.draws],
        "expired": [
            {"grant": e.grant, "amount": e.amount, "reason": e.reason} for e in now.expired
        ],
        "balances": [{"grant": g, "balance": b} for g, b in now.balances],
        "applies_to": targets,
    }
    return [
        _line(
            money,
            document,
            component.id,
            "credit",
            component.description or "Prepaid credit drawn",
            -now.covered,
            detail,
        )
    ]


def _discounts(
    terms: CompiledContract, applying: frozenset[str], lines: list[Line], money: Currency
) -> list[Line]:
    document = terms.document
    found = []
    for discount in document.discounts:
        if f"discount:{discount.id}" not in applying:
            continue
        chosen = [
            ln for ln in lines if discount.applies_to is None or ln.component in discount.applies_to
        ]
        base = max(ZERO, total(chosen))
        if discount.percent is not None:
            exact = adjustments.percent_discount(base, discount.percent)
        else:
            assert discount.amount is not None
            exact = adjustments.amount_discount(base, discount.amount)
        detail = {
            "base": base,
            "percent": discount.percent,
            "amount": discount.amount,
            "applies_to": discount.applies_to,
        }
        found.append(
            _line(
                money, document, discount.id, "discount", f"Discount {discount.id}", -exact, detail
            )
        )
    return found


def charges_json(charges: Charges) -> dict[str, Any]:
    """Charges as JSON: amounts and quantities as decimal strings, instants in RFC 3339."""
    return {
        "contract": charges.contract,
        "version": charges.version,
        "version_leaf": charges.version_leaf,
        "account": charges.account,
        "currency": charges.currency,
        "rounding": charges.rounding,
        "period": period_json(charges.period),
        "lines": [line_json(line) for line in charges.lines],
        "total": str(charges.total),
        "ledger_size": charges.ledger_size,
        "warnings": [{"field": field, "reason": reason} for field, reason in charges.warnings],
    }


def period_json(period: BillingPeriod) -> dict[str, Any]:
    """A billing period as JSON: its index in the term, its bounds, and whether it is partial."""
    return {
        "index": period.index,
        "start": format_rfc3339(period.start),
        "end": format_rfc3339(period.end),
        "partial": period.partial,
    }


def line_json(line: Line) -> dict[str, Any]:
    """A charge line as JSON: decimals as text, its sources with their leaf ranges."""
    return {
        "component": line.component,
        "kind": line.kind,
        "description": line.description,
        "quantity": None if line.quantity is None else str(line.quantity),
        "exact": str(line.exact),
        "amount": str(line.amount),
        "detail": _plain(line.detail),
        "sources": [
            {
                "kind": s.kind,
                "key": s.key,
                "quantity": str(s.quantity),
                "events": s.events,
                "leaves": [list(r) for r in s.leaves],
            }
            for s in line.sources
        ],
    }


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return format_rfc3339(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def charges_bytes(charges: Charges) -> bytes:
    """The canonical bytes of charges: sorted keys, no whitespace. Same inputs, same bytes."""
    return orjson.dumps(charges_json(charges), option=orjson.OPT_SORT_KEYS)
