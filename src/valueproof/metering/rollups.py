"""Writing rollups: add batch deltas, refold buckets a correction touched, rebuild a meter.

Every function runs inside the caller's transaction, the same one that writes the events, so a
reader never sees events without their rollups.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import orjson
from sqlalchemy import Connection, and_, delete, insert, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from valueproof.metering import sums
from valueproof.metering.aggregations import (
    Bucket,
    BucketKey,
    CompiledMeter,
    FoldInput,
    GaugePoint,
    Unmetered,
    fold,
)
from valueproof.metering.tables import (
    events,
    gauge_points,
    rollup_distinct,
    rollups,
    rollups_monthly,
)
from valueproof.periods import MICROS_PER_HOUR, month_of_hour, month_start_hour
from valueproof.store import placeholder

_REBUILD_CHUNK = 20_000
UNMETERED_LISTED = 100  # the unmetered events a rebuild names; it counts them all


def in_force() -> Any:
    """Events that count: not a void, and not superseded by a later void or amendment."""
    return and_(
        events.c.superseded_by.is_(None),
        or_(events.c.correction.is_(None), events.c.correction != "void"),
    )


def _upsert(connection: Connection, table: Any) -> Any:
    dialect = sqlite if connection.dialect.name == "sqlite" else postgresql
    return dialect.insert(table)


# Hand-written because it runs for every batch: both dialects speak this upsert, and executing
# it as plain DBAPI executemany skips the per-row parameter processing of a Core statement.
def _upsert_sql(table: str, bucket: str) -> str:
    """The upsert that adds aggregates to `table` (keyed by `bucket`: hour or month)."""
    newer = (
        f"excluded.latest_ts_us IS NOT NULL AND ({table}.latest_ts_us IS NULL"
        f" OR excluded.latest_ts_us > {table}.latest_ts_us"
        f" OR (excluded.latest_ts_us = {table}.latest_ts_us"
        f" AND excluded.latest_seq > {table}.latest_seq))"
    )

    def lowest(column: str) -> str:
        return (
            f" {column} = CASE WHEN {table}.{column} IS NULL THEN excluded.{column}"
            f"  WHEN excluded.{column} < {table}.{column} THEN excluded.{column}"
            f"  ELSE {table}.{column} END"
        )

    def highest(column: str) -> str:
        return lowest(column).replace(" < ", " > ")

    def latest(column: str) -> str:
        return f" {column} = CASE WHEN {newer} THEN excluded.{column} ELSE {table}.{column} END"

    key = (
        "tenant_id, meter_id, account_id, hour, dims"
        if bucket == "hour"
        else ("tenant_id, meter_id, month, account_id, dims")
    )
    updates = [
        f" event_count = {table}.event_count + excluded.event_count",
        *sums.carry_sql(table),
        lowest("min_micros"),
        highest("max_micros"),
        latest("latest_ts_us"),
        latest("latest_seq"),
        latest("latest_micros"),
        lowest("first_leaf"),
        highest("last_leaf"),
    ]
    return (
        f"INSERT INTO {table} (tenant_id, meter_id, account_id, dims, {bucket}, event_count,"
        " sum_high, sum_low, min_micros, max_micros, latest_ts_us, latest_seq, latest_micros,"
        " first_leaf, last_leaf) VALUES ({marks})"
        f" ON CONFLICT ({key}) DO UPDATE SET" + ",".join(updates)
    )


# Hand-written because it runs for every batch: both dialects speak this upsert, and executing
# it as plain DBAPI executemany skips the per-row parameter processing of a Core statement.
_UPSERT = _upsert_sql("rollups", "hour")
_UPSERT_MONTHLY = _upsert_sql("rollups_monthly", "month")


def apply_deltas(
    connection: Connection,
    tenant_id: int,
    buckets: Mapping[BucketKey, Bucket],
    points: Sequence[GaugePoint],
    monthly: bool = True,
) -> None:
    """Add folded buckets to the rollups (hourly, and monthly unless told not to) and record
    gauge readings."""
    if buckets:
        marks = ", ".join([placeholder(connection)] * 15)
        connection.exec_driver_sql(
            _UPSERT.format(marks=marks),
            [_values(tenant_id, key, bucket) for key, bucket in buckets.items()],
        )
        if monthly:
            months = by_month(buckets)
            if months:
                connection.exec_driver_sql(
                    _UPSERT_MONTHLY.format(marks=marks),
                    [_values(tenant_id, key, bucket) for key, bucket in months.items()],
                )
        distinct = list(_distinct_rows(tenant_id, buckets))
        if distinct:
            connection.execute(
                _upsert(connection, rollup_distinct).on_conflict_do_nothing(), distinct
            )
    if points:
        connection.execute(
            insert(gauge_points),
            [
                {
                    "tenant_id": tenant_id,
                    "meter_id": p.meter_id,
                    "account_id": p.account_id,
                    "dims": p.dims,
                    "ts_us": p.ts_us,
                    "seq": p.seq,
                    "level_micros": p.level_micros,
                }
                for p in points
            ],
        )


def _values(tenant_id: int, key: BucketKey, b: Bucket) -> tuple[Any, ...]:
    meter_id, account_id, dims, when = key
    high, low = sums.split(b.sum_micros)
    return (
        tenant_id,
        meter_id,
        account_id,
        dims,
        when,
        b.event_count,
        high,
        low,
        b.min_micros,
        b.max_micros,
        b.latest_ts_us,
        b.latest_seq,
        b.latest_micros,
        b.first_leaf,
        b.last_leaf,
    )


def by_month(buckets: Mapping[BucketKey, Bucket]) -> dict[BucketKey, Bucket]:
    """Hourly buckets combined per calendar month (distinct values stay hourly)."""
    months: dict[BucketKey, Bucket] = {}
    month_of: dict[int, int] = {}
    for (meter_id, account_id, dims, hour), bucket in buckets.items():
        month = month_of.get(hour)
        if month is None:
            month = month_of[hour] = month_of_hour(hour)
        key = (meter_id, account_id, dims, month)
        found = months.get(key)
        if found is None:
            months[key] = replace(bucket, distinct=set())
        else:
            found.merge(bucket)
    return months


def _distinct_rows(tenant_id: int, buckets: Mapping[BucketKey, Bucket]) -> Iterator[dict[str, Any]]:
    for (meter_id, account_id, dims, hour), bucket in buckets.items():
        for value in bucket.distinct:
            yield {
                "tenant_id": tenant_id,
                "meter_id": meter_id,
                "account_id": account_id,
                "dims": dims,
                "hour": hour,
                "value": value,
            }


def fold_inputs(rows: Iterable[Any]) -> Iterator[FoldInput]:
    """Stored event rows as fold inputs."""
    for row in rows:
        yield FoldInput(
            seq=row.seq,
            account_id=row.account_id,
            type=row.type,
            ts_us=row.ts_us,
            properties=orjson.loads(row.properties),
            value_micros=row.value_micros,
            leaf_index=row.leaf_index,
        )


_FOLD_COLUMNS = (
    events.c.seq,
    events.c.account_id,
    events.c.type,
    events.c.ts_us,
    events.c.properties,
    events.c.value_micros,
    events.c.leaf_index,
)


def refold_buckets(
    connection: Connection,
    tenant_id: int,
    touched: Iterable[tuple[CompiledMeter, int, str, int]],
) -> None:
    """Recompute buckets (meter, account, dims, hour) from the raw events in force.

    Corrections take events away, which min, max, latest and distinct counts cannot subtract.
    The months of those hours are then rebuilt from their hours.
    """
    months: set[BucketKey] = set()
    for compiled, account_id, dims, hour in set(touched):
        _delete_bucket(connection, tenant_id, compiled.id, account_id, dims, hour)
        rows = connection.execute(
            select(*_FOLD_COLUMNS).where(
                events.c.tenant_id == tenant_id,
                events.c.account_id == account_id,
                events.c.type == compiled.meter.event_type,
                events.c.ts_us >= hour * MICROS_PER_HOUR,
                events.c.ts_us < (hour + 1) * MICROS_PER_HOUR,
                in_force(),
            )
        )
        # Events the meter cannot read were left out of it (and listed) when it was built.
        buckets, _ = fold(fold_inputs(rows), {compiled.meter.event_type: [compiled]}, [])
        kept = {key: bucket for key, bucket in buckets.items() if key[2] == dims}
        apply_deltas(connection, tenant_id, kept, [], monthly=False)
        months.add((compiled.id, account_id, dims, month_of_hour(hour)))
    for key in months:
        _refold_month(connection, tenant_id, key)


def _refold_month(connection: Connection, tenant_id: int, key: BucketKey) -> None:
    """Rebuild one monthly row from the hourly rows under it."""
    meter_id, account_id, dims, month = key
    where = (
        rollups_monthly.c.tenant_id == tenant_id,
        rollups_monthly.c.meter_id == meter_id,
        rollups_monthly.c.month == month,
        rollups_monthly.c.account_id == account_id,
        rollups_monthly.c.dims == dims,
    )
    connection.execute(delete(rollups_monthly).where(*where))
    rows = connection.execute(
        select(rollups).where(
            rollups.c.tenant_id == tenant_id,
            rollups.c.meter_id == meter_id,
            rollups.c.account_id == account_id,
            rollups.c.dims == dims,
            rollups.c.hour >= month_start_hour(month),
            rollups.c.hour < month_start_hour(month + 1),
        )
    )
    whole = Bucket()
    for row in rows:
        whole.merge(
            Bucket(
                row.event_count,
                sums.join(row.sum_high, row.sum_low),
                row.min_micros,
                row.max_micros,
                row.latest_ts_us,
                row.latest_seq,
                row.latest_micros,
                row.first_leaf,
                row.last_leaf,
            )
        )
    if whole.event_count:
        marks = ", ".join([placeholder(connection)] * 15)
        connection.exec_driver_sql(
            _UPSERT_MONTHLY.format(marks=marks), [_values(tenant_id, key, whole)]
        )


def _delete_bucket(
    connection: Connection, tenant_id: int, meter_id: int, account_id: int, dims: str, hour: int
) -> None:
    for table in (rollups, rollup_distinct):
        connection.execute(
            delete(table).where(
                table.c.tenant_id == tenant_id,
                table.c.meter_id == meter_id,
                table.c.account_id == account_id,
                table.c.dims == dims,
                table.c.hour == hour,
            )
        )


def remove_gauge_points(
    connection: Connection, tenant_id: int, meter_ids: Sequence[int], seq: int
) -> None:
    """Withdraw the readings an event contributed (it was voided or amended)."""
    if meter_ids:
        connection.execute(
            delete(gauge_points).where(
                gauge_points.c.tenant_id == tenant_id,
                gauge_points.c.meter_id.in_(meter_ids),
                gauge_points.c.seq == seq,
            )
        )


def drop_meter_rollups(connection: Connection, tenant_id: int, meter_id: int) -> None:
    """Remove every rollup row and reading of a meter."""
    for table in (rollups, rollups_monthly, rollup_distinct, gauge_points):
        connection.execute(
            delete(table).where(table.c.tenant_id == tenant_id, table.c.meter_id == meter_id)
        )


@dataclass(frozen=True, slots=True)
class UnmeteredEvent:
    """An event on record that a meter leaves out: `field` holds no quantity, for `reason`."""

    id: str
    field: str
    reason: str


@dataclass(frozen=True, slots=True)
class Rebuilt:
    """What rebuilding a meter read: events folded in, and those it had to leave out (all
    counted, the first `UNMETERED_LISTED` by arrival named)."""

    folded: int
    unmetered_count: int = 0
    unmetered: tuple[UnmeteredEvent, ...] = ()


def rebuild_meter(connection: Connection, tenant_id: int, compiled: CompiledMeter) -> Rebuilt:
    """Fold every event in force of the meter's type into fresh rollups.

    An event the meter cannot read a quantity from (it came in before the meter existed, when
    nothing checked that property as a quantity) is left out of the meter and reported, so the
    meter can be created and no usage is dropped unsaid.
    """
    query = (
        select(*_FOLD_COLUMNS)
        .where(
            events.c.tenant_id == tenant_id,
            events.c.type == compiled.meter.event_type,
            in_force(),
        )
        .order_by(events.c.seq)
    )
    read = 0
    last_seq = -1
    unmetered: list[Unmetered] = []
    count = 0
    while True:
        rows = connection.execute(query.where(events.c.seq > last_seq).limit(_REBUILD_CHUNK)).all()
        if not rows:
            break
        left_out: list[Unmetered] = []
        buckets, points = fold(fold_inputs(rows), {compiled.meter.event_type: [compiled]}, left_out)
        apply_deltas(connection, tenant_id, buckets, points)
        read += len(rows)
        count += len(left_out)
        unmetered.extend(left_out[: UNMETERED_LISTED - len(unmetered)])
        last_seq = rows[-1].seq
    return Rebuilt(read - count, count, _named(connection, tenant_id, unmetered))


def _named(
    connection: Connection, tenant_id: int, unmetered: list[Unmetered]
) -> tuple[UnmeteredEvent, ...]:
    if not unmetered:
        return ()
    rows = connection.execute(
        select(events.c.seq, events.c.event_id).where(
            events.c.tenant_id == tenant_id, events.c.seq.in_([item.seq for item in unmetered])
        )
    )
    ids = {seq: event_id for seq, event_id in rows}
    return tuple(UnmeteredEvent(ids[item.seq], item.field, item.reason) for item in unmetered)
