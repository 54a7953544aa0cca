"""Usage totals over a whole window (a billing period) per account and group, with provenance.

What rating reads: each meter's quantity per account and group-by values, how many events made
it, and the span of ledger leaves those events sit in. Answered from the rollups, so a month of
ten million events is read as its hourly aggregates, not event by event.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import Connection, Select, func, select

from valueproof.metering.aggregations import CompiledMeter
from valueproof.metering.definitions import Aggregation
from valueproof.metering.quantities import from_micros
from valueproof.metering.rollups import in_force
from valueproof.metering.tables import events, rollups, rollups_monthly
from valueproof.metering.usage import (
    ROLLED,
    Window,
    cell_value,
    measured,
    rolled_measure,
    rolled_number,
    window_cells,
)
from valueproof.periods import (
    MICROS_PER_HOUR,
    Granularity,
    hour_of,
    month_of_hour,
    month_start_hour,
    to_micros,
)

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
    """Totals per account (one account, or all when `account_id` is None), groups in dims order.

    Counts, sums, minimums and maximums read the monthly tier for the window's whole calendar
    months and the hourly rollups for the hours around them, value and provenance in one pass
    each; other aggregations read the hourly tables.
    """
    aggregation = compiled.meter.aggregation
    if aggregation not in ROLLED:
        return _hourly_totals(
            connection, tenant_id, compiled, start_hour, end_hour, account_id, now
        )
    first_month = month_of_hour(start_hour)
    if month_start_hour(first_month) < start_hour:
        first_month += 1
    end_month = month_of_hour(end_hour)
    parts: list[tuple[Any, str, int, int]] = []  # table, bucket column, [low, high)
    if month_start_hour(first_month) < end_hour and first_month < end_month:
        head, tail = month_start_hour(first_month), month_start_hour(end_month)
        parts.append((rollups_monthly, "month", first_month, end_month))
    else:
        head = tail = end_hour
    if start_hour < head:
        parts.append((rollups, "hour", start_hour, head))
    if tail < end_hour:
        parts.append((rollups, "hour", tail, end_hour))
    cells: dict[tuple[int, str], list[Any]] = {}
    for table, column, low, high in parts:
        query = _query(table, column, low, high, account_id).add_columns(
            *rolled_measure(aggregation, table)
        )
        query = query.where(table.c.tenant_id == tenant_id, table.c.meter_id == compiled.id)
        for owner, dims, count, first, last, *measure in connection.execute(query):
            number = rolled_number(measure)
            if number is None:
                continue
            cell = cells.get((owner, dims))
            if cell is None:
                cells[(owner, dims)] = [number, int(count), first, last]
            else:
                cell[0] = _combine(aggregation, cell[0], number)
                cell[1] += int(count)
                cell[2] = _either(min, cell[2], first)
                cell[3] = _either(max, cell[3], last)
    totals: dict[int, list[GroupTotal]] = {}
    for (owner, dims), (number, count, first, last) in sorted(cells.items()):
        total = GroupTotal(dims, measured(aggregation, number), count, first, last)
        totals.setdefault(owner, []).append(total)
    return totals


def _combine(aggregation: Aggregation, left: int, right: int) -> int:
    if aggregation is Aggregation.MIN:
        return min(left, right)
    if aggregation is Aggregation.MAX:
        return max(left, right)
    return left + right


def _either(pick: Any, left: int | None, right: int | None) -> int | None:
    """`pick` of two leaf indexes where either may be unknown."""
    return right if left is None else left if right is None else int(pick(left, right))


def _query(table: Any, column: str, low: int, high: int, account_id: int | None) -> Select[Any]:
    """Per account and group of `table` over [low, high) of `column`: events folded, and the
    lowest and highest ledger leaf among them."""
    conditions = [table.c[column] >= low, table.c[column] < high]
    if account_id is not None:
        conditions.append(table.c.account_id == account_id)
    return (
        select(
            table.c.account_id,
            table.c.dims,
            func.sum(table.c.event_count),
            func.min(table.c.first_leaf),
            func.max(table.c.last_leaf),
        )
        .where(*conditions)
        .group_by(table.c.account_id, table.c.dims)
    )


def _hourly_totals(
    connection: Connection,
    tenant_id: int,
    compiled: CompiledMeter,
    start_hour: int,
    end_hour: int,
    account_id: int | None,
    now: datetime,
) -> dict[int, list[GroupTotal]]:
    """Distinct counts, latest values and gauges, from the hourly tables."""
    window = Window.whole(start_hour, end_hour)
    cells = window_cells(connection, tenant_id, compiled, account_id, window, now)
    query = _query(rollups, "hour", start_hour, end_hour, account_id).where(
        rollups.c.tenant_id == tenant_id, rollups.c.meter_id == compiled.id
    )
    spans = {(row[0], row[1]): row[2:] for row in connection.execute(query)}
    totals: dict[int, list[GroupTotal]] = {}
    for (_bucket, owner, dims), value in sorted(cells.items(), key=lambda item: item[0][1:]):
        assert owner is not None
        count, first, last = spans.get((owner, dims), (0, None, None))
        totals.setdefault(owner, []).append(
            GroupTotal(dims, cell_value(value), int(count), first, last)
        )
    return totals


def consecutive_totals(
    connection: Connection,
    tenant_id: int,
    compiled: CompiledMeter,
    account_id: int,
    starts: Sequence[datetime],
    end: datetime,
    now: datetime,
) -> list[list[GroupTotal]]:
    """One account's totals for consecutive windows (`starts[i]` to the next start, the last to
    `end`), read in one query; values only, without provenance (for balances carried over)."""
    start_hour, end_hour = hour_of(to_micros(starts[0])), hour_of(to_micros(end))
    window = Window(start_hour, end_hour, list(starts), Granularity.MONTH)
    cells = window_cells(connection, tenant_id, compiled, account_id, window, now)
    found: list[list[GroupTotal]] = [[] for _ in starts]
    for (bucket, _owner, dims), value in sorted(cells.items(), key=lambda item: item[0][::2]):
        found[bucket].append(GroupTotal(dims, cell_value(value), 0, None, None))
    return found


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
