"""Export formats: any rows read back exactly (decimals to the last digit), batch by batch."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from valueproof.billing.errors import ExportInvalid
from valueproof.billing.formats import Column, ColumnType, Format, encode

COLUMNS = (
    Column("name"),
    Column("amount", ColumnType.DECIMAL),
    Column("count", ColumnType.INTEGER),
    Column("at", ColumnType.INSTANT),
)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

decimals = st.decimals(
    min_value=Decimal("-99999999999999999999"),
    max_value=Decimal("99999999999999999999"),
    allow_nan=False,
    allow_infinity=False,
).filter(lambda d: int(d.as_tuple().exponent) >= -18)  # what decimal128(38, 18) holds
texts = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"))
rows = st.tuples(
    st.one_of(st.none(), texts),
    st.one_of(st.none(), decimals),
    st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1)),
    st.one_of(st.none(), st.integers(0, 2**50).map(lambda us: EPOCH + timedelta(microseconds=us))),
)


def read_back(fmt: Format, data: bytes) -> list[tuple[Any, ...]]:
    """Rows as typed values again."""
    if fmt is Format.PARQUET:
        return [tuple(row.values()) for row in pq.read_table(io.BytesIO(data)).to_pylist()]
    if fmt is Format.JSONL:
        found = [orjson.loads(line) for line in data.splitlines()]
        return [_typed(tuple(row.values())) for row in found]
    reader = csv.reader(io.StringIO(data.decode(), newline=""))
    assert next(reader) == [column.name for column in COLUMNS]
    return [_typed(tuple(None if cell == "" else cell for cell in row)) for row in reader]


def _typed(row: tuple[Any, ...]) -> tuple[Any, ...]:
    name, amount, count, at = row
    return (
        name,
        None if amount is None else Decimal(amount),
        None if count is None else int(count),
        None if at is None else datetime.fromisoformat(at.replace("Z", "+00:00")),
    )


@settings(max_examples=60, deadline=None)
@given(batches=st.lists(st.lists(rows, max_size=5), max_size=4), fmt=st.sampled_from(Format))
def test_rows_read_back_exactly_in_every_format(
    batches: list[list[tuple[Any, ...]]], fmt: Format
) -> None:
    if fmt is Format.CSV:  # csv cannot tell an empty text from no value
        batches = [[row if row[0] != "" else (None, *row[1:]) for row in b] for b in batches]
    data = b"".join(encode(fmt, COLUMNS, batches))
    assert read_back(fmt, data) == [row for batch in batches for row in batch]


def test_decimal_text_is_never_in_exponent_form() -> None:
    data = b"".join(encode(Format.JSONL, COLUMNS, [[("x", Decimal("1E+3"), 1, None)]]))
    assert orjson.loads(data)["amount"] == "1000"
    data = b"".join(encode(Format.CSV, COLUMNS, [[("x", Decimal("0E-6"), 1, None)]]))
    assert data.decode().split("\r\n")[1] == "x,0.000000,1,"


def test_each_batch_is_a_chunk_and_a_parquet_row_group() -> None:
    batches = [[(f"b{b}", Decimal(n), n, None) for n in range(3)] for b in range(4)]
    assert len(list(encode(Format.JSONL, COLUMNS, batches))) == 4
    assert len(list(encode(Format.CSV, COLUMNS, batches))) == 5  # the header first
    data = b"".join(encode(Format.PARQUET, COLUMNS, batches))
    parquet = pq.ParquetFile(io.BytesIO(data))
    assert parquet.num_row_groups == 4
    schema = parquet.schema_arrow
    assert (str(schema.field("amount").type), str(schema.field("at").type)) == (
        "decimal128(38, 18)",
        "timestamp[us, tz=UTC]",
    )


def test_a_decimal_parquet_cannot_hold_is_refused_not_rounded() -> None:
    tiny = Decimal("0.0000000000000000001")  # 19 places
    with pytest.raises(ExportInvalid) as refused:
        b"".join(encode(Format.PARQUET, COLUMNS, [[("x", tiny, 1, None)]]))
    assert refused.value.field == "format" and "amount" in refused.value.reason
