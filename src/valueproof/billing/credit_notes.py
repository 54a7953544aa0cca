"""Credit notes: whole or partial, line by line, against a finalized invoice; refunded or
credited to the account's balance. Each is a leaf, and never more than what a line charged."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

import orjson
from sqlalchemy import Connection, insert

from valueproof.billing import records
from valueproof.billing.errors import CreditNoteInvalid, InvoiceStateConflict
from valueproof.billing.invoice import unit_price
from valueproof.billing.invoice_store import (
    OPEN_STATES,
    StoredCreditNote,
    StoredInvoice,
    credit_notes_of,
    find_credit_note,
    next_number,
)
from valueproof.billing.settings import BillingSettings, format_number
from valueproof.billing.tables import balance_entries, credit_notes
from valueproof.billing.taxes import TaxProfile, TaxRate, totals
from valueproof.ledger.log import PendingLeaves
from valueproof.money import Rounding, currency
from valueproof.periods import format_rfc3339, from_micros
from valueproof.webhooks.outbox import enqueue

__all__ = ["CreditLine", "CreditRequest", "credit_note_document", "issue_credit_note"]

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class CreditLine:
    """Credit `amount` of the invoice's line `line` (its index); None: all that is left of it."""

    line: int
    amount: Decimal | None = None


@dataclass(frozen=True, slots=True)
class CreditRequest:
    """A credit note to issue: its lines (none: the whole invoice), why, and where it goes."""

    reason: str
    lines: tuple[CreditLine, ...] = ()
    disposition: Literal["refund", "balance"] = "refund"
    corrects: bool = False  # issued by a close for a finalized period's reduction


def credited_so_far(notes: Sequence[StoredCreditNote]) -> dict[int, Decimal]:
    """How much of each invoice line earlier credit notes took, by line index."""
    taken: dict[int, Decimal] = {}
    for note in notes:
        for line in note.document["lines"]:
            index = line["invoice_line"]
            taken[index] = taken.get(index, ZERO) + Decimal(line["amount"])
    return taken


def credit_note_document(
    invoice: dict[str, Any],
    request: CreditRequest,
    taken: dict[int, Decimal],
    number: str,
    issued_at: str,
) -> dict[str, Any]:
    """The credit note's document; CreditNoteInvalid naming every line that cannot be credited."""
    lines = invoice["lines"]
    wanted = request.lines or tuple(
        CreditLine(i)
        for i, line in enumerate(lines)
        if Decimal(line["amount"]) > taken.get(i, ZERO)
    )
    problems: list[tuple[str, str]] = []
    if not request.reason.strip():
        problems.append(("reason", "a credit note needs a reason"))
    chosen: list[dict[str, Any]] = []
    for position, item in enumerate(wanted):
        field = f"lines[{position}]"
        if not 0 <= item.line < len(lines):
            problems.append((f"{field}.line", f"the invoice has no line {item.line}"))
            continue
        line = lines[item.line]
        left = Decimal(line["amount"]) - taken.get(item.line, ZERO)
        amount = left if item.amount is None else item.amount
        if amount <= 0:
            problems.append((f"{field}.amount", "must be more than zero"))
        elif amount > left:
            problems.append(
                (
                    f"{field}.amount",
                    f"{amount} is more than the {left} left to credit on line {item.line} "
                    f"({line['description']})",
                )
            )
        elif not currency(invoice["currency"]).fits(amount):
            problems.append((f"{field}.amount", f"{amount} is not a whole number of minor units"))
        else:
            quantity = Decimal(line["quantity"])
            share = quantity if amount == Decimal(line["amount"]) else Decimal(1)
            chosen.append(
                {
                    "invoice_line": item.line,
                    "component": line["component"],
                    "kind": line["kind"],
                    "description": line["description"],
                    "quantity": str(share),
                    "unit_price": str(unit_price(share, amount, {})),
                    "amount": str(amount),
                }
            )
    if not chosen and not problems:
        problems.append(("lines", "nothing is left to credit on this invoice"))
    if problems:
        raise CreditNoteInvalid(problems)
    subtotal = sum((Decimal(line["amount"]) for line in chosen), ZERO)
    profile = TaxProfile(
        rates=tuple(TaxRate(t["name"], Decimal(t["rate"])) for t in invoice["taxes"]),
        inclusive=invoice["tax_inclusive"],
        exempt=invoice["tax_exempt"],
    )
    sums = totals(subtotal, profile, currency(invoice["currency"]), Rounding(invoice["rounding"]))
    return {
        "number": number,
        "invoice": invoice["number"],
        "account": invoice["account"],
        "currency": invoice["currency"],
        "issued_at": issued_at,
        "reason": request.reason,
        "disposition": request.disposition,
        "corrects": request.corrects,
        "customer": invoice["customer"],
        "lines": chosen,
        "subtotal": str(sums.subtotal),
        "taxes": [
            {"name": t.name, "rate": str(t.rate), "base": str(t.base), "amount": str(t.amount)}
            for t in sums.taxes
        ],
        "tax_total": str(sums.tax_total),
        "total": str(sums.total),
    }


def issue_credit_note(
    connection: Connection,
    tenant_id: int,
    invoice: StoredInvoice,
    request: CreditRequest,
    settings: BillingSettings,
    now_us: int,
    leaves: PendingLeaves,
) -> StoredCreditNote:
    """Issue the credit note in the caller's transaction: number, leaf, balance, webhook."""
    if invoice.status not in OPEN_STATES:
        name = invoice.number or f"draft {invoice.id}"
        raise InvoiceStateConflict(
            f"invoice {name} is {invoice.status}: only a finalized invoice takes a credit note"
        )
    taken = credited_so_far(credit_notes_of(connection, tenant_id, invoice.id))
    issued = from_micros(now_us)
    # Validate before taking a number: a refused note must not use one up.
    credit_note_document(invoice.document, request, taken, "", format_rfc3339(issued))
    value = next_number(connection, tenant_id, "credit_note")
    number = format_number(settings.credit_note_prefix, issued.year, value, settings.number_digits)
    document = credit_note_document(
        invoice.document, request, taken, number, format_rfc3339(issued)
    )
    leaf_index = leaves.add(records.credit_note_leaf(document))
    inserted = connection.execute(
        insert(credit_notes).values(
            tenant_id=tenant_id,
            invoice_id=invoice.id,
            account_id=invoice.account_id,
            number=number,
            disposition=request.disposition,
            currency=invoice.currency,
            total=document["total"],
            document=orjson.dumps(document).decode(),
            leaf_index=leaf_index,
            created_us=now_us,
        )
    )
    note_id = int(inserted.inserted_primary_key[0])  # type: ignore[index]
    if request.disposition == "balance":
        connection.execute(
            insert(balance_entries).values(
                tenant_id=tenant_id,
                account_id=invoice.account_id,
                currency=invoice.currency,
                amount=document["total"],
                credit_note_id=note_id,
                created_us=now_us,
            )
        )
    snapshot = {**document, "leaf_index": leaf_index, "credit_note": document}
    enqueue(connection, tenant_id, "credit_note.created", snapshot, now_us)
    return find_credit_note(connection, tenant_id, number)
