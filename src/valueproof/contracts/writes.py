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

from valueproof.contracts import registry
from valueproof.contracts.claim_accounts import submit_under_contracts
from valueproof.contracts.document import ContractDocument
from valueproof.contracts.errors import MeterInUse
from valueproof.ledger.publish import CheckpointPolicy, after_append
from valueproof.metering import registry as metering_registry
from valueproof.outcomes.claim_records import ClaimResult
from valueproof.store import tenant_write
from valueproof.tenancy.clock import now_us

__all__ = ["delete_meter", "submit_claims"]


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


def delete_meter(engine: Engine, tenant_id: int, key: str) -> None:
    """Delete a meter and its rollups (the events stay on record), unless a contract whose term
    has not ended prices it: MeterInUse names those contracts (amend them first)."""
    with tenant_write(engine, tenant_id) as connection:
        now = datetime.now(UTC)
        users = sorted(
            f"{latest.contract} (account {latest.account})"
            for history in registry.tenant_versions(connection, tenant_id).values()
            for latest in _latest_versions(history)
            if _running(latest.document, now) and key in registry.meters_named(latest.document)
        )
        if users:
            raise MeterInUse(f"meter {key!r} is priced by {', '.join(users)}: amend them first")
        metering_registry.delete_meter(connection, tenant_id, key)


def _latest_versions(history: Sequence[registry.StoredVersion]) -> list[registry.StoredVersion]:
    latest: dict[str, registry.StoredVersion] = {}
    for version in history:
        if version.contract not in latest or version.version > latest[version.contract].version:
            latest[version.contract] = version
    return list(latest.values())


def _running(document: ContractDocument, now: datetime) -> bool:
    return document.term.end is None or document.term.end > now
