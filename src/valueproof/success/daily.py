"""Daily (or hourly) usage per account as dense arrays, read from the hourly rollups in one grouped
query per meter: the input of seasonality, baselines and the decline and surge alerts.

Only meters that add up (count, sum, time-weighted sum) have a daily total; a distinct count or a
latest value per day would need the raw events and is left out of the seasonal analytics.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
from sqlalchemy import Connection, func, select

from valueproof.metering import sums
from valueproof.metering.aggregations import CompiledMeter
from valueproof.metering.definitions import Aggregation
from valueproof.metering.tables import rollups
from valueproof.success.series import FloatArray

__all__ = [
    "DAILY",
    "HABIT_DAYS",
    "DailyUsage",
    "bucket_totals",
    "daily_usage",
    "day_number",
    "own_histories",
    "usage_habit",
]

HABIT_DAYS = 56  # the recent days an account's habit (the share of days it uses us) is read from

DAILY = frozenset({Aggregation.COUNT, Aggregation.SUM, Aggregation.TIME_WEIGHTED_SUM})
_EPOCH = date(1970, 1, 1)
_MICROS = 1_000_000.0
_FEW = 500
_SLICE = 200_000


def day_number(day: date) -> int:
    """Days since 1970-01-01."""
    return (day - _EPOCH).days


@dataclass(frozen=True, slots=True)
class DailyUsage:
    """One meter's daily totals: a row per account (in `accounts` order), a column per day from
    `first` to `last` inclusive, zero where nothing was used."""

    meter: str
    first: date
    last: date
    accounts: tuple[int, ...]
    values: FloatArray

    @property
    def days(self) -> list[date]:
        return [self.first + timedelta(days=i) for i in range(self.values.shape[1])]


def daily_usage(
    connection: Connection,
    tenant_id: int,
    compiled: CompiledMeter,
    first: date,
    last: date,
    accounts: Collection[int],
) -> DailyUsage:
    """Daily totals of `compiled` for `accounts` over [first, last] (UTC days)."""
    order = tuple(sorted(accounts))
    width = (last - first).days + 1
    start_hour = day_number(first) * 24
    values = bucket_totals(connection, tenant_id, compiled, start_hour, width, 24, order)
    return DailyUsage(compiled.meter.key, first, last, order, values)


def bucket_totals(
    connection: Connection,
    tenant_id: int,
    compiled: CompiledMeter,
    start_hour: int,
    buckets: int,
    hours: int,
    order: tuple[int, ...],
) -> FloatArray:
    """Totals of `compiled` for the accounts `order` (sorted ids) in `buckets` buckets of `hours`
    hours from `start_hour` (hours since 1970): a matrix accounts x buckets, zero where unused."""
    aggregation = compiled.meter.aggregation
    if aggregation not in DAILY:
        raise ValueError(f"meter {compiled.meter.key!r} ({aggregation}) has no daily total")
    values = np.zeros((len(order), max(buckets, 0)))
    if not order or buckets <= 0:
        return values
    end_hour = start_hour + buckets * hours
    t = rollups.c
    measures: tuple[Any, ...]
    if aggregation == Aggregation.COUNT:
        measures, weights = (func.sum(t.event_count),), np.array([1.0])
    else:  # a sum's words (see metering.sums), weighted back into units
        measures = sums.summed(rollups)
        weights = np.array([sums.WORD, sums.HALF, 1.0]) / _MICROS
    if start_hour % hours:
        raise ValueError("start_hour must be a whole number of buckets since 1970")
    # integer division on both backends: hours are positive integers
    bucket = (t.hour.op("/")(hours) if hours > 1 else t.hour) - start_hour // hours
    query = (
        select(t.account_id, bucket.label("bucket"), *measures)
        .where(
            t.tenant_id == tenant_id,
            t.meter_id == compiled.id,
            t.hour >= start_hour,
            t.hour < end_hour,
        )
        .group_by(t.account_id, bucket)
    )
    if len(order) <= _FEW:  # a few accounts: straight to their rows by the primary key
        query = query.where(t.account_id.in_(order))
    result = connection.execute(query)
    # Integers only, so the driver's rows need no conversion: fetched in large slices straight
    # into arrays (as Python tuples, all of them at once would take ~10x the memory).
    width = 2 + len(measures)
    parts = []
    while fetched := result.cursor.fetchmany(_SLICE):
        parts.append(np.array(fetched, dtype=np.float64).reshape(-1, width))
    result.close()
    found = np.concatenate(parts) if parts else np.zeros((0, width))
    ids = np.array(order, dtype=np.float64)
    rows = np.searchsorted(ids, found[:, 0])
    keep = (rows < len(ids)) & (ids[np.minimum(rows, len(ids) - 1)] == found[:, 0])
    columns = found[keep, 1].astype(np.int64)
    values[rows[keep], columns] = np.nan_to_num(found[keep, 2:]) @ weights
    return values


def own_histories(
    values: FloatArray, block: int = 7, keep: int = 730
) -> list[tuple[np.ndarray[Any, Any], int]]:
    """Rows grouped by how long each account's own history is (from its first use, in whole
    `block`-day blocks): (row indexes, length) pairs, shortest first. Days before an account's
    first use would read as a long trough, so each group is analysed on its last `length` days.
    A history of at least `keep` days (the yearly period's minimum) is never cut below it.
    """
    used = values > 0
    began = np.where(used.any(axis=1), np.argmax(used, axis=1), values.shape[1])
    own = values.shape[1] - began
    length = own // block * block
    length = np.where((own >= keep) & (length < keep), keep, length)
    return [
        (np.flatnonzero(length == size), int(size))
        for size in sorted(set(length.tolist()))
        if size > 0
    ]


def usage_habit(
    active: np.ndarray[Any, Any], first: date, window: int = HABIT_DAYS
) -> tuple[np.ndarray[Any, Any], FloatArray]:
    """Per row of `active` (accounts x days from `first`, True where the account used any
    meter): the column of its last day with usage (-1 when none), and for each weekday (Monday
    first) the share of those weekdays with usage over the `window` days ending there (from its
    first use when that is later), smoothed by half a day either way so that no share is 0 or 1
    from a handful of days (Krichevsky-Trofimov)."""
    rows, days = active.shape
    any_use = active.any(axis=1)
    last = np.where(any_use, days - 1 - np.argmax(active[:, ::-1], axis=1), -1)
    began = np.where(any_use, np.argmax(active, axis=1), 0)
    start = np.maximum(np.maximum(last - window + 1, began), 0)
    columns = np.arange(days)[None, :]
    inside = (columns >= start[:, None]) & (columns <= last[:, None])
    weekday = (first.weekday() + np.arange(days)) % 7
    used = np.zeros((rows, 7))
    seen = np.zeros((rows, 7))
    for day in range(7):
        on = inside & (weekday == day)[None, :]
        seen[:, day] = on.sum(axis=1)
        used[:, day] = (on & active).sum(axis=1)
    share = (used + 0.5) / (seen + 1.0)
    share[~any_use] = 0.0
    return last, np.asarray(share, dtype=np.float64)
