"""Rows as csv, jsonl or parquet bytes, written batch by batch. Pure: rows in, chunks out.

An export is a header of typed columns and an iterator of row batches; `encode` turns it into an
iterator of byte chunks, one (at least) per batch, so nothing holds the whole export. Decimals
stay exact: plain decimal text (never an exponent) in csv and jsonl, and `decimal128(38, 18)` in
parquet, which holds every amount (minor units) and quantity (micro-units) exactly; a value it
cannot hold (more than 18 decimals, or 20 digits before the point) fails the export rather than
being rounded. Instants are RFC 3339 text in csv and jsonl, `timestamp[us, UTC]` in parquet.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import orjson

from valueproof.billing.errors import ExportInvalid
from valueproof.periods import format_rfc3339

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "DECIMAL_PRECISION",
    "DECIMAL_SCALE",
    "MEDIA_TYPES",
    "Column",
    "ColumnType",
    "Format",
    "Row",
    "encode",
]

DECIMAL_PRECISION = 38  # the most decimal128 holds
DECIMAL_SCALE = 18  # digits after the point: far more than any currency or quantity uses


class Format(StrEnum):
    """The file formats an export is written in."""

    CSV = "csv"
    JSONL = "jsonl"
    PARQUET = "parquet"


MEDIA_TYPES = {
    Format.CSV: "text/csv; charset=utf-8",
    Format.JSONL: "application/x-ndjson",
    Format.PARQUET: "application/vnd.apache.parquet",
}


class ColumnType(StrEnum):
    TEXT = "text"
    DECIMAL = "decimal"
    INTEGER = "integer"
    INSTANT = "instant"
    BOOLEAN = "boolean"


@dataclass(frozen=True, slots=True)
class Column:
    """A column of an export: its name and the type its values have (or None)."""

    name: str
    type: ColumnType = ColumnType.TEXT


Row = Sequence[Any]  # one value per column: str, Decimal, int, datetime, bool or None


def encode(
    fmt: Format, columns: Sequence[Column], batches: Iterable[Sequence[Row]]
) -> Iterator[bytes]:
    """The export's bytes, chunk by chunk: the header first (csv), then one chunk per batch (a
    parquet row group each), then the parquet footer."""
    if fmt is Format.CSV:
        return _csv(columns, batches)
    if fmt is Format.JSONL:
        return _jsonl(columns, batches)
    return _parquet(columns, batches)


def _text(value: Any) -> str | None:
    """A value as csv and jsonl spell it: decimals without exponent, instants in RFC 3339."""
    if value is None:
        return None
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return format_rfc3339(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _csv(columns: Sequence[Column], batches: Iterable[Sequence[Row]]) -> Iterator[bytes]:
    buffer = io.StringIO()
    # RFC 4180's CRLF: the writer then quotes a field holding either \r or \n (with "\n" alone
    # it would leave a lone \r bare, and a reader would end the row there).
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([column.name for column in columns])
    yield buffer.getvalue().encode()
    for batch in batches:
        buffer.seek(0)
        buffer.truncate()
        writer.writerows([["" if v is None else _text(v) for v in row] for row in batch])
        yield buffer.getvalue().encode()


def _json_value(value: Any, kind: ColumnType) -> Any:
    if value is None or kind in (ColumnType.INTEGER, ColumnType.BOOLEAN):
        return value
    return _text(value)


def _jsonl(columns: Sequence[Column], batches: Iterable[Sequence[Row]]) -> Iterator[bytes]:
    names = [column.name for column in columns]
    kinds = [column.type for column in columns]
    for batch in batches:
        yield b"".join(
            orjson.dumps({n: _json_value(v, k) for n, k, v in zip(names, kinds, row, strict=True)})
            + b"\n"
            for row in batch
        )


class _Chunks(io.RawIOBase):
    """A write-only stream whose bytes are taken out as they come (the parquet writer needs a
    file; this one never holds more than a row group)."""

    def __init__(self) -> None:
        super().__init__()
        self._parts: list[bytes] = []
        self._written = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        part = bytes(data)
        self._parts.append(part)
        self._written += len(part)
        return len(part)

    def tell(self) -> int:
        return self._written

    def take(self) -> bytes:
        taken = b"".join(self._parts)
        self._parts.clear()
        return taken


def _arrow_schema(columns: Sequence[Column]) -> pa.Schema:
    """The parquet schema of the columns."""
    import pyarrow as pa

    types = {
        ColumnType.TEXT: pa.string(),
        ColumnType.DECIMAL: pa.decimal128(DECIMAL_PRECISION, DECIMAL_SCALE),
        ColumnType.INTEGER: pa.int64(),
        ColumnType.INSTANT: pa.timestamp("us", tz="UTC"),
        ColumnType.BOOLEAN: pa.bool_(),
    }
    return pa.schema([pa.field(column.name, types[column.type]) for column in columns])


def _arrow_array(pa: Any, field: Any, values: list[Any]) -> Any:
    try:
        return pa.array(values, type=field.type)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as error:
        raise ExportInvalid(
            "format",
            f"column {field.name} has a value parquet's {field.type} cannot hold exactly "
            f"({error}); export it as csv or jsonl",
        ) from None


def _parquet(columns: Sequence[Column], batches: Iterable[Sequence[Row]]) -> Iterator[bytes]:
    # Imported here: pyarrow is heavy, and only parquet needs it.
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = _arrow_schema(columns)
    sink = _Chunks()
    writer = pq.ParquetWriter(pa.PythonFile(sink, mode="w"), schema, compression="zstd")
    try:
        for batch in batches:
            if not batch:
                continue
            arrays = [
                _arrow_array(pa, schema.field(i), [row[i] for row in batch])
                for i in range(len(columns))
            ]
            writer.write_table(pa.Table.from_arrays(arrays, schema=schema))
            yield sink.take()
    finally:
        writer.close()
    yield sink.take()
