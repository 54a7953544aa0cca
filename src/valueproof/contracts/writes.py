"""Contracts' writes, one transaction each: claims under contracts. (A contract's next version is
`billing.writes.apply_contract`: it must not reach into a period a finalized invoice billed.)

Each takes the engine, holds the tenant's write lock, reads the clock, appends its leaves and
signs a checkpoint if one is due (`CheckpointPolicy`), then commits; the API and the CLI parse
their input, call one of these, and render what it returns.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine

from valueproof.contracts.claim_accounts import submit_under_contracts
from valueproof.ledger.publish import CheckpointPolicy, after_append
from valueproof.outcomes.claim_records import ClaimResult
from valueproof.store import tenant_write
from valueproof.tenancy.clock import now_us

__all__ = ["submit_claims"]


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
