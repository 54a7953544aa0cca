"""`GET /v1/exports/{kind}`: streamed in each format with its content type, admin keys only, and
bad input refused before a byte of the export is sent."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import httpx
import orjson
import pyarrow.parquet as pq
import pytest
from sqlalchemy import Engine
from tests.billing.conftest import Billing, utc
from tests.contracts.conftest import call, priced_tenant

from valueproof.ledger.keyring import Keyring
from valueproof.ledger.publish import CheckpointPolicy
from valueproof.store import write
from valueproof.tenancy.keys import Scope, create_api_key
from valueproof.tenancy.tenants import Tenant

YEAR = {"from": "2026-01-01T00:00:00Z", "to": "2027-01-01T00:00:00Z"}


@pytest.fixture
def billed(engine: Engine, tenant: Tenant, keyring: Keyring, signing_key: object) -> Billing:
    """The test tenant with November's usage, its year closed into eleven invoices."""
    billing = Billing(priced_tenant(engine, tenant), CheckpointPolicy(keyring))
    billing.contract()
    billing.priced.ingest([call(n) for n in range(10)])
    billing.close(utc(2026, 12, 10))
    return billing


def numbers(billing: Billing) -> list[str | None]:
    return [i.number for i in sorted(billing.invoices(), key=lambda i: i.period_end_us)]


def test_invoices_stream_as_csv_jsonl_and_parquet(http: httpx.Client, billed: Billing) -> None:
    with http.stream("GET", "/v1/exports/invoices", params=YEAR) as answer:
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "text/csv; charset=utf-8"
        assert answer.headers.get("transfer-encoding") == "chunked"  # streamed, no length
        assert (
            "invoices-20260101T000000Z-20270101T000000Z.csv"
            in answer.headers["content-disposition"]
        )
        body = b"".join(answer.iter_bytes())
    rows = list(csv.DictReader(io.StringIO(body.decode())))
    assert [row["number"] for row in rows] == numbers(billed)
    assert rows[-1]["total"] == "100.02"

    jsonl = http.get("/v1/exports/lines", params={**YEAR, "format": "jsonl"})
    assert jsonl.headers["content-type"] == "application/x-ndjson"
    lines = [orjson.loads(line) for line in jsonl.content.splitlines()]
    assert len(lines) == 22 and lines[-1]["amount"] == "0.02"

    parquet = http.get("/v1/exports/invoices", params={**YEAR, "format": "parquet"})
    assert parquet.headers["content-type"] == "application/vnd.apache.parquet"
    table = pq.read_table(io.BytesIO(parquet.content))
    assert table.column("number").to_pylist() == numbers(billed)
    assert table.column("total").to_pylist()[-1] == Decimal("100.02")


def test_usage_by_the_hour(http: httpx.Client, billed: Billing) -> None:
    params = {"from": "2026-11-03", "to": "2026-11-04", "format": "jsonl", "granularity": "hour"}
    answer = http.get("/v1/exports/usage", params=params)
    assert answer.status_code == 200, answer.text
    rows = [orjson.loads(line) for line in answer.content.splitlines()]
    assert len(rows) == 10  # one call an hour, 00:00 to 09:00
    assert {(r["meter"], r["account"], r["group"], r["value"]) for r in rows} == {
        ("calls", "acme", '{"region":"eu"}', "1")
    }


def test_only_admin_keys_export(
    http: httpx.Client, engine: Engine, tenant: Tenant, server: str
) -> None:
    with write(engine) as connection:
        reader = create_api_key(connection, tenant.id, frozenset({Scope.READ})).token
    answer = httpx.get(
        f"{server}/v1/exports/invoices",
        params=YEAR,
        headers={"Authorization": f"Bearer {reader}"},
    )
    assert answer.status_code == 403
    assert httpx.get(f"{server}/v1/exports/invoices", params=YEAR).status_code == 401


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("invoices", {"from": "2027-01-01", "to": "2026-01-01"}, "to"),
        ("invoices", {"from": "2026-02-30", "to": "2027-01-01"}, "from"),
        ("invoices", {**YEAR, "format": "xlsx"}, "query.format"),
        ("receipts", YEAR, "path.kind"),
        ("usage", {**YEAR, "granularity": "week"}, "query.granularity"),
    ],
)
def test_bad_input_is_a_422_naming_the_field(
    http: httpx.Client, tenant: Tenant, path: str, params: dict[str, str], field: str
) -> None:
    answer = http.get(f"/v1/exports/{path}", params=params)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert [error["field"] for error in answer.json()["errors"]] == [field]
