"""Usage queries, answered from the hourly rollups (never by scanning raw events).

A window is [start, end) in UTC, floored to whole hours (the rollups' resolution). Buckets are
hours, days or calendar months; the first and last may be partial when the window cuts them.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import MAX_PREC, ROUND_HALF_EVEN, Decimal, localcontext
from typing import Any

import orjson
from sqlalchemy import Connection, case, func, literal, select

from valueproof.errors import InvalidInput
from valueproof.metering import sums
from valueproof.metering.aggregations import CompiledMeter
from valueproof.metering.definitions import Aggregation
from valueproof.metering.quantities import MICRO, from_micros
from valueproof.metering.registry import load_catalog
from valueproof.metering.tables import gauge_points, rollup_distinct, rollups
from valueproof.periods import (
    MICROS_PER_HOUR,
    Granularity,
    bucket_starts,
    format_rfc3339,
    hour_of,
    parse_instant_field,
    to_micros,
)
from valueproof.periods import (
    from_micros as instant,
)
from valueproof.tenancy.accounts import account_ids
from valueproof.tenancy.tables import accounts

ACCOUNT = "account"  # the group-by name of the account dimension
_SIX_PLACES = Decimal("0.000001")


@dataclass(frozen=True, slots=True)
class UsageQuery:
    meter: str
    start: datetime
    end: datetime
    granularity: Granularity = Granularity.DAY
    account: str | None = None
    group_by: tuple[str, ...] = ()

    @classmethod
    def from_text(
        cls,
        meter: str,
        start: str,
        end: str,
        granularity: Granularity,
        account: str | None,
        group_by: Iterable[str],
    ) -> UsageQuery:
        """A query from what a user typed: RFC 3339 bounds, groups comma-separated or repeated."""
        names = (name.strip() for value in group_by for name in value.split(","))
        return cls(
            meter=meter,
            start=parse_instant_field("from", start),
            end=parse_instant_field("to", end),
            granularity=granularity,
            account=account,
            group_by=tuple(name for name in names if name),
        )


@dataclass(frozen=True, slots=True)
class UsageRow:
    start: datetime
    end: datetime
    group: dict[str, Any]
    value: Decimal


@dataclass(frozen=True, slots=True)
class UsageResult:
    meter: str
    aggregation: Aggregation
    unit: str
    granularity: Granularity
    start: datetime
    end: datetime
    rows: list[UsageRow]


@dataclass(frozen=True, slots=True)
class Window:
    """Whole hours [start_hour, end_hour) cut into buckets."""

    start_hour: int
    end_hour: int
    buckets: list[datetime]  # bucket starts, clipped to the window, in order
    granularity: Granularity

    @classmethod
    def whole(cls, start_hour: int, end_hour: int) -> Window:
        """The window as one bucket (a billing period, say)."""
        return cls(start_hour, end_hour, [instant(start_hour * MICROS_PER_HOUR)], Granularity.MONTH)


def query_usage(
    connection: Connection, tenant_id: int, query: UsageQuery, now: datetime
) -> UsageResult:
    """Usage of one meter over a window, per bucket and requested group."""
    compiled = load_catalog(connection, tenant_id).meters_by_key.get(query.meter)
    if compiled is None:
        raise InvalidInput("meter", f"unknown meter {query.meter!r}")
    allowed = (*compiled.meter.group_by, ACCOUNT)
    for name in query.group_by:
        if name not in allowed:
            raise InvalidInput(
                "group_by",
                f"{name!r} is not a group of meter {query.meter!r}; use {', '.join(allowed)}",
            )
    account_id = None
    if query.account is not None:
        account_id = account_ids(connection, tenant_id, [query.account]).get(query.account)
        if account_id is None:
            raise InvalidInput("account", f"unknown account {query.account!r}")
    window = _window(query)
    aggregation = compiled.meter.aggregation
    cells = window_cells(connection, tenant_id, compiled, account_id, window, now)
    rows = _rows(connection, tenant_id, cells, query, window, aggregation)
    return UsageResult(
        meter=query.meter,
        aggregation=aggregation,
        unit=compiled.meter.unit,
        granularity=query.granularity,
        start=instant(window.start_hour * MICROS_PER_HOUR),
        end=instant(window.end_hour * MICROS_PER_HOUR),
        rows=rows,
    )


def window_cells(
    connection: Connection,
    tenant_id: int,
    compiled: CompiledMeter,
    account_id: int | None,
    window: Window,
    now: datetime,
) -> dict[Cell, Any]:
    """The meter's aggregate per bucket, account and group; `cell_value` reads one."""
    aggregation = compiled.meter.aggregation
    if aggregation is Aggregation.TIME_WEIGHTED_SUM:
        return _time_weighted(connection, tenant_id, compiled, account_id, window, now)
    if aggregation is Aggregation.UNIQUE_COUNT:
        return _distinct(connection, tenant_id, compiled, account_id, window)
    return _rolled(connection, tenant_id, compiled, account_id, window)


def cell_value(value: Any) -> Decimal:
    """A cell's quantity: distinct counts are sets, latest values (ts, seq, value) tuples."""
    if isinstance(value, set):
        return Decimal(len(value))
    if isinstance(value, tuple):
        number: Decimal = value[2]
        return number
    return Decimal(value)


def _window(query: UsageQuery) -> Window:
    start_hour = hour_of(to_micros(query.start))
    end_hour = hour_of(to_micros(query.end))
    if end_hour <= start_hour:
        raise InvalidInput("to", "must be at least one hour after from")
    if end_hour - start_hour > 24 * 366 * 10:
        raise InvalidInput("to", "the window may span at most ten years")
    start = instant(start_hour * MICROS_PER_HOUR)
    end = instant(end_hour * MICROS_PER_HOUR)
    buckets = [max(b, start) for b in bucket_starts(start, end, query.granularity)]
    return Window(start_hour, end_hour, buckets, query.granularity)


# A cell is the aggregate of one bucket, one account (or None) and one dims value.
Cell = tuple[int, int | None, str]


def _bucket_expression(window: Window, hour: Any) -> Any:
    """SQL that maps an hour to its bucket index in the window."""
    if window.granularity is Granularity.HOUR:
        return hour - window.start_hour
    starts = [hour_of(to_micros(b)) for b in window.buckets]
    whens = [(hour < boundary, literal(i)) for i, boundary in enumerate(starts[1:])]
    return case(*whens, else_=literal(len(starts) - 1)) if whens else literal(0)


def _filters(
    table: Any, tenant_id: int, meter_id: int, account_id: int | None, window: Window
) -> list[Any]:
    conditions = [
        table.c.tenant_id == tenant_id,
        table.c.meter_id == meter_id,
        table.c.hour >= window.start_hour,
        table.c.hour < window.end_hour,
    ]
    if account_id is not None:
        conditions.append(table.c.account_id == account_id)
    return conditions


def _rolled(
    connection: Connection,
    tenant_id: int,
    compiled: CompiledMeter,
    account_id: int | None,
    window: Window,
) -> dict[Cell, Any]:
    aggregation = compiled.meter.aggregation
    bucket = _bucket_expression(window, rollups.c.hour).label("bucket")
    where = _filters(rollups, tenant_id, compiled.id, account_id, window)
    if aggregation is Aggregation.LATEST:
        return _latest(connection, bucket, where)
    rows = connection.execute(
        select(bucket, rollups.c.account_id, rollups.c.dims, *rolled_measure(aggregation))
        .where(*where)
        .group_by(bucket, rollups.c.account_id, rollups.c.dims)
    )
    cells: dict[Cell, Any] = {}
    for row in rows:
        number = rolled_number(row[3:])
        if number is not None:
            cells[(row.bucket, row.account_id, row.dims)] = measured(aggregation, number)
    return cells


# How each aggregation that adds up across hours reads the rollups, as SQL over many rows (a
# sum's words are added by `sums.summed`).
_MEASURE_COLUMNS: dict[Aggregation, tuple[Any, str]] = {
    Aggregation.COUNT: (func.sum, "event_count"),
    Aggregation.MAX: (func.max, "max_micros"),
    Aggregation.MIN: (func.min, "min_micros"),
}
ROLLED = frozenset({*_MEASURE_COLUMNS, Aggregation.SUM})


def rolled_measure(aggregation: Aggregation, table: Any = rollups) -> tuple[Any, ...]:
    """SQL aggregating the rollups (hourly, or `table`) of a count, sum, max or min meter: one
    column, or a sum's three; `rolled_number` reads them back."""
    if aggregation is Aggregation.SUM:
        return sums.summed(table)
    function, column = _MEASURE_COLUMNS[aggregation]
    return (function(table.c[column]),)


def rolled_number(numbers: Sequence[Any]) -> int | None:
    """The integer `rolled_measure`'s columns give (events or micro-units); None: no value."""
    if numbers[0] is None:
        return None
    if len(numbers) == 1:
        return int(numbers[0])
    high, upper, lower = (int(number) for number in numbers)
    return sums.join_summed(high, upper, lower)


def measured(aggregation: Aggregation, number: int) -> Decimal:
    """A rolled measure as a quantity: counts are whole, the others micro-units."""
    return Decimal(int(number)) if aggregation is Aggregation.COUNT else from_micros(int(number))


def _latest(
    connection: Connection, bucket: Any, where: list[Any]
) -> dict[Cell, tuple[int, int, Decimal]]:
    rows = connection.execute(
        select(
            bucket,
            rollups.c.account_id,
            rollups.c.dims,
            rollups.c.latest_ts_us,
            rollups.c.latest_seq,
            rollups.c.latest_micros,
        ).where(*where, rollups.c.latest_ts_us.is_not(None))
    )
    best: dict[Cell, tuple[int, int, Decimal]] = {}
    for row in rows:
        key = (row.bucket, row.account_id, row.dims)
        candidate = (row.latest_ts_us, row.latest_seq, from_micros(row.latest_micros))
        if key not in best or candidate[:2] > best[key][:2]:
            best[key] = candidate
    return best


def _distinct(
    connection: Connection,
    tenant_id: int,
    compiled: CompiledMeter,
    account_id: int | None,
    window: Window,
) -> dict[Cell, set[str]]:
    bucket = _bucket_expression(window, rollup_distinct.c.hour).label("bucket")
    rows = connection.execute(
        select(
            bucket, rollup_distinct.c.account_id, rollup_distinct.c.dims, rollup_distinct.c.value
        )
        .where(*_filters(rollup_distinct, tenant_id, compiled.id, account_id, window))
        .distinct()
    )
    cells: dict[Cell, set[str]] = {}
    for row in rows:
        cells.setdefault((row.bucket, row.account_id, row.dims), set()).add(row.value)
    return cells


def _time_weighted(
    connection: Connection,
    tenant_id: int,
    compiled: CompiledMeter,
    account_id: int | None,
    window: Window,
    now: datetime,
) -> dict[Cell, Decimal]:
    """Integrate each series' level over the window: unit-hours, rounded half-even to 6 places."""
    start_us = window.start_hour * MICROS_PER_HOUR
    stop_us = min(window.end_hour * MICROS_PER_HOUR, max(to_micros(now), start_us))
    conditions = [
        gauge_points.c.tenant_id == tenant_id,
        gauge_points.c.meter_id == compiled.id,
        gauge_points.c.ts_us < stop_us,
    ]
    if account_id is not None:
        conditions.append(gauge_points.c.account_id == account_id)
    rows = connection.execute(
        select(gauge_points)
        .where(*conditions)
        .order_by(
            gauge_points.c.account_id, gauge_points.c.dims, gauge_points.c.ts_us, gauge_points.c.seq
        )
    )
    bucket_edges = [to_micros(b) for b in window.buckets] + [stop_us]
    integrals: dict[Cell, int] = {}
    for (series_account, dims), levels in _series(rows):
        for begin, finish, level in _segments(levels, start_us, stop_us):
            for index, (low, high) in enumerate(itertools.pairwise(bucket_edges)):
                overlap = min(finish, high) - max(begin, low)
                if overlap > 0:
                    key = (index, series_account, dims)
                    integrals[key] = integrals.get(key, 0) + level * overlap
    scale = Decimal(MICRO * MICROS_PER_HOUR)
    return {
        key: (Decimal(total) / scale).quantize(_SIX_PLACES, rounding=ROUND_HALF_EVEN)
        for key, total in integrals.items()
    }


def _series(rows: Iterable[Any]) -> Iterator[tuple[tuple[int, str], list[tuple[int, int]]]]:
    current: tuple[int, str] | None = None
    levels: list[tuple[int, int]] = []
    for row in rows:
        key = (row.account_id, row.dims)
        if key != current:
            if current is not None:
                yield current, levels
            current, levels = key, []
        levels.append((row.ts_us, row.level_micros))
    if current is not None:
        yield current, levels


def _segments(
    levels: list[tuple[int, int]], start_us: int, stop_us: int
) -> Iterator[tuple[int, int, int]]:
    """(begin, end, level) spans inside [start, stop): each reading holds until the next."""
    for (ts, level), following in zip(levels, [*levels[1:], (stop_us, 0)], strict=True):
        begin, finish = max(ts, start_us), min(following[0], stop_us)
        if finish > begin:
            yield begin, finish, level


def _rows(
    connection: Connection,
    tenant_id: int,
    cells: dict[Cell, Any],
    query: UsageQuery,
    window: Window,
    aggregation: Aggregation,
) -> list[UsageRow]:
    """Project cells onto the requested groups and combine what falls together."""
    by_account = ACCOUNT in query.group_by
    names = [name for name in query.group_by if name != ACCOUNT]
    external = _external_ids(connection, tenant_id, {key[1] for key in cells}) if by_account else {}
    combined: dict[tuple[int, str], Any] = {}
    groups: dict[tuple[int, str], dict[str, Any]] = {}
    for (index, account_id, dims), value in cells.items():
        labels = orjson.loads(dims)
        group = {name: labels.get(name) for name in names}
        if by_account:
            group[ACCOUNT] = external.get(account_id)
        key = (index, orjson.dumps(group, option=orjson.OPT_SORT_KEYS).decode())
        groups[key] = group
        combined[key] = (
            value if key not in combined else _combine(aggregation, combined[key], value)
        )
    edges = [*window.buckets, instant(window.end_hour * MICROS_PER_HOUR)]
    rows = []
    for key in sorted(combined):
        number = cell_value(combined[key])
        rows.append(UsageRow(edges[key[0]], edges[key[0] + 1], groups[key], number))
    return rows


def _combine(aggregation: Aggregation, left: Any, right: Any) -> Any:
    if aggregation is Aggregation.UNIQUE_COUNT:
        return left | right
    if aggregation is Aggregation.MAX:
        return max(left, right)
    if aggregation is Aggregation.MIN:
        return min(left, right)
    if aggregation is Aggregation.LATEST:
        return max(left, right, key=lambda latest: latest[:2])
    # Exact at any size: the default context would round a sum past 28 significant digits.
    with localcontext(prec=MAX_PREC):
        return left + right


def _external_ids(
    connection: Connection, tenant_id: int, ids: set[int | None]
) -> dict[int | None, str]:
    wanted = [i for i in ids if i is not None]
    if not wanted:
        return {}
    rows = connection.execute(
        select(accounts.c.id, accounts.c.external_id).where(
            accounts.c.tenant_id == tenant_id, accounts.c.id.in_(wanted)
        )
    )
    return {row.id: row.external_id for row in rows}


def usage_json(result: UsageResult) -> dict[str, Any]:
    """A usage result as JSON; quantities are decimal strings, exact."""
    return {
        "meter": result.meter,
        "aggregation": result.aggregation.value,
        "unit": result.unit,
        "granularity": result.granularity.value,
        "from": format_rfc3339(result.start),
        "to": format_rfc3339(result.end),
        "rows": [
            {
                "from": format_rfc3339(row.start),
                "to": format_rfc3339(row.end),
                "group": row.group,
                "value": str(row.value),
            }
            for row in result.rows
        ],
    }
