"""Issuing invoices in one transaction, many at a time: drafts, and finalized invoices with their
numbers, leaves, balance draws and webhook messages.

An `Issuer` reads what its invoices need once (customers, profiles, balances, the next number),
queues rows and leaves, and writes them together in `flush`: a month-end close writes thousands
of invoices with a handful of statements per batch instead of a dozen per invoice. Numbers are
taken in the same transaction, so a rollback gives them back and they stay gapless.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import timedelta
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import Connection, insert, select, update

from valueproof.billing import records
from valueproof.billing.corrections import Correction
from valueproof.billing.credit_notes import CreditLine, CreditRequest, issue_credit_note
from valueproof.billing.errors import CreditNoteInvalid, InvoiceStateConflict
from valueproof.billing.invoice import Customer, invoice_document
from valueproof.billing.invoice_store import (
    DRAFT,
    FINALIZED,
    InvoiceState,
    StoredInvoice,
    balances,
    find_invoice,
    load_profiles,
    sequence_value,
    store_sequence,
)
from valueproof.billing.settings import BillingProfile, BillingSettings, format_number
from valueproof.billing.tables import balance_entries, invoices
from valueproof.contracts.rating import Charges
from valueproof.ledger.log import PendingLeaves
from valueproof.periods import from_micros, to_micros
from valueproof.tenancy.tables import accounts
from valueproof.webhooks.outbox import enqueue_many

__all__ = ["Issuer", "invoice_snapshot", "require_draft"]

ZERO = Decimal(0)
_DAY_US = 86_400_000_000


class Issuer:
    """One transaction's invoices for `account_ids`, written together by `flush`."""

    def __init__(
        self,
        connection: Connection,
        tenant_id: int,
        settings: BillingSettings,
        now_us: int,
        account_ids: Iterable[int],
        leaves: PendingLeaves | None = None,
    ) -> None:
        self.connection = connection
        self.tenant_id = tenant_id
        self.settings = settings
        self.now_us = now_us
        self.leaves = leaves or PendingLeaves(connection, tenant_id)
        owners = sorted(set(account_ids))
        self._names = _names(connection, tenant_id, owners)
        self._profiles = load_profiles(connection, tenant_id)
        self._balances = balances(connection, tenant_id, owners)
        self._next: int | None = None
        self._taken = 0
        self._rows: list[dict[str, Any]] = []
        self._draws: list[dict[str, Any]] = []
        self._messages: dict[str, list[dict[str, Any]]] = {}  # webhook snapshots by event

    def customer(self, account_id: int, account: str) -> Customer:
        """The invoice's addressee: the account's billing profile, or its name alone."""
        profile = self._profiles.get(account_id, BillingProfile())
        return profile.customer(account, self._names[account_id])

    def draft(
        self,
        account_id: int,
        charges: Charges,
        fixes: Sequence[Correction],
        existing: InvoiceState | None = None,
        generation: int = 0,
        replaces: StoredInvoice | None = None,
    ) -> None:
        """The period's draft: queued as a new row, or the existing draft re-rated in place."""
        named = None if replaces is None else replaces.number
        document = self._document(account_id, charges, fixes, replaces=named)
        values = self._values(charges, document, DRAFT)
        if existing is not None:
            require_draft(existing)
            self.connection.execute(
                update(invoices).where(invoices.c.id == existing.id).values(**values)
            )
            return
        replaces_id = None if replaces is None else replaces.id
        self._rows.append(self._new_row(account_id, charges, values, generation, replaces_id))
        self._emit("invoice.created", document, None, DRAFT)

    def issue(
        self,
        account_id: int,
        charges: Charges,
        fixes: Sequence[Correction],
        existing: InvoiceState | None = None,
        generation: int = 0,
        replaces: StoredInvoice | None = None,
    ) -> str:
        """Finalize the period's invoice: a new one, or the held draft `existing`; its number."""
        if existing is not None:
            require_draft(existing)
            if existing.replaces_id is not None:
                replaces = find_invoice(self.connection, self.tenant_id, existing.replaces_id)
        if self.settings.corrections == "credit_note":
            fixes = self._settle_reductions(fixes)
        number = self._number()
        issued = from_micros(self.now_us)
        document = self._document(
            account_id,
            charges,
            fixes,
            number=number,
            issued_at=issued,
            due_at=issued + timedelta(days=self.settings.payment_terms_days),
            replaces=None if replaces is None else replaces.number,
        )
        leaf_index = self.leaves.add(records.invoice_leaf(document))
        values = {
            **self._values(charges, document, FINALIZED),
            "number": number,
            "leaf_index": leaf_index,
            "finalized_us": self.now_us,
            "due_us": self.now_us + self.settings.payment_terms_days * _DAY_US,
        }
        if existing is not None:
            self.connection.execute(
                update(invoices).where(invoices.c.id == existing.id).values(**values)
            )
        else:
            row = self._new_row(
                account_id, charges, values, generation, None if replaces is None else replaces.id
            )
            self._rows.append(row)
            self._emit("invoice.created", document, None, DRAFT)
        self._draw(account_id, charges.currency, document)
        self._emit("invoice.finalized", document, leaf_index, FINALIZED)
        return number

    def flush(self) -> None:
        """Write every queued row, number, draw, webhook message and leaf."""
        if self._rows:
            self.connection.execute(insert(invoices), self._rows)
            self._rows = []
        if self._taken:
            assert self._next is not None
            store_sequence(self.connection, self.tenant_id, "invoice", self._next + self._taken)
            self._next += self._taken
            self._taken = 0
        if self._draws:
            self.connection.execute(insert(balance_entries), self._draws)
            self._draws = []
        for event, snapshots in self._messages.items():  # created before finalized
            enqueue_many(self.connection, self.tenant_id, event, snapshots, self.now_us)
        self._messages = {}
        self.leaves.flush(self.now_us)

    def _document(
        self, account_id: int, charges: Charges, fixes: Sequence[Correction], **issued: Any
    ) -> dict[str, Any]:
        available = self._balances.get((account_id, charges.currency), ZERO)
        customer = self.customer(account_id, charges.account)
        return invoice_document(charges, customer, fixes, available, **issued)

    def _values(self, charges: Charges, document: dict[str, Any], status: str) -> dict[str, Any]:
        return {
            "status": status,
            "currency": charges.currency,
            "total": document["total"],
            "document": orjson.dumps(document).decode(),
            "ledger_size": charges.ledger_size,
            "updated_us": self.now_us,
        }

    def _new_row(
        self,
        account_id: int,
        charges: Charges,
        values: dict[str, Any],
        generation: int,
        replaces_id: int | None,
    ) -> dict[str, Any]:
        row = {
            "tenant_id": self.tenant_id,
            "account_id": account_id,
            "contract": charges.contract,
            "period_start_us": to_micros(charges.period.start),
            "period_end_us": to_micros(charges.period.end),
            "generation": generation,
            "replaces_id": replaces_id,
            "created_us": self.now_us,
            "number": None,
            "leaf_index": None,
            "finalized_us": None,
            "due_us": None,
        }
        return {**row, **values}

    def _number(self) -> str:
        if self._next is None:
            self._next = sequence_value(self.connection, self.tenant_id, "invoice")
        value = self._next + self._taken
        self._taken += 1
        year = from_micros(self.now_us).year
        return format_number(self.settings.invoice_prefix, year, value, self.settings.number_digits)

    def _draw(self, account_id: int, currency: str, document: dict[str, Any]) -> None:
        drawn = sum(
            (Decimal(line["amount"]) for line in document["lines"] if line["kind"] == "balance"),
            ZERO,
        )
        if drawn:
            key = (account_id, currency)
            self._balances[key] = self._balances.get(key, ZERO) + drawn
            self._draws.append(
                {
                    "tenant_id": self.tenant_id,
                    "account_id": account_id,
                    "currency": currency,
                    "amount": str(drawn),
                    "credit_note_id": None,
                    "invoice_id": None,
                    "created_us": self.now_us,
                }
            )

    def _settle_reductions(self, fixes: Sequence[Correction]) -> list[Correction]:
        """A correction credit note, to the balance, for each reduction of a finalized invoice's
        line; what cannot be credited that way stays a line."""
        remaining: list[Correction] = []
        for fix in fixes:
            original = None
            if fix.amount < 0:
                original = find_invoice(self.connection, self.tenant_id, fix.invoice)
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
                note = issue_credit_note(
                    self.connection,
                    self.tenant_id,
                    original,
                    request,
                    self.settings,
                    self.now_us,
                    self.leaves,
                )
            except (CreditNoteInvalid, InvoiceStateConflict):
                remaining.append(fix)  # more than is left on the line, or the invoice was void
                continue
            key = (original.account_id, note.currency)
            self._balances[key] = self._balances.get(key, ZERO) + note.total
        return remaining

    def _emit(
        self, event: str, document: dict[str, Any], leaf_index: int | None, status: str
    ) -> None:
        self._messages.setdefault(event, []).append(invoice_snapshot(document, leaf_index, status))


def invoice_snapshot(
    document: dict[str, Any], leaf_index: int | None, status: str
) -> dict[str, Any]:
    """An invoice as webhook messages carry it: its state, its leaf and its whole document."""
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


def require_draft(invoice: InvoiceState | StoredInvoice) -> None:
    """InvoiceStateConflict unless the invoice is still a draft (finalizing a voided one...)."""
    if invoice.status != DRAFT:
        raise InvoiceStateConflict(
            f"invoice {invoice.number or invoice.id} is {invoice.status}: "
            "only a draft can be finalized"
        )


def _line_of(invoice: StoredInvoice, fix: Correction) -> int | None:
    for index, line in enumerate(invoice.document["lines"]):
        if (line["component"], line["kind"]) == (fix.component, fix.kind):
            return index
    return None


def _names(connection: Connection, tenant_id: int, owners: list[int]) -> dict[int, str]:
    found: dict[int, str] = {}
    for start in range(0, len(owners), 900):  # under SQLite's 999 parameters
        rows = connection.execute(
            select(accounts.c.id, accounts.c.name).where(
                accounts.c.tenant_id == tenant_id, accounts.c.id.in_(owners[start : start + 900])
            )
        )
        found.update({row.id: row.name for row in rows})
    return found
