"""Claims under a contract of another account are refused in their place, naming `account`;
the others are taken as usual, over the store and over HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from valueproof.contracts.claim_accounts import submit_under_contracts
from valueproof.ledger.log import log_size
from valueproof.outcomes.definition_store import apply_definition
from valueproof.outcomes.definitions import parse_definition
from valueproof.store import read, tenant_lock, write

from .conftest import Priced, contract_document

NOW = datetime(2026, 11, 20, tzinfo=UTC)
DEFINITION: dict[str, Any] = {
    "contract": "acme-2026",
    "outcome": "qualified_lead",
    "attributes": {"ref": {"type": "string", "required": True}},
    "criteria": [{"name": "ref", "expression": 'claim.ref != ""'}],
    "dedupe_key": "claim.ref",
    "verification_window_days": 30,
    "dispute_window_days": 14,
}


def claim(claim_id: str, account: str, contract: str = "acme-2026") -> dict[str, Any]:
    return {
        "id": claim_id,
        "account": account,
        "contract": contract,
        "outcome": "qualified_lead",
        "occurred_at": (NOW - timedelta(days=1)).isoformat(),
        "attributes": {"ref": claim_id},
    }


def defined(priced: Priced) -> None:
    priced.apply(contract_document())
    with write(priced.engine) as connection:
        tenant_lock(connection, priced.tenant.id)
        apply_definition(connection, priced.tenant.id, parse_definition(DEFINITION), 1)
        apply_definition(
            connection, priced.tenant.id, parse_definition({**DEFINITION, "contract": "later"}), 1
        )


def test_a_claim_under_another_accounts_contract_is_refused_in_its_place(priced: Priced) -> None:
    defined(priced)
    with read(priced.engine) as connection:
        before = log_size(connection, priced.tenant.id)
    items = [
        claim("c1", "acme"),
        claim("c2", "globex"),
        "not a claim",
        claim("c3", "globex", "later"),
        claim("c4", "ghost"),
    ]
    with write(priced.engine) as connection:
        tenant_lock(connection, priced.tenant.id)
        results = submit_under_contracts(connection, priced.tenant.id, items, NOW, None)
    assert [(r.index, r.status) for r in results] == [
        (0, "accepted"),
        (1, "rejected"),
        (2, "rejected"),
        (3, "accepted"),
        (4, "rejected"),
    ]
    [error] = results[1].errors
    assert error.field == "account"
    assert error.reason == "contract 'acme-2026' belongs to account 'acme', not to 'globex'"
    # an account that does not exist is named as such, not as another account's
    [ghost] = results[4].errors
    assert ghost.reason == "no account 'ghost' exists; contract 'acme-2026' belongs to 'acme'"
    assert results[1].id == "c2" and results[1].leaf_index is None
    # A contract key no contract has yet ("later") is let through: its definition came first.
    assert results[3].accepted is True
    with read(priced.engine) as connection:
        assert log_size(connection, priced.tenant.id) == before + 2  # c1 and c3 only


def test_over_http_the_batch_answers_207_with_the_refusal(
    priced: Priced, http: httpx.Client
) -> None:
    defined(priced)
    answer = http.post(
        "/v1/outcomes/claims", json={"claims": [claim("c1", "acme"), claim("c2", "globex")]}
    )
    assert answer.status_code == 207, answer.text
    body = answer.json()
    assert (body["accepted"], body["rejected"]) == (1, 1)
    assert body["results"][1]["errors"][0]["field"] == "account"
