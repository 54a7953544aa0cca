"""Tests for metering/formats.py: every reader on small files, round trips, streaming."""

from __future__ import annotations

import csv
import gzip
import io
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from valueproof.metering.errors import MalformedInput
from valueproof.metering.formats import (
    ParseFailure,
    RawItem,
    ReadLimits,
    _BoundedLines,
    _nonblank_lines,
    read_csv,
    read_events_file,
    read_jsonl,
    read_parquet,
    sniff_format,
)

EVENT = {
    "id": "e-1",
    "account": "acme",
    "type": "api_call",
    "timestamp": "2024-05-01T12:30:00Z",
    "properties": {"region": "eu", "tokens": 12},
}


def jsonl(*lines: bytes) -> io.BytesIO:
    return io.BytesIO(b"\n".join(lines) + b"\n")


def csv_text(text: str) -> io.StringIO:
    return io.StringIO(text, newline="")


def write_parquet(path: Path, table: pa.Table, **options: Any) -> Path:
    pq.write_table(table, path, **options)
    return path


# --- JSON Lines ---------------------------------------------------------------------------------


def test_jsonl_reads_objects_and_skips_blank_lines() -> None:
    stream = jsonl(orjson.dumps(EVENT), b"", b"   ", orjson.dumps({"id": "e-2"}))
    assert list(read_jsonl(stream)) == [EVENT, {"id": "e-2"}]


def test_jsonl_malformed_lines_do_not_stop_later_lines() -> None:
    stream = jsonl(b'{"id": "a"}', b"{not json", b"", b"[1, 2]", b'"text"', b'{"id": "b"}')
    items = list(read_jsonl(stream))
    assert items == [
        {"id": "a"},
        ParseFailure(
            "line 2",
            "(item)",
            "malformed JSON: unexpected character, expected a string key at column 2",
        ),
        ParseFailure("line 4", "(item)", "expected a JSON object, got array"),
        ParseFailure("line 5", "(item)", "expected a JSON object, got string"),
        {"id": "b"},
    ]


def test_jsonl_accepts_bom_and_crlf_and_reports_invalid_utf8() -> None:
    stream = io.BytesIO(b'\xef\xbb\xbf{"id": "a"}\r\n{"id": "\xff"}\r\n{"id": "c"}\r\n')
    items = list(read_jsonl(stream))
    assert items[0] == {"id": "a"}
    assert isinstance(items[1], ParseFailure)
    assert items[1].location == "line 2"
    assert items[1].reason.startswith("malformed JSON: ")
    assert items[2] == {"id": "c"}


def test_jsonl_keeps_number_types() -> None:
    stream = jsonl(b'{"value": 1.25, "properties": {"n": 3, "ok": true, "none": null}}')
    assert list(read_jsonl(stream)) == [
        {"value": 1.25, "properties": {"n": 3, "ok": True, "none": None}}
    ]


# --- CSV ----------------------------------------------------------------------------------------


def test_csv_keeps_cells_as_strings_and_omits_empty_cells() -> None:
    text = (
        "id,account,type,timestamp,value,voids,properties.region,properties.tokens\n"
        "e-1,acme,api_call,2024-05-01T12:30:00Z,1.50,,eu,12\n"
        "e-2,acme,api_call,2024-05-01T12:31:00Z,,e-1,,\n"
    )
    assert list(read_csv(csv_text(text))) == [
        {
            "id": "e-1",
            "account": "acme",
            "type": "api_call",
            "timestamp": "2024-05-01T12:30:00Z",
            "value": "1.50",
            "properties": {"region": "eu", "tokens": "12"},
        },
        {
            "id": "e-2",
            "account": "acme",
            "type": "api_call",
            "timestamp": "2024-05-01T12:31:00Z",
            "voids": "e-1",
            "properties": {},
        },
    ]


def test_csv_properties_json_column_merges_with_dotted_columns_which_win() -> None:
    text = 'id,properties,properties.region\ne-1,"{""region"": ""us"", ""n"": 3}",eu\n'
    assert list(read_csv(csv_text(text))) == [{"id": "e-1", "properties": {"region": "eu", "n": 3}}]


def test_csv_empty_dotted_cell_leaves_the_json_property() -> None:
    text = 'id,properties,properties.region\ne-1,"{""region"": ""us""}",\n'
    assert list(read_csv(csv_text(text))) == [{"id": "e-1", "properties": {"region": "us"}}]


def test_csv_bad_rows_are_failures_with_spreadsheet_row_numbers() -> None:
    text = (
        "id,properties\n"  # row 1
        'a,"{""x"": 1}"\n'  # row 2
        "b,{oops\n"  # row 3
        "c,[1]\n"  # row 4
        "d\n"  # row 5
        '"e"x,{}\n'  # row 6
        '"f\nstill f",\n'  # row 7, two lines
        "\n"  # row 8, blank
        ",\n"  # row 9, empty cells: blank too
        "g,\n"  # row 10
    )
    assert list(read_csv(csv_text(text))) == [
        {"id": "a", "properties": {"x": 1}},
        ParseFailure(
            "row 3",
            "properties",
            "malformed JSON: unexpected character, expected a string key at column 2",
        ),
        ParseFailure("row 4", "properties", "expected a JSON object, got array"),
        ParseFailure("row 5", "(item)", "expected 2 cells as in the header, got 1"),
        ParseFailure("row 6", "(item)", "malformed CSV: ',' expected after '\"'"),
        {"id": "f\nstill f", "properties": {}},
        {"id": "g", "properties": {}},
    ]


def test_csv_passes_unknown_columns_through_for_the_validator() -> None:
    assert list(read_csv(csv_text("id,colour\ne-1,red\n"))) == [
        {"id": "e-1", "colour": "red", "properties": {}}
    ]


@pytest.mark.parametrize("header", ["id,id", "id,properties."])
def test_csv_unusable_header_raises(header: str) -> None:
    with pytest.raises(MalformedInput) as raised:
        list(read_csv(csv_text(header + "\na,b\n")))
    assert isinstance(raised.value, ValueError)


def test_csv_empty_file_yields_nothing() -> None:
    assert list(read_csv(csv_text(""))) == []


def test_csv_file_with_bom_and_invalid_utf8_cell(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_bytes(b"\xef\xbb\xbfid,account\r\ne-1,acme\r\ne-2,ac\xffme\r\ne-3,acme\r\n")
    assert list(read_events_file(path)) == [
        {"id": "e-1", "account": "acme", "properties": {}},
        ParseFailure("row 3", "account", "invalid UTF-8"),
        {"id": "e-3", "account": "acme", "properties": {}},
    ]


# --- Parquet ------------------------------------------------------------------------------------


def test_parquet_decimals_are_plain_decimal_text(tmp_path: Path) -> None:
    values = [Decimal("0E-10"), Decimal("12.5000000000"), Decimal("-3.0000000001")]
    path = write_parquet(
        tmp_path / "d.parquet", pa.table({"value": pa.array(values, pa.decimal128(20, 10))})
    )
    assert [item["value"] for item in read_parquet(path)] == [
        "0.0000000000",
        "12.5000000000",
        "-3.0000000001",
    ]


def test_parquet_typed_columns_and_null_cells(tmp_path: Path) -> None:
    table = pa.table(
        {
            "id": ["e-1", "e-2"],
            "account": ["acme", "acme"],
            "type": ["api_call", "api_call"],
            "timestamp": ["2024-05-01T12:30:00Z", "2024-05-01T12:31:00+02:00"],
            "value": pa.array([Decimal("1.50"), None], pa.decimal128(10, 2)),
            "voids": [None, "e-0"],
            "properties.tokens": [12, None],
            "properties.ok": [True, False],
        }
    )
    path = write_parquet(tmp_path / "events.parquet", table)
    assert list(read_parquet(path)) == [
        {
            "id": "e-1",
            "account": "acme",
            "type": "api_call",
            "timestamp": "2024-05-01T12:30:00Z",
            "value": "1.50",
            "properties": {"tokens": 12, "ok": True},
        },
        {
            "id": "e-2",
            "account": "acme",
            "type": "api_call",
            "timestamp": "2024-05-01T12:31:00+02:00",
            "voids": "e-0",
            "properties": {"ok": False},
        },
    ]


@pytest.mark.parametrize(
    ("arrow_type", "ticks", "expected"),
    [
        (pa.timestamp("s"), 1714566600, "2024-05-01T12:30:00Z"),
        (pa.timestamp("ms"), 1714566600500, "2024-05-01T12:30:00.5Z"),
        (pa.timestamp("us", tz="Europe/Paris"), 1714566600000001, "2024-05-01T12:30:00.000001Z"),
        (pa.timestamp("ns"), 1714566600123456789, "2024-05-01T12:30:00.123456789Z"),
        (pa.timestamp("ns", tz="UTC"), -1, "1969-12-31T23:59:59.999999999Z"),
    ],
)
def test_parquet_timestamps_become_rfc3339_utc(
    tmp_path: Path, arrow_type: pa.DataType, ticks: int, expected: str
) -> None:
    table = pa.table({"timestamp": pa.array([ticks, None], pa.int64()).cast(arrow_type)})
    path = write_parquet(tmp_path / "events.parquet", table)
    assert list(read_parquet(path)) == [
        {"timestamp": expected, "properties": {}},
        {"properties": {}},
    ]


def test_parquet_out_of_range_timestamp_is_a_failure(tmp_path: Path) -> None:
    table = pa.table({"timestamp": pa.array([10**15], pa.timestamp("s"))})
    path = write_parquet(tmp_path / "events.parquet", table)
    assert list(read_parquet(path)) == [
        ParseFailure("row group 0 row 0", "timestamp", "timestamp is outside the years 1 to 9999")
    ]


def test_parquet_struct_property_out_of_range_is_a_failure(tmp_path: Path) -> None:
    properties = pa.array([{"at": 10**15}], pa.struct([("at", pa.int64())]))
    properties = properties.cast(pa.struct([("at", pa.timestamp("s"))]))
    path = write_parquet(tmp_path / "events.parquet", pa.table({"properties": properties}))
    assert list(read_parquet(path)) == [
        ParseFailure("row group 0 row 0", "properties", "timestamp is outside the years 1 to 9999")
    ]


def test_parquet_unreadable_file_raises(tmp_path: Path) -> None:
    path = tmp_path / "events.parquet"
    path.write_bytes(b"id,account\n")
    with pytest.raises(MalformedInput, match="not a readable Parquet file"):
        list(read_events_file(path))


def test_parquet_struct_properties_omit_null_fields(tmp_path: Path) -> None:
    aware = datetime(2024, 5, 1, 12, 30, tzinfo=UTC)
    properties = pa.array(
        [{"region": "eu", "n": 1, "at": aware}, {"region": None, "n": 2, "at": None}, None],
        pa.struct([("region", pa.string()), ("n", pa.int64()), ("at", pa.timestamp("us"))]),
    )
    path = write_parquet(
        tmp_path / "events.parquet",
        pa.table({"id": ["a", "b", "c"], "properties": properties}),
    )
    assert list(read_parquet(path)) == [
        {"id": "a", "properties": {"region": "eu", "n": 1, "at": "2024-05-01T12:30:00Z"}},
        {"id": "b", "properties": {"n": 2}},
        {"id": "c", "properties": {}},
    ]


def test_parquet_json_properties_and_locations_across_row_groups(tmp_path: Path) -> None:
    properties = ['{"n": 0}', "{bad", '{"n": 2}', None, "[3]", '{"n": 5}', '{"n": 6}']
    table = pa.table(
        {
            "id": [str(i) for i in range(7)],
            "properties": properties,
            "properties.n": [None, None, 20, None, None, None, 60],
        }
    )
    path = write_parquet(tmp_path / "events.parquet", table, row_group_size=4)
    assert list(read_parquet(path, batch_rows=3)) == [
        {"id": "0", "properties": {"n": 0}},
        ParseFailure(
            "row group 0 row 1",
            "properties",
            "malformed JSON: unexpected character, expected a string key at column 2",
        ),
        {"id": "2", "properties": {"n": 20}},
        {"id": "3", "properties": {}},
        ParseFailure("row group 1 row 0", "properties", "expected a JSON object, got array"),
        {"id": "5", "properties": {"n": 5}},
        {"id": "6", "properties": {"n": 60}},
    ]


def test_parquet_map_properties(tmp_path: Path) -> None:
    properties = pa.array([[("region", "eu")], None], pa.map_(pa.string(), pa.string()))
    path = write_parquet(tmp_path / "events.parquet", pa.table({"properties": properties}))
    assert list(read_parquet(path)) == [{"properties": {"region": "eu"}}, {"properties": {}}]


def test_parquet_duplicate_columns_raise(tmp_path: Path) -> None:
    table = pa.Table.from_arrays([pa.array(["a"]), pa.array(["b"])], names=["id", "id"])
    path = write_parquet(tmp_path / "events.parquet", table)
    with pytest.raises(MalformedInput):
        list(read_parquet(path))


def test_parquet_progress_reaches_the_file_size(tmp_path: Path) -> None:
    table = pa.table({"id": [f"e-{i}" for i in range(1000)], "properties.n": list(range(1000))})
    path = write_parquet(tmp_path / "events.parquet", table, row_group_size=300)
    offsets: list[int] = []
    items = list(read_parquet(path, batch_rows=100, on_bytes=offsets.append))
    assert len(items) == 1000
    assert offsets == sorted(offsets)
    assert len(offsets) > 4
    assert offsets[-1] == path.stat().st_size


# --- files --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("a.jsonl", "jsonl"),
        ("a.ndjson", "jsonl"),
        ("a.json", "jsonl"),
        ("a.JSONL.GZ", "jsonl"),
        ("usage.2024-05.csv", "csv"),
        ("a.csv.gz", "csv"),
        ("a.parquet", "parquet"),
        ("a.pq", "parquet"),
    ],
)
def test_sniff_format_by_suffix(name: str, fmt: str) -> None:
    assert sniff_format(Path(name)) == fmt


@pytest.mark.parametrize("name", ["a.txt", "a", "a.gz", "a.parquet.gz", "a.csv.zip"])
def test_sniff_format_rejects_unknown_suffixes(name: str) -> None:
    with pytest.raises(MalformedInput):
        sniff_format(Path(name))


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path


JSONL_BYTES = orjson.dumps(EVENT) + b"\n{oops\n" + orjson.dumps({**EVENT, "id": "e-2"}) + b"\n"
CSV_BYTES = b"id,account,properties.region\ne-1,acme,eu\ne-2,acme,\n"


@pytest.mark.parametrize("name", ["events.jsonl", "events.jsonl.gz", "events.ndjson"])
def test_read_events_file_jsonl(tmp_path: Path, name: str) -> None:
    path = _write(tmp_path / name, JSONL_BYTES)
    assert list(read_events_file(path)) == [
        EVENT,
        ParseFailure(
            "line 2",
            "(item)",
            "malformed JSON: unexpected character, expected a string key at column 2",
        ),
        {**EVENT, "id": "e-2"},
    ]


@pytest.mark.parametrize("name", ["events.csv", "events.csv.gz"])
def test_read_events_file_csv(tmp_path: Path, name: str) -> None:
    path = _write(tmp_path / name, CSV_BYTES)
    assert list(read_events_file(path)) == [
        {"id": "e-1", "account": "acme", "properties": {"region": "eu"}},
        {"id": "e-2", "account": "acme", "properties": {}},
    ]


def test_read_events_file_parquet(tmp_path: Path) -> None:
    path = write_parquet(tmp_path / "events.pq", pa.table({"id": ["e-1"]}))
    assert list(read_events_file(path)) == [{"id": "e-1", "properties": {}}]


def test_read_events_file_format_override_and_gzip_by_content(tmp_path: Path) -> None:
    path = tmp_path / "export.txt"
    path.write_bytes(gzip.compress(CSV_BYTES))
    assert len(list(read_events_file(path, "csv"))) == 2
    with pytest.raises(MalformedInput):
        read_events_file(path, "xml")  # at the call, before any iteration


@pytest.mark.parametrize("name", ["events.jsonl", "events.jsonl.gz", "events.csv.gz"])
def test_read_events_file_reports_bytes_read(tmp_path: Path, name: str) -> None:
    data = b"".join(orjson.dumps({**EVENT, "id": f"e-{i}"}) + b"\n" for i in range(20_000))
    if "csv" in name:
        data = CSV_BYTES + b"".join(b"e-%d,acme,us\n" % i for i in range(20_000))
    path = _write(tmp_path / name, data)
    offsets: list[int] = []
    assert sum(1 for _ in read_events_file(path, on_bytes=offsets.append)) >= 20_000
    assert len(offsets) > 2
    assert offsets == sorted(offsets)
    assert offsets[-1] == path.stat().st_size


# --- round trips --------------------------------------------------------------------------------

# Characters that trouble CSV and line splitting (quotes, separators, CR, NUL, U+2028); a fixed
# alphabet also spares Hypothesis building its Unicode tables, which is slow on a first run.
_ALPHABET = "az09 ,;\"'\n\r\t\x00\\{}[]:.é€\u2028\x85\x1c😀"
_text = st.text(_ALPHABET, max_size=12)
_name = st.text(_ALPHABET, min_size=1, max_size=12)
_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    _text,
)
_timestamp = st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
).map(lambda moment: moment.isoformat().replace("+00:00", "Z"))


@st.composite
def wire_events(draw: st.DrawFn) -> dict[str, Any]:
    event: dict[str, Any] = {
        "id": draw(_name),
        "account": draw(_name),
        "type": draw(_name),
        "timestamp": draw(_timestamp),
        "properties": draw(st.dictionaries(_name, _scalar, max_size=4)),
    }
    optional = {
        "value": st.one_of(st.integers(0, 10**9), st.decimals(0, 10**6, places=3).map(str)),
        "voids": _name,
        "amends": _name,
    }
    for key, strategy in optional.items():
        if draw(st.booleans()):
            event[key] = draw(strategy)
    return event


@settings(max_examples=60)
@given(st.lists(wire_events(), max_size=8))
def test_jsonl_round_trip(events: list[dict[str, Any]]) -> None:
    stream = io.BytesIO(b"".join(orjson.dumps(event) + b"\n" for event in events))
    assert list(read_jsonl(stream)) == events


def _to_csv(events: list[dict[str, Any]]) -> str:
    top = ["id", "account", "type", "timestamp", "value", "voids", "amends"]
    names = sorted({name for event in events for name in event["properties"]})
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(top + [f"properties.{name}" for name in names])
    for event in events:
        properties = event["properties"]
        cells = [event.get(key) for key in top] + [properties.get(name) for name in names]
        writer.writerow(["" if cell is None else str(cell) for cell in cells])
    return buffer.getvalue()


def _as_csv_strings(event: dict[str, Any]) -> dict[str, Any]:
    """What CSV keeps of an event: every cell as str(), empty and null cells left out."""

    def kept(items: dict[str, Any]) -> dict[str, str]:
        return {k: str(v) for k, v in items.items() if v is not None and str(v) != ""}

    return kept({k: v for k, v in event.items() if k != "properties"}) | {
        "properties": kept(event["properties"])
    }


@settings(max_examples=60)
@given(st.lists(wire_events(), min_size=1, max_size=8))
def test_csv_round_trip_gives_strings_of_the_originals(events: list[dict[str, Any]]) -> None:
    items = list(read_csv(io.StringIO(_to_csv(events), newline="")))
    assert items == [_as_csv_strings(event) for event in events]


# --- streaming ----------------------------------------------------------------------------------


def _consume(items: Any, check: Callable[[RawItem], bool]) -> int:
    return sum(1 for item in items if check(item))


def test_jsonl_file_streams_in_bounded_memory(tmp_path: Path) -> None:
    lines = 200_000
    path = tmp_path / "big.jsonl"
    template = orjson.dumps(EVENT).replace(b'"e-1"', b'"e-%d"') + b"\n"
    with path.open("wb") as file:
        for start in range(0, lines, 10_000):
            file.write(b"".join(template % i for i in range(start, start + 10_000)))
    assert path.stat().st_size > 20_000_000
    tracemalloc.start()
    try:
        events = _consume(read_events_file(path), lambda item: isinstance(item, dict))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert events == lines
    assert peak < 2_000_000


# --- limits: line length, decompressed size, strict JSON ----------------------------------------


def test_jsonl_refuses_duplicate_keys_and_keeps_big_integers_exact() -> None:
    stream = jsonl(
        b'{"id": "a", "id": "b"}', b'{"id": "c", "properties": {"n": 18446744073709551616}}'
    )
    items = list(read_jsonl(stream))
    assert items[0] == ParseFailure("line 1", "(item)", "duplicate key 'id'")
    assert items[1] == {"id": "c", "properties": {"n": 2**64}}


def test_a_line_over_the_limit_is_a_failure_and_later_lines_are_read() -> None:
    long = b'{"id": "' + b"x" * 5000 + b'"}'
    stream = jsonl(b'{"id": "a"}', long, b"", b'{"id": "b"}', long + b"   ")
    items = list(read_jsonl(stream, max_line_bytes=1000))
    reason = "the line is longer than 1,000 bytes (--max-line-bytes)"
    assert items == [
        {"id": "a"},
        ParseFailure("line 2", "(item)", reason),
        {"id": "b"},
        ParseFailure("line 5", "(item)", reason),
    ]


def test_csv_rows_over_the_limit_are_failures_and_later_rows_are_read() -> None:
    text = 'id,account\ne-1,acme\ne-2,"' + "x" * 5000 + '"\ne-3,acme\n'
    items = list(read_csv(csv_text(text), max_line_bytes=1000))
    assert items == [
        {"id": "e-1", "account": "acme", "properties": {}},
        ParseFailure("row 3", "(item)", "the line is longer than 1,000 bytes (--max-line-bytes)"),
        {"id": "e-3", "account": "acme", "properties": {}},
    ]


def test_a_huge_gzipped_line_is_read_in_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "long.jsonl.gz"
    with gzip.open(path, "wb") as file:
        file.write(b'{"id": "' + b"x" * (64 << 20) + b'"}\n{"id": "after"}\n')
    tracemalloc.start()
    try:
        items = list(read_events_file(path))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [getattr(item, "location", item) for item in items] == ["line 1", {"id": "after"}]
    assert peak < 8 << 20  # the limit (1 MiB) and a block or two, not the 64 MiB line


def test_a_gzip_inflating_past_the_cap_stops_naming_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bomb.jsonl.gz"
    path.write_bytes(gzip.compress(b'{"id": "a"}\n' + b"\n" * (4 << 20) + b'{"id": "b"}\n'))
    limits = ReadLimits(max_decompressed_bytes=1 << 20)
    items = read_events_file(path, limits=limits)
    assert next(items) == {"id": "a"}
    with pytest.raises(MalformedInput, match=r"more than 1,048,576 bytes.*reached at line \d+"):
        next(items)
    exact = tmp_path / "exact.jsonl.gz"
    exact.write_bytes(gzip.compress(b'{"id": "a"}\n'))
    assert list(read_events_file(exact, limits=ReadLimits(max_decompressed_bytes=12))) == [
        {"id": "a"}
    ]


_LINE = st.one_of(
    st.just(b""),
    st.sampled_from([b" ", b"\t", b"\r", b"  \r"]),
    st.binary(min_size=1, max_size=30).map(lambda raw: raw.replace(b"\n", b"x")),
)


@given(st.lists(_LINE, max_size=30), st.integers(1, 40), st.integers(1, 17))
def test_nonblank_lines_agree_with_splitting_line_by_line(
    lines: list[bytes], limit: int, block: int
) -> None:
    data = b"\n".join(lines)
    stripped = [line.lstrip(b" \t\r\f\v") for line in data.split(b"\n")]
    expected = [
        (number, line if len(line) <= limit else None)
        for number, line in enumerate(stripped, start=1)
        if line.strip(b" \t\r\f\v")
    ]
    assert list(_nonblank_lines(io.BytesIO(data), limit, block)) == expected


_CSV_ROWS = st.lists(st.lists(st.text(_ALPHABET, max_size=6), min_size=1, max_size=3), max_size=8)


@given(
    _CSV_ROWS, st.lists(st.sampled_from(["\n", "\r\n", "\r", ""]), max_size=8), st.integers(1, 9)
)
def test_csv_lines_read_in_blocks_give_the_records_of_a_plain_reader(
    rows: list[list[str]], blanks: list[str], block: int
) -> None:
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    for index, row in enumerate(rows):
        writer.writerow(row)
        out.write(blanks[index] if index < len(blanks) else "")
    text = out.getvalue()
    expected = [row for row in csv.reader(io.StringIO(text, newline=""), strict=True) if any(row)]
    lines = _BoundedLines(io.StringIO(text, newline=""), 10_000, block)
    assert [row for row in csv.reader(lines, strict=True) if any(row)] == expected


def test_csv_blank_lines_are_skipped_in_bulk_and_keep_row_numbers() -> None:
    text = "id,account\r\n" + "\r\n" * 100_000 + "e-1\r\n\n\n" + "e-2,acme\n"
    items = list(read_csv(csv_text(text)))
    assert items == [
        ParseFailure("row 100002", "(item)", "expected 2 cells as in the header, got 1"),
        {"id": "e-2", "account": "acme", "properties": {}},
    ]
    quoted = 'id,note\ne-1,"two\n\n\nlines"\n'
    assert list(read_csv(csv_text(quoted))) == [
        {"id": "e-1", "note": "two\n\n\nlines", "properties": {}}
    ]
