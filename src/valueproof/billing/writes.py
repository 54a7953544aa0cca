"""Billing's writes, one transaction each (or one per batch for a close).

Each holds the tenant's write lock, appends its leaves, writes its webhook messages to the
outbox, signs a checkpoint if one is due (`CheckpointPolicy`), then commits. A close rates
every due period in one read snapshot, then writes the invoices in batches: killed half-way,
it resumes where it stopped, with no invoice twice and no gap in the numbers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine

from valueproof.billing import lifecycle
from valueproof.billing.close import (
    Due,
    corrections_for,
    due_periods,
    period_at,
    rate_due,
    stale_drafts,
    touched_accounts,
)
from valueproof.billing.credit_notes import CreditRequest, issue_credit_note
from valueproof.billing.errors import ClosedPeriodLocked, PeriodClosed
from valueproof.billing.invoice_store import (
    DRAFT,
    OPEN_STATES,
    PAID,
    UNCOLLECTIBLE,
    InvoiceState,
    StoredCreditNote,
    StoredInvoice,
    find_invoice,
    invoices_of,
    load_settings,
    period_invoices,
    save_profile,
    save_settings,
)
from valueproof.billing.issuing import Issuer, require_draft
from valueproof.billing.settings import BillingProfile, BillingSettings
from valueproof.contracts import registry
from valueproof.contracts.document import ContractDocument
from valueproof.contracts.errors import RatingError
from valueproof.contracts.rating import Charges
from valueproof.contracts.registry import Applied, account_versions, in_force
from valueproof.contracts.service import rate_period
from valueproof.errors import InvalidInput, NotFound
from valueproof.ledger.log import PendingLeaves, log_size
from valueproof.ledger.publish import CheckpointPolicy, after_append
from valueproof.metering.registry import load_catalog
from valueproof.periods import format_rfc3339, from_micros, to_micros
from valueproof.store import read, tenant_write
from valueproof.tenancy.accounts import account_id as account_id_of
from valueproof.tenancy.clock import now_us
from valueproof.tenancy.tenants import list_tenants

__all__ = [
    "CloseReport",
    "apply_contract",
    "close",
    "close_due",
    "close_period",
    "credit",
    "finalize",
    "mark",
    "set_profile",
    "set_settings",
    "void",
]

BATCH = 500


@dataclass(slots=True)
class CloseReport:
    """What a close did: drafts made or re-rated, invoices finalized, periods still open."""

    as_of: datetime
    drafted: list[str] = field(default_factory=list)  # "account period-start"
    rerated: list[str] = field(default_factory=list)
    finalized: list[str] = field(default_factory=list)  # invoice numbers
    failed: list[dict[str, str]] = field(default_factory=list)  # account, period, reason

    def json(self) -> dict[str, object]:
        return {
            "as_of": format_rfc3339(self.as_of),
            "drafted": len(self.drafted),
            "rerated": len(self.rerated),
            "finalized": self.finalized,
            "failed": self.failed,
        }

    def note_failures(self, due: Sequence[Due], failed: dict[tuple[int, int], str]) -> None:
        """Name each period that could not be rated, and why."""
        for item in due:
            if item.key in failed:
                period = format_rfc3339(item.period.start)
                self.failed.append(
                    {"account": item.account, "period": period, "reason": failed[item.key]}
                )


def close(
    engine: Engine,
    tenant_id: int,
    as_of: datetime,
    policy: CheckpointPolicy,
    account: str | None = None,
    batch: int = BATCH,
) -> CloseReport:
    """Close every period due at `as_of` (of one account, when given) into an invoice, and
    re-rate the drafts the ledger has grown past; finalize them when the tenant says so."""
    with read(engine) as connection:
        settings = load_settings(connection, tenant_id)
        owner = None if account is None else account_id_of(connection, tenant_id, account)
        closed = period_invoices(connection, tenant_id, None if owner is None else [owner])
        due = due_periods(connection, tenant_id, as_of, settings.grace_hours, closed, owner)
        due.extend(stale_drafts(connection, tenant_id, closed, log_size(connection, tenant_id)))
        rated, failed = rate_due(connection, tenant_id, due, as_of)
        touched = _touched(connection, tenant_id, closed.values(), due)
    report = CloseReport(as_of)
    report.note_failures(due, failed)
    due = [item for item in due if item.key in rated]
    for start in range(0, len(due), batch):
        chunk = due[start : start + batch]
        _write_batch(engine, tenant_id, chunk, rated, touched, as_of, policy, report)
    return report


def close_due(engine: Engine, policy: CheckpointPolicy, now: datetime) -> dict[int, CloseReport]:
    """One beat of the server's close: every tenant's due periods, tenant by tenant."""
    with read(engine) as connection:
        tenant_ids = [tenant.id for tenant in list_tenants(connection)]
    return {tenant_id: close(engine, tenant_id, now, policy) for tenant_id in tenant_ids}


def close_period(
    engine: Engine, tenant_id: int, account: str, at: datetime, policy: CheckpointPolicy
) -> CloseReport:
    """Close the period of `account` that holds `at` now, grace window or not; PeriodClosed
    if it already has its invoice."""
    moment = datetime.now(UTC)
    with read(engine) as connection:
        owner = account_id_of(connection, tenant_id, account)
        closed = period_invoices(connection, tenant_id, [owner])
        version = in_force(account_versions(connection, tenant_id, owner), at)
        if version is None:
            raise InvalidInput("at", f"account {account!r} has no contract in force then")
        item = Due(owner, account, version, period_at(version.document, at))
        existing = closed.get(item.key)
        if existing is not None and existing.status != DRAFT:
            raise PeriodClosed(
                f"period {format_rfc3339(item.period.start)} to "
                f"{format_rfc3339(item.period.end)} of account {account!r} is already closed: "
                f"invoice {existing.number} ({existing.status})"
            )
        rated, failed = rate_due(connection, tenant_id, [item], max(moment, item.period.end))
        if failed:
            raise RatingError("contract", failed[item.key])
        touched = _touched(connection, tenant_id, closed.values(), [item])
    report = CloseReport(moment)
    _write_batch(engine, tenant_id, [item], rated, touched, moment, policy, report)
    return report


def _touched(
    connection: Connection,
    tenant_id: int,
    invoices: Iterable[InvoiceState],
    due: Sequence[Due],
) -> set[int]:
    """The due accounts that may have corrections: records arrived since each one's latest
    finalized invoice was rated (its corrections covered everything before). Reading from the
    earliest of those sizes keeps the scan to about a period of records, however old the book."""
    latest: dict[int, int] = {}
    for invoice in invoices:
        if invoice.status in OPEN_STATES:
            latest[invoice.account_id] = max(latest.get(invoice.account_id, 0), invoice.ledger_size)
    owners = {item.account_id for item in due}
    sizes = [latest[owner] for owner in owners if owner in latest]
    if not sizes:
        return set()
    return touched_accounts(connection, tenant_id, min(sizes)) & owners


def _write_batch(
    engine: Engine,
    tenant_id: int,
    chunk: Sequence[Due],
    rated: dict[tuple[int, int], Charges],
    touched: set[int],
    as_of: datetime,
    policy: CheckpointPolicy,
    report: CloseReport,
) -> None:
    """One transaction: each period's draft (new or re-rated), finalized if the tenant says so."""
    with tenant_write(engine, tenant_id) as connection:
        now = now_us()
        settings = load_settings(connection, tenant_id)
        owners = [d.account_id for d in chunk]
        current = period_invoices(connection, tenant_id, owners)
        issuer = Issuer(connection, tenant_id, settings, now, owners)
        for item in chunk:
            existing = current.get(item.key)
            if existing is not None and existing.status != DRAFT:
                continue  # another close got here first
            charges = rated[item.key]
            fixes = []
            if item.account_id in touched:
                fixes = corrections_for(connection, tenant_id, item.account_id, item.key[1], as_of)
            label = f"{item.account} {format_rfc3339(item.period.start)}"
            (report.rerated if existing else report.drafted).append(label)
            if settings.auto_finalize:
                number = issuer.issue(item.account_id, charges, fixes, existing)
                report.finalized.append(number)
            else:
                issuer.draft(item.account_id, charges, fixes, existing)
        issuer.flush()
        after_append(connection, tenant_id, policy, now)


def finalize(engine: Engine, tenant_id: int, key: str, policy: CheckpointPolicy) -> StoredInvoice:
    """Approve a held draft: re-rate it as the ledger stands, number it, put it on the ledger."""
    with tenant_write(engine, tenant_id) as connection:
        now = now_us()
        draft = find_invoice(connection, tenant_id, key)
        require_draft(draft)
        moment = from_micros(now)
        charges = rate_period(connection, tenant_id, draft.account, _last_instant(draft), moment)
        fixes = corrections_for(
            connection, tenant_id, draft.account_id, draft.period_start_us, moment
        )
        settings = load_settings(connection, tenant_id)
        issuer = Issuer(connection, tenant_id, settings, now, [draft.account_id])
        issuer.issue(draft.account_id, charges, fixes, draft.state)
        issuer.flush()
        after_append(connection, tenant_id, policy, now)
        return find_invoice(connection, tenant_id, draft.id)


def _last_instant(invoice: StoredInvoice) -> datetime:
    return from_micros(invoice.period_end_us - 1)


def void(
    engine: Engine,
    tenant_id: int,
    key: str,
    reason: str,
    policy: CheckpointPolicy,
    regenerate: bool = True,
) -> tuple[StoredInvoice, StoredInvoice | None]:
    """Void a finalized invoice with its reason; with `regenerate`, rate its period again as a
    new invoice (a new number, naming the one it replaces), finalized when the tenant says so."""
    with tenant_write(engine, tenant_id) as connection:
        now = now_us()
        invoice = find_invoice(connection, tenant_id, key)
        settings = load_settings(connection, tenant_id)
        issuer = Issuer(connection, tenant_id, settings, now, [invoice.account_id])
        lifecycle.void(connection, tenant_id, invoice, reason, now, issuer.leaves)
        if regenerate:
            moment = from_micros(now)
            charges = rate_period(
                connection, tenant_id, invoice.account, _last_instant(invoice), moment
            )
            fixes = corrections_for(
                connection, tenant_id, invoice.account_id, invoice.period_start_us, moment
            )
            generation = invoice.generation + 1
            if settings.auto_finalize:
                issuer.issue(invoice.account_id, charges, fixes, None, generation, invoice)
            else:
                issuer.draft(invoice.account_id, charges, fixes, None, generation, invoice)
        issuer.flush()
        after_append(connection, tenant_id, policy, now)
        voided = find_invoice(connection, tenant_id, invoice.id)
        replacement = None
        if regenerate:
            found = period_invoices(connection, tenant_id, [invoice.account_id])
            latest = found[(invoice.account_id, invoice.period_start_us)]
            replacement = find_invoice(connection, tenant_id, latest.id)
    return voided, replacement


def mark(
    engine: Engine,
    tenant_id: int,
    key: str,
    status: str,
    reason: str,
    policy: CheckpointPolicy,
    reference: str | None = None,
) -> StoredInvoice:
    """Record that a finalized invoice was paid or is uncollectible, with a leaf."""
    if status not in (PAID, UNCOLLECTIBLE):
        raise InvalidInput("status", f"must be {PAID!r} or {UNCOLLECTIBLE!r}, not {status!r}")
    with tenant_write(engine, tenant_id) as connection:
        now = now_us()
        invoice = find_invoice(connection, tenant_id, key)
        leaves = PendingLeaves(connection, tenant_id)
        lifecycle.mark(connection, tenant_id, invoice, status, reason, now, leaves, reference)
        leaves.flush(now)
        after_append(connection, tenant_id, policy, now)
        return find_invoice(connection, tenant_id, invoice.id)


def credit(
    engine: Engine,
    tenant_id: int,
    key: str,
    request: CreditRequest,
    policy: CheckpointPolicy,
) -> StoredCreditNote:
    """Issue a credit note against a finalized invoice, whole or line by line."""
    with tenant_write(engine, tenant_id) as connection:
        now = now_us()
        invoice = find_invoice(connection, tenant_id, key)
        settings = load_settings(connection, tenant_id)
        leaves = PendingLeaves(connection, tenant_id)
        note = issue_credit_note(connection, tenant_id, invoice, request, settings, now, leaves)
        leaves.flush(now)
        after_append(connection, tenant_id, policy, now)
    return note


def set_settings(engine: Engine, tenant_id: int, settings: BillingSettings) -> None:
    """Replace the tenant's billing settings."""
    with tenant_write(engine, tenant_id) as connection:
        save_settings(connection, tenant_id, settings, now_us())


def set_profile(engine: Engine, tenant_id: int, account: str, profile: BillingProfile) -> None:
    """Replace an account's billing profile (details and taxes); later invoices use it."""
    with tenant_write(engine, tenant_id) as connection:
        owner = account_id_of(connection, tenant_id, account)
        save_profile(connection, tenant_id, owner, profile, now_us())


def apply_contract(
    engine: Engine, tenant_id: int, document: ContractDocument, policy: CheckpointPolicy
) -> Applied:
    """Store a contract's next version, unless it would take effect inside a period a finalized
    invoice has billed: then ClosedPeriodLocked names the invoice and the first open date."""
    with tenant_write(engine, tenant_id) as connection:
        now = now_us()
        _check_open(connection, tenant_id, document)
        catalog = load_catalog(connection, tenant_id)
        applied = registry.apply_contract(connection, tenant_id, document, catalog, now)
        if applied.status != "unchanged":
            after_append(connection, tenant_id, policy, now)
    return applied


def _check_open(connection: Connection, tenant_id: int, document: ContractDocument) -> None:
    try:
        owner = account_id_of(connection, tenant_id, document.account)
    except NotFound:
        return  # the contract's own validation names the unknown account
    effective = to_micros(document.starts)
    billed = [
        i
        for i in invoices_of(connection, tenant_id, account_id=owner)
        if i.status in OPEN_STATES and i.period_end_us > effective
    ]
    if billed:
        last = max(billed, key=lambda i: i.period_end_us)
        first_open = format_rfc3339(from_micros(last.period_end_us))
        raise ClosedPeriodLocked(
            f"effective_from: the amendment would take effect at "
            f"{format_rfc3339(document.starts)}, inside the period of finalized invoice "
            f"{last.number} ({format_rfc3339(from_micros(last.period_start_us))} to {first_open});"
            f" amend with effective_from on or after {first_open}"
        )
