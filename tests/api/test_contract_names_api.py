"""`/v1/contracts/validate`, `/v1/contracts` and the preview over real HTTP, on both backends:
a contract naming an outcome nobody defined is refused, or warned of when declared pending."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from valueproof.ledger.keyring import StoredKey

CONTRACT = """\
contract: acme-leads
account: acme
currency: USD
term: {start: 2026-01-01}
components:
  - {id: base, type: flat, amount: "100.00"}
  - {id: leads, type: per_outcome, outcome: OUTCOME, unit_price: "40.00"}
"""
YAML = {"Content-Type": "application/yaml"}
DEFINITION: dict[str, Any] = {
    "contract": "acme-leads",
    "outcome": "qualified_lead",
    "attributes": {"email": {"type": "string", "required": True}},
    "dedupe_key": "claim.email",
    "verification_window_days": 30,
    "dispute_window_days": 30,
}


@pytest.fixture
def acme(http: httpx.Client, signing_key: StoredKey) -> httpx.Client:
    assert http.post("/v1/accounts", json={"external_id": "acme", "name": "Acme"}).is_success
    return http


def contract(outcome: str, pending: bool = False) -> str:
    text = CONTRACT.replace("OUTCOME", outcome)
    return text + f"pending: {{outcomes: [{outcome}]}}\n" if pending else text


def test_a_misspelt_outcome_is_a_422_naming_the_path_and_the_defined_name(
    acme: httpx.Client,
) -> None:
    path = "/v1/outcomes/definitions/acme-leads/qualified_lead"
    assert acme.put(path, json=DEFINITION).status_code == 201
    for url in ("/v1/contracts/validate", "/v1/contracts"):
        refused = acme.post(url, content=contract("qualified_laed"), headers=YAML)
        assert refused.status_code == 422, refused.text
        [error] = refused.json()["errors"]
        assert error["field"] == "components[1].outcome"
        assert "did you mean 'qualified_lead'?" in error["reason"]
    assert acme.get("/v1/contracts").json() == {"contracts": []}  # nothing stored
    fine = acme.post("/v1/contracts", content=contract("qualified_lead"), headers=YAML)
    assert fine.status_code == 201, fine.text
    assert fine.json()["warnings"] == []


def test_a_pending_outcome_validates_with_a_warning_and_the_preview_warns(
    acme: httpx.Client,
) -> None:
    text = contract("qualified_lead", pending=True)
    checked = acme.post("/v1/contracts/validate", content=text, headers=YAML)
    assert checked.status_code == 200, checked.text
    [warning] = checked.json()["warnings"]
    assert warning["field"] == "pending.outcomes[0]"
    assert acme.post("/v1/contracts", content=text, headers=YAML).status_code == 201
    preview = acme.get("/v1/accounts/acme/preview", params={"at": "2026-03-10T00:00:00Z"})
    assert preview.status_code == 200, preview.text
    for side in ("period_to_date", "projection"):
        [loud] = preview.json()[side]["warnings"]
        assert loud["field"] == "components[1].outcome"
        assert "bills 0" in loud["reason"]
