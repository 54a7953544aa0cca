"""Which periods are due to close, rating them in one read, and the corrections they carry.

A period is due once its end plus the grace window (the contract's `billing.grace_hours`, else
the tenant's) has passed and it has no invoice yet. Rating reads every due account's totals in
one snapshot (`contracts.service.rate_accounts`); `billing.writes` then writes the invoices in
batches under the tenant's lock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, select

from valueproof.billing.corrections import Correction, billed_amounts, corrections
from valueproof.billing.invoice_store import (
    DRAFT,
    OPEN_STATES,
    InvoiceState,
    StoredInvoice,
    credit_notes_of,
    invoices_of,
)
from valueproof.contracts.document import ContractDocument
from valueproof.contracts.errors import RatingError
from valueproof.contracts.rating import Charges
from valueproof.contracts.registry import StoredVersion, in_force, tenant_versions
from valueproof.contracts.service import rate_accounts, rate_period
from valueproof.errors import InvalidInput
from valueproof.metering.tables import events, rollups_monthly
from valueproof.outcomes.tables import outcome_claims
from valueproof.periods import (
    BillingPeriod,
    billing_period_at,
    billing_periods,
    from_micros,
    to_micros,
)

__all__ = [
    "Due",
    "billed_periods",
    "corrections_for",
    "due_periods",
    "pending_corrections",
    "period_at",
    "rate_due",
    "stale_drafts",
    "touched_accounts",
]

_INSTANT = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class Due:
    """An account's period to close (or its draft to re-rate) under the version in force."""

    account_id: int
    account: str
    version: StoredVersion
    period: BillingPeriod

    @property
    def key(self) -> tuple[int, int]:
        return (self.account_id, to_micros(self.period.start))

    @property
    def at(self) -> datetime:
        """The period's last instant: the version in force then rates the period."""
        return self.period.end - _INSTANT


def period_at(document: ContractDocument, at: datetime) -> BillingPeriod:
    """The contract's billing period that holds `at`; RatingError outside its term."""
    billing = document.billing
    period = billing_period_at(
        document.term.start, document.term.end, billing.period, billing.anchor_day, at
    )
    if period is None:
        raise RatingError("term", f"no billing period of the term holds {at.isoformat()}")
    return period


def stale_drafts(
    connection: Connection,
    tenant_id: int,
    closed: Mapping[tuple[int, int], InvoiceState],
    size: int,
) -> list[Due]:
    """Drafts rated at a smaller log than `size`: each is re-rated (or finalized) again."""
    drafts = [i for i in closed.values() if i.status == DRAFT and i.ledger_size < size]
    if not drafts:
        return []
    histories = tenant_versions(connection, tenant_id)
    found = []
    for draft in drafts:
        at = from_micros(draft.period_end_us) - _INSTANT
        version = in_force(histories.get(draft.account_id, []), at)
        if version is not None:
            period = period_at(version.document, at)
            found.append(Due(draft.account_id, draft.account, version, period))
    return found


def due_periods(
    connection: Connection,
    tenant_id: int,
    as_of: datetime,
    grace_hours: int,
    closed: Mapping[tuple[int, int], InvoiceState],
    account_id: int | None = None,
) -> list[Due]:
    """Every period whose end plus grace is at or before `as_of` and has no invoice yet."""
    found: list[Due] = []
    for owner, history in sorted(tenant_versions(connection, tenant_id).items()):
        if account_id is not None and owner != account_id:
            continue
        latest = history[-1].document
        for period in billing_periods(
            latest.term.start,
            latest.term.end,
            latest.billing.period,
            latest.billing.anchor_day,
            as_of,
        ):
            version = in_force(history, period.end - _INSTANT)
            if version is None:
                continue
            grace = version.document.billing.grace_hours
            hours = grace_hours if grace is None else grace
            if period.end + timedelta(hours=hours) > as_of:
                break
            if (owner, to_micros(period.start)) not in closed:
                found.append(Due(owner, version.account, version, period))
    return found


def rate_due(
    connection: Connection, tenant_id: int, due: Sequence[Due], now: datetime
) -> tuple[dict[tuple[int, int], Charges], dict[tuple[int, int], str]]:
    """The charges of each due period, keyed like `Due.key`, and the periods that could not be
    rated with the reason (a meter deleted under a contract, say): one account's problem never
    holds up the others'. Accounts sharing a period's last instant are rated together."""
    by_at: dict[datetime, dict[str, Due]] = {}
    for item in due:
        by_at.setdefault(item.at, {})[item.account] = item
    rated: dict[tuple[int, int], Charges] = {}
    failed: dict[tuple[int, int], str] = {}
    for at, items in sorted(by_at.items()):
        only = frozenset(item.account_id for item in items.values())
        try:
            for charges in rate_accounts(connection, tenant_id, at, now, only):
                rated[items[charges.account].key] = charges
        except (RatingError, InvalidInput):
            for item in items.values():  # one by one, to name each that fails
                try:
                    rated[item.key] = rate_period(connection, tenant_id, item.account, at, now)
                except (RatingError, InvalidInput) as error:
                    failed[item.key] = str(error)
    return rated, failed


def touched_accounts(connection: Connection, tenant_id: int, since_leaf: int) -> set[int]:
    """Accounts with records at or after leaf `since_leaf` that may change a finalized period:
    usage rolled into a month (late usage), a void or amendment, or an outcome claim."""
    found: set[int] = set()
    rows = connection.execute(
        select(rollups_monthly.c.account_id)
        .where(rollups_monthly.c.tenant_id == tenant_id, rollups_monthly.c.last_leaf >= since_leaf)
        .distinct()
    )
    found.update(row.account_id for row in rows)
    rows = connection.execute(
        select(events.c.account_id)
        .where(
            events.c.tenant_id == tenant_id,
            events.c.leaf_index >= since_leaf,
            events.c.corrects.is_not(None),
        )
        .distinct()
    )
    found.update(row.account_id for row in rows)
    rows = connection.execute(
        select(outcome_claims.c.account_id)
        .where(outcome_claims.c.tenant_id == tenant_id, outcome_claims.c.leaf_index >= since_leaf)
        .distinct()
    )
    found.update(row.account_id for row in rows)
    return found


def corrections_for(
    connection: Connection, tenant_id: int, account_id: int, period_start_us: int, now: datetime
) -> list[Correction]:
    """Corrections to the account's finalized periods before `period_start_us`."""
    billed = billed_periods(connection, tenant_id, account_id)
    earlier = [i for i in billed if i.period_start_us < period_start_us]
    return pending_corrections(connection, tenant_id, earlier, billed, now)


def pending_corrections(
    connection: Connection,
    tenant_id: int,
    finalized: Iterable[StoredInvoice],
    later: Iterable[StoredInvoice],
    now: datetime,
) -> list[Correction]:
    """What re-rating each finalized period of one account now adds or takes away, against
    its invoice and the corrections already billed for it on `later` invoices (finalized) and
    in correction credit notes."""
    carried: dict[str, list[dict[str, object]]] = {}
    for invoice in later:
        for line in invoice.document["lines"]:
            if line["kind"] == "correction":
                carried.setdefault(line["corrects"]["invoice"], []).append(line)
    found: list[Correction] = []
    for invoice in finalized:
        assert invoice.number is not None
        credited = _credited_corrections(connection, tenant_id, invoice)
        billed = billed_amounts(
            invoice.number,
            invoice.document["period"],
            invoice.ledger_size,
            [line for line in invoice.document["lines"] if line["kind"] != "correction"],
            [*carried.get(invoice.number, []), *credited],
        )
        at = from_micros(invoice.period_end_us) - _INSTANT
        rerated = rate_period(connection, tenant_id, invoice.account, at, now)
        found.extend(corrections(billed, rerated))
    return found


def _credited_corrections(
    connection: Connection, tenant_id: int, invoice: StoredInvoice
) -> list[dict[str, object]]:
    """Correction credit notes against the invoice, as negative correction lines."""
    lines: list[dict[str, object]] = []
    for note in credit_notes_of(connection, tenant_id, invoice.id):
        if note.document.get("corrects"):
            for line in note.document["lines"]:
                lines.append(
                    {
                        "component": line["component"],
                        "corrects": {"kind": line["kind"]},
                        "quantity": None,
                        "amount": f"-{line['amount']}",
                    }
                )
    return lines


def billed_periods(connection: Connection, tenant_id: int, account_id: int) -> list[StoredInvoice]:
    """The account's finalized (not voided) invoices, oldest period first."""
    found = invoices_of(connection, tenant_id, account_id=account_id)
    return sorted(
        (i for i in found if i.status in OPEN_STATES), key=lambda i: (i.period_end_us, i.id)
    )
