"""Invoices, credit notes, settings, profiles, numbers and balances as stored. No transactions:
callers (`billing.writes`) hold the tenant's write lock around every change."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import Connection, Row, func, insert, select, update

from valueproof.billing.errors import CreditNoteNotFound, InvoiceNotFound
from valueproof.billing.settings import BillingProfile, BillingSettings
from valueproof.billing.tables import (
    balance_entries,
    billing_profiles,
    billing_sequences,
    billing_settings,
    credit_notes,
    invoice_status_changes,
    invoices,
)
from valueproof.periods import format_rfc3339, from_micros
from valueproof.tenancy.tables import accounts

__all__ = [
    "DRAFT",
    "FINALIZED",
    "OPEN_STATES",
    "PAID",
    "STATES",
    "UNCOLLECTIBLE",
    "VOID",
    "StoredCreditNote",
    "StoredInvoice",
    "balance",
    "balances",
    "credit_note_pages",
    "credit_notes_of",
    "find_credit_note",
    "find_invoice",
    "invoice_count",
    "invoice_json",
    "invoice_pages",
    "invoice_summary",
    "invoices_of",
    "load_profile",
    "load_profiles",
    "load_settings",
    "next_number",
    "period_invoices",
    "save_profile",
    "save_settings",
    "sequence_value",
    "status_changes",
    "store_sequence",
]

DRAFT = "draft"
FINALIZED = "finalized"
PAID = "paid"
VOID = "void"
UNCOLLECTIBLE = "uncollectible"
STATES = (DRAFT, FINALIZED, PAID, VOID, UNCOLLECTIBLE)
OPEN_STATES = frozenset({FINALIZED, PAID, UNCOLLECTIBLE})  # finalized and not voided


@dataclass(frozen=True, slots=True)
class InvoiceState:
    """Where an invoice stands, without its document: what a close needs of every invoice."""

    id: int
    account_id: int
    account: str
    period_start_us: int
    period_end_us: int
    generation: int
    status: str
    number: str | None
    ledger_size: int
    replaces_id: int | None


@dataclass(frozen=True, slots=True)
class StoredInvoice:
    """An invoice row with its document."""

    id: int
    account_id: int
    account: str
    contract: str
    period_start_us: int
    period_end_us: int
    generation: int
    status: str
    number: str | None
    currency: str
    total: Decimal
    document: dict[str, Any]
    ledger_size: int
    leaf_index: int | None
    replaces_id: int | None
    created_us: int
    updated_us: int
    finalized_us: int | None
    due_us: int | None

    @property
    def state(self) -> InvoiceState:
        """Where the invoice stands, without its document."""
        return InvoiceState(
            self.id,
            self.account_id,
            self.account,
            self.period_start_us,
            self.period_end_us,
            self.generation,
            self.status,
            self.number,
            self.ledger_size,
            self.replaces_id,
        )


@dataclass(frozen=True, slots=True)
class StoredCreditNote:
    """A credit note row with its document."""

    id: int
    invoice_id: int
    account_id: int
    number: str
    disposition: str
    currency: str
    total: Decimal
    document: dict[str, Any]
    leaf_index: int
    created_us: int


def _invoice_query() -> Any:
    return select(invoices, accounts.c.external_id.label("account")).join(
        accounts, accounts.c.id == invoices.c.account_id
    )


def _state(row: Any) -> InvoiceState:
    return InvoiceState(
        id=row.id,
        account_id=row.account_id,
        account=row.account,
        period_start_us=row.period_start_us,
        period_end_us=row.period_end_us,
        generation=row.generation,
        status=row.status,
        number=row.number,
        ledger_size=row.ledger_size,
        replaces_id=row.replaces_id,
    )


def _invoice(row: Row[Any]) -> StoredInvoice:
    return StoredInvoice(
        id=row.id,
        account_id=row.account_id,
        account=row.account,
        contract=row.contract,
        period_start_us=row.period_start_us,
        period_end_us=row.period_end_us,
        generation=row.generation,
        status=row.status,
        number=row.number,
        currency=row.currency,
        total=Decimal(row.total),
        document=orjson.loads(row.document),
        ledger_size=row.ledger_size,
        leaf_index=row.leaf_index,
        replaces_id=row.replaces_id,
        created_us=row.created_us,
        updated_us=row.updated_us,
        finalized_us=row.finalized_us,
        due_us=row.due_us,
    )


def find_invoice(connection: Connection, tenant_id: int, key: str | int) -> StoredInvoice:
    """The invoice with this number (or row id); InvoiceNotFound naming it otherwise."""
    query = _invoice_query().where(invoices.c.tenant_id == tenant_id)
    if isinstance(key, int) or key.isdigit():
        query = query.where(invoices.c.id == int(key))
    else:
        query = query.where(invoices.c.number == key)
    row = connection.execute(query).first()
    if row is None:
        raise InvoiceNotFound(f"no invoice {key!r}")
    return _invoice(row)


def invoices_of(
    connection: Connection,
    tenant_id: int,
    *,
    status: str | None = None,
    account_id: int | None = None,
    limit: int | None = None,
) -> list[StoredInvoice]:
    """Invoices, newest period first: all, or of one state or one account."""
    query = _invoice_query().where(invoices.c.tenant_id == tenant_id)
    if status is not None:
        query = query.where(invoices.c.status == status)
    if account_id is not None:
        query = query.where(invoices.c.account_id == account_id)
    query = query.order_by(invoices.c.period_end_us.desc(), invoices.c.id.desc())
    if limit is not None:
        query = query.limit(limit)
    return [_invoice(row) for row in connection.execute(query)]


def invoice_pages(
    connection: Connection,
    tenant_id: int,
    where: Sequence[Any],
    order: Sequence[str],
    size: int,
) -> Iterator[list[StoredInvoice]]:
    """Invoices matching `where`, by the `order` columns, in pages of at most `size` fetched
    from one streaming cursor (server-side on PostgreSQL): a reader never holds them all."""
    query = (
        _invoice_query()
        .where(invoices.c.tenant_id == tenant_id, *where)
        .order_by(*(invoices.c[name] for name in order))
    )
    result = connection.execute(query, execution_options={"yield_per": size})
    for page in result.partitions():
        yield [_invoice(row) for row in page]


def period_invoices(
    connection: Connection, tenant_id: int, account_ids: Sequence[int] | None = None
) -> dict[tuple[int, int], InvoiceState]:
    """Each (account id, period start) that has an invoice, with its latest generation's state
    (documents are not read: a tenant has an invoice per account and period)."""
    query = select(
        *(invoices.c[name] for name in _STATE_COLUMNS), accounts.c.external_id.label("account")
    ).join(accounts, accounts.c.id == invoices.c.account_id)
    query = query.where(invoices.c.tenant_id == tenant_id)
    found: dict[tuple[int, int], InvoiceState] = {}
    wanted = None if account_ids is None else list(account_ids)
    for start in range(0, 1 if wanted is None else max(1, len(wanted)), 900):
        chosen = query
        if wanted is not None:  # under SQLite's 999 parameters a statement
            chosen = query.where(invoices.c.account_id.in_(wanted[start : start + 900]))
        for row in connection.execute(chosen.order_by(invoices.c.generation)):
            found[(row.account_id, row.period_start_us)] = _state(row)
    return found


_STATE_COLUMNS = (
    "id",
    "account_id",
    "period_start_us",
    "period_end_us",
    "generation",
    "status",
    "number",
    "ledger_size",
    "replaces_id",
)


def invoice_summary(invoice: StoredInvoice) -> dict[str, Any]:
    """An invoice as lists show it: its number, state, account, period and total."""
    return {
        "id": invoice.id,
        "number": invoice.number,
        "status": invoice.status,
        "account": invoice.account,
        "contract": invoice.contract,
        "period_start": format_rfc3339(from_micros(invoice.period_start_us)),
        "period_end": format_rfc3339(from_micros(invoice.period_end_us)),
        "currency": invoice.currency,
        "total": str(invoice.total),
        "leaf_index": invoice.leaf_index,
    }


def invoice_json(invoice: StoredInvoice) -> dict[str, Any]:
    """An invoice as the API shows it: its summary, where it stands, and its document."""
    return {
        **invoice_summary(invoice),
        "ledger_size": invoice.ledger_size,
        "generation": invoice.generation,
        "document": invoice.document,
    }


def next_number(connection: Connection, tenant_id: int, kind: str) -> int:
    """Take the tenant's next number of `kind`: 1, 2, 3... A rollback gives it back."""
    value = sequence_value(connection, tenant_id, kind)
    store_sequence(connection, tenant_id, kind, value + 1)
    return value


def sequence_value(connection: Connection, tenant_id: int, kind: str) -> int:
    """The tenant's next number of `kind`, not yet taken (1 before the first)."""
    stored = connection.execute(
        select(billing_sequences.c.next_value).where(
            billing_sequences.c.tenant_id == tenant_id, billing_sequences.c.kind == kind
        )
    ).scalar()
    return 1 if stored is None else int(stored)


def store_sequence(connection: Connection, tenant_id: int, kind: str, next_value: int) -> None:
    """Record that the tenant's next number of `kind` is `next_value` (every one before it is
    taken, in this transaction)."""
    done = connection.execute(
        update(billing_sequences)
        .where(billing_sequences.c.tenant_id == tenant_id, billing_sequences.c.kind == kind)
        .values(next_value=next_value)
    )
    if done.rowcount == 0:
        connection.execute(
            insert(billing_sequences).values(tenant_id=tenant_id, kind=kind, next_value=next_value)
        )


def load_settings(connection: Connection, tenant_id: int) -> BillingSettings:
    """The tenant's billing settings, or the defaults."""
    text = connection.execute(
        select(billing_settings.c.document).where(billing_settings.c.tenant_id == tenant_id)
    ).scalar()
    return BillingSettings() if text is None else BillingSettings.model_validate_json(text)


def save_settings(
    connection: Connection, tenant_id: int, settings: BillingSettings, now_us: int
) -> None:
    """Store the tenant's billing settings, replacing what was there."""
    text = settings.model_dump_json()
    done = connection.execute(
        update(billing_settings)
        .where(billing_settings.c.tenant_id == tenant_id)
        .values(document=text, updated_us=now_us)
    )
    if done.rowcount == 0:
        connection.execute(
            insert(billing_settings).values(tenant_id=tenant_id, document=text, updated_us=now_us)
        )


def load_profile(connection: Connection, tenant_id: int, account_id: int) -> BillingProfile:
    """The account's billing profile, or an empty one (its name, no tax)."""
    text = connection.execute(
        select(billing_profiles.c.document).where(
            billing_profiles.c.tenant_id == tenant_id, billing_profiles.c.account_id == account_id
        )
    ).scalar()
    return BillingProfile() if text is None else BillingProfile.model_validate_json(text)


def load_profiles(connection: Connection, tenant_id: int) -> dict[int, BillingProfile]:
    """Every account's billing profile that is set, by account id."""
    rows = connection.execute(
        select(billing_profiles.c.account_id, billing_profiles.c.document).where(
            billing_profiles.c.tenant_id == tenant_id
        )
    )
    return {row.account_id: BillingProfile.model_validate_json(row.document) for row in rows}


def save_profile(
    connection: Connection, tenant_id: int, account_id: int, profile: BillingProfile, now_us: int
) -> None:
    """Store an account's billing profile, replacing what was there."""
    text = profile.model_dump_json()
    done = connection.execute(
        update(billing_profiles)
        .where(billing_profiles.c.account_id == account_id)
        .values(document=text, updated_us=now_us)
    )
    if done.rowcount == 0:
        connection.execute(
            insert(billing_profiles).values(
                account_id=account_id, tenant_id=tenant_id, document=text, updated_us=now_us
            )
        )


def balance(connection: Connection, tenant_id: int, account_id: int, currency: str) -> Decimal:
    """The account's prepaid balance in `currency`: credited minus drawn."""
    return balances(connection, tenant_id, [account_id]).get((account_id, currency), Decimal(0))


def balances(
    connection: Connection, tenant_id: int, account_ids: Sequence[int]
) -> dict[tuple[int, str], Decimal]:
    """Each account's balance by currency, (account id, currency) to amount. Amounts are
    decimal text, summed exactly here."""
    found: dict[tuple[int, str], Decimal] = {}
    owners = set(account_ids)
    if not owners:
        return found
    query = select(
        balance_entries.c.account_id, balance_entries.c.currency, balance_entries.c.amount
    ).where(balance_entries.c.tenant_id == tenant_id)
    if len(owners) <= 900:  # under SQLite's 999 parameters; else filtered below
        query = query.where(balance_entries.c.account_id.in_(sorted(owners)))
    for row in connection.execute(query):
        if row.account_id in owners:
            key = (row.account_id, row.currency)
            found[key] = found.get(key, Decimal(0)) + Decimal(row.amount)
    return found


def _credit_note(row: Row[Any]) -> StoredCreditNote:
    return StoredCreditNote(
        id=row.id,
        invoice_id=row.invoice_id,
        account_id=row.account_id,
        number=row.number,
        disposition=row.disposition,
        currency=row.currency,
        total=Decimal(row.total),
        document=orjson.loads(row.document),
        leaf_index=row.leaf_index,
        created_us=row.created_us,
    )


def find_credit_note(connection: Connection, tenant_id: int, number: str) -> StoredCreditNote:
    """The credit note with this number; CreditNoteNotFound otherwise."""
    row = connection.execute(
        select(credit_notes).where(
            credit_notes.c.tenant_id == tenant_id, credit_notes.c.number == number
        )
    ).first()
    if row is None:
        raise CreditNoteNotFound(f"no credit note {number!r}")
    return _credit_note(row)


def credit_note_pages(
    connection: Connection, tenant_id: int, start_us: int, end_us: int, size: int
) -> Iterator[list[StoredCreditNote]]:
    """Credit notes issued in [start, end), oldest first, in pages of at most `size` fetched
    from one streaming cursor."""
    query = (
        select(credit_notes)
        .where(
            credit_notes.c.tenant_id == tenant_id,
            credit_notes.c.created_us >= start_us,
            credit_notes.c.created_us < end_us,
        )
        .order_by(credit_notes.c.created_us, credit_notes.c.id)
    )
    result = connection.execute(query, execution_options={"yield_per": size})
    for page in result.partitions():
        yield [_credit_note(row) for row in page]


def credit_notes_of(
    connection: Connection, tenant_id: int, invoice_id: int | None = None
) -> list[StoredCreditNote]:
    """Credit notes, oldest first: all of the tenant's, or those against one invoice."""
    query = select(credit_notes).where(credit_notes.c.tenant_id == tenant_id)
    if invoice_id is not None:
        query = query.where(credit_notes.c.invoice_id == invoice_id)
    return [_credit_note(row) for row in connection.execute(query.order_by(credit_notes.c.id))]


def status_changes(connection: Connection, tenant_id: int, invoice_id: int) -> list[Row[Any]]:
    """An invoice's changes of state after finalization, oldest first."""
    return list(
        connection.execute(
            select(invoice_status_changes)
            .where(
                invoice_status_changes.c.tenant_id == tenant_id,
                invoice_status_changes.c.invoice_id == invoice_id,
            )
            .order_by(invoice_status_changes.c.id)
        )
    )


def invoice_count(connection: Connection, tenant_id: int) -> int:
    """How many invoices the tenant has, drafts included."""
    return int(
        connection.execute(
            select(func.count()).select_from(invoices).where(invoices.c.tenant_id == tenant_id)
        ).scalar_one()
    )
