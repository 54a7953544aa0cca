"""Writing rollups: add batch deltas, refold buckets a correction touched, rebuild a meter.

Every function runs inside the caller's transaction, the same one that writes the events, so a
reader never sees events without their rollups.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import orjson
from sqlalchemy import Connection, and_, case, delete, insert, or_, select
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


def _keep_least(old: Any, new: Any) -> Any:
    return case((old.is_(None), new), (new.is_(None), old), (new < old, new), else_=old)


def _keep_greatest(old: Any, new: Any) -> Any:
    return case((old.is_(None), new), (new.is_(None), old), (new > old, new), else_=old)


def apply_deltas(
    connection: Connection,
    tenant_id: int,
    buckets: Mapping[BucketKey, Bucket],
    points: Sequence[GaugePoint],
) -> None:
    """Add folded buckets to the rollups and record gauge readings."""
    if buckets:
        statement = _upsert(connection, rollups)
        new, old = statement.excluded, rollups.c
        newer = and_(
            new.latest_ts_us.is_not(None),
            or_(
                old.latest_ts_us.is_(None),
                new.latest_ts_us > old.latest_ts_us,
                and_(new.latest_ts_us == old.latest_ts_us, new.latest_seq > old.latest_seq),
            ),
        )
        statement = statement.on_conflict_do_update(
            index_elements=["tenant_id", "meter_id", "account_id", "dims", "hour"],
            set_={
                "event_count": old.event_count + new.event_count,
                "sum_micros": old.sum_micros + new.sum_micros,
                "min_micros": _keep_least(old.min_micros, new.min_micros),
                "max_micros": _keep_greatest(old.max_micros, new.max_micros),
                "latest_ts_us": case((newer, new.latest_ts_us), else_=old.latest_ts_us),
                "latest_seq": case((newer, new.latest_seq), else_=old.latest_seq),
                "latest_micros": case((newer, new.latest_micros), else_=old.latest_micros),
            },
        )
        connection.execute(statement, list(_rollup_rows(tenant_id, buckets)))
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


def _rollup_rows(tenant_id: int, buckets: Mapping[BucketKey, Bucket]) -> Iterator[dict[str, Any]]:
    for (meter_id, account_id, dims, hour), bucket in buckets.items():
        yield {
            "tenant_id": tenant_id,
            "meter_id": meter_id,
            "account_id": account_id,
            "dims": dims,
            "hour": hour,
            "event_count": bucket.event_count,
            "sum_micros": bucket.sum_micros,
            "min_micros": bucket.min_micros,
            "max_micros": bucket.max_micros,
            "latest_ts_us": bucket.latest_ts_us,
            "latest_seq": bucket.latest_seq,
            "latest_micros": bucket.latest_micros,
        }


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
        )


_FOLD_COLUMNS = (
    events.c.seq,
    events.c.account_id,
    events.c.type,
    events.c.ts_us,
    events.c.properties,
    events.c.value_micros,
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
