"""Disputes over real HTTP: only the customer key of the claim's account opens one, only a vendor
admin answers and resolves it, another account's customer sees nothing, a closed window is 409,
and the dispute shows whether the customer kept to its success plan."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from valueproof.ledger.log import log_size
from valueproof.store import read, write
from valueproof.tenancy.accounts import get_account
from valueproof.tenancy.keys import Scope, create_api_key
from valueproof.tenancy.tenants import Tenant


def definition(outcome: str, window_days: int) -> dict[str, Any]:
    return {
        "contract": "acme-leads",
        "outcome": outcome,
        "attributes": {"ref": {"type": "string", "required": True}},
        "criteria": [{"name": "ref", "expression": 'claim.ref != ""'}],
        "dedupe_key": "claim.ref",
        "verification_window_days": 30,
        "dispute_window_days": window_days,
    }


def claim(claim_id: str, account: str = "acme", outcome: str = "qualified_lead") -> dict[str, Any]:
    return {
        "id": claim_id,
        "account": account,
        "contract": "acme-leads",
        "outcome": outcome,
        "occurred_at": (datetime.now(UTC) - timedelta(days=1)).isoformat(),
        "attributes": {"ref": claim_id},
    }


def customer(server: str, engine: Engine, tenant: Tenant, external_id: str) -> httpx.Client:
    with write(engine) as connection:
        account = get_account(connection, tenant.id, external_id)
        token = create_api_key(
            connection, tenant.id, frozenset({Scope.CUSTOMER}), "portal", account.id
        ).token
    return httpx.Client(base_url=server, headers={"Authorization": f"Bearer {token}"}, timeout=60)


def leaves(engine: Engine, tenant: Tenant) -> int:
    with read(engine) as connection:
        return log_size(connection, tenant.id)


@pytest.fixture
def vendor(http: httpx.Client) -> httpx.Client:
    """Accounts acme and globex; a 14-day dispute window on leads, none on demos; claims a1, a2
    and a3 of acme (a3 a demo) and g1 of globex."""
    for name in ("acme", "globex"):
        assert http.post("/v1/accounts", json={"external_id": name, "name": name}).is_success
    for outcome, days in (("qualified_lead", 14), ("demo", 0)):
        answer = http.put(
            f"/v1/outcomes/definitions/acme-leads/{outcome}", json=definition(outcome, days)
        )
        assert answer.status_code == 201, answer.text
    claims = [claim("a1"), claim("a2"), claim("a3", outcome="demo"), claim("g1", "globex")]
    answer = http.post("/v1/outcomes/claims", json={"claims": claims})
    assert answer.status_code == 200, answer.text
    return http


@pytest.fixture
def acme(
    server: str, engine: Engine, tenant: Tenant, vendor: httpx.Client
) -> Iterator[httpx.Client]:
    with customer(server, engine, tenant, "acme") as client:
        yield client


@pytest.fixture
def globex(
    server: str, engine: Engine, tenant: Tenant, vendor: httpx.Client
) -> Iterator[httpx.Client]:
    with customer(server, engine, tenant, "globex") as client:
        yield client


def test_the_customer_opens_the_vendor_answers_and_resolves(
    acme: httpx.Client, vendor: httpx.Client
) -> None:
    opened = acme.post("/v1/outcomes/claims/a1/dispute", json={"reason": "Already ours."})
    assert opened.status_code == 201, opened.text
    assert opened.json()["status"] == "open"
    answered = vendor.post("/v1/outcomes/claims/a1/dispute/answers", json={"answer": "Proof?"})
    assert answered.status_code == 200 and answered.json()["status"] == "answered"
    resolved = vendor.post(
        "/v1/outcomes/claims/a1/dispute/resolution",
        json={"resolution": "upheld", "note": "CRM export shows it."},
    )
    assert resolved.status_code == 200, resolved.text
    body = resolved.json()
    assert (body["status"], body["voided"]) == ("upheld", True)
    assert [s["step"] for s in body["steps"]] == ["opened", "answered", "resolved"]
    assert [s["party"] for s in body["steps"]] == ["customer", "vendor", "vendor"]
    seen = acme.get("/v1/outcomes/claims/a1/dispute").json()
    assert seen["steps"] == body["steps"] and seen["status"] == "upheld"
    assert [d["claim"] for d in acme.get("/v1/outcomes/disputes").json()["disputes"]] == ["a1"]
    listed = vendor.get("/v1/outcomes/disputes", params={"status": "upheld"}).json()
    assert [d["claim"] for d in listed["disputes"]] == ["a1"]
    assert vendor.get("/v1/outcomes/disputes", params={"status": "open"}).json() == {"disputes": []}
    # The outcome is voided: a second dispute or resolution is refused.
    again = acme.post("/v1/outcomes/claims/a1/dispute", json={"reason": "Again."})
    assert again.status_code == 409
    late = vendor.post(
        "/v1/outcomes/claims/a1/dispute/resolution",
        json={"resolution": "rejected", "note": "Second thoughts."},
    )
    assert late.status_code == 409 and "resolved (upheld)" in late.json()["detail"]


def test_the_wrong_party_is_refused_and_nothing_is_recorded(
    acme: httpx.Client, globex: httpx.Client, vendor: httpx.Client, engine: Engine, tenant: Tenant
) -> None:
    size = leaves(engine, tenant)
    vendor_opens = vendor.post("/v1/outcomes/claims/a2/dispute", json={"reason": "On behalf."})
    assert vendor_opens.status_code == 403
    assert "customer key" in vendor_opens.json()["detail"]
    other_account = globex.post("/v1/outcomes/claims/a2/dispute", json={"reason": "Not mine."})
    assert other_account.status_code == 404
    assert other_account.json()["detail"] == "no claim 'a2'"
    assert globex.get("/v1/outcomes/disputes", params={"account": "acme"}).status_code == 404
    window = acme.post("/v1/outcomes/claims/a3/dispute", json={"reason": "Too late?"})
    assert window.status_code == 409 and "dispute window" in window.json()["detail"]
    missing = acme.post("/v1/outcomes/claims/a2/dispute", json={"why": "No reason field."})
    assert missing.status_code == 422 and missing.json()["detail"].startswith("reason:")
    assert acme.post("/v1/outcomes/claims/a2/dispute", json={"reason": "Ours."}).status_code == 201
    refused = {
        "customer answers": acme.post(
            "/v1/outcomes/claims/a2/dispute/answers", json={"answer": "Me too."}
        ),
        "customer resolves": acme.post(
            "/v1/outcomes/claims/a2/dispute/resolution",
            json={"resolution": "upheld", "note": "I win."},
        ),
    }
    assert {k: r.status_code for k, r in refused.items()} == dict.fromkeys(refused, 403)
    assert globex.get("/v1/outcomes/claims/a2/dispute").status_code == 404
    assert globex.get("/v1/outcomes/disputes").json() == {"disputes": []}
    bad = vendor.post(
        "/v1/outcomes/claims/a2/dispute/resolution", json={"resolution": "maybe", "note": "?"}
    )
    assert bad.status_code == 422 and bad.json()["detail"].startswith("resolution:")
    assert leaves(engine, tenant) == size + 1  # only the one opening was written
    assert vendor.get("/v1/outcomes/claims/a2/dispute").json()["status"] == "open"


def test_a_dispute_shows_the_customers_success_plan_adherence(
    acme: httpx.Client, vendor: httpx.Client
) -> None:
    yesterday = (datetime.now(UTC) - timedelta(days=2)).date().isoformat()
    action = {
        "key": "crm-sync",
        "title": "Connect the CRM so known leads are uploaded",
        "owner": "customer",
        "due": yesterday,
    }
    put = vendor.put("/v1/accounts/acme/success-plan/actions/crm-sync", json=action)
    assert put.status_code == 201, put.text
    opened = acme.post("/v1/outcomes/claims/a2/dispute", json={"reason": "Known lead."})
    assert opened.status_code == 201, opened.text
    plan = opened.json()["success_plan"]
    assert (plan["due"], plan["missed"], plan["done_on_time"]) == (1, 1, 0)
    assert plan["actions"][0]["key"] == "crm-sync"
