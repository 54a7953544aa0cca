"""Tables of billing: settings, billing profiles, invoices, credit notes, numbers and balances.

An invoice row holds its document (the JSON `billing.invoice` builds) and its state. A draft's
document is re-rated while it is a draft; a finalized invoice's document is the record its
ledger leaf commits to and never changes again: later steps (void, payment, credit notes) add
their own leaves and rows.
"""

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from valueproof.store.schema import metadata

billing_settings = Table(
    "billing_settings",
    metadata,
    Column("tenant_id", Integer, ForeignKey("tenants.id"), primary_key=True),
    Column("document", Text, nullable=False),  # billing.settings.BillingSettings as JSON
    Column("updated_us", BigInteger, nullable=False),
)

billing_profiles = Table(
    "billing_profiles",
    metadata,
    Column("account_id", Integer, ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True),
    Column("tenant_id", Integer, ForeignKey("tenants.id"), nullable=False, index=True),
    Column("document", Text, nullable=False),  # billing.settings.BillingProfile as JSON
    Column("updated_us", BigInteger, nullable=False),
)

# Gapless numbers: the next number of each kind ("invoice", "credit_note"), taken under the
# tenant's write lock in the transaction that finalizes, so a rollback returns it.
billing_sequences = Table(
    "billing_sequences",
    metadata,
    Column("tenant_id", Integer, ForeignKey("tenants.id"), primary_key=True),
    Column("kind", String(20), primary_key=True),
    Column("next_value", BigInteger, nullable=False),
)

invoices = Table(
    "invoices",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tenant_id", Integer, ForeignKey("tenants.id"), nullable=False),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("contract", String(200), nullable=False),
    Column("period_start_us", BigInteger, nullable=False),
    Column("period_end_us", BigInteger, nullable=False),
    # 0 for the period's first invoice; a regenerated one after a void is the next generation.
    Column("generation", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("number", String(64)),
    Column("currency", String(3), nullable=False),
    Column("total", String(64), nullable=False),  # decimal text, as in the document
    Column("document", Text, nullable=False),
    Column("ledger_size", BigInteger, nullable=False),
    Column("leaf_index", BigInteger),
    Column("replaces_id", Integer, ForeignKey("invoices.id")),
    Column("created_us", BigInteger, nullable=False),
    Column("updated_us", BigInteger, nullable=False),
    Column("finalized_us", BigInteger),
    Column("due_us", BigInteger),
    UniqueConstraint("tenant_id", "account_id", "period_start_us", "generation"),
    UniqueConstraint("tenant_id", "number"),
)
Index("ix_invoices_status", invoices.c.tenant_id, invoices.c.status, invoices.c.period_end_us)
Index("ix_invoices_account", invoices.c.tenant_id, invoices.c.account_id, invoices.c.period_end_us)

# Every state change after finalization (paid, void, uncollectible), each a leaf.
invoice_status_changes = Table(
    "invoice_status_changes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tenant_id", Integer, ForeignKey("tenants.id"), nullable=False),
    Column("invoice_id", Integer, ForeignKey("invoices.id"), nullable=False, index=True),
    Column("status", String(16), nullable=False),
    Column("reason", Text, nullable=False),
    Column("reference", String(200)),  # the payment processor's id, when it told us
    Column("at_us", BigInteger, nullable=False),
    Column("leaf_index", BigInteger, nullable=False),
)

credit_notes = Table(
    "credit_notes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tenant_id", Integer, ForeignKey("tenants.id"), nullable=False),
    Column("invoice_id", Integer, ForeignKey("invoices.id"), nullable=False, index=True),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("number", String(64), nullable=False),
    Column("disposition", String(16), nullable=False),  # refund | balance
    Column("currency", String(3), nullable=False),
    Column("total", String(64), nullable=False),
    Column("document", Text, nullable=False),
    Column("leaf_index", BigInteger, nullable=False),
    Column("created_us", BigInteger, nullable=False),
    UniqueConstraint("tenant_id", "number"),
)

# An account's prepaid balance in its currency: credit notes add to it, invoices draw from it.
balance_entries = Table(
    "balance_entries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tenant_id", Integer, ForeignKey("tenants.id"), nullable=False),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("amount", String(64), nullable=False),  # decimal text: + credited, - drawn
    Column("credit_note_id", Integer, ForeignKey("credit_notes.id")),
    Column("invoice_id", Integer, ForeignKey("invoices.id")),
    Column("created_us", BigInteger, nullable=False),
)
Index("ix_balance_account", balance_entries.c.tenant_id, balance_entries.c.account_id)
