"""Contracts' writes, one transaction each: a contract's next version, and claims under contracts.

Each takes the engine, holds the tenant's write lock, reads the clock, appends its leaves and
signs a checkpoint if one is due (`CheckpointPolicy`), then commits; the API and the CLI parse
their input, call one of these, and render what it returns.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine

from valueproof.contracts import registry
from valueproof.contracts.claim_accounts import submit_under_contracts
from valueproof.contracts.document import ContractDocument
from valueproof.contracts.registry import Applied
from valueproof.ledger.publish import CheckpointPolicy, after_append
from valueproof.metering.registry import load_catalog
from valueproof.outcomes.claim_records import ClaimResult
from valueproof.store import tenant_write
from valueproof.tenancy.clock import now_us

__all__ = ["apply_contract", "submit_claims"]


def apply_contract(
    engine: Engine, tenant_id: int, document: ContractDocument, policy: CheckpointPolicy
) -> Applied:
    """Store a contract document as the contract's next version, on the ledger first; one equal
    to the latest version is `unchanged` and stores nothing."""
    with tenant_write(engine, tenant_id) as connection:
        catalog = load_catalog(connection, tenant_id)
        now = now_us()
        applied = registry.apply_contract(connection, tenant_id, document, catalog, now)
        if applied.status != "unchanged":
            after_append(connection, tenant_id, policy, now)
    return applied


def submit_claims(
    engine: Engine,
    tenant_id: int,
    items: Sequence[Any],
    passphrase: str | None,
    policy: CheckpointPolicy,
) -> list[ClaimResult]:
    """Verify and record a batch of claims, each under its account's contract; a result for
    every item, in order. `passphrase` opens the accounts' known-set secrets."""
    with tenant_write(engine, tenant_id) as connection:
        received = datetime.now(UTC)
        results = submit_under_contracts(connection, tenant_id, items, received, passphrase)
        if any(result.status == "accepted" for result in results):
            after_append(connection, tenant_id, policy, now_us())
    return results
