"""A finalized invoice's later life in the store: void, paid, uncollectible. Drafting and
finalizing are `billing.issuing`; the corrections an invoice carries, `billing.close`.

Each step takes a connection inside the tenant's write transaction (`billing.writes` opens it),
appends its leaf, and writes its webhook message to the outbox in the same transaction.
"""

from __future__ import annotations

from sqlalchemy import Connection, insert, update

from valueproof.billing import records
from valueproof.billing.errors import InvoiceStateConflict
from valueproof.billing.invoice_store import (
    DRAFT,
    FINALIZED,
    PAID,
    UNCOLLECTIBLE,
    VOID,
    StoredInvoice,
)
from valueproof.billing.issuing import invoice_snapshot
from valueproof.billing.tables import invoice_status_changes, invoices
from valueproof.errors import InvalidInput
from valueproof.ledger.log import PendingLeaves
from valueproof.periods import format_rfc3339, from_micros
from valueproof.webhooks.outbox import enqueue

__all__ = ["mark", "void"]

# Which state may follow which; a paid invoice is corrected with a credit note, never voided.
_NEXT = {
    FINALIZED: {PAID, VOID, UNCOLLECTIBLE},
    UNCOLLECTIBLE: {PAID, VOID},
}


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
        snapshot = invoice_snapshot(invoice.document, leaf_index, status)
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
