"""The revenue schedule of prepaid credit and minimum commitments, from invoice documents. Pure.

Finance closes its books on what was recognized, what is still deferred and what broke. Each
finalized invoice's lines say it: a prepaid-credit line's `detail` (rating's `_credits`, over
`contracts.wallet`) lists the period's draws per grant, the grants that expired and the
balances carried; a commitment's `true_up` line bills the shortfall. Late usage for a finalized
period comes on a later invoice as a `correction` line of the same component and kind.

One row per invoice and component, dated by the month the period ends in (its last instant):

- prepaid credit: `opening_deferred` (the balances the previous invoice carried) + `granted`
  (grants seen for the first time: what they paid, expired and kept this period) =
  `recognized` (credit drawn, this period's and a correction's for late usage) + `breakage`
  (credit expired unused, or above the rollover cap) + `deferred` (the balances carried on);
- commitment: `billed` (the true-up, with its corrections) = `recognized`; nothing deferred.

So over any run of invoices, recognized + breakage + the last deferred = granted + billed.
Rows read the invoices as they were issued: the schedule never re-rates.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from valueproof.periods import parse_rfc3339

__all__ = ["COMMITMENT", "PREPAID_CREDIT", "RevenueRow", "RevenueState", "revenue_rows"]

ZERO = Decimal(0)
PREPAID_CREDIT = "prepaid_credit"
COMMITMENT = "commitment"
_LINE_KINDS = {"credit": PREPAID_CREDIT, "true_up": COMMITMENT}
_ONE_MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class RevenueRow:
    """One component's revenue on one invoice."""

    month: str  # YYYY-MM of the period's last instant, UTC
    account: str
    contract: str
    component: str
    kind: str  # PREPAID_CREDIT or COMMITMENT
    invoice: str | None
    period_start: datetime
    period_end: datetime
    currency: str
    opening_deferred: Decimal
    granted: Decimal
    billed: Decimal
    recognized: Decimal
    breakage: Decimal
    deferred: Decimal


# What an account's wallet held after its last invoice: (account, contract, component) -> the
# balance of each grant.
RevenueState = dict[tuple[str, str, str], dict[str, Decimal]]


def revenue_rows(
    documents: Iterable[Mapping[str, Any]], state: RevenueState | None = None
) -> Iterator[RevenueRow]:
    """The schedule's rows of finalized invoice documents, given in period order per account
    (void and draft invoices left out); `state` carries the balances from one call to the next."""
    balances: RevenueState = {} if state is None else state
    for document in documents:
        yield from _invoice_rows(document, balances)


def _invoice_rows(document: Mapping[str, Any], balances: RevenueState) -> Iterator[RevenueRow]:
    late: dict[tuple[str, str], Decimal] = {}
    for line in document["lines"]:
        corrects = line.get("corrects")
        if line["kind"] == "correction" and corrects and corrects["kind"] in _LINE_KINDS:
            key = (line["component"], _LINE_KINDS[corrects["kind"]])
            late[key] = late.get(key, ZERO) + Decimal(line["amount"])
    seen: set[tuple[str, str]] = set()
    for line in document["lines"]:
        kind = _LINE_KINDS.get(line["kind"])
        if kind is None:
            continue
        key = (line["component"], kind)
        seen.add(key)
        yield _row(document, balances, key, line.get("detail") or {}, Decimal(line["amount"]), late)
    for key in late.keys() - seen:  # a correction to a component this period no longer has
        yield _row(document, balances, key, None, ZERO, late)


def _row(
    document: Mapping[str, Any],
    balances: RevenueState,
    key: tuple[str, str],
    detail: Mapping[str, Any] | None,
    amount: Decimal,
    late: Mapping[tuple[str, str], Decimal],
) -> RevenueRow:
    component, kind = key
    correction = late.get(key, ZERO)
    opening = granted = breakage = deferred = billed = ZERO
    if kind == PREPAID_CREDIT:
        wallet = (document["account"], document["contract"], component)
        before = balances.get(wallet, {})
        opening = sum(before.values(), ZERO)
        if detail is None:  # no credit line this period: the wallet stands as it was
            after, drawn, granted = dict(before), ZERO, ZERO
        else:
            after, drawn, breakage, granted = _wallet(before, detail)
            balances[wallet] = after
        deferred = sum(after.values(), ZERO)
        recognized = drawn - correction  # a credit correction is negative: more credit drawn
    else:
        billed = amount + correction
        recognized = billed
    period = document["period"]
    end = parse_rfc3339(period["end"])
    return RevenueRow(
        month=(end - _ONE_MICROSECOND).strftime("%Y-%m"),
        account=document["account"],
        contract=document["contract"],
        component=component,
        kind=kind,
        invoice=document.get("number"),
        period_start=parse_rfc3339(period["start"]),
        period_end=end,
        currency=document["currency"],
        opening_deferred=opening,
        granted=granted,
        billed=billed,
        recognized=recognized,
        breakage=breakage,
        deferred=deferred,
    )


def _wallet(
    before: Mapping[str, Decimal], detail: Mapping[str, Any]
) -> tuple[dict[str, Decimal], Decimal, Decimal, Decimal]:
    """(balances after, drawn, expired, newly granted) of a credit line's detail."""
    draws = _by_grant(detail.get("draws", []), "amount")
    expired = _by_grant(detail.get("expired", []), "amount")
    after = _by_grant(detail.get("balances", []), "balance")
    granted = ZERO
    for grant in draws.keys() | expired.keys() | after.keys():
        if grant not in before:
            granted += draws.get(grant, ZERO) + expired.get(grant, ZERO) + after.get(grant, ZERO)
    return after, sum(draws.values(), ZERO), sum(expired.values(), ZERO), granted


def _by_grant(items: Iterable[Mapping[str, Any]], field: str) -> dict[str, Decimal]:
    found: dict[str, Decimal] = {}
    for item in items:
        found[item["grant"]] = found.get(item["grant"], ZERO) + Decimal(item[field])
    return found
