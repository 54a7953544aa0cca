"""An invoice's life in the store: draft, finalize (number and leaf), void, paid, uncollectible.

Each step takes a connection inside the tenant's write transaction (`billing.writes` opens it),
appends its leaf, and writes its webhook message to the outbox in the same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import Connection, insert, update

from valueproof.billing import records
from valueproof.billing.close import billed_periods, pending_corrections
from valueproof.billing.corrections import Correction
from valueproof.billing.credit_notes import CreditLine, CreditRequest, issue_credit_note
from valueproof.billing.errors import CreditNoteInvalid, InvoiceStateConflict
from valueproof.billing.invoice import Customer, invoice_document
from valueproof.billing.invoice_store import (
    DRAFT,
    FINALIZED,
    PAID,
    UNCOLLECTIBLE,
    VOID,
    StoredInvoice,
    balance,
    find_invoice,
    load_profile,
    next_number,
)
from valueproof.billing.settings import BillingSettings, format_number
from valueproof.billing.tables import balance_entries, invoice_status_changes, invoices
from valueproof.contracts.rating import Charges
from valueproof.errors import InvalidInput
from valueproof.ledger.log import PendingLeaves
from valueproof.periods import format_rfc3339, from_micros, to_micros
from valueproof.tenancy.tables import accounts
from valueproof.webhooks.outbox import enqueue

__all__ = [
    "build_document",
    "corrections_for",
    "finalize",
    "mark",
    "require_draft",
    "save_draft",
    "void",
]

# Which state may follow which; a paid invoice is corrected with a credit note, never voided.
_NEXT = {
    FINALIZED: {PAID, VOID, UNCOLLECTIBLE},
    UNCOLLECTIBLE: {PAID, VOID},
}


def _customer(connection: Connection, tenant_id: int, account_id: int, account: str) -> Customer:
    name = connection.execute(
        accounts.select().with_only_columns(accounts.c.name).where(accounts.c.id == account_id)
    ).scalar_one()
    return load_profile(connection, tenant_id, account_id).customer(account, name)


def build_document(
    connection: Connection,
    tenant_id: int,
    account_id: int,
    charges: Charges,
    corrections: Sequence[Correction],
    *,
    number: str | None = None,
    issued_at: datetime | None = None,
    due_at: datetime | None = None,
    replaces: str | None = None,
) -> dict[str, Any]:
    """The invoice document of `charges` for the account, with its customer details, taxes and
    the credit balance it can draw."""
    customer = _customer(connection, tenant_id, account_id, charges.account)
    available = balance(connection, tenant_id, account_id, charges.currency)
    return invoice_document(
        charges,
        customer,
        corrections,
        available,
        number=number,
        issued_at=issued_at,
        due_at=due_at,
        replaces=replaces,
    )


def corrections_for(
    connection: Connection, tenant_id: int, account_id: int, period_start_us: int, now: datetime
) -> list[Correction]:
    """Corrections to the account's finalized periods before `period_start_us`."""
    billed = billed_periods(connection, tenant_id, account_id)
    earlier = [i for i in billed if i.period_start_us < period_start_us]
    return pending_corrections(connection, tenant_id, earlier, billed, now)


def require_draft(invoice: StoredInvoice) -> None:
    """InvoiceStateConflict unless the invoice is still a draft (finalizing a voided one...)."""
    if invoice.status != DRAFT:
        raise InvoiceStateConflict(
            f"invoice {invoice.number or invoice.id} is {invoice.status}: "
            "only a draft can be finalized"
        )


def save_draft(
    connection: Connection,
    tenant_id: int,
    account_id: int,
    charges: Charges,
    document: dict[str, Any],
    now_us: int,
    *,
    existing: StoredInvoice | None = None,
    generation: int = 0,
    replaces_id: int | None = None,
) -> int:
    """Insert the period's draft, or re-rate an existing draft in place; its row id."""
    values = {
        "status": DRAFT,
        "currency": charges.currency,
        "total": document["total"],
        "document": orjson.dumps(document).decode(),
        "ledger_size": charges.ledger_size,
        "updated_us": now_us,
    }
    if existing is not None:
        if existing.status != DRAFT:
            raise InvoiceStateConflict(f"invoice {existing.number} is {existing.status}")
        connection.execute(update(invoices).where(invoices.c.id == existing.id).values(**values))
        return existing.id
    inserted = connection.execute(
        insert(invoices).values(
            tenant_id=tenant_id,
            account_id=account_id,
            contract=charges.contract,
            period_start_us=to_micros(charges.period.start),
            period_end_us=to_micros(charges.period.end),
            generation=generation,
            replaces_id=replaces_id,
            created_us=now_us,
            **values,
        )
    )
    invoice_id = int(inserted.inserted_primary_key[0])  # type: ignore[index]
    enqueue(connection, tenant_id, "invoice.created", _snapshot(document, None, DRAFT), now_us)
    return invoice_id


def finalize(
    connection: Connection,
    tenant_id: int,
    draft: StoredInvoice,
    charges: Charges,
    corrections: Sequence[Correction],
    settings: BillingSettings,
    now_us: int,
    leaves: PendingLeaves,
) -> StoredInvoice:
    """Give the draft its number, freeze its document (rated by `charges`) on the ledger, and
    draw the credit balance it uses."""
    require_draft(draft)
    if settings.corrections == "credit_note":
        corrections = _settle_reductions(
            connection, tenant_id, corrections, settings, now_us, leaves
        )
    now = from_micros(now_us)
    value = next_number(connection, tenant_id, "invoice")
    number = format_number(settings.invoice_prefix, now.year, value, settings.number_digits)
    replaces = None
    if draft.replaces_id is not None:
        replaces = find_invoice(connection, tenant_id, draft.replaces_id).number
    document = build_document(
        connection,
        tenant_id,
        draft.account_id,
        charges,
        corrections,
        number=number,
        issued_at=now,
        due_at=now + timedelta(days=settings.payment_terms_days),
        replaces=replaces,
    )
    leaf_index = leaves.add(records.invoice_leaf(document))
    connection.execute(
        update(invoices)
        .where(invoices.c.id == draft.id)
        .values(
            status=FINALIZED,
            number=number,
            total=document["total"],
            document=orjson.dumps(document).decode(),
            ledger_size=charges.ledger_size,
            leaf_index=leaf_index,
            finalized_us=now_us,
            due_us=now_us + settings.payment_terms_days * 86_400_000_000,
            updated_us=now_us,
        )
    )
    drawn = sum(
        (Decimal(line["amount"]) for line in document["lines"] if line["kind"] == "balance"),
        Decimal(0),
    )
    if drawn:
        connection.execute(
            insert(balance_entries).values(
                tenant_id=tenant_id,
                account_id=draft.account_id,
                currency=charges.currency,
                amount=str(drawn),
                invoice_id=draft.id,
                created_us=now_us,
            )
        )
    enqueue(
        connection,
        tenant_id,
        "invoice.finalized",
        _snapshot(document, leaf_index, FINALIZED),
        now_us,
    )
    return find_invoice(connection, tenant_id, draft.id)


def _settle_reductions(
    connection: Connection,
    tenant_id: int,
    corrections: Sequence[Correction],
    settings: BillingSettings,
    now_us: int,
    leaves: PendingLeaves,
) -> list[Correction]:
    """Issue a correction credit note, to the account's balance, for each reduction of a
    finalized invoice's line; what cannot be credited that way stays a line."""
    remaining: list[Correction] = []
    for fix in corrections:
        original = find_invoice(connection, tenant_id, fix.invoice) if fix.amount < 0 else None
        index = None if original is None else _line_of(original, fix)
        if original is None or index is None:
            remaining.append(fix)
            continue
        request = CreditRequest(
            f"Correction for {fix.period['start'][:7]}: {fix.description}",
            (CreditLine(index, -fix.amount),),
            "balance",
            corrects=True,
        )
        try:
            issue_credit_note(connection, tenant_id, original, request, settings, now_us, leaves)
        except (CreditNoteInvalid, InvoiceStateConflict):
            remaining.append(fix)  # more than is left on the line, or the invoice was voided
    return remaining


def _line_of(invoice: StoredInvoice, fix: Correction) -> int | None:
    for index, line in enumerate(invoice.document["lines"]):
        if (line["component"], line["kind"]) == (fix.component, fix.kind):
            return index
    return None


def mark(
    connection: Connection,
    tenant_id: int,
    invoice: StoredInvoice,
    status: str,
    reason: str,
    now_us: int,
    leaves: PendingLeaves,
    reference: str | None = None,
) -> int:
    """Move a finalized invoice to `status` (paid, void, uncollectible) with a leaf; its index."""
    allowed = _NEXT.get(invoice.status, set())
    if status not in allowed:
        name = invoice.number or f"draft {invoice.id}"
        if invoice.status == DRAFT:
            why = "a draft is not issued yet: finalize it first"
        elif invoice.status == PAID and status == VOID:
            why = "a paid invoice is corrected with a credit note, not voided"
        else:
            why = f"it is {invoice.status}"
        raise InvoiceStateConflict(f"invoice {name} cannot become {status}: {why}")
    assert invoice.number is not None
    record = records.status_record(
        invoice.number, status, reason, format_rfc3339(from_micros(now_us)), reference
    )
    leaf_index = leaves.add(records.status_leaf(record))
    connection.execute(
        insert(invoice_status_changes).values(
            tenant_id=tenant_id,
            invoice_id=invoice.id,
            status=status,
            reason=reason,
            reference=reference,
            at_us=now_us,
            leaf_index=leaf_index,
        )
    )
    connection.execute(
        update(invoices).where(invoices.c.id == invoice.id).values(status=status, updated_us=now_us)
    )
    event = {PAID: "invoice.paid", VOID: "invoice.voided", UNCOLLECTIBLE: None}[status]
    if event is not None:
        snapshot = _snapshot(invoice.document, leaf_index, status)
        snapshot["reason"] = reason
        enqueue(connection, tenant_id, event, snapshot, now_us)
    return leaf_index


def void(
    connection: Connection,
    tenant_id: int,
    invoice: StoredInvoice,
    reason: str,
    now_us: int,
    leaves: PendingLeaves,
) -> None:
    """Void a finalized invoice, with its reason on the ledger."""
    if not reason.strip():
        raise InvalidInput("reason", "voiding an invoice needs a reason")
    mark(connection, tenant_id, invoice, VOID, reason, now_us, leaves)


def _snapshot(document: dict[str, Any], leaf_index: int | None, status: str) -> dict[str, Any]:
    return {
        "number": document["number"],
        "status": status,
        "account": document["account"],
        "contract": document["contract"],
        "period": document["period"],
        "currency": document["currency"],
        "total": document["total"],
        "leaf_index": leaf_index,
        "invoice": document,
    }
