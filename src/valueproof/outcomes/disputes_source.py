"""Stored dispute steps rebuilt as ledger leaves: what the audit checks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, Select, select

from valueproof.ledger.audit import LedgeredRecord
from valueproof.outcomes.disputes import OUTCOME_DISPUTE, dispute_leaf, step_of_row
from valueproof.outcomes.tables import outcome_dispute_steps

__all__ = ["OutcomeDisputeSource"]


class OutcomeDisputeSource:
    """The audit's view of disputes: each step, its leaf rebuilt (the text from its salt)."""

    record_type = OUTCOME_DISPUTE

    def key_of(self, record: dict[str, object]) -> str:
        return f"{record.get('claim')}#{record.get('seq')}"

    def records(self, connection: Connection, tenant_id: int) -> Iterator[LedgeredRecord]:
        """Every stored step, in leaf order."""
        query = self._query(tenant_id).order_by(outcome_dispute_steps.c.leaf_index)
        for row in connection.execute(query):
            yield self._rebuilt(row)

    def find(self, connection: Connection, tenant_id: int, key: str) -> LedgeredRecord | None:
        """The stored step named `claim#seq`, if there is one."""
        claim, _, seq = key.rpartition("#")
        if not seq.isdigit():
            return None
        t = outcome_dispute_steps.c
        row = connection.execute(
            self._query(tenant_id).where(t.claim_id == claim, t.seq == int(seq))
        ).first()
        return None if row is None else self._rebuilt(row)

    def _query(self, tenant_id: int) -> Select[Any]:
        return select(outcome_dispute_steps).where(outcome_dispute_steps.c.tenant_id == tenant_id)

    def _rebuilt(self, row: Any) -> LedgeredRecord:
        step = step_of_row(row)
        return LedgeredRecord(f"{step.claim}#{step.seq}", step.leaf_index, dispute_leaf(step))
