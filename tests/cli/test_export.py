"""Tests for cli/export.py: each kind to a file or stdout; bad input refused, nothing written."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from pathlib import Path

import orjson
import pyarrow.parquet as pq
import pytest
from sqlalchemy import Engine
from tests.billing.conftest import Billing, utc
from tests.contracts.conftest import call, priced_tenant

from valueproof.billing.exports import COLUMNS, Kind
from valueproof.ledger.keyring import Keyring
from valueproof.ledger.publish import CheckpointPolicy
from valueproof.tenancy.tenants import Tenant

from .conftest import Cli

YEAR = ("--from", "2026-01-01", "--to", "2027-01-01")


@pytest.fixture
def billed(engine: Engine, tenant: Tenant, keyring: Keyring, signing_key: object) -> Billing:
    """The CLI's tenant with November's usage, its year closed into eleven invoices."""
    billing = Billing(priced_tenant(engine, tenant), CheckpointPolicy(keyring))
    billing.contract()
    billing.priced.ingest([call(n) for n in range(10)])
    billing.close(utc(2026, 12, 10))
    return billing


def numbers(billing: Billing) -> list[str | None]:
    return [i.number for i in sorted(billing.invoices(), key=lambda i: i.period_end_us)]


@pytest.mark.parametrize("kind", list(Kind))
def test_every_kind_goes_to_a_parquet_file(
    cli: Cli, billed: Billing, kind: Kind, tmp_path: Path
) -> None:
    target = tmp_path / f"{kind.value}.parquet"
    result = cli("export", kind.value, *YEAR, "--format", "parquet", "-o", str(target))
    assert result.exit_code == 0, result.output
    table = pq.read_table(target)
    assert table.column_names == [column.name for column in COLUMNS[kind]]
    assert f"exported {table.num_rows} rows of {kind.value} to {target}" in result.stderr
    if kind is Kind.INVOICES:
        assert table.column("number").to_pylist() == numbers(billed)
        assert table.column("total").to_pylist()[-1] == Decimal("100.02")


def test_csv_and_jsonl_go_to_stdout(cli: Cli, billed: Billing) -> None:
    result = cli("export", "invoices", *YEAR)  # csv by default
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout_bytes.decode())))
    assert [row["number"] for row in rows] == numbers(billed)
    assert rows[-1]["total"] == "100.02"
    lines = cli("export", "lines", *YEAR, "--format", "jsonl")
    assert lines.exit_code == 0, lines.output
    found = [orjson.loads(line) for line in lines.stdout_bytes.splitlines()]
    assert [(r["component"], r["amount"]) for r in found[-2:]] == [
        ("platform", "100.00"),
        ("api", "0.02"),
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["invoices", *YEAR, "--format", "parquet"], "error: --output: parquet is binary"),
        (["invoices", "--from", "2027-01-01", "--to", "2026-01-01"], "error: to: '2026-01-01'"),
        (["invoices", "--from", "2026-13-01", "--to", "2027-01-01"], "error: from: not a date"),
        (["invoices", "--from", "soon", "--to", "2027-01-01"], "error: from: "),
        (["invoices", *YEAR, "--format", "xlsx"], "Invalid value for '--format'"),
        (["receipts", *YEAR], "Invalid value for 'KIND'"),
    ],
)
def test_bad_input_exits_2_naming_the_field_and_writes_nothing(
    cli: Cli, tenant: Tenant, args: list[str], message: str, tmp_path: Path
) -> None:
    target = tmp_path / "out.file"
    with_output = args if "parquet" in args else [*args, "-o", str(target)]
    result = cli("export", *with_output)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert result.stdout_bytes == b""
    assert list(tmp_path.iterdir()) == []


def test_an_export_that_fails_half_way_leaves_the_old_file(
    cli: Cli, engine: Engine, tenant: Tenant, keyring: Keyring, signing_key: object, tmp_path: Path
) -> None:
    billing = Billing(priced_tenant(engine, tenant), CheckpointPolicy(keyring))
    tiny = "0.0000000000000000001"  # 19 decimals: more than parquet's decimal128(38, 18) holds
    billing.contract(
        components=[{"id": "api", "type": "per_unit", "meter": "calls", "unit_price": tiny}]
    )
    billing.close(utc(2026, 12, 10))
    target = tmp_path / "lines.parquet"
    target.write_bytes(b"yesterday's export")
    result = cli("export", "lines", *YEAR, "--format", "parquet", "-o", str(target))
    assert result.exit_code == 2, result.output
    assert "error: format: column unit_price" in result.stderr
    assert target.read_bytes() == b"yesterday's export"
    assert [path.name for path in tmp_path.iterdir()] == ["lines.parquet"]
    as_text = cli("export", "lines", *YEAR, "--format", "csv")
    assert as_text.exit_code == 0
    assert tiny in as_text.stdout_bytes.decode()  # csv holds it exactly
