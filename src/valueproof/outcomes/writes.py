"""Outcomes' writes, one transaction each: definitions, known sets, oracle sources and metrics,
and signed readings.

Each takes the engine, holds the tenant's write lock, reads the clock, appends its leaves and
signs a checkpoint if one is due (`CheckpointPolicy`), then commits; the API and the CLI parse
their input, call one of these, and render what it returns. (Claims are taken under their
accounts' contracts, `contracts.writes.submit_claims`; dispute steps answer with the success
plan's adherence, `success.writes`.)
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine

from valueproof.errors import InvalidInput
from valueproof.ledger.publish import CheckpointPolicy, after_append
from valueproof.outcomes import definition_store, knownset_store, oracles
from valueproof.outcomes.definition_store import StoredDefinition
from valueproof.outcomes.definitions import OutcomeDefinition
from valueproof.outcomes.knownset_store import KnownSetStatus
from valueproof.outcomes.oracles import MetricDefinition, ReadingResult, SourceDefinition
from valueproof.store import tenant_write
from valueproof.tenancy.accounts import get_account
from valueproof.tenancy.clock import now_us

__all__ = [
    "add_known_hashes",
    "apply_definition",
    "apply_metric",
    "apply_oracles",
    "apply_source",
    "set_known_secret",
    "submit_readings",
]


def apply_definition(
    engine: Engine, tenant_id: int, definition: OutcomeDefinition
) -> tuple[definition_store.Status, StoredDefinition]:
    """Record an outcome definition (a changed one is a new version and a new leaf), and the
    latest version as stored."""
    with tenant_write(engine, tenant_id) as connection:
        status = definition_store.apply_definition(connection, tenant_id, definition, now_us())
        [stored] = [
            d
            for d in definition_store.definitions(connection, tenant_id)
            if (d.contract, d.outcome) == (definition.contract, definition.outcome)
        ]
    return status, stored


# --- known sets ---------------------------------------------------------------------------------


def set_known_secret(
    engine: Engine, tenant_id: int, external_id: str, secret: bytes, passphrase: str
) -> tuple[int, KnownSetStatus]:
    """Store the account's known-set secret, encrypted with `passphrase`: how many hashes the
    old secret's set dropped, and the set as it now stands."""
    with tenant_write(engine, tenant_id) as connection:
        account = get_account(connection, tenant_id, external_id)
        dropped = knownset_store.set_secret(
            connection, tenant_id, account.id, secret, passphrase, now_us()
        )
        return dropped, knownset_store.known_set_status(connection, tenant_id, account.id)


def add_known_hashes(
    engine: Engine, tenant_id: int, external_id: str, hashes: set[str]
) -> tuple[int, KnownSetStatus]:
    """Add hashes to the account's known set (repeats are no-ops): how many were new, and the
    set as it now stands."""
    with tenant_write(engine, tenant_id) as connection:
        account = get_account(connection, tenant_id, external_id)
        added = knownset_store.add_hashes(connection, tenant_id, account.id, hashes, now_us())
        return added, knownset_store.known_set_status(connection, tenant_id, account.id)


# --- oracles ------------------------------------------------------------------------------------


def apply_source(engine: Engine, tenant_id: int, source: SourceDefinition) -> oracles.Status:
    """Register a data source and the public key it signs with, or update it."""
    with tenant_write(engine, tenant_id) as connection:
        return oracles.apply_source(connection, tenant_id, source, now_us())


def apply_metric(engine: Engine, tenant_id: int, metric: MetricDefinition) -> oracles.Status:
    """Set how a metric's value is read: one agreed source, or the median of several."""
    with tenant_write(engine, tenant_id) as connection:
        return oracles.apply_metric(connection, tenant_id, metric, now_us())


def apply_oracles(
    engine: Engine,
    tenant_id: int,
    sources: Sequence[SourceDefinition],
    metrics: Sequence[MetricDefinition],
) -> list[tuple[str, str, oracles.Status]]:
    """Register sources, then set metric rules, all or none: (kind, key, status) of each. A
    metric's error names it as `metrics[1].sources`."""
    applied: list[tuple[str, str, oracles.Status]] = []
    with tenant_write(engine, tenant_id) as connection:
        now = now_us()
        for source in sources:
            status = oracles.apply_source(connection, tenant_id, source, now)
            applied.append(("source", source.key, status))
        for index, metric in enumerate(metrics):
            try:
                status = oracles.apply_metric(connection, tenant_id, metric, now)
            except InvalidInput as error:
                raise InvalidInput(f"metrics[{index}].{error.field}", error.reason) from None
            applied.append(("metric", metric.key, status))
    return applied


def submit_readings(
    engine: Engine, tenant_id: int, items: Sequence[Any], policy: CheckpointPolicy
) -> list[ReadingResult]:
    """Verify and record a batch of signed readings: a result for every item, in order."""
    with tenant_write(engine, tenant_id) as connection:
        received = datetime.now(UTC)
        results = oracles.submit_readings(connection, tenant_id, items, received)
        if any(result.status == "accepted" for result in results):
            after_append(connection, tenant_id, policy, now_us())
    return results
