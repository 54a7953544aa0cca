"""What the billing pages show and do: invoices by state, one invoice with its lines, credit
notes and changes of state, the money on an account's page, and the admin actions on an invoice
(void, credit note, finalize) parsed from their forms.

Reads use the same domain functions the HTTP API answers from (`billing.invoice_store`,
`contracts.service.preview`); each action is one call of `billing.writes`. This module only
shapes them for the templates; `web.pages` registers the routes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any, Literal
from urllib.parse import quote

from sqlalchemy import Connection, Engine

from valueproof.billing import writes
from valueproof.billing.credit_notes import CreditLine, CreditRequest, credited_so_far
from valueproof.billing.invoice_store import (
    DRAFT,
    FINALIZED,
    OPEN_STATES,
    STATES,
    UNCOLLECTIBLE,
    StoredCreditNote,
    StoredInvoice,
    balance,
    credit_notes_of,
    find_invoice,
    invoices_of,
    status_changes,
)
from valueproof.contracts.errors import RatingError
from valueproof.contracts.lines import Line
from valueproof.contracts.service import preview
from valueproof.errors import DocumentInvalid, InvalidInput
from valueproof.ledger.publish import CheckpointPolicy
from valueproof.periods import BillingPeriod, from_micros, to_micros
from valueproof.tenancy.accounts import Account, account_id

__all__ = [
    "NOTICES",
    "Change",
    "CommitmentPace",
    "GrantBalance",
    "InvoiceList",
    "InvoiceView",
    "LineView",
    "MoneyView",
    "credit",
    "credit_request",
    "finalize",
    "invoice_key",
    "invoice_list",
    "invoice_url",
    "invoice_view",
    "money_view",
    "period_text",
    "problems_of",
    "void",
]

ZERO = Decimal(0)
HUNDRED = Decimal(100)
LIST_SIZE = 100
# What a finished action says on the page it lands on (`?done=`): fixed texts, never echoed.
NOTICES = {
    "finalized": "Finalized: the invoice has its number and is on the ledger.",
    "voided": "Voided: the reason is on the ledger.",
    "regenerated": "Voided the invoice this one replaces, and rated its period again.",
    "credited": "Credit note issued: it is on the ledger.",
}
# Which states may still be voided (a paid invoice is corrected with a credit note).
_VOIDABLE = frozenset({FINALIZED, UNCOLLECTIBLE})


# --- the list --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InvoiceList:
    """Invoices of one state (None: every state) and maybe one account, newest period first."""

    state: str | None
    account: str | None
    invoices: list[StoredInvoice]
    more: bool  # there are more than the page shows


def invoice_list(
    connection: Connection, tenant_id: int, state: str | None, account: str | None
) -> InvoiceList:
    """The newest `LIST_SIZE` invoices of `state` (of `account`, when given); InvalidInput
    naming `state` for a state invoices do not have, or `account` for an unknown account."""
    if state is not None and state not in STATES:
        raise InvalidInput("state", f"must be one of {', '.join(STATES)}, not {state!r}")
    owner = None if account is None else account_id(connection, tenant_id, account)
    found = invoices_of(connection, tenant_id, status=state, account_id=owner, limit=LIST_SIZE + 1)
    return InvoiceList(state, account, found[:LIST_SIZE], len(found) > LIST_SIZE)


def invoice_key(invoice: StoredInvoice) -> str:
    """How pages and the API name an invoice: its number, or a draft's row id."""
    return invoice.number or str(invoice.id)


# --- one invoice -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LineView:
    """One line of the invoice, with its tier slices and what is left to credit on it."""

    index: int  # its position in the document: credit notes name lines by it
    line: dict[str, Any]
    tiers: list[dict[str, Any]]
    left: Decimal


@dataclass(frozen=True, slots=True)
class Change:
    """A step in the invoice's life: when, to which state, why, and its ledger leaf."""

    at: datetime
    status: str
    reason: str
    reference: str | None
    leaf_index: int | None


@dataclass(frozen=True, slots=True)
class InvoiceView:
    """An invoice with what surrounds it: the invoices it replaces and that replace it, its
    credit notes, its history, and which admin actions its state allows."""

    invoice: StoredInvoice
    charges: list[LineView]
    corrections: list[LineView]
    replaces: StoredInvoice | None
    replaced_by: list[StoredInvoice]
    credit_notes: list[StoredCreditNote]
    changes: list[Change]

    @property
    def can_finalize(self) -> bool:
        return self.invoice.status == DRAFT

    @property
    def can_void(self) -> bool:
        return self.invoice.status in _VOIDABLE

    @property
    def creditable(self) -> list[LineView]:
        """The lines a credit note may still take from (none unless finalized)."""
        if self.invoice.status not in OPEN_STATES:
            return []
        return [line for line in self.charges + self.corrections if line.left > 0]


def invoice_view(connection: Connection, tenant_id: int, key: str) -> InvoiceView:
    """The invoice with this number or id; InvoiceNotFound naming it otherwise."""
    invoice = find_invoice(connection, tenant_id, key)
    notes = credit_notes_of(connection, tenant_id, invoice.id)
    taken = credited_so_far(notes)
    lines = [
        LineView(index, line, _tiers(line), Decimal(line["amount"]) - taken.get(index, ZERO))
        for index, line in enumerate(invoice.document["lines"])
    ]
    replaces = None
    if invoice.replaces_id is not None:
        replaces = find_invoice(connection, tenant_id, invoice.replaces_id)
    siblings = invoices_of(connection, tenant_id, account_id=invoice.account_id)
    return InvoiceView(
        invoice=invoice,
        charges=[line for line in lines if line.line["kind"] != "correction"],
        corrections=[line for line in lines if line.line["kind"] == "correction"],
        replaces=replaces,
        replaced_by=[other for other in siblings if other.replaces_id == invoice.id],
        credit_notes=notes,
        changes=_history(connection, tenant_id, invoice),
    )


def _tiers(line: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A tiered line's slices that priced something (graduated, volume and percentage tiers),
    numbered from 1 as people count them, a flat fee only where there is one."""
    shown = []
    for tier in line.get("detail", {}).get("tiers", []):
        if Decimal(tier["quantity"]) == 0 and Decimal(tier["amount"]) == 0:
            continue
        fee = tier.get("flat_fee")
        shown.append(
            {
                **tier,
                "number": int(tier["tier"]) + 1,
                "flat_fee": fee if fee is not None and Decimal(fee) != 0 else None,
            }
        )
    return shown


def _history(connection: Connection, tenant_id: int, invoice: StoredInvoice) -> list[Change]:
    made = Change(from_micros(invoice.created_us), DRAFT, "period closed", None, None)
    history = [made]
    if invoice.finalized_us is not None:
        history.append(
            Change(
                from_micros(invoice.finalized_us),
                FINALIZED,
                f"numbered {invoice.number}",
                None,
                invoice.leaf_index,
            )
        )
    history.extend(
        Change(from_micros(row.at_us), row.status, row.reason, row.reference, row.leaf_index)
        for row in status_changes(connection, tenant_id, invoice.id)
    )
    return history


# --- the admin actions -----------------------------------------------------------------------


def void(
    engine: Engine, tenant_id: int, key: str, form: Mapping[str, str], policy: CheckpointPolicy
) -> str:
    """Void the invoice with the form's reason (and rate its period again when `regenerate`
    is on); the page to show next: the replacement's, else the voided invoice's."""
    regenerate = form.get("regenerate", "") == "on"
    voided, replacement = writes.void(
        engine, tenant_id, key, form.get("reason", "").strip(), policy, regenerate=regenerate
    )
    if replacement is not None:
        return invoice_url(replacement, "regenerated")
    return invoice_url(voided, "voided")


def credit(
    engine: Engine, tenant_id: int, key: str, form: Mapping[str, str], policy: CheckpointPolicy
) -> str:
    """Issue a credit note of the form's line, amount (empty: all that is left), reason and
    disposition; the invoice's page to show next."""
    request = credit_request(form)
    writes.credit(engine, tenant_id, key, request, policy)
    return invoice_url(key, "credited")


def finalize(
    engine: Engine, tenant_id: int, key: str, form: Mapping[str, str], policy: CheckpointPolicy
) -> str:
    """Finalize a held draft; its page under its new number."""
    done = writes.finalize(engine, tenant_id, key, policy)
    return invoice_url(done, "finalized")


def credit_request(form: Mapping[str, str]) -> CreditRequest:
    """The credit note the form asks for; DocumentInvalid naming every field it gets wrong."""
    problems: list[tuple[str, str]] = []
    line = form.get("line", "").strip()
    if not line.isdigit():
        problems.append(("line", "choose the line to credit"))
    amount: Decimal | None = None
    text = form.get("amount", "").strip()
    if text:
        try:
            amount = Decimal(text)
        except InvalidOperation:
            problems.append(("amount", f"{text!r} is not an amount like 12.50"))
        else:
            if not amount.is_finite():
                problems.append(("amount", f"{text!r} is not an amount like 12.50"))
    disposition = form.get("disposition", "refund")
    if disposition not in ("refund", "balance"):
        problems.append(("disposition", f"must be refund or balance, not {disposition!r}"))
    if problems:
        raise DocumentInvalid(problems)
    chosen: Literal["refund", "balance"] = "balance" if disposition == "balance" else "refund"
    return CreditRequest(
        reason=form.get("reason", "").strip(),
        lines=(CreditLine(int(line), amount),),
        disposition=chosen,
    )


def problems_of(error: InvalidInput) -> list[tuple[str, str]]:
    """An error's (field, reason) pairs in the form's own field names: the form credits one
    line, so the core's `lines[0].amount` is the form's `amount`."""
    return [(field.removeprefix("lines[0]."), reason) for field, reason in error.problems]


# --- money on the account page ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CommitmentPace:
    """A minimum commitment against the charges that count toward it, so far and projected."""

    component: str
    description: str
    minimum: Decimal  # prorated when the period is partial and the contract says so
    committed: Decimal
    projected: Decimal

    @property
    def percent(self) -> Decimal:
        """How much of the minimum the charges so far reach, in whole percent."""
        if self.minimum <= 0:
            return HUNDRED
        return (self.committed / self.minimum * HUNDRED).quantize(1, ROUND_HALF_EVEN)

    @property
    def on_pace(self) -> bool:
        return self.projected >= self.minimum


@dataclass(frozen=True, slots=True)
class GrantBalance:
    """What is left of one prepaid credit grant after this period's charges so far."""

    component: str
    grant: str
    balance: Decimal


@dataclass(frozen=True, slots=True)
class MoneyView:
    """The current period's money of an account, or why there is none (`reason`)."""

    reason: str | None = None
    currency: str = ""
    period: BillingPeriod | None = None
    to_date: Decimal = ZERO
    projected: Decimal = ZERO
    elapsed_percent: Decimal = ZERO  # of the period, by the hour
    commitments: tuple[CommitmentPace, ...] = ()
    prepaid: bool = False  # the contract has prepaid credit (`grants` lists what is left)
    grants: tuple[GrantBalance, ...] = ()
    balance: Decimal = ZERO  # credit notes credited to the account, less what invoices drew


def money_view(connection: Connection, tenant_id: int, account: Account, at: datetime) -> MoneyView:
    """The account's charges this period up to `at` and projected to its end (the contract
    preview), its commitments' pace, its prepaid credit and its credit balance."""
    try:
        found = preview(connection, tenant_id, account.external_id, at)
    except (InvalidInput, RatingError) as error:
        return MoneyView(reason=error.reason)
    charges, projected = found.charges, found.projected
    ahead = {(line.component, line.kind): line for line in projected.lines}
    commitments = tuple(
        _pace(line, ahead.get((line.component, line.kind)))
        for line in charges.lines
        if line.kind == "true_up"
    )
    grants = tuple(
        GrantBalance(line.component, str(item["grant"]), Decimal(item["balance"]))
        for line in charges.lines
        if line.kind == "credit"
        for item in line.detail.get("balances", ())
    )
    elapsed = (HUNDRED / found.factor).quantize(1, ROUND_HALF_EVEN) if found.factor else ZERO
    return MoneyView(
        currency=charges.currency,
        period=charges.period,
        to_date=charges.total,
        projected=projected.total,
        elapsed_percent=elapsed,
        commitments=commitments,
        prepaid=any(line.kind == "credit" for line in charges.lines),
        grants=grants,
        balance=balance(connection, tenant_id, account.id, charges.currency),
    )


def _pace(line: Line, ahead: Line | None) -> CommitmentPace:
    minimum = Decimal(line.detail["prorated_minimum"])
    committed = Decimal(line.detail["committed"])
    projected = committed if ahead is None else Decimal(ahead.detail["committed"])
    return CommitmentPace(line.component, line.description, minimum, committed, projected)


def period_text(start: datetime, end: datetime) -> str:
    """A billing period [start, end) as its first and last days: "1 Nov 2026 to 30 Nov 2026"."""
    last = from_micros(to_micros(end) - 1)
    return f"{start.day} {start:%b %Y} to {last.day} {last:%b %Y}"


def invoice_url(invoice: StoredInvoice | str, done: str | None = None) -> str:
    """The page of an invoice, or of the invoice with this number (which may hold a "/"),
    with what an action just did."""
    key = invoice if isinstance(invoice, str) else invoice_key(invoice)
    path = f"/invoices/{quote(key, safe='')}"
    return path if done is None else f"{path}?done={done}"
