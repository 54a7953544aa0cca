"""Usage queries answered from rollups equal a recomputation from the raw events (hypothesis).

The reference below folds the events in force straight from what was sent, with no rollups, so
it checks incremental rollups, late events, corrections and bucketing in one property.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from valueproof.errors import InvalidInput
from valueproof.metering.definitions import Aggregation, Meter
from valueproof.metering.ingest import ingest_batch
from valueproof.metering.usage import UsageQuery, query_usage
from valueproof.periods import Granularity, bucket_start, next_bucket
from valueproof.store import read, write
from valueproof.tenancy.tenants import create_tenant

from .conftest import ACCOUNTS, METERS, Metered, define_catalog

START = datetime(2026, 1, 30, tzinfo=UTC)  # the window crosses a month end
HOURS = 72
NOW = START + timedelta(hours=HOURS - 5)  # gauges hold until now, inside the window
_ids = itertools.count()


@dataclass
class Sent:
    """An event as sent, and whether it is still in force after every correction."""

    raw: dict[str, Any]
    order: int
    in_force: bool = True

    @property
    def at(self) -> datetime:
        return datetime.fromisoformat(self.raw["timestamp"].replace("Z", "+00:00"))


def new_event(draw: Callable[..., Any]) -> dict[str, Any]:
    kind = draw(st.sampled_from(["api.call", "credit.used", "seat.level"]))
    # A few hours only, so batches collide in the same buckets; 47-48 crosses the month end.
    hour = draw(st.sampled_from([0, 1, 23, 24, 47, 48, 70]))
    moment = START + timedelta(hours=hour, minutes=draw(st.integers(0, 59)))
    event: dict[str, Any] = {
        "id": f"e{next(_ids)}",
        "account": draw(st.sampled_from(ACCOUNTS)),
        "type": kind,
        "timestamp": moment.isoformat().replace("+00:00", "Z"),
    }
    if kind == "api.call":
        event["properties"] = {
            "endpoint": draw(st.sampled_from(["/a", "/b"])),
            "bytes": draw(st.integers(0, 1000) | st.sampled_from([0.5, 2.25])),
            "region": draw(st.sampled_from(["eu", "us", None])),
            "ok": draw(st.booleans()),
        }
        event["properties"] = {k: v for k, v in event["properties"].items() if v is not None}
    elif kind == "credit.used":
        event["properties"] = {}
        event["value"] = draw(st.integers(0, 50))
    else:
        event["properties"] = {
            "seats": draw(st.integers(0, 20)),
            "plan": draw(st.sampled_from(["pro", "team"])),
        }
    return event


@st.composite
def histories(draw: Callable[..., Any]) -> tuple[list[list[dict[str, Any]]], list[dict[str, Any]]]:
    """Batches of events, some of them voids or amends of earlier ones."""
    sent: list[dict[str, Any]] = []
    for _ in range(draw(st.integers(1, 40))):
        action = draw(st.sampled_from(["new", "new", "new", "void", "amend"]))
        targets = [e for e in sent if "voids" not in e]
        if action == "new" or not targets:
            sent.append(new_event(draw))
            continue
        target = draw(st.sampled_from(targets))
        replacement = new_event(draw)
        replacement.update(account=target["account"], type=target["type"])
        if action == "void":
            replacement = {k: replacement[k] for k in ("id", "account", "type", "timestamp")}
            replacement["voids"] = target["id"]
        else:
            replacement["amends"] = target["id"]
        sent.append(replacement)
    cuts = sorted(draw(st.sets(st.integers(1, max(1, len(sent) - 1)), max_size=6)))
    batches = [sent[a:b] for a, b in itertools.pairwise([0, *cuts, len(sent)])]
    return [b for b in batches if b], sent


def apply_history(results: list[Any], sent: list[dict[str, Any]]) -> list[Sent]:
    """Which events are in force, replaying corrections as the rules say, from the outcomes."""
    kept: dict[str, Sent] = {}
    for order, (raw, result) in enumerate(zip(sent, results, strict=True)):
        if result.status != "accepted":
            continue
        target = raw.get("voids") or raw.get("amends")
        if target is not None:
            kept[target].in_force = False
        kept[raw["id"]] = Sent(raw, order, in_force="voids" not in raw)
    return [s for s in kept.values() if s.in_force]


def reference(
    meter: Meter, events: list[Sent], granularity: Granularity, group_by: tuple[str, ...]
) -> dict[Any, Decimal]:
    end = START + timedelta(hours=HOURS)
    matching = [s for s in events if s.raw["type"] == meter.event_type and _passes(meter, s.raw)]
    if meter.aggregation is Aggregation.TIME_WEIGHTED_SUM:
        return _reference_gauge(meter, matching, granularity, group_by, end)
    cells: dict[Any, list[Sent]] = {}
    for sent in matching:
        if START <= sent.at < end:
            bucket = max(bucket_start(sent.at, granularity), START)
            cells.setdefault((bucket, _group(sent.raw, group_by)), []).append(sent)
    return {
        key: _aggregate(meter, members)
        for key, members in cells.items()
        if _aggregate(meter, members) is not None
    }


def _passes(meter: Meter, raw: dict[str, Any]) -> bool:
    return all(raw["properties"].get(f.property) == f.value for f in meter.filters)


def _group(raw: dict[str, Any], group_by: tuple[str, ...]) -> str:
    labels = {
        name: raw["account"] if name == "account" else raw["properties"].get(name)
        for name in group_by
    }
    return orjson.dumps(labels, option=orjson.OPT_SORT_KEYS).decode()


def _value(meter: Meter, raw: dict[str, Any]) -> Decimal:
    number = (
        raw.get("value")
        if meter.value_property is None
        else raw["properties"][meter.value_property]
    )
    return Decimal(str(number))


def _aggregate(meter: Meter, members: list[Sent]) -> Decimal | None:
    aggregation = meter.aggregation
    if aggregation is Aggregation.COUNT:
        return Decimal(len(members))
    if aggregation is Aggregation.UNIQUE_COUNT:
        seen = {m.raw["properties"].get(meter.value_property or "") for m in members} - {None}
        return Decimal(len(seen)) if seen else None
    values = [_value(meter, m.raw) for m in members]
    if aggregation is Aggregation.SUM:
        return sum(values, Decimal(0))
    if aggregation is Aggregation.MAX:
        return max(values)
    if aggregation is Aggregation.MIN:
        return min(values)
    latest = max(members, key=lambda m: (m.at, m.order))
    return _value(meter, latest.raw)


def _reference_gauge(
    meter: Meter,
    matching: list[Sent],
    granularity: Granularity,
    group_by: tuple[str, ...],
    end: datetime,
) -> dict[Any, Decimal]:
    stop = min(end, NOW)
    series: dict[tuple[str, str], list[Sent]] = {}
    for sent in matching:
        series.setdefault(
            (sent.raw["account"], _group(sent.raw, tuple(meter.group_by))), []
        ).append(sent)
    totals: dict[Any, Decimal] = {}
    for points in series.values():
        points.sort(key=lambda p: (p.at, p.order))
        per_bucket: dict[Any, Decimal] = {}
        for point, following in zip(points, [*points[1:], None], strict=True):
            begin = max(point.at, START)
            finish = min(following.at if following else stop, stop)
            cursor = begin
            while cursor < finish:
                bucket = max(bucket_start(cursor, granularity), START)
                edge = min(next_bucket(bucket_start(cursor, granularity), granularity), finish)
                hours = Decimal((edge - cursor) // timedelta(microseconds=1)) / Decimal(
                    3_600_000_000
                )
                key = (bucket, _group(point.raw, group_by))
                per_bucket[key] = per_bucket.get(key, Decimal(0)) + _value(meter, point.raw) * hours
                cursor = edge
        for key, amount in per_bucket.items():
            rounded = amount.quantize(Decimal("0.000001"), rounding=ROUND_HALF_EVEN)
            totals[key] = totals.get(key, Decimal(0)) + rounded
    return totals


def from_rollups(
    engine: Engine,
    tenant_id: int,
    meter: Meter,
    granularity: Granularity,
    group_by: tuple[str, ...],
) -> dict[Any, Decimal]:
    query = UsageQuery(
        meter.key, START, START + timedelta(hours=HOURS), granularity, None, group_by
    )
    with read(engine) as connection:
        result = query_usage(connection, tenant_id, query, NOW)
    return {
        (row.start, orjson.dumps(row.group, option=orjson.OPT_SORT_KEYS).decode()): row.value
        for row in result.rows
    }


GROUPINGS = [(), ("account",)]


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(history=histories())
def test_usage_from_rollups_equals_recomputation_from_raw_events(
    engine: Engine, history: Any
) -> None:
    batches, sent = history
    with write(engine) as connection:
        tenant = create_tenant(connection, f"prop-{next(_ids)}")
    define_catalog(engine, tenant)
    results = [r for batch in batches for r in ingest_batch(engine, tenant.id, batch)]
    assert all(r.status == "accepted" or r.errors for r in results)
    in_force = apply_history(results, sent)
    for meter in METERS:
        for granularity in (Granularity.HOUR, Granularity.DAY, Granularity.MONTH):
            for group_by in [*GROUPINGS, tuple(meter.group_by)]:
                expected = reference(meter, in_force, granularity, group_by)
                actual = from_rollups(engine, tenant.id, meter, granularity, group_by)
                assert actual == expected, (meter.key, granularity, group_by)


def test_unknown_meter_account_or_group_is_refused(metered: Metered) -> None:
    cases = [
        (UsageQuery("nope", START, NOW), "meter"),
        (UsageQuery("calls", START, NOW, account="nobody"), "account"),
        (UsageQuery("calls", START, NOW, group_by=("colour",)), "group_by"),
        (UsageQuery("calls", NOW, START), "to"),
    ]
    for query, field in cases:
        with read(metered.engine) as connection, pytest.raises(InvalidInput) as caught:
            query_usage(connection, metered.tenant.id, query, NOW)
        assert caught.value.field == field
