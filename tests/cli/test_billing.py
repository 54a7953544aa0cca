"""`valueproof billing`: close from cron, list, credit notes with exit codes, and a clean audit."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine
from tests.billing.conftest import Billing, cn, inv
from tests.cli.conftest import Cli, database_url_of
from tests.conftest import LEDGER_PASSPHRASE
from tests.contracts.conftest import call, priced_tenant

from valueproof.ledger.keyring import Keyring
from valueproof.ledger.publish import CheckpointPolicy
from valueproof.tenancy.tenants import Tenant


@pytest.fixture
def billed_cli(engine: Engine, tenant: Tenant, keyring: Keyring, signing_key: object) -> Cli:
    billing = Billing(priced_tenant(engine, tenant), CheckpointPolicy(keyring))
    billing.contract(term={"start": "2026-10-01", "end": "2027-01-01"})
    billing.priced.ingest([call(n) for n in range(30)])
    return Cli(database_url_of(engine), tenant.slug)


def test_close_list_credit_and_audit(
    billed_cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VALUEPROOF_LEDGER_PASSPHRASE", LEDGER_PASSPHRASE)
    closed = billed_cli.json("billing", "close", "--as-of", "2026-12-05T00:00:00Z")
    assert closed["finalized"] == [inv(1), inv(2)]
    again = billed_cli("billing", "close", "--as-of", "2026-12-05T00:00:00Z")
    assert again.exit_code == 0 and "0 periods closed" in again.output
    listed = billed_cli.json("billing", "list", "--status", "finalized")["invoices"]
    assert {i["number"] for i in listed} == {inv(1), inv(2)}
    too_much = billed_cli("billing", "credit", inv(2), "--reason", "x", "--line", "1:5")
    assert too_much.exit_code == 2 and "lines[0].amount" in too_much.output
    bad = billed_cli("billing", "credit", inv(2), "--reason", "x", "--line", "one")
    assert bad.exit_code == 2 and "--line[0]" in bad.output
    note = billed_cli("billing", "credit", inv(2), "--reason", "outage", "--line", "0:20")
    assert note.exit_code == 0 and cn(1) in note.output
    paid = billed_cli("billing", "mark", inv(1), "paid", "--reference", "wire-1")
    assert paid.exit_code == 0 and "paid" in paid.output
    voided = billed_cli("billing", "void", inv(1), "--reason", "late")
    assert voided.exit_code == 4  # a paid invoice takes a credit note instead
    twice = billed_cli("billing", "close-period", "acme", "--at", "2026-11-10T00:00:00Z")
    assert twice.exit_code == 4 and inv(2) in twice.output
    settings = tmp_path / "billing.yaml"
    settings.write_text("grace_hours: -3\n")
    refused = billed_cli("billing", "settings", "--set", str(settings))
    assert refused.exit_code == 2 and "grace_hours" in refused.output
    assert billed_cli("ledger", "audit").exit_code == 0
    bundle = tmp_path / "bundle.json"
    assert billed_cli("billing", "bundle", inv(2), "-o", str(bundle)).exit_code == 0
    vkey = billed_cli.json("ledger", "keys")["keys"][0]["vkey"]
    checked = billed_cli.root("verify", "invoice", str(bundle), "--vkey", vkey)
    assert checked.exit_code == 0, checked.output
