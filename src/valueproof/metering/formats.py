"""Event file and body formats: JSONL, CSV, Parquet and CloudEvents turned into a stream of raw
event dicts (or `ParseFailure`s), one item at a time, so no file is ever held in memory whole.

The dicts are unvalidated wire events; checking their fields is the validator's job, not ours.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Literal, TextIO, cast

from valueproof.metering.errors import DecompressedTooLarge, MalformedInput
from valueproof.strict_json import describe, loads_strict

if TYPE_CHECKING:
    # pyarrow is imported where Parquet is read: JSONL and CSV (and every command that imports
    # this module) need not pay its import.
    import pyarrow as pa
    import pyarrow.parquet as pq
    from _typeshed import WriteableBuffer

__all__ = [
    "MAX_DECOMPRESSED_BYTES",
    "MAX_LINE_BYTES",
    "DecompressedTooLarge",
    "EventFormat",
    "ParseFailure",
    "RawItem",
    "ReadLimits",
    "open_events",
    "read_csv",
    "read_events_file",
    "read_jsonl",
    "read_parquet",
    "sniff_format",
]

EventFormat = Literal["jsonl", "csv", "parquet"]
ByteProgress = Callable[[int], None]

# Bounds on what one text file may cost, whatever it holds (a gzip of one 400 MB line, or of a
# billion blank lines, is a few hundred KB). Both are documented and overridable by option.
MAX_LINE_BYTES = 1 << 20  # an event is at most 16 KiB of properties: a line is far below this
MAX_DECOMPRESSED_BYTES = 10 << 30  # of a .gz file
_BLOCK = 1 << 18  # bytes read at a time


@dataclass(frozen=True, slots=True)
class ReadLimits:
    """How long a line and how large a decompressed file may be."""

    max_line_bytes: int = MAX_LINE_BYTES
    max_decompressed_bytes: int = MAX_DECOMPRESSED_BYTES


@dataclass(frozen=True, slots=True)
class ParseFailure:
    """An input item that could not be parsed into an event object at all."""

    location: str  # "line 12", "row 7", "[3]", "row group 2 row 5"
    field: str  # the offending field, or "(item)" for the whole item
    reason: str


RawItem = dict[str, Any] | ParseFailure


def _too_large(error: DecompressedTooLarge, location: str) -> MalformedInput:
    return MalformedInput(error.field, f"{error.reason}, reached at {location}")


# --- JSON Lines ---------------------------------------------------------------------------------

_BOM = b"\xef\xbb\xbf"


def read_jsonl(stream: BinaryIO, max_line_bytes: int = MAX_LINE_BYTES) -> Iterator[RawItem]:
    """One JSON object per line; blank lines are skipped; line numbers count from 1.

    A line longer than `max_line_bytes` is a ParseFailure and is skipped unread, so memory
    stays bounded by it whatever the file holds."""
    for number, line in _nonblank_lines(stream, max_line_bytes):
        location = f"line {number}"
        if line is None:
            yield ParseFailure(location, "(item)", _too_long(max_line_bytes))
        else:
            yield _object_or_failure(line.removeprefix(_BOM) if number == 1 else line, location)


def _too_long(limit: int) -> str:
    return f"the line is longer than {limit:,} bytes (--max-line-bytes)"


_BLANK = re.compile(rb"[ \t\r\n\f\v]*")  # a match loop: several times faster than search(\S)


def _nonblank_lines(
    stream: BinaryIO, limit: int, block_size: int = _BLOCK
) -> Iterator[tuple[int, bytes | None]]:
    """(number, line from its first non-blank byte to its newline) of each line that is not
    blank, None for a line longer than `limit`. Runs of blank lines are skipped by
    bytes.isspace or a regex match and counted by bytes.count, never line by line in Python."""
    number = 1  # the number of the line `buffer` starts in
    buffer = b""
    skipping = False  # inside an over-long line: drop bytes up to its newline
    while True:
        try:
            block = stream.read(block_size)
        except DecompressedTooLarge as error:
            raise _too_large(error, f"line {number}") from None
        if not block:
            break
        if skipping:
            end = block.find(b"\n")
            if end < 0:
                continue
            block, number, skipping = block[end + 1 :], number + 1, False
        if block.isspace() and not buffer:
            number += block.count(b"\n")
            continue
        buffer = buffer + block if buffer else block
        position = 0
        while True:
            first = _BLANK.match(buffer, position).end()  # type: ignore[union-attr]
            if first == len(buffer):  # the rest is blank (or the blank start of a line to come)
                number += buffer.count(b"\n", position)
                buffer = b""
                break
            # A line starts at its first non-blank byte: leading blanks are no part of JSON.
            start = first
            number += buffer.count(b"\n", position, start)
            end = buffer.find(b"\n", start)
            if end < 0:  # the line goes on in the next block
                buffer = buffer[start:]
                if len(buffer) > limit:
                    yield number, None
                    buffer, skipping = b"", True
                break
            yield number, (buffer[start:end] if end - start <= limit else None)
            number += 1
            position = end + 1
    if buffer:
        yield number, buffer if len(buffer) <= limit else None


def _object_or_failure(text: bytes | str, location: str) -> RawItem:
    try:
        parsed = loads_strict(text)
    except json.JSONDecodeError as error:
        return ParseFailure(location, "(item)", json_error(error))
    if not isinstance(parsed, dict):
        return ParseFailure(location, "(item)", f"expected a JSON object, got {json_kind(parsed)}")
    return parsed


def json_error(error: json.JSONDecodeError) -> str:
    return describe(error)


def json_kind(value: object) -> str:
    kinds: list[tuple[type | tuple[type, ...], str]] = [
        (dict, "object"),
        (list, "array"),
        (str, "string"),
        (bool, "boolean"),
        ((int, float), "number"),
    ]
    return next((name for kind, name in kinds if isinstance(value, kind)), "null")


# --- rows (CSV and Parquet share the column layout) ---------------------------------------------

_PROPERTIES = "properties"
_PROPERTY_PREFIX = "properties."


@dataclass(frozen=True, slots=True)
class _Unreadable:
    """A cell whose content could not be decoded; the row becomes a ParseFailure naming it."""

    reason: str


def _check_columns(names: Sequence[str]) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise MalformedInput(name, "the column appears more than once")
        if name == _PROPERTY_PREFIX:
            raise MalformedInput(name, "a properties.<name> column needs a name")
        seen.add(name)


def _event_from_cells(cells: Iterable[tuple[str, Any]], location: str) -> RawItem:
    """Build an event from (column, cell) pairs; None cells are absent, dotted columns win."""
    event: dict[str, Any] = {}
    packed: dict[str, Any] = {}
    dotted: dict[str, Any] = {}
    for column, cell in cells:
        if cell is None:
            continue
        if isinstance(cell, _Unreadable):
            return ParseFailure(location, column, cell.reason)
        if column == _PROPERTIES:
            properties = _properties_cell(cell, location)
            if isinstance(properties, ParseFailure):
                return properties
            packed = properties
        elif column.startswith(_PROPERTY_PREFIX):
            dotted[column.removeprefix(_PROPERTY_PREFIX)] = cell
        else:
            event[column] = cell
    event[_PROPERTIES] = packed | dotted
    return event


def _properties_cell(cell: Any, location: str) -> RawItem:
    if isinstance(cell, str):
        try:
            cell = loads_strict(cell)
        except json.JSONDecodeError as error:
            return ParseFailure(location, _PROPERTIES, json_error(error))
    if not isinstance(cell, dict):
        reason = f"expected a JSON object, got {json_kind(cell)}"
        return ParseFailure(location, _PROPERTIES, reason)
    return cell


# --- CSV ----------------------------------------------------------------------------------------

# Files are decoded with errors="surrogateescape": undecodable bytes arrive as lone surrogates.
_UNDECODED = re.compile("[\udc80-\udcff]")
_INVALID_UTF8 = _Unreadable("invalid UTF-8")


class _LineTooLong(Exception):
    """A line of a CSV file was longer than the limit; it has been skipped."""


_LINE_END = re.compile(r"\r\n|\r|\n")
_NEWLINES = re.compile(r"[\r\n]*")


class _BoundedLines:
    """The lines of a text stream for csv.reader, endings kept, read block by block.

    Outside a quoted cell (told by the parity of the quotes seen), a run of empty lines is
    skipped at once and counted in `blank`; a line longer than the limit is skipped unread and
    raises _LineTooLong, after which iteration goes on. `reset` follows csv.reader back to the
    start of a record after it refused one."""

    def __init__(self, stream: TextIO, limit: int, block_size: int = _BLOCK) -> None:
        self._stream = stream
        self._limit = limit
        self._block_size = block_size
        self._buffer = ""
        self._position = 0
        self._eof = False
        self._quoted = False
        self.lines = 0  # lines handed out or skipped
        self.blank = 0  # empty lines skipped outside quoted cells

    def __iter__(self) -> _BoundedLines:
        return self

    def reset(self) -> None:
        self._quoted = False

    def __next__(self) -> str:
        while True:
            if not self._quoted:
                self._skip_empty_lines()
            found = _LINE_END.search(self._buffer, self._position)
            # A "\r" that ends the buffer may be half of a "\r\n" still to come.
            if found is not None and (found.group() != "\r" or found.end() < len(self._buffer)):
                return self._take(found.end())
            if len(self._buffer) - self._position > self._limit:
                self._skip_line()
                raise _LineTooLong
            if self._eof:
                if self._position < len(self._buffer):
                    return self._take(len(self._buffer))
                raise StopIteration
            self._read()

    def _take(self, end: int) -> str:
        line = self._buffer[self._position : end]
        self._position = end
        self.lines += 1
        if len(line) > self._limit:
            raise _LineTooLong
        if line.count('"') % 2:
            self._quoted = not self._quoted
        return line

    def _skip_empty_lines(self) -> None:
        while True:
            end = _NEWLINES.match(self._buffer, self._position).end()  # type: ignore[union-attr]
            if end < len(self._buffer) or self._eof:
                break
            # All empty to the end of the buffer: keep a last "\r" (a "\n" may follow).
            end -= self._buffer.endswith("\r")
            self._count_empty(end)
            self._read()
        self._count_empty(end)

    def _count_empty(self, end: int) -> None:
        run = self._buffer[self._position : end]
        if run:
            count = run.count("\n") + run.count("\r") - run.count("\r\n")
            self.blank += count
            self.lines += count
            self._position = end

    def _skip_line(self) -> None:
        """Drop the rest of an over-long line, up to and with its end."""
        self.lines += 1
        while True:
            found = _LINE_END.search(self._buffer, self._position)
            if found is not None:
                self._position = found.end()
                return
            self._buffer, self._position = "", 0
            if self._eof:
                return
            self._read()

    def _read(self) -> None:
        try:
            block = self._stream.read(self._block_size)
        except DecompressedTooLarge as error:
            raise _too_large(error, f"line {self.lines + 1}") from None
        self._buffer = self._buffer[self._position :] + block
        self._position = 0
        self._eof = not block


def read_csv(stream: TextIO, max_line_bytes: int = MAX_LINE_BYTES) -> Iterator[RawItem]:
    """Rows under a header row; cells stay strings and empty cells are omitted.

    "row N" counts records as a spreadsheet shows them: the header is row 1. Open the stream
    with newline="" so quoted cells may hold line breaks. Raises MalformedInput for a bad header.
    A line longer than `max_line_bytes` characters is a ParseFailure for its row, skipped unread.
    """
    lines = _BoundedLines(stream, max_line_bytes)
    records = csv.reader(lines, strict=True)
    try:
        header = _next_record(records)
    except _LineTooLong:
        raise MalformedInput("(header)", _too_long(max_line_bytes)) from None
    if header is None:
        return
    _check_columns(header)
    number = 1 + lines.blank
    while True:
        skipped = lines.blank
        try:
            row = next(records)
        except StopIteration:
            return
        except _LineTooLong:
            number += 1 + lines.blank - skipped
            yield ParseFailure(f"row {number}", "(item)", _too_long(max_line_bytes))
            records = csv.reader(lines, strict=True)  # a fresh reader: none of that row is kept
            lines.reset()
            continue
        except csv.Error as error:
            number += 1 + lines.blank - skipped
            yield ParseFailure(f"row {number}", "(item)", f"malformed CSV: {error}")
            lines.reset()
            continue
        # Skipped empty lines are rows as a spreadsheet shows them: they keep their numbers.
        number += 1 + lines.blank - skipped
        # Spreadsheet exports end with rows of empty cells (",,,"); they are blank lines too.
        if any(row):
            yield _event_from_row(header, row, f"row {number}")


def _next_record(records: Iterator[list[str]]) -> list[str] | None:
    try:
        return next(records)
    except StopIteration:
        return None
    except csv.Error as error:
        raise MalformedInput("(header)", f"malformed CSV: {error}") from error


def _event_from_row(header: list[str], row: list[str], location: str) -> RawItem:
    if len(row) != len(header):
        reason = f"expected {len(header)} cells as in the header, got {len(row)}"
        return ParseFailure(location, "(item)", reason)
    undecoded = _UNDECODED.search("".join(row)) is not None
    return _event_from_cells(
        ((column, _csv_cell(cell, undecoded)) for column, cell in zip(header, row, strict=True)),
        location,
    )


def _csv_cell(cell: str, undecoded: bool) -> str | _Unreadable | None:
    if not cell:
        return None
    if undecoded and _UNDECODED.search(cell):
        return _INVALID_UTF8
    return cell


# --- Parquet ------------------------------------------------------------------------------------

_EPOCH = datetime(1970, 1, 1)
_FRACTION_DIGITS = {"s": 0, "ms": 3, "us": 6, "ns": 9}


def read_parquet(
    path: str | Path, batch_rows: int = 65536, *, on_bytes: ByteProgress | None = None
) -> Iterator[RawItem]:
    """Rows of a Parquet file, one record batch in memory at a time.

    Columns are laid out as for CSV but keep their types; timestamps become RFC 3339 UTC strings
    ("Z"; tz-naive is UTC), decimals become decimal strings, nulls are omitted. Locations count
    from 0 as Parquet tools do: "row group 0 row 0" is the first row.
    """
    with _open_parquet(path) as parquet:
        _check_columns(parquet.schema_arrow.names)
        done_bytes = 0
        for group in range(parquet.num_row_groups):
            group_meta = parquet.metadata.row_group(group)
            group_bytes = _compressed_size(group_meta)
            first_row = 0
            for batch in parquet.iter_batches(batch_size=batch_rows, row_groups=[group]):
                yield from _batch_events(batch, group, first_row)
                first_row += batch.num_rows
                if on_bytes is not None:
                    on_bytes(done_bytes + group_bytes * first_row // max(group_meta.num_rows, 1))
            done_bytes += group_bytes
    if on_bytes is not None:
        on_bytes(Path(path).stat().st_size)


def _open_parquet(path: str | Path) -> pq.ParquetFile:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(path)
    except pa.ArrowInvalid as error:
        raise MalformedInput("path", f"not a readable Parquet file: {error}") from error


def _compressed_size(group_meta: pq.RowGroupMetaData) -> int:
    columns = range(group_meta.num_columns)
    return sum(group_meta.column(index).total_compressed_size for index in columns)


def _batch_events(batch: pa.RecordBatch, group: int, first_row: int) -> Iterator[RawItem]:
    names = batch.schema.names
    columns = [_column_values(column) for column in batch.columns]
    for offset, cells in enumerate(zip(*columns, strict=True)):
        location = f"row group {group} row {first_row + offset}"
        yield _event_from_cells(zip(names, cells, strict=True), location)


def _column_values(array: pa.Array[Any]) -> list[Any]:
    """Plain Python values of an Arrow column, with JSON-friendly stand-ins for richer types."""
    import pyarrow as pa

    kind = array.type
    if pa.types.is_timestamp(kind):
        unit = cast(pa.TimestampType, kind).unit
        ticks = array.cast(pa.int64()).to_pylist()
        return [None if tick is None else _rfc3339(tick, unit) for tick in ticks]
    if pa.types.is_struct(kind):
        return _struct_values(cast(pa.StructArray, array))
    if pa.types.is_map(kind):
        maps = array.to_pylist()
        return [None if pairs is None else {k: _plain(v) for k, v in pairs} for pairs in maps]
    return [_plain(value) for value in array.to_pylist()]


def _struct_values(array: pa.StructArray) -> list[dict[str, Any] | _Unreadable | None]:
    names = [field.name for field in array.type]
    children = [_column_values(child) for child in array.flatten()]
    absent = array.is_null().to_pylist()
    return [
        None if absent[row] else _struct_row(names, [values[row] for values in children])
        for row in range(len(array))
    ]


def _struct_row(names: list[str], values: list[Any]) -> dict[str, Any] | _Unreadable | None:
    fields = {name: value for name, value in zip(names, values, strict=True) if value is not None}
    return next((value for value in fields.values() if isinstance(value, _Unreadable)), fields)


def _rfc3339(tick: int, unit: str) -> str | _Unreadable:
    digits = _FRACTION_DIGITS[unit]
    seconds, fraction = divmod(tick, 10**digits)
    try:
        text = (_EPOCH + timedelta(seconds=seconds)).isoformat()
    except OverflowError:
        return _Unreadable("timestamp is outside the years 1 to 9999")
    if fraction:
        text += "." + f"{fraction:0{digits}d}".rstrip("0")
    return text + "Z"


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")  # plain notation: str() writes 0E-10 for a zero of scale 10
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return value


# --- files --------------------------------------------------------------------------------------

_SUFFIXES: dict[str, EventFormat] = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
}
_GZIP_MAGIC = b"\x1f\x8b"


def sniff_format(path: Path) -> EventFormat:
    """The format a file's suffix names; ".gz" after ".jsonl" or ".csv" means gzip-compressed."""
    suffixes = [suffix.lower() for suffix in path.suffixes]
    gzipped = suffixes[-1:] == [".gz"]
    suffix = suffixes[-2 if gzipped else -1] if len(suffixes) > gzipped else ""
    fmt = _SUFFIXES.get(suffix)
    if fmt is None:
        known = ", ".join(_SUFFIXES)
        raise MalformedInput("path", f"unknown events file suffix {path.name!r}; expected {known}")
    if gzipped and fmt == "parquet":
        raise MalformedInput("path", "gzip-compressed Parquet is not supported")
    return fmt


def read_events_file(
    path: Path,
    fmt: str | None = None,
    *,
    on_bytes: ByteProgress | None = None,
    limits: ReadLimits | None = None,
) -> Iterator[RawItem]:
    """Stream the items of an events file; `on_bytes` receives how many of the file's bytes
    (compressed bytes, for .gz) have been read so far, for a progress bar out of its size.

    An unknown format raises MalformedInput here; an unreadable file raises when iterated, and
    a .gz inflating past `limits.max_decompressed_bytes` raises MalformedInput naming the line.
    """
    chosen = sniff_format(path) if fmt is None else _known_format(fmt)
    if chosen == "parquet":
        return read_parquet(path, on_bytes=on_bytes)
    return _read_text_file(path, chosen, on_bytes, limits or ReadLimits())


def _read_text_file(
    path: Path, fmt: EventFormat, on_bytes: ByteProgress | None, limits: ReadLimits
) -> Iterator[RawItem]:
    with open_events(
        path, on_bytes=on_bytes, max_decompressed_bytes=limits.max_decompressed_bytes
    ) as stream:
        if fmt == "jsonl":
            yield from read_jsonl(stream, limits.max_line_bytes)
        else:
            text = io.TextIOWrapper(
                stream, encoding="utf-8-sig", errors="surrogateescape", newline=""
            )
            yield from read_csv(text, limits.max_line_bytes)


def _known_format(fmt: str) -> EventFormat:
    if fmt not in ("jsonl", "csv", "parquet"):
        raise MalformedInput(
            "format", f"unknown events format {fmt!r}; expected jsonl, csv, parquet"
        )
    return cast(EventFormat, fmt)


@contextmanager
def open_events(
    path: Path,
    *,
    on_bytes: ByteProgress | None = None,
    max_decompressed_bytes: int = MAX_DECOMPRESSED_BYTES,
) -> Iterator[BinaryIO]:
    """Open a JSONL or CSV file as bytes, gunzipping it when it starts with the gzip magic; a
    read past `max_decompressed_bytes` of gunzipped bytes raises DecompressedTooLarge."""
    with ExitStack() as stack:
        raw: io.RawIOBase = stack.enter_context(open(path, "rb", buffering=0))
        if on_bytes is not None:
            raw = _ProgressReader(raw, on_bytes)
        buffered = stack.enter_context(io.BufferedReader(raw))
        if buffered.peek(len(_GZIP_MAGIC))[: len(_GZIP_MAGIC)] != _GZIP_MAGIC:
            yield buffered
            return
        unzipped = stack.enter_context(gzip.GzipFile(fileobj=buffered, mode="rb"))
        capped = _CappedReader(unzipped, max_decompressed_bytes)
        yield cast(BinaryIO, stack.enter_context(io.BufferedReader(capped, _BLOCK)))


class _CappedReader(io.RawIOBase):
    """Reads a stream up to `cap` bytes; a read beyond raises DecompressedTooLarge."""

    def __init__(self, inner: gzip.GzipFile, cap: int) -> None:
        super().__init__()
        self._inner = inner
        self._left = cap
        self._cap = cap

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer, /) -> int:
        view = memoryview(buffer).cast("B")
        # One byte past the cap tells a file of exactly `cap` bytes from a larger one.
        count = self._inner.readinto(view[: min(len(view), self._left + 1)])
        if count > self._left:
            raise DecompressedTooLarge(
                "path",
                f"decompresses to more than {self._cap:,} bytes (--max-decompressed-bytes)",
            )
        self._left -= count
        return count


class _ProgressReader(io.RawIOBase):
    """Reports the running count of bytes read from the file beneath it, chunk by chunk."""

    def __init__(self, raw: io.RawIOBase, on_bytes: ByteProgress) -> None:
        super().__init__()
        self._raw = raw
        self._on_bytes = on_bytes
        self._offset = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer, /) -> int | None:
        count = self._raw.readinto(buffer)
        if count:
            self._offset += count
            self._on_bytes(self._offset)
        return count
