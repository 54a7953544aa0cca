"""Exports: each kind, in each format, reads back as what the store holds, exactly, by range."""

from __future__ import annotations

import csv
import io
import tracemalloc
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson
import pyarrow.parquet as pq
import pytest
from sqlalchemy import insert, select

from tests.billing.conftest import Billing, utc
from tests.contracts.conftest import call
from valueproof.billing import writes
from valueproof.billing.credit_notes import CreditLine, CreditRequest
from valueproof.billing.exports import BATCH, COLUMNS, Kind, export_batches, export_range
from valueproof.billing.formats import Format, encode
from valueproof.billing.invoice_store import credit_notes_of
from valueproof.billing.tables import invoices
from valueproof.metering.usage import UsageQuery, query_usage
from valueproof.periods import Granularity
from valueproof.store import read, write

YEAR = ("2026-01-01", "2027-01-01")


def exported(
    billing: Billing,
    kind: Kind,
    fmt: Format,
    span: tuple[str, str] = YEAR,
    granularity: Granularity = Granularity.DAY,
) -> list[dict[str, Any]]:
    """The export's bytes, read back with the format's own reader."""
    window = export_range(*span)
    with read(billing.engine) as connection:
        batches = export_batches(connection, billing.tenant_id, kind, window, granularity)
        data = b"".join(encode(fmt, COLUMNS[kind], batches))
    if fmt is Format.CSV:
        rows = list(csv.DictReader(io.StringIO(data.decode())))
        assert rows == [] or list(rows[0]) == [c.name for c in COLUMNS[kind]]
        return rows
    if fmt is Format.JSONL:
        return [orjson.loads(line) for line in data.splitlines()]
    table = pq.read_table(io.BytesIO(data))
    assert table.column_names == [c.name for c in COLUMNS[kind]]
    return table.to_pylist()


def text(value: Any) -> str:
    """A value read back as csv and jsonl spell it (parquet gives it typed)."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return str(value)


def closed(billing: Billing, calls: int = 10) -> None:
    billing.contract()
    billing.priced.ingest([call(n) for n in range(calls)])
    billing.close(utc(2026, 12, 10))


@pytest.mark.parametrize("fmt", list(Format))
def test_invoices_read_back_as_the_store_holds_them(billing: Billing, fmt: Format) -> None:
    closed(billing)
    rows = exported(billing, Kind.INVOICES, fmt)
    stored = sorted(billing.invoices(), key=lambda i: i.period_end_us)
    assert [row["number"] for row in rows] == [i.number for i in stored]
    november = rows[-1]
    assert november["status"] == "finalized" and november["account"] == "acme"
    assert Decimal(november["total"]) == Decimal("100.02") == stored[-1].total
    assert text(november["period_start"]) == "2026-11-01T00:00:00Z"
    assert text(november["period_end"]) == "2026-12-01T00:00:00Z"
    assert int(november["leaf_index"]) == stored[-1].leaf_index
    if fmt is not Format.PARQUET:  # decimal text, exactly as the invoice states it
        assert november["total"] == stored[-1].document["total"] == "100.02"


@pytest.mark.parametrize("fmt", list(Format))
def test_every_line_reads_back_exactly(billing: Billing, fmt: Format) -> None:
    closed(billing)
    rows = exported(billing, Kind.LINES, fmt)
    expected = [
        (invoice.number, index, line)
        for invoice in sorted(billing.invoices(), key=lambda i: i.period_end_us)
        for index, line in enumerate(invoice.document["lines"])
    ]
    assert len(rows) == len(expected) == 22
    for row, (number, index, line) in zip(rows, expected, strict=True):
        assert (row["invoice"], int(row["line"])) == (number, index)
        for name in ("component", "kind", "description"):
            assert row[name] == line[name]
        for name in ("quantity", "unit_price", "amount"):
            assert Decimal(row[name]) == Decimal(line[name])
            if fmt is not Format.PARQUET:
                assert row[name] == line[name]
    api = rows[-1]
    assert (api["component"], text(api["unit_price"]).rstrip("0")) == ("api", "0.002")


def test_the_range_is_half_open_by_period_end(billing: Billing) -> None:
    closed(billing)
    # October's period ends on 1 November (in); November's on 1 December (out).
    rows = exported(billing, Kind.INVOICES, Format.JSONL, ("2026-11-01", "2026-12-01"))
    assert [row["period_end"] for row in rows] == ["2026-11-01T00:00:00Z"]
    instants = ("2026-11-01T00:00:00Z", "2026-12-01T00:00:00.000001Z")
    assert len(exported(billing, Kind.INVOICES, Format.JSONL, instants)) == 2


@pytest.mark.parametrize("fmt", list(Format))
def test_credit_notes_read_back_with_their_totals(billing: Billing, fmt: Format) -> None:
    closed(billing)
    november = billing.invoices()[0]
    request = CreditRequest("goodwill", (CreditLine(0, Decimal("12.34")),))
    writes.credit(billing.engine, billing.tenant_id, november.number or "", request, billing.policy)
    with read(billing.engine) as connection:
        [note] = credit_notes_of(connection, billing.tenant_id)
    rows = exported(billing, Kind.CREDIT_NOTES, fmt, ("2000-01-01", "2100-01-01"))
    assert [(r["number"], r["invoice"], r["reason"]) for r in rows] == [
        (note.number, november.number, "goodwill")
    ]
    assert Decimal(rows[0]["total"]) == Decimal("12.34")
    if fmt is not Format.PARQUET:
        assert rows[0]["total"] == note.document["total"] == "12.34"
    # By when it was issued: a range that ends before it holds nothing.
    assert exported(billing, Kind.CREDIT_NOTES, fmt, ("2000-01-01", "2001-01-01")) == []


@pytest.mark.parametrize("fmt", list(Format))
def test_usage_is_per_account_meter_group_and_day(billing: Billing, fmt: Format) -> None:
    billing.priced.ingest(
        [call(n, region="eu") for n in range(3)]
        + [call(n, account="globex", day=4, region="us") for n in range(5)]
        + [call(100 + n, day=9, region="us") for n in range(2)]
    )
    rows = exported(billing, Kind.USAGE, fmt, ("2026-11-01", "2026-12-01"))
    found = {
        (r["meter"], r["account"], r["group"], text(r["start"])[:10]): Decimal(r["value"])
        for r in rows
    }
    assert found == {
        ("calls", "acme", '{"region":"eu"}', "2026-11-03"): 3,
        ("calls", "globex", '{"region":"us"}', "2026-11-04"): 5,
        ("calls", "acme", '{"region":"us"}', "2026-11-09"): 2,
    }
    # The same numbers the usage query gives, a week at a time or all at once.
    query = UsageQuery(
        "calls", utc(2026, 11, 1), utc(2026, 12, 1), Granularity.MONTH, None, ("account",)
    )
    with read(billing.engine) as connection:
        result = query_usage(connection, billing.tenant_id, query, datetime.now(UTC))
    totals: dict[str, Decimal] = {}
    for (_, account, _, _), value in found.items():
        totals[account] = totals.get(account, Decimal(0)) + value
    assert {row.group["account"]: row.value for row in result.rows} == totals


def test_usage_by_the_hour(billing: Billing) -> None:
    billing.priced.ingest([call(n) for n in range(3)])
    span = ("2026-11-03T00:00:00Z", "2026-11-03T02:00:00Z")  # calls at 00:00, 01:00, 02:00
    rows = exported(billing, Kind.USAGE, Format.JSONL, span, Granularity.HOUR)
    assert [(r["start"], r["end"], r["value"]) for r in rows] == [
        ("2026-11-03T00:00:00Z", "2026-11-03T01:00:00Z", "1"),
        ("2026-11-03T01:00:00Z", "2026-11-03T02:00:00Z", "1"),
    ]


def copies(billing: Billing, first: int, last: int) -> None:
    """More invoices of the first one's account and period (later generations), up to `last`."""
    template = billing.invoices()[0]
    with write(billing.engine) as connection:
        row = connection.execute(select(invoices).where(invoices.c.id == template.id)).one()
        values = {name: value for name, value in row._asdict().items() if name != "id"}
        copied = [
            {**values, "generation": n, "number": f"COPY-{n:06d}"} for n in range(first, last)
        ]
        connection.execute(insert(invoices), copied)


def peak_while_exporting(billing: Billing) -> tuple[int, int]:
    """(rows, the most memory Python held) while exporting every line as jsonl."""
    rows = 0
    tracemalloc.start()
    try:
        with read(billing.engine) as connection:
            window = export_range(*YEAR)
            batches = export_batches(connection, billing.tenant_id, Kind.LINES, window)
            for chunk in encode(Format.JSONL, COLUMNS[Kind.LINES], batches):
                rows += chunk.count(b"\n")
        return rows, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_big_export_streams_in_bounded_memory(billing: Billing) -> None:
    closed(billing, calls=3)
    copies(billing, 1, 2 * BATCH)
    peak_while_exporting(billing)  # once before measuring: what the first run imports
    rows, small = peak_while_exporting(billing)
    assert rows == 2 * (11 + 2 * BATCH - 1)
    copies(billing, 2 * BATCH, 8 * BATCH)
    rows, big = peak_while_exporting(billing)
    assert rows == 2 * (11 + 8 * BATCH - 1)
    # Four times the rows, the same memory: one batch at a time, never the whole export.
    assert big < 1.3 * small


def test_usage_by_the_month_over_more_years_than_one_usage_query_spans(billing: Billing) -> None:
    billing.priced.ingest([call(n) for n in range(4)] + [call(9, day=28)])
    rows = exported(
        billing, Kind.USAGE, Format.JSONL, ("2020-01-01", "2031-01-01"), Granularity.MONTH
    )
    assert [(r["start"], r["end"], r["value"]) for r in rows] == [
        ("2026-11-01T00:00:00Z", "2026-12-01T00:00:00Z", "5")
    ]


def test_usage_of_one_slice_is_written_a_batch_at_a_time(billing: Billing) -> None:
    regions = BATCH + 100
    billing.priced.ingest([call(n, region=f"r{n}") for n in range(regions)])
    window = export_range("2026-11-03", "2026-11-04")
    with read(billing.engine) as connection:
        batches = export_batches(connection, billing.tenant_id, Kind.USAGE, window)
        data = b"".join(encode(Format.PARQUET, COLUMNS[Kind.USAGE], batches))
    parquet = pq.ParquetFile(io.BytesIO(data))
    assert parquet.num_row_groups == 2 and parquet.metadata.num_rows == regions
