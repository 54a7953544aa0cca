"""Outcome definitions in the store: each version of a definition's document is a ledger leaf,
recorded in the caller's transaction (which holds the tenant lock)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Connection, Row, func, insert, select

from valueproof.ledger import log as ledger_log
from valueproof.ledger.canonical import canonical_json
from valueproof.ledger.leaves import leaf_bytes
from valueproof.outcomes.definitions import OutcomeDefinition
from valueproof.outcomes.tables import outcome_definitions
from valueproof.periods import format_micros

__all__ = [
    "OUTCOME_DEFINITION",
    "Status",
    "StoredDefinition",
    "apply_definition",
    "defined_outcomes",
    "definition_json",
    "definition_leaf",
    "definitions",
    "latest_definition",
    "stored_definition",
]

OUTCOME_DEFINITION = "outcome_definition"
_RECORD_VERSION = 1

Status = Literal["created", "updated", "unchanged"]


@dataclass(frozen=True, slots=True)
class StoredDefinition:
    """One version of an outcome definition, as recorded."""

    contract: str
    outcome: str
    version: int
    definition: OutcomeDefinition
    leaf_index: int
    created_us: int


def _document(definition: OutcomeDefinition) -> str:
    return canonical_json(definition.model_dump(mode="json")).decode()


def definition_leaf(stored: StoredDefinition) -> bytes:
    """The canonical leaf of a definition version (record schema version 1)."""
    record = {
        "contract": stored.contract,
        "outcome": stored.outcome,
        "version": stored.version,
        "definition": stored.definition.model_dump(mode="json"),
    }
    return leaf_bytes(OUTCOME_DEFINITION, _RECORD_VERSION, record)


def apply_definition(
    connection: Connection, tenant_id: int, definition: OutcomeDefinition, now_us: int
) -> Status:
    """Record the definition as a new version when its document changed (each one a leaf)."""
    latest = latest_definition(connection, tenant_id, definition.contract, definition.outcome)
    if latest is not None and _document(latest.definition) == _document(definition):
        return "unchanged"
    version = 1 if latest is None else latest.version + 1
    pending = StoredDefinition(
        definition.contract, definition.outcome, version, definition, -1, now_us
    )
    leaf_index = ledger_log.append(connection, tenant_id, [definition_leaf(pending)], now_us)
    connection.execute(
        insert(outcome_definitions).values(
            tenant_id=tenant_id,
            contract=definition.contract,
            outcome=definition.outcome,
            version=version,
            definition=_document(definition),
            leaf_index=leaf_index,
            created_us=now_us,
        )
    )
    return "created" if latest is None else "updated"


def stored_definition(row: Row[Any]) -> StoredDefinition:
    return StoredDefinition(
        row.contract,
        row.outcome,
        row.version,
        OutcomeDefinition.model_validate_json(row.definition),
        row.leaf_index,
        row.created_us,
    )


def latest_definition(
    connection: Connection, tenant_id: int, contract: str, outcome: str
) -> StoredDefinition | None:
    """The newest version of the definition of `outcome` under `contract`, if there is one."""
    t = outcome_definitions.c
    row = connection.execute(
        select(outcome_definitions)
        .where(t.tenant_id == tenant_id, t.contract == contract, t.outcome == outcome)
        .order_by(t.version.desc())
        .limit(1)
    ).first()
    return None if row is None else stored_definition(row)


def definitions(
    connection: Connection, tenant_id: int, *, every_version: bool = False
) -> list[StoredDefinition]:
    """The tenant's definitions (the latest version of each, or every version), in key order."""
    t = outcome_definitions.c
    query = select(outcome_definitions).where(t.tenant_id == tenant_id)
    if not every_version:
        newest = (
            select(t.contract, t.outcome, func.max(t.version).label("version"))
            .where(t.tenant_id == tenant_id)
            .group_by(t.contract, t.outcome)
            .subquery()
        )
        query = query.join(
            newest,
            (newest.c.contract == t.contract)
            & (newest.c.outcome == t.outcome)
            & (newest.c.version == t.version),
        )
    rows = connection.execute(query.order_by(t.contract, t.outcome, t.version))
    return [stored_definition(row) for row in rows]


def defined_outcomes(connection: Connection, tenant_id: int) -> dict[str, frozenset[str]]:
    """The outcome types that have a definition, by the contract key they belong to."""
    t = outcome_definitions.c
    rows = connection.execute(
        select(t.contract, t.outcome).where(t.tenant_id == tenant_id).distinct()
    )
    found: dict[str, set[str]] = {}
    for row in rows:
        found.setdefault(row.contract, set()).add(row.outcome)
    return {contract: frozenset(names) for contract, names in found.items()}


def definition_json(stored: StoredDefinition) -> dict[str, Any]:
    """A definition version as the API prints it."""
    return {
        "version": stored.version,
        "leaf_index": stored.leaf_index,
        "created": format_micros(stored.created_us),
        "definition": stored.definition.model_dump(mode="json"),
    }
