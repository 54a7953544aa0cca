"""Meters compiled to fast functions, and the fold of events into hourly buckets.

Pure: the ingest path folds each batch into bucket deltas that the store adds to its rollups, and
corrections refold a whole bucket from the raw events that remain in force.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import orjson

from valueproof.metering.definitions import NUMERIC_AGGREGATIONS, Aggregation, Filter, Meter
from valueproof.metering.quantities import to_micros as quantity_micros
from valueproof.periods import MICROS_PER_HOUR

Properties = Mapping[str, Any]
BucketKey = tuple[int, int, str, int]  # meter id, account id, dims, hour
_SORTED = orjson.OPT_SORT_KEYS


@dataclass(frozen=True, slots=True, eq=False)
class CompiledMeter:
    """A meter ready to apply: its id, its definition and closures over its rules."""

    id: int
    meter: Meter
    matches: Callable[[Properties], bool]
    dims: Callable[[Properties], str]
    value: Callable[[Properties, int | None], int | None]  # raises Unmeterable
    filtered: bool = False  # has filters: `matches` must be asked
    counts_only: bool = False  # `count`: the fold needs neither value nor distinct key


class Unmeterable(ValueError):
    """An event a numeric meter cannot read a quantity from: `field` is missing, not a number,
    negative or no quantity (more than 6 decimals, out of range). Ingest refuses such events
    for the meters that exist; events on record before their meter are left out of it."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Unmetered:
    """An event the fold left out of a meter, and why."""

    seq: int
    meter_id: int
    field: str
    reason: str


@dataclass(slots=True)
class Bucket:
    """The aggregate of the events of one meter, account, group and hour."""

    event_count: int = 0
    sum_micros: int = 0
    min_micros: int | None = None
    max_micros: int | None = None
    latest_ts_us: int | None = None
    latest_seq: int | None = None
    latest_micros: int | None = None
    first_leaf: int | None = None
    last_leaf: int | None = None
    distinct: set[str] = field(default_factory=set)

    def add(self, seq: int, ts_us: int, value: int | None, distinct: str | None) -> None:
        """Fold one event in (its leaf is noted by `note_leaf`)."""
        self.event_count += 1
        if distinct is not None:
            self.distinct.add(distinct)
        if value is None:
            return
        self.sum_micros += value
        if self.min_micros is None or value < self.min_micros:
            self.min_micros = value
        if self.max_micros is None or value > self.max_micros:
            self.max_micros = value
        if self.latest_ts_us is None or (ts_us, seq) > (self.latest_ts_us, self.latest_seq or 0):
            self.latest_ts_us, self.latest_seq, self.latest_micros = ts_us, seq, value

    def merge(self, other: Bucket) -> None:
        """Fold another bucket's aggregate in (distinct values aside)."""
        self.event_count += other.event_count
        self.sum_micros += other.sum_micros
        if other.min_micros is not None and (
            self.min_micros is None or other.min_micros < self.min_micros
        ):
            self.min_micros = other.min_micros
        if other.max_micros is not None and (
            self.max_micros is None or other.max_micros > self.max_micros
        ):
            self.max_micros = other.max_micros
        if other.latest_ts_us is not None and (
            self.latest_ts_us is None
            or (other.latest_ts_us, other.latest_seq or 0)
            > (self.latest_ts_us, self.latest_seq or 0)
        ):
            self.latest_ts_us = other.latest_ts_us
            self.latest_seq = other.latest_seq
            self.latest_micros = other.latest_micros
        self.note_leaf(other.first_leaf)
        self.note_leaf(other.last_leaf)

    def note_leaf(self, leaf: int | None) -> None:
        """Widen the bucket's leaf span to include `leaf`."""
        if leaf is None:
            return
        if self.first_leaf is None or leaf < self.first_leaf:
            self.first_leaf = leaf
        if self.last_leaf is None or leaf > self.last_leaf:
            self.last_leaf = leaf


@dataclass(frozen=True, slots=True)
class GaugePoint:
    """A reading of a time-weighted meter: `level` holds from `ts_us` until the next reading."""

    meter_id: int
    account_id: int
    dims: str
    ts_us: int
    seq: int
    level_micros: int


class FoldInput(NamedTuple):
    """What the fold needs of one stored or incoming event (a NamedTuple: one per event)."""

    seq: int
    account_id: int
    type: str
    ts_us: int
    properties: Properties
    value_micros: int | None
    leaf_index: int | None = None  # its leaf on the tenant's ledger


_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
    "in": lambda value, options: value in options,
    "not_in": lambda value, options: value not in options,
}


def _predicate(rule: Filter) -> Callable[[Properties], bool]:
    name, expected = rule.property, rule.value
    if rule.op == "exists":
        return lambda props: (props.get(name) is not None) == expected
    compare = _OPS[rule.op]
    ordered = rule.op in ("gt", "gte", "lt", "lte")

    def check(props: Properties) -> bool:
        value = props.get(name)
        if value is None:
            return rule.op in ("ne", "not_in")
        if ordered and (isinstance(value, bool) or not isinstance(value, int | float)):
            return False
        return bool(compare(value, expected))

    return check


def _always(_props: Properties) -> bool:
    return True


def compile_meter(meter_id: int, meter: Meter) -> CompiledMeter:
    """Turn a meter definition into the closures the fold calls per event."""
    predicates = [_predicate(rule) for rule in meter.filters]
    group_by = tuple(meter.group_by)
    prop = meter.value_property
    numeric = meter.aggregation in NUMERIC_AGGREGATIONS
    labels: dict[tuple[Any, ...], str] = {}  # group values -> their canonical JSON, memoized

    def matches(props: Properties) -> bool:
        return all(predicate(props) for predicate in predicates)

    def dims(props: Properties) -> str:
        if not group_by:
            return "{}"
        values = tuple(props.get(name) for name in group_by)
        label = labels.get(values)
        if label is None:
            # Safe to memoize by value: validation fixes each property's type (no 1 vs True).
            label = orjson.dumps(dict(zip(group_by, values, strict=True)), option=_SORTED).decode()
            labels[values] = label
        return label

    field = "value" if prop is None else f"properties.{prop}"

    def value(props: Properties, top_level: int | None) -> int | None:
        if not numeric:
            return None  # unique_count reads `distinct_key`, count nothing
        raw = top_level if prop is None else props.get(prop)
        if raw is None:
            raise Unmeterable(field, "is missing")
        if prop is None:
            return top_level  # `value` was checked as a quantity when it came in
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            raise Unmeterable(field, "is not a number")
        try:
            micros = quantity_micros(raw)
        except ValueError as error:
            raise Unmeterable(field, str(error)) from None
        if micros < 0:
            raise Unmeterable(field, "is negative")
        return micros

    return CompiledMeter(
        id=meter_id,
        meter=meter,
        matches=matches if predicates else _always,
        dims=dims,
        value=value,
        filtered=bool(predicates),
        counts_only=meter.aggregation is Aggregation.COUNT,
    )


def distinct_key(props: Properties, meter: Meter) -> str | None:
    """The value a unique_count meter counts, as canonical JSON (so 1 and "1" stay apart)."""
    if meter.aggregation is not Aggregation.UNIQUE_COUNT or meter.value_property is None:
        return None
    value = props.get(meter.value_property)
    return None if value is None else orjson.dumps(value).decode()


def fold(
    events: Iterable[FoldInput],
    meters_by_type: Mapping[str, Sequence[CompiledMeter]],
    unmetered: list[Unmetered] | None = None,
) -> tuple[dict[BucketKey, Bucket], list[GaugePoint]]:
    """Fold events into hourly buckets per meter, plus the readings of time-weighted meters.

    An event a numeric meter cannot read a quantity from is left out of that meter and noted in
    `unmetered`; without that list it raises Unmeterable (ingest validated it: a bug).
    """
    buckets: dict[BucketKey, Bucket] = {}
    points: list[GaugePoint] = []
    for event in events:
        compiled_meters = meters_by_type.get(event.type)
        if not compiled_meters:
            continue
        props = event.properties
        hour = event.ts_us // MICROS_PER_HOUR
        for compiled in compiled_meters:
            if compiled.filtered and not compiled.matches(props):
                continue
            dims = compiled.dims(props)
            if compiled.counts_only:  # the common case, kept cheap
                key = (compiled.id, event.account_id, dims, hour)
                bucket = buckets.get(key)
                if bucket is None:
                    bucket = buckets[key] = Bucket()
                bucket.event_count += 1
                bucket.note_leaf(event.leaf_index)
                continue
            try:
                value = compiled.value(props, event.value_micros)
            except Unmeterable as error:
                if unmetered is None:
                    raise
                unmetered.append(Unmetered(event.seq, compiled.id, error.field, error.reason))
                continue
            meter = compiled.meter
            if meter.aggregation is Aggregation.TIME_WEIGHTED_SUM:
                if value is not None:
                    points.append(
                        GaugePoint(
                            compiled.id, event.account_id, dims, event.ts_us, event.seq, value
                        )
                    )
                continue
            key = (compiled.id, event.account_id, dims, hour)
            bucket = buckets.get(key)
            if bucket is None:
                bucket = buckets[key] = Bucket()
            bucket.add(event.seq, event.ts_us, value, distinct_key(props, meter))
            bucket.note_leaf(event.leaf_index)
    return buckets, points
