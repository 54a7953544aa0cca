"""Account files for `accounts import`: read and check every row (`tenancy.writes` applies them).

CSV has a header row with `external_id`, `name` and one column per attribute (cells stay text;
empty cells are left out). JSONL has one account object per line, as the HTTP API takes it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from valueproof.errors import InvalidInput
from valueproof.metering.definitions import parse_document
from valueproof.metering.formats import open_events, sniff_format
from valueproof.tenancy.accounts import AccountCreate

_NAMED_COLUMNS = ("external_id", "name")
_BOM = b"\xef\xbb\xbf"


def read_accounts_file(path: Path) -> list[AccountCreate]:
    """Every account of the file, checked; the first problem raises InvalidInput naming its row."""
    fmt = sniff_format(path)
    if fmt == "parquet":
        raise InvalidInput("path", "accounts are imported from CSV or JSONL files")
    wanted: list[AccountCreate] = []
    seen: dict[str, str] = {}
    with open_events(path) as stream:
        rows = list(_jsonl_rows(stream) if fmt == "jsonl" else _csv_rows(stream))
    for location, row in rows:
        account = parse_document(AccountCreate, row, f"{location}: ")
        if account.external_id in seen:
            first = seen[account.external_id]
            raise InvalidInput(f"{location}: external_id", f"repeats the account of {first}")
        seen[account.external_id] = location
        wanted.append(account)
    return wanted


def _jsonl_rows(stream: BinaryIO) -> Iterator[tuple[str, Any]]:
    """(location, object) for each non-blank line; lines count from 1."""
    for number, line in enumerate(stream, start=1):
        if number == 1:
            line = line.removeprefix(_BOM)
        if not line.strip():
            continue
        try:
            yield f"line {number}", orjson.loads(line)
        except orjson.JSONDecodeError as error:
            raise InvalidInput(f"line {number}", f"malformed JSON: {error.msg}") from None


def _csv_rows(stream: BinaryIO) -> Iterator[tuple[str, dict[str, Any]]]:
    """(location, account object) for each row under the header; the header is row 1."""
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    records = csv.reader(text, strict=True)
    try:
        header = next(records, None)
        if header is None:
            return
        _check_header(header)
        for number, cells in enumerate(records, start=2):
            if any(cells):
                yield f"row {number}", _csv_account(header, cells, f"row {number}")
    except csv.Error as error:
        raise InvalidInput(f"row {records.line_num}", f"malformed CSV: {error}") from None
    except UnicodeDecodeError as error:
        raise InvalidInput("path", f"not UTF-8 text: {error.reason}") from None
    finally:
        # Leave the byte stream to its owner: closing the wrapper would close it too early.
        text.detach()


def _check_header(header: list[str]) -> None:
    missing = [name for name in _NAMED_COLUMNS if name not in header]
    if missing:
        raise InvalidInput("(header)", f"missing column {missing[0]!r}")
    if len(set(header)) != len(header):
        raise InvalidInput("(header)", "a column appears more than once")


def _csv_account(header: list[str], cells: list[str], location: str) -> dict[str, Any]:
    if len(cells) != len(header):
        reason = f"expected {len(header)} cells as in the header, got {len(cells)}"
        raise InvalidInput(location, reason)
    row = dict(zip(header, cells, strict=True))
    attributes = {key: value for key, value in row.items() if key not in _NAMED_COLUMNS and value}
    return {"external_id": row["external_id"], "name": row["name"], "attributes": attributes}
