"""Billing's ledger records: a finalized invoice, each later change of its state, a credit note.

Each is a leaf (`ledger.leaves.leaf_bytes`) that anyone holding the record can rebuild: an
invoice's record is its whole document, so the customer re-computes the leaf from the invoice
it received and finds it on the log.
"""

from __future__ import annotations

from typing import Any

from valueproof.ledger.leaves import leaf_bytes

__all__ = [
    "CREDIT_NOTE",
    "INVOICE",
    "INVOICE_STATUS",
    "credit_note_leaf",
    "invoice_leaf",
    "status_leaf",
    "status_record",
]

INVOICE = "invoice"
INVOICE_STATUS = "invoice_status"
CREDIT_NOTE = "credit_note"
_VERSION = 1


def invoice_leaf(document: dict[str, Any]) -> bytes:
    """The leaf of a finalized invoice: its document, which never changes after."""
    return leaf_bytes(INVOICE, _VERSION, document)


def status_record(
    invoice: str, status: str, reason: str, at: str, reference: str | None
) -> dict[str, Any]:
    """A finalized invoice's change of state: paid, void or uncollectible, when and why."""
    return {
        "invoice": invoice,
        "status": status,
        "reason": reason,
        "at": at,
        "reference": reference,
    }


def status_leaf(record: dict[str, Any]) -> bytes:
    """The leaf of a state change (`status_record`)."""
    return leaf_bytes(INVOICE_STATUS, _VERSION, record)


def credit_note_leaf(document: dict[str, Any]) -> bytes:
    """The leaf of a credit note: its whole document."""
    return leaf_bytes(CREDIT_NOTE, _VERSION, document)
