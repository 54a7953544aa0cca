"""Ledger fixtures: a tenant whose usage events go on its log, with checkpoints signed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine

from valueproof.ledger.keyring import Keyring, StoredKey
from valueproof.ledger.publish import CheckpointPolicy
from valueproof.metering.definitions import EventType
from valueproof.metering.ingest import IngestOptions, ItemResult, ingest_batch
from valueproof.metering.registry import apply_event_type
from valueproof.store import write
from valueproof.tenancy.accounts import AccountCreate, create_account
from valueproof.tenancy.tenants import Tenant

Ingest = Callable[[list[dict[str, Any]]], list[ItemResult]]


def call(number: int, account: str = "acme", **properties: Any) -> dict[str, Any]:
    """Usage event `e<number>`: one API call with some tokens."""
    return {
        "id": f"e{number}",
        "account": account,
        "type": "api.call",
        "timestamp": f"2026-11-01T{number % 24:02d}:00:00Z",
        "properties": {"tokens": number, **properties},
    }


@pytest.fixture
def ledgered(engine: Engine, tenant: Tenant, signing_key: StoredKey) -> Tenant:
    """The test's tenant with an event type, two accounts and a signing key."""
    with write(engine) as connection:
        apply_event_type(
            connection,
            tenant.id,
            EventType(key="api.call", properties={"tokens": {"type": "integer"}}),
        )
        for external_id in ("acme", "globex"):
            create_account(
                connection, tenant.id, AccountCreate(external_id=external_id, name=external_id)
            )
    return tenant


@pytest.fixture
def ingest(engine: Engine, ledgered: Tenant, keyring: Keyring) -> Ingest:
    """Ingest a batch as the API does: one transaction, a checkpoint signed after it."""
    options = IngestOptions(checkpoints=CheckpointPolicy(keyring))

    def run(items: list[dict[str, Any]]) -> list[ItemResult]:
        return ingest_batch(engine, ledgered.id, items, options)

    return run
