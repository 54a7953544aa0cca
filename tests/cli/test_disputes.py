"""Tests for cli/disputes.py: the vendor lists, shows, answers and resolves a dispute the
customer opened; exit codes for a resolved dispute, no dispute and a bad resolution."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from valueproof.outcomes.claim_intake import submit_claims
from valueproof.outcomes.definition_store import apply_definition
from valueproof.outcomes.definitions import parse_definition
from valueproof.outcomes.disputes import open_dispute
from valueproof.periods import format_rfc3339
from valueproof.store import tenant_lock, write
from valueproof.tenancy.accounts import AccountCreate, create_account
from valueproof.tenancy.clock import now_us
from valueproof.tenancy.tenants import Tenant

from .conftest import Cli

DEFINITION: dict[str, Any] = {
    "contract": "acme-leads",
    "outcome": "qualified_lead",
    "attributes": {"ref": {"type": "string", "required": True}},
    "criteria": [{"name": "ref", "expression": 'claim.ref != ""'}],
    "dedupe_key": "claim.ref",
    "verification_window_days": 30,
    "dispute_window_days": 14,
}


def disputed(engine: Engine, tenant: Tenant) -> None:
    """Claims c1 and c2 of acme, both accepted; the customer disputes c1."""
    now = datetime.now(UTC)
    claims = [
        {
            "id": f"c{n}",
            "account": "acme",
            "contract": "acme-leads",
            "outcome": "qualified_lead",
            "occurred_at": format_rfc3339(now - timedelta(days=1)),
            "attributes": {"ref": f"r{n}"},
        }
        for n in (1, 2)
    ]
    with write(engine) as connection:
        tenant_lock(connection, tenant.id)
        create_account(connection, tenant.id, AccountCreate(external_id="acme", name="Acme"))
        apply_definition(connection, tenant.id, parse_definition(DEFINITION), now_us())
        submit_claims(connection, tenant.id, claims, now)
        open_dispute(connection, tenant.id, "c1", "We knew this lead.", now_us())


def test_the_vendor_answers_and_resolves_from_the_command_line(
    cli: Cli, engine: Engine, tenant: Tenant
) -> None:
    disputed(engine, tenant)
    listed = cli.json("dispute", "list", "--status", "open")
    assert [d["claim"] for d in listed["disputes"]] == ["c1"]
    table = cli("dispute", "list")
    assert table.exit_code == 0 and "c1" in table.stdout and "open" in table.stdout
    answered = cli.json("dispute", "answer", "c1", "It came from your own form.")
    assert answered["status"] == "answered"
    resolved = cli("dispute", "resolve", "c1", "upheld", "--note", "Found it in their CRM.")
    assert resolved.exit_code == 0, resolved.output
    assert "upheld" in resolved.stdout and "success plan when opened" in resolved.stdout
    shown = cli.json("dispute", "show", "c1")
    assert [s["step"] for s in shown["steps"]] == ["opened", "answered", "resolved"]
    assert shown["voided"] is True and shown["success_plan"]["due"] == 0
    codes = {
        "resolved already": cli("dispute", "answer", "c1", "More."),
        "no dispute": cli("dispute", "show", "c2"),
        "bad resolution": cli("dispute", "resolve", "c2", "maybe", "--note", "?"),
        "bad status": cli("dispute", "list", "--status", "closed"),
    }
    assert {name: r.exit_code for name, r in codes.items()} == {
        "resolved already": 4,
        "no dispute": 3,
        "bad resolution": 2,
        "bad status": 2,
    }
    assert "resolved (upheld)" in codes["resolved already"].output
    assert "status" in codes["bad status"].output
    # `ledger audit` rebuilds every dispute step's leaf from its row.
    audited = cli("ledger", "audit")
    assert audited.exit_code == 0 and audited.stdout.startswith("ok:"), audited.output
