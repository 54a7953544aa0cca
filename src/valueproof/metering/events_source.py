"""Stored usage events rebuilt as ledger leaves: what `valueproof ledger audit` checks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
from sqlalchemy import Connection, Row, Select, select

from valueproof.ledger.audit import LedgeredRecord
from valueproof.metering.records import USAGE_EVENT, usage_event_leaf
from valueproof.metering.tables import events
from valueproof.tenancy.tables import accounts

__all__ = ["UsageEventSource"]


class UsageEventSource:
    """The audit's view of the events table: each event, the leaf it claims, its leaf rebuilt."""

    record_type = USAGE_EVENT

    def key_of(self, record: dict[str, object]) -> str:
        return str(record.get("id"))

    def records(self, connection: Connection, tenant_id: int) -> Iterator[LedgeredRecord]:
        """Every stored event, in leaf order, unplaced ones last."""
        query = self._query(tenant_id).order_by(
            events.c.leaf_index.is_(None), events.c.leaf_index, events.c.seq
        )
        with connection.execute(query.execution_options(yield_per=5000)) as result:
            for row in result:
                yield self._rebuilt(row)

    def find(self, connection: Connection, tenant_id: int, key: str) -> LedgeredRecord | None:
        """The stored event with this id, if there is one."""
        row = connection.execute(self._query(tenant_id).where(events.c.event_id == key)).first()
        return None if row is None else self._rebuilt(row)

    def _query(self, tenant_id: int) -> Select[Any]:
        return (
            select(
                events.c.event_id,
                events.c.leaf_index,
                accounts.c.external_id,
                events.c.type,
                events.c.ts_us,
                events.c.properties,
                events.c.value_micros,
                events.c.correction,
                events.c.corrects,
            )
            .join(accounts, accounts.c.id == events.c.account_id)
            .where(events.c.tenant_id == tenant_id)
        )

    def _rebuilt(self, row: Row[Any]) -> LedgeredRecord:
        leaf = usage_event_leaf(
            row.event_id,
            row.external_id,
            row.type,
            row.ts_us,
            orjson.loads(row.properties),
            row.value_micros,
            row.correction,
            row.corrects,
        )
        return LedgeredRecord(row.event_id, row.leaf_index, leaf)
