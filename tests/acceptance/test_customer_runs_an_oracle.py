"""A customer runs the oracle its gain-share contract reads, and the vendor bills from it.

The vendor serves its API over real HTTP, applies a gain-share contract on net retention and
registers the customer's data source. The customer makes the source's key with the CLI, signs a
baseline reading (100 at the term start) and a current one (108) offline, and submits them over
HTTP. The preview then bills 5 % of the 8-point gain and names the readings' leaves; a replay
changes nothing, and the audit finds every leaf matching its record.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import orjson
import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner, Result

from valueproof.cli.main import app
from valueproof.ledger.keyring import StoredKey
from valueproof.periods import format_rfc3339
from valueproof.store import write
from valueproof.tenancy.keys import Scope, create_api_key
from valueproof.tenancy.tenants import Tenant

TERM_START = (datetime.now(UTC) - timedelta(days=100)).replace(
    hour=0, minute=0, second=0, microsecond=0
)
VALUE_PER_POINT = Decimal("10000.00")

CONTRACT = f"""\
contract: acme-outcomes
account: acme
currency: USD
term:
  start: {TERM_START.date().isoformat()}
billing:
  period: monthly
components:
  - id: retention
    type: gain_share
    metric: nrr
    baseline: {{as_of: "{format_rfc3339(TERM_START)}"}}
    value_per_unit: "{VALUE_PER_POINT}"
    improvement: points
    direction: higher_is_better
    mode: whole
    tiers:
      - {{threshold: 5, percent: 5}}
      - {{threshold: 10, percent: 10}}
pending:
  metrics: [nrr]  # its rule is registered with the customer's source, after the contract
"""


def customer(*args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> Result:
    """The customer's CLI: no database of its own, only the key file and the vendor's URL."""
    result = CliRunner().invoke(app, list(args), env=env, input=stdin)
    assert "Traceback" not in result.output, result.output
    return result


@pytest.fixture
def vendor(http: httpx.Client, signing_key: StoredKey) -> httpx.Client:
    """The vendor with the account acme on a gain-share contract over `nrr`."""
    assert http.post("/v1/accounts", json={"external_id": "acme", "name": "Acme"}).is_success
    applied = http.post(
        "/v1/contracts", content=CONTRACT, headers={"Content-Type": "application/yaml"}
    )
    assert applied.status_code == 201, applied.text
    [warning] = applied.json()["warnings"]
    assert warning["field"] == "pending.metrics[0]"
    assert "no oracle metric 'nrr' is registered yet" in warning["reason"]
    return http


@pytest.fixture
def ingest_key(engine: Engine, tenant: Tenant) -> str:
    """The API key the vendor hands the customer's source: it may submit readings, no more."""
    with write(engine) as connection:
        return create_api_key(connection, tenant.id, frozenset({Scope.INGEST})).token


def test_a_customer_signs_kpi_readings_and_the_vendor_bills_the_gain_share(
    vendor: httpx.Client,
    server: str,
    ingest_key: str,
    engine: Engine,
    tenant: Tenant,
    tmp_path: Path,
) -> None:
    key_file = tmp_path / "acme-bi.pem"
    made = customer("oracle", "keygen", "--out", str(key_file))
    assert made.exit_code == 0, made.output
    public_key = made.stdout.strip()

    source = {
        "key": "acme-bi",
        "name": "Acme's BI",
        "public_key": public_key,
        "metrics": ["nrr"],
        "max_age_seconds": 400 * 86_400,  # the baseline is read once, at the term start
    }
    assert vendor.put("/v1/oracles/sources/acme-bi", json=source).status_code == 201
    rule = {"key": "nrr", "rule": "single", "sources": ["acme-bi"]}
    assert vendor.put("/v1/oracles/metrics/nrr", json=rule).status_code == 201

    def sign(value: str, as_of: datetime, nonce: str) -> str:
        signed = customer(
            "oracle",
            "sign",
            "--key",
            str(key_file),
            "--source",
            "acme-bi",
            "--metric",
            "nrr",
            "--value",
            value,
            "--as-of",
            format_rfc3339(as_of),
            "--nonce",
            nonce,
        )
        assert signed.exit_code == 0, signed.output
        return signed.stdout

    now = datetime.now(UTC).replace(microsecond=0)
    readings = sign("100", TERM_START, "baseline-0001") + sign(
        "108", now - timedelta(minutes=1), "current-0001"
    )
    batch = tmp_path / "readings.jsonl"
    batch.write_text(readings)
    env = {"ACME_VALUEPROOF_KEY": ingest_key}
    submit = (
        "oracle",
        "submit",
        str(batch),
        "--url",
        server,
        "--api-key-env",
        "ACME_VALUEPROOF_KEY",
    )
    sent = customer(*submit, "--json", env=env)
    assert sent.exit_code == 0, sent.output
    answer = orjson.loads(sent.stdout)
    assert [r["status"] for r in answer["results"]] == ["accepted", "accepted"]
    baseline_leaf, current_leaf = (r["leaf_index"] for r in answer["results"])

    preview = vendor.get("/v1/accounts/acme/preview").json()["period_to_date"]
    assert preview["warnings"] == []  # the rule exists now: nothing bills 0 for want of it
    (line,) = [ln for ln in preview["lines"] if ln["component"] == "retention"]
    assert line["kind"] == "gain_share"
    assert Decimal(line["quantity"]) == 8
    assert Decimal(line["amount"]) == Decimal("0.05") * 8 * VALUE_PER_POINT == Decimal("4000")
    assert Decimal(line["detail"]["baseline"]) == 100
    assert Decimal(line["detail"]["measured"]) == 108
    named = [leaf for s in line["sources"] for r in s["leaves"] for leaf in range(r[0], r[1] + 1)]
    assert sorted(named) == [baseline_leaf, current_leaf]
    assert all(s["kind"] == "reading" and s["key"] == "nrr" for s in line["sources"])

    # A replay is recognised; a reused nonce for another value is refused; nothing changes.
    replayed = customer(*submit, env=env)
    assert replayed.exit_code == 0, replayed.output
    assert "accepted 0, duplicate 2" in replayed.stdout
    forged = tmp_path / "forged.json"
    forged.write_text(sign("125", now - timedelta(seconds=30), "current-0001"))
    refused = customer(
        "oracle",
        "submit",
        str(forged),
        "--url",
        server,
        "--api-key-env",
        "ACME_VALUEPROOF_KEY",
        env=env,
    )
    assert refused.exit_code == 1
    assert "conflict 1" in refused.stdout
    again = vendor.get("/v1/accounts/acme/preview").json()["period_to_date"]
    assert [ln["amount"] for ln in again["lines"]] == [ln["amount"] for ln in preview["lines"]]

    audit = CliRunner().invoke(
        app,
        [
            "--database-url",
            engine.url.render_as_string(hide_password=False),
            "ledger",
            "audit",
            "--tenant",
            tenant.slug,
        ],
    )
    assert audit.exit_code == 0, audit.output
    assert audit.stdout.startswith("ok:")
