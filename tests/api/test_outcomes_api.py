"""`/v1/outcomes` over real HTTP on loopback, on both backends: definitions (YAML or JSON,
versioned), claims with their verdicts (200 / 207 / 422), idempotency and reading a claim back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy import Engine

from valueproof.ledger.keyring import StoredKey
from valueproof.ledger.log import entry, log_size
from valueproof.ledger.publish import latest_checkpoint
from valueproof.periods import format_rfc3339
from valueproof.store import read, write
from valueproof.tenancy.keys import Scope, create_api_key
from valueproof.tenancy.tenants import Tenant

NOW = datetime.now(UTC).replace(microsecond=0)
DEFINITION: dict[str, Any] = {
    "contract": "acme-leads",
    "outcome": "qualified_lead",
    "attributes": {
        "email": {"type": "string", "required": True, "personal": True},
        "industry": {"type": "string", "required": True},
    },
    "criteria": [{"name": "industry", "expression": 'claim.industry in ["saas", "fintech"]'}],
    "dedupe_key": "lower(claim.email)",
    "verification_window_days": 30,
    "dispute_window_days": 14,
}
PATH = "/v1/outcomes/definitions/acme-leads/qualified_lead"


def lead(n: int, **attributes: Any) -> dict[str, Any]:
    return {
        "id": f"c{n}",
        "account": "acme",
        "contract": "acme-leads",
        "outcome": "qualified_lead",
        "occurred_at": format_rfc3339(NOW - timedelta(days=1)),
        "attributes": {"email": f"lead{n}@example.com", "industry": "saas", **attributes},
    }


def post(http: httpx.Client, *items: Any) -> httpx.Response:
    return http.post("/v1/outcomes/claims", json={"claims": list(items)})


@pytest.fixture
def defined(http: httpx.Client) -> httpx.Client:
    assert http.post("/v1/accounts", json={"external_id": "acme", "name": "Acme"}).is_success
    created = http.put(PATH, json=DEFINITION)
    assert created.status_code == 201, created.text
    return http


def test_definitions_are_versioned_from_yaml_or_json_and_listed(http: httpx.Client) -> None:
    first = http.put(
        PATH, content=yaml.safe_dump(DEFINITION), headers={"content-type": "application/yaml"}
    )
    assert (first.status_code, first.json()["status"], first.json()["version"]) == (
        201,
        "created",
        1,
    )
    again = http.put(PATH, json=DEFINITION)
    assert (again.status_code, again.json()["status"]) == (200, "unchanged")
    wider = http.put(PATH, json={**DEFINITION, "verification_window_days": 60})
    assert (wider.json()["status"], wider.json()["version"]) == ("updated", 2)
    [listed] = http.get("/v1/outcomes/definitions").json()["definitions"]
    assert (listed["version"], listed["definition"]["verification_window_days"]) == (2, 60)
    assert listed["leaf_index"] == wider.json()["leaf_index"]

    other = http.put("/v1/outcomes/definitions/acme-leads/demo", json=DEFINITION)
    assert other.status_code == 422 and other.json()["errors"][0]["field"] == "contract"
    broken = http.put(PATH, json={**DEFINITION, "dedupe_key": "claim.nope +"})
    assert broken.status_code == 422 and broken.json()["errors"][0]["field"] == "dedupe_key"


def test_claims_get_verdicts_per_item_and_are_idempotent(
    defined: httpx.Client, signing_key: StoredKey, engine: Engine, tenant: Tenant
) -> None:
    answer = post(defined, lead(1), lead(2, industry="retail"), lead(3, email="LEAD1@example.com"))
    # Two of three refused by their verdicts: on the ledger, but `rejected`, never `accepted`.
    assert answer.status_code == 207, answer.text
    body = answer.json()
    assert (body["accepted"], body["duplicate"], body["conflict"], body["rejected"]) == (1, 0, 0, 2)
    verdicts = [(r["status"], r["verdict"]["accepted"]) for r in body["results"]]
    assert verdicts == [("accepted", True), ("rejected", False), ("rejected", False)]
    assert body["results"][1]["errors"][0]["field"] == "criteria.industry"
    assert all(r["leaf_index"] is not None for r in body["results"])
    assert body["results"][1]["verdict"]["reasons"][0]["field"] == "criteria.industry"
    assert body["results"][2]["verdict"]["reasons"][0]["code"] == "duplicate"
    last = body["results"][2]["leaf_index"]
    with read(engine) as connection:  # the batch signed a checkpoint covering its leaves
        checkpoint = latest_checkpoint(connection, tenant.id)
        assert checkpoint is not None and checkpoint.checkpoint.size == last + 1
        assert b"lead1@example.com" not in entry(
            connection, tenant.id, body["results"][0]["leaf_index"]
        )

    mixed = post(defined, lead(1), lead(2, industry="fintech"), {"id": "c9"})
    assert mixed.status_code == 207
    statuses = [(r["status"], [e["field"] for e in r["errors"]]) for r in mixed.json()["results"]]
    assert statuses[0] == ("duplicate", [])
    assert statuses[1] == ("conflict", ["id"])
    assert statuses[2][0] == "rejected" and "account" in statuses[2][1]
    assert mixed.json()["results"][0]["verdict"] == body["results"][0]["verdict"]

    refused = post(defined, {"id": "x"})
    assert refused.status_code == 422
    empty = post(defined)  # an empty batch is a client's mistake, named as such
    assert (empty.status_code, empty.json()["errors"][0]["field"]) == (422, "claims")
    with read(engine) as connection:
        assert log_size(connection, tenant.id) == last + 1

    shown = defined.get("/v1/outcomes/claims/c1").json()
    assert shown["verdict"] == {"accepted": True, "reasons": []}
    assert shown["attributes"]["email"] == "lead1@example.com" and "email" in shown["salts"]
    assert shown["leaf_index"] == body["results"][0]["leaf_index"]
    assert defined.get("/v1/outcomes/claims/nope").status_code == 404


def test_scopes_and_malformed_bodies(
    defined: httpx.Client, server: str, engine: Engine, tenant: Tenant
) -> None:
    with write(engine) as connection:
        ingest = create_api_key(connection, tenant.id, frozenset({Scope.INGEST})).token
    with httpx.Client(base_url=server, headers={"Authorization": f"Bearer {ingest}"}) as vendor:
        assert vendor.put(PATH, json=DEFINITION).status_code == 403
        assert post(vendor, lead(5)).status_code == 200
        assert vendor.get("/v1/outcomes/claims/c5").status_code == 403
    bad = defined.post(
        "/v1/outcomes/claims", content=b"{", headers={"content-type": "application/json"}
    )
    assert bad.status_code == 422
    assert defined.post("/v1/outcomes/claims", json={"items": []}).status_code == 422
