"""Stored outcome definitions and verdicts rebuilt as ledger leaves: what the audit checks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, Select, select

from valueproof.ledger.audit import LedgeredRecord
from valueproof.outcomes.claim_records import (
    OUTCOME_VERDICT,
    claim_of_row,
    claim_rows,
    verdict_leaf,
)
from valueproof.outcomes.definition_store import (
    OUTCOME_DEFINITION,
    definition_leaf,
    stored_definition,
)
from valueproof.outcomes.tables import outcome_claims, outcome_definitions

__all__ = ["OutcomeDefinitionSource", "OutcomeVerdictSource"]


class OutcomeDefinitionSource:
    """The audit's view of outcome definitions: each version, its leaf rebuilt."""

    record_type = OUTCOME_DEFINITION

    def key_of(self, record: dict[str, object]) -> str:
        return f"{record.get('contract')}/{record.get('outcome')}@{record.get('version')}"

    def records(self, connection: Connection, tenant_id: int) -> Iterator[LedgeredRecord]:
        """Every stored version, in leaf order."""
        query = self._query(tenant_id).order_by(outcome_definitions.c.leaf_index)
        for row in connection.execute(query):
            yield self._rebuilt(row)

    def find(self, connection: Connection, tenant_id: int, key: str) -> LedgeredRecord | None:
        """The stored version named `contract/outcome@version`, if there is one."""
        names, _, version = key.rpartition("@")
        contract, _, outcome = names.partition("/")
        if not version.isdigit():
            return None
        t = outcome_definitions.c
        row = connection.execute(
            self._query(tenant_id).where(
                t.contract == contract, t.outcome == outcome, t.version == int(version)
            )
        ).first()
        return None if row is None else self._rebuilt(row)

    def _query(self, tenant_id: int) -> Select[Any]:
        return select(outcome_definitions).where(outcome_definitions.c.tenant_id == tenant_id)

    def _rebuilt(self, row: Any) -> LedgeredRecord:
        stored = stored_definition(row)
        key = f"{stored.contract}/{stored.outcome}@{stored.version}"
        return LedgeredRecord(key, stored.leaf_index, definition_leaf(stored))


class OutcomeVerdictSource:
    """The audit's view of claims: each verdict, its leaf rebuilt (commitments from the salts)."""

    record_type = OUTCOME_VERDICT

    def key_of(self, record: dict[str, object]) -> str:
        return str(record.get("claim"))

    def records(self, connection: Connection, tenant_id: int) -> Iterator[LedgeredRecord]:
        """Every stored claim, in leaf order."""
        query = claim_rows(tenant_id).order_by(outcome_claims.c.leaf_index)
        for row in connection.execute(query):
            yield self._rebuilt(row)

    def find(self, connection: Connection, tenant_id: int, key: str) -> LedgeredRecord | None:
        """The stored claim with this id, if there is one."""
        row = connection.execute(
            claim_rows(tenant_id).where(outcome_claims.c.claim_id == key)
        ).first()
        return None if row is None else self._rebuilt(row)

    def _rebuilt(self, row: Any) -> LedgeredRecord:
        claim = claim_of_row(row)
        return LedgeredRecord(claim.id, claim.leaf_index, verdict_leaf(claim))
