"""Usage totals over a whole window (a billing period) per account and group, with provenance.

What rating reads: each meter's quantity per account and group-by values, how many events made
it, and the span of ledger leaves those events sit in. Answered from the rollups, so a month of
ten million events is read as its hourly aggregates, not event by event.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import orjson
from sqlalchemy import Connection, func, select

from valueproof.metering.aggregations import CompiledMeter
from valueproof.metering.definitions import Aggregation
from valueproof.metering.quantities import from_micros
from valueproof.metering.rollups import in_force
from valueproof.metering.tables import events, rollups
from valueproof.metering.usage import Window, cell_value, window_cells
from valueproof.periods import MICROS_PER_HOUR

__all__ = ["GroupTotal", "Transaction", "transactions", "window_totals"]


@dataclass(frozen=True, slots=True)
class GroupTotal:
    """One account's total of one meter and group over the window."""

    dims: str  # the group-by values, canonical JSON ("{}" for an ungrouped meter)
    value: Decimal
    events: int  # events folded into it (0 where the meter keeps no rollups: gauges)
    first_leaf: int | None  # lowest and highest ledger leaf among those events
    last_leaf: int | None


def window_totals(
    connection: Connection,
    tenant_id: int,
    compiled: CompiledMeter,
    start_hour: int,
    end_hour: int,
    account_id: int | None,
    now: datetime,
) -> dict[int, list[GroupTotal]]:
    """Totals per account (one account, or all when `account_id` is None), groups in dims order."""
    window = Window.whole(start_hour, end_hour)
    cells = window_cells(connection, tenant_id, compiled, account_id, window, now)
    spans = dict(_spans(connection, tenant_id, compiled.id, account_id, start_hour, end_hour))
    totals: dict[int, list[GroupTotal]] = {}
    for (_bucket, owner, dims), value in sorted(cells.items(), key=lambda item: item[0][1:]):
        assert owner is not None
        count, first, last = spans.get((owner, dims), (0, None, None))
        totals.setdefault(owner, []).append(GroupTotal(dims, cell_value(value), count, first, last))
    return totals


def _spans(
    connection: Connection,
    tenant_id: int,
    meter_id: int,
    account_id: int | None,
    start_hour: int,
    end_hour: int,
) -> Iterator[tuple[tuple[int, str], tuple[int, int | None, int | None]]]:
    conditions = [
        rollups.c.tenant_id == tenant_id,
        rollups.c.meter_id == meter_id,
        rollups.c.hour >= start_hour,
        rollups.c.hour < end_hour,
    ]
    if account_id is not None:
        conditions.append(rollups.c.account_id == account_id)
    rows = connection.execute(
        select(
            rollups.c.account_id,
            rollups.c.dims,
            func.sum(rollups.c.event_count),
            func.min(rollups.c.first_leaf),
            func.max(rollups.c.last_leaf),
        )
        .where(*conditions)
        .group_by(rollups.c.account_id, rollups.c.dims)
    )
    for account, dims, count, first, last in rows:
        yield (account, dims), (int(count), first, last)


@dataclass(frozen=True, slots=True)
class Transaction:
    """One event's amount, for prices that look at each transaction (a per-transaction minimum)."""

    dims: str
    amount: Decimal
    leaf_index: int | None


def transactions(
    connection: Connection,
    tenant_id: int,
    compiled: CompiledMeter,
    account_id: int,
    start_hour: int,
    end_hour: int,
) -> list[Transaction]:
    """The amounts of the events a meter counts for one account in the window, in time order."""
    meter = compiled.meter
    rows = connection.execute(
        select(events.c.properties, events.c.value_micros, events.c.leaf_index)
        .where(
            events.c.tenant_id == tenant_id,
            events.c.account_id == account_id,
            events.c.type == meter.event_type,
            events.c.ts_us >= start_hour * MICROS_PER_HOUR,
            events.c.ts_us < end_hour * MICROS_PER_HOUR,
            in_force(),
        )
        .order_by(events.c.ts_us, events.c.seq)
    )
    found = []
    for properties, value_micros, leaf_index in rows:
        props = orjson.loads(properties)
        if compiled.filtered and not compiled.matches(props):
            continue
        value = compiled.value(props, value_micros)
        amount = Decimal(1) if meter.aggregation is Aggregation.COUNT else from_micros(value or 0)
        found.append(Transaction(compiled.dims(props), amount, leaf_index))
    return found
