"""An invoice's or credit note's document as the customer gets it: the vendor's details from the
billing settings, the verification block from the ledger, and the HTML or PDF page."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from sqlalchemy import Connection, select

from valueproof.billing.documents import (
    credit_note_html,
    credit_note_pdf,
    invoice_html,
    invoice_pdf,
)
from valueproof.billing.invoice_store import (
    StoredCreditNote,
    StoredInvoice,
    find_invoice,
    load_settings,
)
from valueproof.ledger.keyring import stored_keys
from valueproof.ledger.publish import latest_checkpoint
from valueproof.tenancy.tables import tenants

__all__ = [
    "credit_note_page",
    "file_name",
    "invoice_page",
    "vendor_of",
    "verification_of",
]

VERIFY = "valueproof verify invoice {number}.bundle.json --vkey vendor.vkey"


def file_name(item: StoredInvoice | StoredCreditNote, suffix: str) -> str:
    """A download's file name: the number (a draft's id), safe in a header, then `suffix`."""
    stem = item.number or f"draft-{item.id}"
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in stem) + suffix


def vendor_of(connection: Connection, tenant_id: int) -> dict[str, Any]:
    """The vendor block of the tenant's documents: its billing settings, named after the tenant
    when the settings name no one."""
    vendor = load_settings(connection, tenant_id).vendor.model_dump()
    if not vendor["name"].strip():
        vendor["name"] = connection.execute(
            select(tenants.c.name).where(tenants.c.id == tenant_id)
        ).scalar_one()
    return vendor


def verification_of(
    connection: Connection, tenant_id: int, leaf_index: int | None, number: str | None
) -> dict[str, Any] | None:
    """Where a record is on the ledger: its leaf, the latest signed checkpoint that covers it,
    and the signing key's name and fingerprint (SHA-256 of its public key). None for a draft,
    or before a checkpoint covers the leaf."""
    if leaf_index is None:
        return None
    published = latest_checkpoint(connection, tenant_id)
    if published is None or published.checkpoint.size <= leaf_index:
        return None
    keys = [key for key in stored_keys(connection, tenant_id) if key.active]
    verifier = keys[-1].verifier if keys else None
    return {
        "leaf_index": leaf_index,
        "checkpoint_size": published.checkpoint.size,
        "root_hash": base64.b64encode(published.checkpoint.root_hash).decode(),
        "origin": published.checkpoint.origin,
        "key_name": None if verifier is None else verifier.name,
        "key_fingerprint": None
        if verifier is None
        else hashlib.sha256(verifier.public_key).hexdigest(),
        "verify": VERIFY.format(number=number or "invoice"),
    }


def invoice_page(
    connection: Connection, tenant_id: int, invoice: StoredInvoice, as_pdf: bool
) -> Any:
    """The invoice's page: HTML text, or PDF bytes."""
    vendor = vendor_of(connection, tenant_id)
    verification = verification_of(connection, tenant_id, invoice.leaf_index, invoice.number)
    if as_pdf:
        return invoice_pdf(invoice.document, vendor, verification)
    return invoice_html(invoice.document, vendor, verification)


def credit_note_page(
    connection: Connection, tenant_id: int, note: StoredCreditNote, as_pdf: bool
) -> Any:
    """The credit note's page: HTML text, or PDF bytes."""
    vendor = vendor_of(connection, tenant_id)
    invoice = find_invoice(connection, tenant_id, note.invoice_id).document
    verification = verification_of(connection, tenant_id, note.leaf_index, note.number)
    if verification is not None:
        verification["verify"] = f"valueproof verify inclusion (leaf {note.leaf_index})"
    if as_pdf:
        return credit_note_pdf(note.document, invoice, vendor, verification)
    return credit_note_html(note.document, invoice, vendor, verification)
