"""Proof bundles, store side: a finalized invoice with every record behind it, proven at once.

A bundle is what a customer needs to re-compute its invoice without trusting the vendor's
database (`billing.invoice_check` does it; docs/verify.md gives the format): the invoice leaf
and the contract version leaf; the account's usage events of the contract's meters in the
period, with the corrections that superseded any of them, and its accepted outcome verdicts
with the dispute resolutions that voided any; the oracle readings the lines cite; one Merkle
multiproof of all of them against the latest signed checkpoint; and, stated rather than
proven, the inputs rating reads that are not records on the log. Only records placed before the
invoice's `ledger_size` count, so a bundle built later holds what the invoice was rated from.
Never a record of another account.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, select

from valueproof.billing.errors import InvoiceNotFound, InvoiceStateConflict
from valueproof.billing.invoice_check import BUNDLE_FORMAT, INVOICE
from valueproof.billing.invoice_store import StoredInvoice
from valueproof.billing.recount import usage_window
from valueproof.contracts.inputs import RatingInput
from valueproof.contracts.service import period_inputs
from valueproof.errors import Conflict, NotFound
from valueproof.ledger import log as ledger_log
from valueproof.ledger.errors import LedgerError
from valueproof.ledger.leaves import parse_leaf
from valueproof.ledger.multiproof import multiproof
from valueproof.ledger.publish import latest_checkpoint
from valueproof.metering.definitions import Aggregation
from valueproof.metering.registry import load_catalog
from valueproof.metering.tables import events
from valueproof.outcomes.tables import outcome_claims, outcome_dispute_steps
from valueproof.periods import format_rfc3339, parse_rfc3339, to_micros
from valueproof.tenancy.accounts import account_id as account_id_of

__all__ = ["finalized_bundle", "invoice_bundle"]

_CHUNK = 500
_INSTANT = timedelta(microseconds=1)


def invoice_bundle(
    connection: Connection, tenant_id: int, invoice_leaf: int, now: datetime
) -> dict[str, Any]:
    """The proof bundle of the invoice at `invoice_leaf`, against the latest signed checkpoint.

    InvoiceNotFound unless that leaf is an invoice; Conflict while no signed checkpoint covers
    it yet. `now` is the clock rating reads the stated inputs at (after the period's end).
    """
    document = _invoice_document(connection, tenant_id, invoice_leaf)
    published = latest_checkpoint(connection, tenant_id)
    if published is None or published.checkpoint.size <= invoice_leaf:
        raise Conflict(
            f"no signed checkpoint covers invoice {document.get('number')!r} (leaf"
            f" {invoice_leaf}) yet; sign one and ask again"
        )
    size = published.checkpoint.size
    account = document["account"]
    ledger_size = int(document["ledger_size"])
    start = parse_rfc3339(document["period"]["start"])
    end = parse_rfc3339(document["period"]["end"])
    account_id = account_id_of(connection, tenant_id, account)
    # The period's last instant, as the close rates it: the version in force at its end.
    inputs = period_inputs(connection, tenant_id, account, end - _INSTANT, now)
    catalog = load_catalog(connection, tenant_id)
    meters = {key: catalog.meters_by_key[key].meter for key in sorted(inputs.usage)}
    low, high = usage_window(start, end)
    usage_leaves = _usage_leaves(
        connection,
        tenant_id,
        account_id,
        sorted({meter.event_type for meter in meters.values()}),
        (low, high),
        ledger_size,
    )
    outcome_leaves = _outcome_leaves(
        connection,
        tenant_id,
        account_id,
        document["contract"],
        sorted(inputs.outcomes),
        (to_micros(start), to_micros(end)),
        ledger_size,
    )
    reading_leaves = {
        leaf
        for readings in inputs.readings.values()
        for reading in readings
        for leaf in (*reading.leaves, *([] if reading.leaf_index is None else [reading.leaf_index]))
        if leaf < ledger_size
    }
    version_leaf = int(document["version_leaf"])
    records = sorted({*usage_leaves, *outcome_leaves, *reading_leaves} - {version_leaf})
    indexes = sorted({invoice_leaf, version_leaf, *records})
    entries = dict(zip(indexes, ledger_log.entries(connection, tenant_id, indexes), strict=True))
    hashes = multiproof(indexes, size, ledger_log.hash_reader(connection, tenant_id))
    return {
        "format": BUNDLE_FORMAT,
        "invoice": _entry_json(invoice_leaf, entries[invoice_leaf]),
        "contract_version": _entry_json(version_leaf, entries[version_leaf]),
        "records": [_entry_json(index, entries[index]) for index in records],
        "checkpoint": published.note,
        "proof": {
            "size": size,
            "hashes": [base64.b64encode(value).decode() for value in hashes],
        },
        "stated": _stated(inputs, meters),
    }


def finalized_bundle(
    connection: Connection, tenant_id: int, invoice: StoredInvoice
) -> dict[str, Any]:
    """The bundle of a stored invoice; InvoiceStateConflict for a draft (not on the ledger)."""
    if invoice.leaf_index is None:
        raise InvoiceStateConflict(
            f"invoice {invoice.number or invoice.id} is {invoice.status}: only a finalized "
            "invoice is on the ledger and has a proof bundle"
        )
    return invoice_bundle(connection, tenant_id, invoice.leaf_index, datetime.now(UTC))


def _invoice_document(connection: Connection, tenant_id: int, index: int) -> dict[str, Any]:
    try:
        leaf = parse_leaf(ledger_log.entry(connection, tenant_id, index))
    except (LedgerError, NotFound):
        raise InvoiceNotFound(f"leaf {index} is not an invoice on the log") from None
    if leaf.record_type != INVOICE:
        raise InvoiceNotFound(f"leaf {index} is a {leaf.record_type}, not an invoice")
    return leaf.record


def _entry_json(index: int, entry: bytes) -> dict[str, Any]:
    # Leaves are canonical JSON, so UTF-8 text: carried as a string, it round-trips byte for byte.
    return {"index": index, "entry": entry.decode()}


def _usage_leaves(
    connection: Connection,
    tenant_id: int,
    account_id: int,
    types: list[str],
    window: tuple[int, int],
    ledger_size: int,
) -> list[int]:
    """The account's events of these types in the window, voids and amendments included, and
    the corrections (wherever their timestamp) that superseded any of them before the size."""
    if not types:
        return []
    e = events.c
    rows = connection.execute(
        select(e.leaf_index, e.superseded_by).where(
            e.tenant_id == tenant_id,
            e.account_id == account_id,
            e.type.in_(types),
            e.ts_us >= window[0],
            e.ts_us < window[1],
            e.leaf_index < ledger_size,
        )
    ).all()
    leaves = [int(row[0]) for row in rows]
    superseders = sorted({row[1] for row in rows if row[1] is not None})
    for chunk in _chunks(superseders):
        leaves.extend(
            connection.execute(
                select(e.leaf_index).where(
                    e.tenant_id == tenant_id,
                    e.account_id == account_id,
                    e.event_id.in_(chunk),
                    e.leaf_index < ledger_size,
                )
            ).scalars()
        )
    return leaves


def _outcome_leaves(
    connection: Connection,
    tenant_id: int,
    account_id: int,
    contract: str,
    outcomes: list[str],
    span: tuple[int, int],
    ledger_size: int,
) -> list[int]:
    """The account's accepted verdicts under the contract that occurred in the period, and the
    resolutions of their disputes, placed before the size."""
    if not outcomes:
        return []
    c = outcome_claims.c
    rows = connection.execute(
        select(c.claim_id, c.leaf_index).where(
            c.tenant_id == tenant_id,
            c.account_id == account_id,
            c.contract == contract,
            c.outcome.in_(outcomes),
            c.accepted.is_(True),
            c.occurred_at_us >= span[0],
            c.occurred_at_us < span[1],
            c.leaf_index < ledger_size,
        )
    ).all()
    leaves = [int(row.leaf_index) for row in rows]
    s = outcome_dispute_steps.c
    for chunk in _chunks(sorted(row.claim_id for row in rows)):
        leaves.extend(
            connection.execute(
                select(s.leaf_index).where(
                    s.tenant_id == tenant_id,
                    s.claim_id.in_(chunk),
                    s.step == "resolved",
                    s.leaf_index < ledger_size,
                )
            ).scalars()
        )
    return leaves


def _chunks(values: list[Any]) -> Iterable[list[Any]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


def _stated(inputs: RatingInput, meters: Mapping[str, Any]) -> dict[str, Any]:
    """What rating reads that is not a record on the log, as the verifier takes it on trust."""
    gauges = {
        key: [
            {"dims": g.dims, "value": str(g.value), "events": g.events}
            for g in inputs.usage[key].groups
        ]
        for key, meter in meters.items()
        if meter.aggregation is Aggregation.TIME_WEIGHTED_SUM
    }
    return {
        "meters": {key: meter.model_dump(mode="json") for key, meter in meters.items()},
        "usage": gauges,
        "account": dict(inputs.account),
        "wallet_history": [
            {
                "start": format_rfc3339(p.start),
                "end": format_rfc3339(p.end),
                "charges": str(p.charges),
            }
            for p in inputs.wallet_history
        ],
        "outcome_credits": {
            key: [
                {
                    "period_start": format_rfc3339(c.period_start),
                    "period_end": format_rfc3339(c.period_end),
                    "billed": c.billed,
                    "standing": c.standing,
                    "unit_price": str(c.unit_price),
                    "max_count": c.max_count,
                    "max_amount": None if c.max_amount is None else str(c.max_amount),
                    "leaves": [list(r) for r in c.leaves],
                }
                for c in usage.credits
            ]
            for key, usage in inputs.outcomes.items()
            if usage.credits
        },
        "readings": {
            metric: [
                {
                    "value": str(r.value),
                    "as_of": format_rfc3339(r.as_of),
                    "leaf_index": r.leaf_index,
                    "leaves": list(r.leaves),
                }
                for r in readings
            ]
            for metric, readings in inputs.readings.items()
        },
        "flags": dict(inputs.flags),
    }
