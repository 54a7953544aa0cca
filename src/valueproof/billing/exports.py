"""What finance exports: invoices, their lines, credit notes, usage and the revenue schedule, as
typed rows read from the store in batches (`billing.formats` writes them as csv, jsonl or parquet).

Every export covers a half-open range [from, to) of UTC instants: invoices and their lines by
their period's end, credit notes by when they were issued, usage by its bucket (hour, day or
month), and the revenue schedule by its invoice's period end. The reader runs inside one read
transaction (one snapshot) and fetches a batch at a time, so an export of any size holds one
batch (usage: one slice of buckets of every account).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

import orjson
from sqlalchemy import Connection

from valueproof.billing.errors import ExportInvalid
from valueproof.billing.formats import Column, ColumnType, Row
from valueproof.billing.invoice_store import (
    OPEN_STATES,
    StoredInvoice,
    credit_note_pages,
    invoice_pages,
)
from valueproof.billing.revenue import RevenueRow, RevenueState, revenue_rows
from valueproof.billing.tables import invoices
from valueproof.metering.registry import load_catalog
from valueproof.metering.usage import ACCOUNT, UsageQuery, query_usage
from valueproof.periods import (
    MICROS_PER_HOUR,
    Granularity,
    bucket_start,
    from_micros,
    hour_of,
    next_bucket,
    parse_instant_field,
    parse_rfc3339,
    to_micros,
)

__all__ = ["BATCH", "COLUMNS", "ExportRange", "Kind", "export_batches", "export_range"]

BATCH = 500  # rows per batch (and per parquet row group); invoices fetched per round trip
# Usage is queried a slice at a time: a day of hours, a week of days (a month of months).
USAGE_SLICES = {Granularity.HOUR: timedelta(days=1), Granularity.DAY: timedelta(days=7)}

TEXT, DECIMAL, INTEGER, INSTANT = (
    ColumnType.TEXT,
    ColumnType.DECIMAL,
    ColumnType.INTEGER,
    ColumnType.INSTANT,
)


class Kind(StrEnum):
    """What an export holds."""

    INVOICES = "invoices"
    LINES = "lines"
    CREDIT_NOTES = "credit-notes"
    USAGE = "usage"
    REVENUE = "revenue"


def _columns(*spec: tuple[str, ColumnType]) -> tuple[Column, ...]:
    return tuple(Column(name, kind) for name, kind in spec)


COLUMNS: dict[Kind, tuple[Column, ...]] = {
    Kind.INVOICES: _columns(
        ("id", INTEGER),
        ("number", TEXT),
        ("status", TEXT),
        ("account", TEXT),
        ("contract", TEXT),
        ("version", INTEGER),
        ("generation", INTEGER),
        ("period_start", INSTANT),
        ("period_end", INSTANT),
        ("issued_at", INSTANT),
        ("due_at", INSTANT),
        ("currency", TEXT),
        ("subtotal", DECIMAL),
        ("tax_total", DECIMAL),
        ("total", DECIMAL),
        ("replaces", TEXT),
        ("leaf_index", INTEGER),
        ("ledger_size", INTEGER),
    ),
    Kind.LINES: _columns(
        ("invoice", TEXT),
        ("invoice_id", INTEGER),
        ("status", TEXT),
        ("account", TEXT),
        ("contract", TEXT),
        ("period_start", INSTANT),
        ("period_end", INSTANT),
        ("line", INTEGER),
        ("component", TEXT),
        ("kind", TEXT),
        ("description", TEXT),
        ("quantity", DECIMAL),
        ("unit_price", DECIMAL),
        ("amount", DECIMAL),
        ("currency", TEXT),
    ),
    Kind.CREDIT_NOTES: _columns(
        ("number", TEXT),
        ("invoice", TEXT),
        ("account", TEXT),
        ("issued_at", INSTANT),
        ("disposition", TEXT),
        ("reason", TEXT),
        ("currency", TEXT),
        ("subtotal", DECIMAL),
        ("tax_total", DECIMAL),
        ("total", DECIMAL),
        ("leaf_index", INTEGER),
    ),
    Kind.USAGE: _columns(
        ("meter", TEXT),
        ("account", TEXT),
        ("group", TEXT),
        ("start", INSTANT),
        ("end", INSTANT),
        ("aggregation", TEXT),
        ("unit", TEXT),
        ("value", DECIMAL),
    ),
    Kind.REVENUE: _columns(
        ("month", TEXT),
        ("account", TEXT),
        ("contract", TEXT),
        ("component", TEXT),
        ("kind", TEXT),
        ("invoice", TEXT),
        ("period_start", INSTANT),
        ("period_end", INSTANT),
        ("currency", TEXT),
        ("opening_deferred", DECIMAL),
        ("granted", DECIMAL),
        ("billed", DECIMAL),
        ("recognized", DECIMAL),
        ("breakage", DECIMAL),
        ("deferred", DECIMAL),
    ),
}


@dataclass(frozen=True, slots=True)
class ExportRange:
    """The half-open range [start, end) an export covers."""

    start: datetime
    end: datetime

    @property
    def start_us(self) -> int:
        return to_micros(self.start)

    @property
    def end_us(self) -> int:
        return to_micros(self.end)


def export_range(start: str, end: str) -> ExportRange:
    """The range from what a user typed: RFC 3339 date-times or dates (midnight UTC); `to` must
    come after `from`. ExportInvalid names the field otherwise."""
    first = _instant("from", start)
    last = _instant("to", end)
    if last <= first:
        raise ExportInvalid("to", f"{end!r} must come after from ({start!r})")
    return ExportRange(first, last)


def _instant(field: str, text: str) -> datetime:
    if len(text) == 10:  # a date alone: midnight UTC
        try:
            day = datetime.strptime(text, "%Y-%m-%d")
        except ValueError:
            raise ExportInvalid(field, f"not a date (YYYY-MM-DD): {text!r}") from None
        text = f"{day.date().isoformat()}T00:00:00Z"
    return parse_instant_field(field, text)


def export_batches(
    connection: Connection,
    tenant_id: int,
    kind: Kind,
    window: ExportRange,
    granularity: Granularity = Granularity.DAY,
    now: datetime | None = None,
) -> Iterator[list[Row]]:
    """The rows of an export, a batch at a time, in the order of COLUMNS[kind]."""
    if kind is Kind.INVOICES:
        return _invoice_batches(connection, tenant_id, window)
    if kind is Kind.LINES:
        return _line_batches(connection, tenant_id, window)
    if kind is Kind.CREDIT_NOTES:
        return _credit_note_batches(connection, tenant_id, window)
    if kind is Kind.USAGE:
        return _usage_batches(connection, tenant_id, window, granularity, now or datetime.now(UTC))
    return _revenue_batches(connection, tenant_id, window)


def _in_range(window: ExportRange) -> list[Any]:
    return [invoices.c.period_end_us >= window.start_us, invoices.c.period_end_us < window.end_us]


def _when(text: str | None) -> datetime | None:
    return None if text is None else parse_rfc3339(text)


def _invoice_row(invoice: StoredInvoice) -> Row:
    document = invoice.document
    return (
        invoice.id,
        invoice.number,
        invoice.status,
        invoice.account,
        invoice.contract,
        document.get("version"),
        invoice.generation,
        from_micros(invoice.period_start_us),
        from_micros(invoice.period_end_us),
        _when(document.get("issued_at")),
        _when(document.get("due_at")),
        invoice.currency,
        Decimal(document["subtotal"]),
        Decimal(document["tax_total"]),
        invoice.total,
        document.get("replaces"),
        invoice.leaf_index,
        invoice.ledger_size,
    )


def _invoice_batches(
    connection: Connection, tenant_id: int, window: ExportRange
) -> Iterator[list[Row]]:
    pages = invoice_pages(connection, tenant_id, _in_range(window), ("period_end_us", "id"), BATCH)
    for page in pages:
        yield [_invoice_row(invoice) for invoice in page]


def _line_rows(invoice: StoredInvoice) -> Iterator[Row]:
    for index, line in enumerate(invoice.document["lines"]):
        yield (
            invoice.number,
            invoice.id,
            invoice.status,
            invoice.account,
            invoice.contract,
            from_micros(invoice.period_start_us),
            from_micros(invoice.period_end_us),
            index,
            line["component"],
            line["kind"],
            line["description"],
            Decimal(line["quantity"]),
            Decimal(line["unit_price"]),
            Decimal(line["amount"]),
            invoice.currency,
        )


def _line_batches(
    connection: Connection, tenant_id: int, window: ExportRange
) -> Iterator[list[Row]]:
    batch: list[Row] = []
    pages = invoice_pages(connection, tenant_id, _in_range(window), ("period_end_us", "id"), BATCH)
    for page in pages:
        for invoice in page:
            batch.extend(_line_rows(invoice))
            if len(batch) >= BATCH:
                yield batch
                batch = []
    if batch:
        yield batch


def _credit_note_batches(
    connection: Connection, tenant_id: int, window: ExportRange
) -> Iterator[list[Row]]:
    for page in credit_note_pages(connection, tenant_id, window.start_us, window.end_us, BATCH):
        yield [
            (
                note.number,
                note.document["invoice"],
                note.document["account"],
                from_micros(note.created_us),
                note.disposition,
                note.document["reason"],
                note.currency,
                Decimal(note.document["subtotal"]),
                Decimal(note.document["tax_total"]),
                note.total,
                note.leaf_index,
            )
            for note in page
        ]


def _usage_batches(
    connection: Connection,
    tenant_id: int,
    window: ExportRange,
    granularity: Granularity,
    now: datetime,
) -> Iterator[list[Row]]:
    """Each meter's usage per account, group and bucket, one slice of buckets per query."""
    start_hour = -(-window.start_us // MICROS_PER_HOUR)  # buckets wholly inside the range
    end_hour = hour_of(window.end_us)
    catalog = load_catalog(connection, tenant_id)
    for key in sorted(catalog.meters_by_key):
        meter = catalog.meters_by_key[key].meter
        groups = (*meter.group_by, ACCOUNT)
        for first, last in _slices(start_hour, end_hour, granularity):
            query = UsageQuery(key, first, last, granularity, None, groups)
            result = query_usage(connection, tenant_id, query, now)
            rows: list[Row] = []
            for row in result.rows:
                labels = dict(row.group)
                account = labels.pop(ACCOUNT)
                rows.append(
                    (
                        key,
                        account,
                        orjson.dumps(labels, option=orjson.OPT_SORT_KEYS).decode(),
                        row.start,
                        row.end,
                        result.aggregation.value,
                        result.unit,
                        row.value,
                    )
                )
            for offset in range(0, len(rows), BATCH):
                yield rows[offset : offset + BATCH]


def _slices(
    start_hour: int, end_hour: int, granularity: Granularity
) -> Iterator[tuple[datetime, datetime]]:
    """[start, end) hours cut into USAGE_SLICES (a month for monthly buckets) that end on bucket
    boundaries."""
    end = from_micros(end_hour * MICROS_PER_HOUR)
    current = from_micros(start_hour * MICROS_PER_HOUR)
    while current < end:
        if granularity is Granularity.MONTH:  # a month at a time: its buckets are whole months
            following = next_bucket(bucket_start(current, granularity), granularity)
        else:
            following = bucket_start(current + USAGE_SLICES[granularity], granularity)
        following = min(end, following)
        yield current, following
        current = following


def _revenue_batches(
    connection: Connection, tenant_id: int, window: ExportRange
) -> Iterator[list[Row]]:
    """Revenue rows of the finalized invoices whose period ends in the range; the invoices
    before it are read too, for the balances each wallet carries into it."""
    state: RevenueState = {}
    where = [
        invoices.c.status.in_(sorted(OPEN_STATES)),
        invoices.c.period_end_us < window.end_us,
    ]
    order = ("account_id", "period_start_us", "id")
    batch: list[Row] = []
    for page in invoice_pages(connection, tenant_id, where, order, BATCH):
        for row in revenue_rows((invoice.document for invoice in page), state):
            if row.period_end >= window.start:
                batch.append(_revenue_row(row))
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _revenue_row(row: RevenueRow) -> Row:
    return (
        row.month,
        row.account,
        row.contract,
        row.component,
        row.kind,
        row.invoice,
        row.period_start,
        row.period_end,
        row.currency,
        row.opening_deferred,
        row.granted,
        row.billed,
        row.recognized,
        row.breakage,
        row.deferred,
    )
