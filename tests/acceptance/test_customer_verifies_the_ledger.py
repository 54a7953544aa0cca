"""A customer checks the vendor's ledger with `valueproof verify` and the vendor's vkey alone.

The vendor serves its API over real HTTP; the customer's side runs the CLI with no database.
Between the customer's runs the vendor appends honestly, then rolls its log back: the
customer's saved checkpoint exposes the rollback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import Engine, delete
from typer.testing import CliRunner, Result

from valueproof.cli.main import app
from valueproof.ledger import log
from valueproof.ledger.keyring import StoredKey
from valueproof.ledger.tables import ledger_bundles, ledger_checkpoints, ledger_logs, ledger_tiles
from valueproof.metering.events_source import UsageEventSource
from valueproof.metering.tables import events
from valueproof.store import tenant_lock, write
from valueproof.tenancy.tenants import Tenant


def customer(*args: str) -> Result:
    """`valueproof verify ...` as the customer runs it: no database, no server code."""
    result = CliRunner().invoke(app, ["verify", *args])
    assert "Traceback" not in result.output
    return result


def usage(numbers: range) -> dict[str, Any]:
    return {
        "events": [
            {
                "id": f"u{n}",
                "account": "globex",
                "type": "message.sent",
                "timestamp": "2026-11-20T08:00:00Z",
                "properties": {"channel": "sms"},
                "value": n % 7,
            }
            for n in numbers
        ]
    }


@pytest.fixture
def vendor(http: httpx.Client, signing_key: StoredKey) -> httpx.Client:
    event_type = {"key": "message.sent", "properties": {"channel": {"type": "string"}}}
    assert http.put("/v1/event-types/message.sent", json=event_type).status_code == 201
    account = {"external_id": "globex", "name": "Globex"}
    assert http.post("/v1/accounts", json=account).status_code == 201
    return http


def test_a_customer_verifies_appends_and_catches_a_rollback(
    vendor: httpx.Client,
    server: str,
    admin_key: str,
    tenant: Tenant,
    engine: Engine,
    tmp_path: Path,
) -> None:
    vkey = vendor.get("/v1/ledger/keys").json()["keys"][0]["vkey"]
    url, state = f"{server}/tlog/{tenant.slug}", tmp_path / "state.note"
    check_log = ("log", "--vkey", vkey, "--url", url, "--state", str(state), "--api-key", admin_key)

    assert vendor.post("/v1/events", json=usage(range(300))).status_code == 200
    first = customer(*check_log)
    assert first.exit_code == 0, first.output
    assert "300" in state.read_text()

    assert vendor.post("/v1/events", json=usage(range(300, 420))).status_code == 200
    second = customer(*check_log, "--json")
    assert second.exit_code == 0, second.output
    assert orjson.loads(second.stdout)["size"] == 420

    # One charge's basis: event u7 is in the log the vendor signed.
    proof, entry = tmp_path / "proof.json", tmp_path / "entry.json"
    proof.write_bytes(vendor.get("/v1/ledger/proofs/inclusion?event_id=u7").content)
    entry.write_bytes(vendor.get("/v1/ledger/entries/7").content)
    included = customer("inclusion", "--vkey", vkey, "--proof", str(proof), "--entry", str(entry))
    assert included.exit_code == 0, included.output

    _roll_back(engine, tenant, 300)
    caught = customer(*check_log)
    assert caught.exit_code == 1
    assert "rolled back" in caught.output
    assert "420" in state.read_text()  # the state keeps what the customer saw before


def _roll_back(engine: Engine, tenant: Tenant, size: int) -> None:
    """The vendor drops everything after leaf `size` and rebuilds its log and checkpoints."""
    with write(engine) as connection:
        tenant_lock(connection, tenant.id)
        connection.execute(
            delete(events).where(events.c.tenant_id == tenant.id, events.c.leaf_index >= size)
        )
        connection.execute(
            delete(ledger_checkpoints).where(
                ledger_checkpoints.c.tenant_id == tenant.id, ledger_checkpoints.c.size > size
            )
        )
        for table in (ledger_tiles, ledger_bundles, ledger_logs):
            connection.execute(delete(table).where(table.c.tenant_id == tenant.id))
        leaves = [record.leaf for record in UsageEventSource().records(connection, tenant.id)]
        log.append(connection, tenant.id, leaves, 1)
