"""Tables of the Stripe hand-off: which Stripe customer is each account, which Stripe invoice is
each pushed invoice (and how far its push got), and which Stripe events were applied.

A push talks to Stripe outside any transaction, so these rows are how it resumes: the Stripe
ids are written as soon as Stripe returns them, and `items_pushed` after each invoice item.
"""

from sqlalchemy import BigInteger, Column, ForeignKey, Integer, String, Table

from valueproof.store.schema import metadata

stripe_customers = Table(
    "stripe_customers",
    metadata,
    Column("account_id", Integer, ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True),
    Column("tenant_id", Integer, ForeignKey("tenants.id"), nullable=False, index=True),
    Column("stripe_customer_id", String(255), nullable=False, unique=True),
    Column("created_us", BigInteger, nullable=False),
)

stripe_invoices = Table(
    "stripe_invoices",
    metadata,
    Column("invoice_id", Integer, ForeignKey("invoices.id"), primary_key=True),
    Column("tenant_id", Integer, ForeignKey("tenants.id"), nullable=False),
    Column("stripe_invoice_id", String(255), nullable=False, unique=True),
    Column("leaf_hash", String(64), nullable=False),  # hex: the idempotency keys' stem
    Column("items_pushed", Integer, nullable=False),
    Column("status", String(16), nullable=False),  # draft (items under way) | finalized
    Column("created_us", BigInteger, nullable=False),
    Column("updated_us", BigInteger, nullable=False),
)

# Stripe events that changed (or found unchanged) one of our invoices: a replay is a no-op.
stripe_events = Table(
    "stripe_events",
    metadata,
    Column("event_id", String(255), primary_key=True),
    Column("tenant_id", Integer, ForeignKey("tenants.id"), nullable=False),
    Column("invoice_id", Integer, ForeignKey("invoices.id"), nullable=False),
    Column("type", String(100), nullable=False),
    Column("outcome", String(16), nullable=False),  # applied | unchanged
    Column("received_us", BigInteger, nullable=False),
)
