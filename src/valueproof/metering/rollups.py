"""Writing rollups: add batch deltas, refold buckets a correction touched, rebuild a meter.

Every function runs inside the caller's transaction, the same one that writes the events, so a
reader never sees events without their rollups.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import orjson
from sqlalchemy import Connection, and_, delete, insert, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from valueproof.metering.aggregations import (
    Bucket,
    BucketKey,
    CompiledMeter,
    FoldInput,
    GaugePoint,
    fold,
)
from valueproof.metering.tables import events, gauge_points, rollup_distinct, rollups
from valueproof.periods import MICROS_PER_HOUR

_REBUILD_CHUNK = 20_000


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
_LATEST_IS_NEWER = (
    "excluded.latest_ts_us IS NOT NULL AND (rollups.latest_ts_us IS NULL"
    " OR excluded.latest_ts_us > rollups.latest_ts_us"
    " OR (excluded.latest_ts_us = rollups.latest_ts_us"
    " AND excluded.latest_seq > rollups.latest_seq))"
)
_UPSERT = (
    "INSERT INTO rollups (tenant_id, meter_id, account_id, dims, hour, event_count, sum_micros,"
    " min_micros, max_micros, latest_ts_us, latest_seq, latest_micros, first_leaf, last_leaf)"
    " VALUES ({marks})"
    " ON CONFLICT (tenant_id, meter_id, account_id, hour, dims) DO UPDATE SET"
    " event_count = rollups.event_count + excluded.event_count,"
    " sum_micros = rollups.sum_micros + excluded.sum_micros,"
    " min_micros = CASE WHEN rollups.min_micros IS NULL THEN excluded.min_micros"
    "  WHEN excluded.min_micros < rollups.min_micros THEN excluded.min_micros"
    "  ELSE rollups.min_micros END,"
    " max_micros = CASE WHEN rollups.max_micros IS NULL THEN excluded.max_micros"
    "  WHEN excluded.max_micros > rollups.max_micros THEN excluded.max_micros"
    "  ELSE rollups.max_micros END,"
    f" latest_ts_us = CASE WHEN {_LATEST_IS_NEWER} THEN excluded.latest_ts_us"
    "  ELSE rollups.latest_ts_us END,"
    f" latest_seq = CASE WHEN {_LATEST_IS_NEWER} THEN excluded.latest_seq"
    "  ELSE rollups.latest_seq END,"
    f" latest_micros = CASE WHEN {_LATEST_IS_NEWER} THEN excluded.latest_micros"
    "  ELSE rollups.latest_micros END,"
    " first_leaf = CASE WHEN rollups.first_leaf IS NULL THEN excluded.first_leaf"
    "  WHEN excluded.first_leaf < rollups.first_leaf THEN excluded.first_leaf"
    "  ELSE rollups.first_leaf END,"
    " last_leaf = CASE WHEN rollups.last_leaf IS NULL THEN excluded.last_leaf"
    "  WHEN excluded.last_leaf > rollups.last_leaf THEN excluded.last_leaf"
    "  ELSE rollups.last_leaf END"
)


def apply_deltas(
    connection: Connection,
    tenant_id: int,
    buckets: Mapping[BucketKey, Bucket],
    points: Sequence[GaugePoint],
) -> None:
    """Add folded buckets to the rollups and record gauge readings."""
    if buckets:
        mark = "?" if connection.dialect.paramstyle == "qmark" else "%s"
        connection.exec_driver_sql(
            _UPSERT.format(marks=", ".join([mark] * 14)),
            [
                (
                    tenant_id, meter_id, account_id, dims, hour, b.event_count, b.sum_micros,
                    b.min_micros, b.max_micros, b.latest_ts_us, b.latest_seq, b.latest_micros,
                    b.first_leaf, b.last_leaf,
                )
                for (meter_id, account_id, dims, hour), b in buckets.items()
            ],
        )  # fmt: skip
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
    """
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
        buckets, _ = fold(fold_inputs(rows), {compiled.meter.event_type: [compiled]})
        kept = {key: bucket for key, bucket in buckets.items() if key[2] == dims}
        apply_deltas(connection, tenant_id, kept, [])


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
    for table in (rollups, rollup_distinct, gauge_points):
        connection.execute(
            delete(table).where(table.c.tenant_id == tenant_id, table.c.meter_id == meter_id)
        )


def rebuild_meter(connection: Connection, tenant_id: int, compiled: CompiledMeter) -> int:
    """Fold every event in force of the meter's type into fresh rollups; returns events read."""
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
    while True:
        rows = connection.execute(query.where(events.c.seq > last_seq).limit(_REBUILD_CHUNK)).all()
        if not rows:
            return read
        buckets, points = fold(fold_inputs(rows), {compiled.meter.event_type: [compiled]})
        apply_deltas(connection, tenant_id, buckets, points)
        read += len(rows)
        last_seq = rows[-1].seq
