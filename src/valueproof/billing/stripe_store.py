"""The Stripe hand-off as stored: each account's Stripe customer, each pushed invoice's Stripe
invoice and progress, and the Stripe events applied. No transactions: `billing.stripe_handoff`
opens them (the tenant's write lock around every change)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, insert, select, update

from valueproof.billing.invoice_store import FINALIZED
from valueproof.billing.stripe_tables import stripe_customers, stripe_events, stripe_invoices
from valueproof.billing.tables import invoices

__all__ = [
    "APPLIED",
    "STRIPE_DRAFT",
    "STRIPE_FINALIZED",
    "UNCHANGED",
    "Pushed",
    "customer_of",
    "event_seen",
    "invoice_of_stripe",
    "pending_invoices",
    "pushed",
    "record_event",
    "save_customer",
    "save_pushed",
    "update_pushed",
]

STRIPE_DRAFT = "draft"  # the Stripe invoice exists; its items are being added
STRIPE_FINALIZED = "finalized"  # finalized in Stripe: the push is done
APPLIED = "applied"
UNCHANGED = "unchanged"


@dataclass(frozen=True, slots=True)
class Pushed:
    """Our invoice's Stripe invoice, and how far its push got."""

    invoice_id: int
    stripe_invoice_id: str
    leaf_hash: str
    items_pushed: int
    status: str


def customer_of(connection: Connection, tenant_id: int, account_id: int) -> str | None:
    """The Stripe customer id of the account, if one was created."""
    return connection.execute(
        select(stripe_customers.c.stripe_customer_id).where(
            stripe_customers.c.tenant_id == tenant_id,
            stripe_customers.c.account_id == account_id,
        )
    ).scalar()


def save_customer(
    connection: Connection, tenant_id: int, account_id: int, customer_id: str, now_us: int
) -> str:
    """Remember the account's Stripe customer; one already remembered wins (and is returned)."""
    known = customer_of(connection, tenant_id, account_id)
    if known is not None:
        return known
    connection.execute(
        insert(stripe_customers).values(
            account_id=account_id,
            tenant_id=tenant_id,
            stripe_customer_id=customer_id,
            created_us=now_us,
        )
    )
    return customer_id


def pushed(connection: Connection, tenant_id: int, invoice_id: int) -> Pushed | None:
    """The Stripe invoice our invoice was pushed as, if its push began."""
    row = connection.execute(
        select(stripe_invoices).where(
            stripe_invoices.c.tenant_id == tenant_id, stripe_invoices.c.invoice_id == invoice_id
        )
    ).first()
    if row is None:
        return None
    return Pushed(
        row.invoice_id, row.stripe_invoice_id, row.leaf_hash, row.items_pushed, row.status
    )


def save_pushed(
    connection: Connection,
    tenant_id: int,
    invoice_id: int,
    stripe_invoice_id: str,
    leaf_hash: str,
    now_us: int,
) -> Pushed:
    """Remember the Stripe invoice our invoice is pushed as (a draft with no items yet); one
    already remembered wins (and is returned)."""
    known = pushed(connection, tenant_id, invoice_id)
    if known is not None:
        return known
    connection.execute(
        insert(stripe_invoices).values(
            invoice_id=invoice_id,
            tenant_id=tenant_id,
            stripe_invoice_id=stripe_invoice_id,
            leaf_hash=leaf_hash,
            items_pushed=0,
            status=STRIPE_DRAFT,
            created_us=now_us,
            updated_us=now_us,
        )
    )
    return Pushed(invoice_id, stripe_invoice_id, leaf_hash, 0, STRIPE_DRAFT)


def update_pushed(
    connection: Connection, tenant_id: int, invoice_id: int, items: int, status: str, now_us: int
) -> None:
    """Record the push's progress: items added so far (never fewer than recorded), its state."""
    current = pushed(connection, tenant_id, invoice_id)
    assert current is not None, "update_pushed follows save_pushed"
    connection.execute(
        update(stripe_invoices)
        .where(stripe_invoices.c.tenant_id == tenant_id, stripe_invoices.c.invoice_id == invoice_id)
        .values(
            items_pushed=max(items, current.items_pushed),
            status=STRIPE_FINALIZED if STRIPE_FINALIZED in (status, current.status) else status,
            updated_us=now_us,
        )
    )


def pending_invoices(connection: Connection, tenant_id: int) -> list[int]:
    """The row ids of finalized invoices whose push has not finished, in ledger order."""
    done = select(stripe_invoices.c.invoice_id).where(
        stripe_invoices.c.tenant_id == tenant_id,
        stripe_invoices.c.status == STRIPE_FINALIZED,
    )
    return list(
        connection.execute(
            select(invoices.c.id)
            .where(
                invoices.c.tenant_id == tenant_id,
                invoices.c.status == FINALIZED,
                invoices.c.id.not_in(done),
            )
            .order_by(invoices.c.leaf_index)
        ).scalars()
    )


def invoice_of_stripe(connection: Connection, tenant_id: int, stripe_invoice_id: str) -> int | None:
    """Our invoice's row id pushed as this Stripe invoice in the tenant, if any."""
    return connection.execute(
        select(stripe_invoices.c.invoice_id).where(
            stripe_invoices.c.tenant_id == tenant_id,
            stripe_invoices.c.stripe_invoice_id == stripe_invoice_id,
        )
    ).scalar()


def event_seen(connection: Connection, event_id: str) -> str | None:
    """How a Stripe event was handled before (applied or unchanged), if it was."""
    return connection.execute(
        select(stripe_events.c.outcome).where(stripe_events.c.event_id == event_id)
    ).scalar()


def record_event(
    connection: Connection,
    tenant_id: int,
    event_id: str,
    event_type: str,
    invoice_id: int,
    outcome: str,
    now_us: int,
) -> None:
    """Remember a handled Stripe event, so that its replays change nothing."""
    connection.execute(
        insert(stripe_events).values(
            event_id=event_id,
            tenant_id=tenant_id,
            invoice_id=invoice_id,
            type=event_type,
            outcome=outcome,
            received_us=now_us,
        )
    )
