"""Billing's stored records rebuilt as ledger leaves, for `valueproof ledger audit`: finalized
invoices, their changes of state, and credit notes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
from sqlalchemy import Connection, Row, Select, select

from valueproof.billing.records import (
    CREDIT_NOTE,
    INVOICE,
    INVOICE_STATUS,
    credit_note_leaf,
    invoice_leaf,
    status_leaf,
    status_record,
)
from valueproof.billing.tables import credit_notes, invoice_status_changes, invoices
from valueproof.ledger.audit import LedgeredRecord
from valueproof.periods import format_rfc3339, from_micros

__all__ = ["CreditNoteSource", "InvoiceSource", "InvoiceStatusSource"]


class InvoiceSource:
    """Finalized invoices: each document and its leaf (drafts are not on the ledger)."""

    record_type = INVOICE

    def key_of(self, record: dict[str, object]) -> str:
        return str(record.get("number"))

    def records(self, connection: Connection, tenant_id: int) -> Iterator[LedgeredRecord]:
        """Every finalized invoice, in leaf order."""
        query = self._query(tenant_id).order_by(invoices.c.leaf_index)
        for row in connection.execute(query):
            yield self._rebuilt(row)

    def find(self, connection: Connection, tenant_id: int, key: str) -> LedgeredRecord | None:
        """The finalized invoice numbered `key`, if there is one."""
        row = connection.execute(self._query(tenant_id).where(invoices.c.number == key)).first()
        return None if row is None else self._rebuilt(row)

    def _query(self, tenant_id: int) -> Select[Any]:
        return select(invoices.c.number, invoices.c.document, invoices.c.leaf_index).where(
            invoices.c.tenant_id == tenant_id, invoices.c.leaf_index.is_not(None)
        )

    def _rebuilt(self, row: Row[Any]) -> LedgeredRecord:
        return LedgeredRecord(row.number, row.leaf_index, invoice_leaf(orjson.loads(row.document)))


class InvoiceStatusSource:
    """Changes of a finalized invoice's state (paid, void, uncollectible), keyed `number@leaf`."""

    record_type = INVOICE_STATUS

    def key_of(self, record: dict[str, object]) -> str:
        return f"{record.get('invoice')}@{record.get('status')}@{record.get('at')}"

    def records(self, connection: Connection, tenant_id: int) -> Iterator[LedgeredRecord]:
        """Every change of state, in leaf order."""
        query = self._query(tenant_id).order_by(invoice_status_changes.c.leaf_index)
        for row in connection.execute(query):
            yield self._rebuilt(row)

    def find(self, connection: Connection, tenant_id: int, key: str) -> LedgeredRecord | None:
        """The change keyed `number@status@at`, if there is one."""
        return next((r for r in self.records(connection, tenant_id) if r.key == key), None)

    def _query(self, tenant_id: int) -> Select[Any]:
        return (
            select(
                invoices.c.number,
                invoice_status_changes.c.status,
                invoice_status_changes.c.reason,
                invoice_status_changes.c.reference,
                invoice_status_changes.c.at_us,
                invoice_status_changes.c.leaf_index,
            )
            .join(invoices, invoices.c.id == invoice_status_changes.c.invoice_id)
            .where(invoice_status_changes.c.tenant_id == tenant_id)
        )

    def _rebuilt(self, row: Row[Any]) -> LedgeredRecord:
        at = format_rfc3339(from_micros(row.at_us))
        record = status_record(row.number, row.status, row.reason, at, row.reference)
        key = f"{row.number}@{row.status}@{at}"
        return LedgeredRecord(key, row.leaf_index, status_leaf(record))


class CreditNoteSource:
    """Credit notes: each document and its leaf."""

    record_type = CREDIT_NOTE

    def key_of(self, record: dict[str, object]) -> str:
        return str(record.get("number"))

    def records(self, connection: Connection, tenant_id: int) -> Iterator[LedgeredRecord]:
        """Every credit note, in leaf order."""
        query = self._query(tenant_id).order_by(credit_notes.c.leaf_index)
        for row in connection.execute(query):
            yield self._rebuilt(row)

    def find(self, connection: Connection, tenant_id: int, key: str) -> LedgeredRecord | None:
        """The credit note numbered `key`, if there is one."""
        row = connection.execute(self._query(tenant_id).where(credit_notes.c.number == key)).first()
        return None if row is None else self._rebuilt(row)

    def _query(self, tenant_id: int) -> Select[Any]:
        return select(
            credit_notes.c.number, credit_notes.c.document, credit_notes.c.leaf_index
        ).where(credit_notes.c.tenant_id == tenant_id)

    def _rebuilt(self, row: Row[Any]) -> LedgeredRecord:
        leaf = credit_note_leaf(orjson.loads(row.document))
        return LedgeredRecord(row.number, row.leaf_index, leaf)
