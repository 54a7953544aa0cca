"""A definition recorded before expressions were type-checked keeps verifying claims as it did,
on both backends: its clash refuses each claim with a verdict on the record, never the batch."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from valueproof.outcomes.claim_intake import submit_claims
from valueproof.outcomes.definition_store import apply_definition
from valueproof.outcomes.definitions import OutcomeDefinition
from valueproof.periods import format_rfc3339
from valueproof.store import tenant_lock, write
from valueproof.tenancy.accounts import AccountCreate, create_account
from valueproof.tenancy.tenants import Tenant

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
CLASHING: dict[str, Any] = {
    "contract": "acme-leads",
    "outcome": "qualified_lead",
    "attributes": {
        "email": {"type": "string", "required": True},
        "industry": {"type": "string", "required": True},
    },
    "criteria": [{"name": "size", "expression": "claim.industry >= 50"}],
    "dedupe_key": "claim.email",
    "verification_window_days": 30,
    "dispute_window_days": 14,
}


def test_a_recorded_clashing_definition_still_gives_each_claim_its_verdict(
    engine: Engine, tenant: Tenant
) -> None:
    # As recorded then: the model alone, without today's checks (parse_definition refuses it).
    recorded = OutcomeDefinition.model_validate(CLASHING)
    claim = {
        "id": "c1",
        "account": "acme",
        "contract": "acme-leads",
        "outcome": "qualified_lead",
        "occurred_at": format_rfc3339(NOW - timedelta(days=1)),
        "attributes": {"email": "a@example.com", "industry": "saas"},
    }
    with write(engine) as connection:
        tenant_lock(connection, tenant.id)
        create_account(connection, tenant.id, AccountCreate(external_id="acme", name="Acme"))
        apply_definition(connection, tenant.id, recorded, 1)
        [result] = submit_claims(connection, tenant.id, [claim], NOW)
    assert result.status == "accepted" and result.leaf_index is not None
    assert not result.accepted
    [reason] = result.reasons
    assert reason.field == "criteria.size" and "No such overload" in reason.detail
