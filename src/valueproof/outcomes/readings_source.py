"""Stored oracle readings rebuilt as ledger leaves: what `valueproof ledger audit` checks."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Row, Select, select

from valueproof.ledger.audit import LedgeredRecord
from valueproof.outcomes.oracles import ORACLE_READING, oracle_reading_leaf
from valueproof.outcomes.readings import Reading, reading_record
from valueproof.outcomes.tables import oracle_readings, oracle_sources
from valueproof.periods import from_micros

__all__ = ["OracleReadingSource"]


class OracleReadingSource:
    """The audit's view of oracle readings: each reading as signed, its leaf rebuilt."""

    record_type = ORACLE_READING

    def key_of(self, record: dict[str, object]) -> str:
        return f"{record.get('source')}#{record.get('nonce')}"

    def records(self, connection: Connection, tenant_id: int) -> Iterator[LedgeredRecord]:
        """Every stored reading, in leaf order."""
        query = self._query(tenant_id).order_by(oracle_readings.c.leaf_index)
        for row in connection.execute(query):
            yield self._rebuilt(row)

    def find(self, connection: Connection, tenant_id: int, key: str) -> LedgeredRecord | None:
        """The stored reading named `source#nonce`, if there is one."""
        source, _, nonce = key.partition("#")
        row = connection.execute(
            self._query(tenant_id).where(
                oracle_sources.c.key == source, oracle_readings.c.nonce == nonce
            )
        ).first()
        return None if row is None else self._rebuilt(row)

    def _query(self, tenant_id: int) -> Select[Any]:
        return (
            select(
                oracle_sources.c.key,
                oracle_readings.c.metric,
                oracle_readings.c.value,
                oracle_readings.c.as_of_us,
                oracle_readings.c.nonce,
                oracle_readings.c.signature,
                oracle_readings.c.leaf_index,
            )
            .join(oracle_sources, oracle_sources.c.id == oracle_readings.c.source_id)
            .where(oracle_readings.c.tenant_id == tenant_id)
        )

    def _rebuilt(self, row: Row[Any]) -> LedgeredRecord:
        reading = Reading(
            row.key, row.metric, Decimal(row.value), from_micros(row.as_of_us), row.nonce
        )
        leaf = oracle_reading_leaf(reading_record(reading, bytes(row.signature)))
        return LedgeredRecord(f"{row.key}#{row.nonce}", row.leaf_index, leaf)
