"""Window totals for rating: the monthly tier and the hours around it give what the raw events
give, through corrections and rebuilds, with the span of leaves behind each total."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from valueproof.metering import sums
from valueproof.metering.aggregations import fold
from valueproof.metering.definitions import Meter
from valueproof.metering.ingest import ingest_batch
from valueproof.metering.registry import apply_meter, load_catalog
from valueproof.metering.rollups import fold_inputs, in_force
from valueproof.metering.tables import events, rollups, rollups_monthly
from valueproof.metering.totals import GroupTotal, consecutive_totals, window_totals
from valueproof.periods import hour_of, month_of_hour, to_micros
from valueproof.store import read, write

from .conftest import Metered

WINDOWS = {
    "inside one month": ("2026-10-05", "2026-10-25"),
    "two whole months": ("2026-09-01", "2026-11-01"),
    "hours, a month, hours": ("2026-08-20", "2026-10-05"),
    "anchored on the 15th": ("2026-09-15", "2026-10-15"),
}


def hour(text: str) -> int:
    return hour_of(to_micros(datetime.fromisoformat(text).replace(tzinfo=UTC)))


def api_call(number: int, account: str, stamp: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": f"c{number}",
        "account": account,
        "type": "api.call",
        "timestamp": stamp,
        "properties": {"endpoint": ("/a", "/b")[number % 2], "bytes": number * 10 + 1},
        **extra,
    }


def history(metered: Metered) -> None:
    """Calls from mid-August to mid-October for two accounts, then a void and an amendment."""
    calls = []
    for number in range(240):
        day = 15 + number // 4  # 60 days from August 15th
        month, day = (8, day) if day <= 31 else (9, day - 31) if day <= 61 else (10, day - 61)
        stamp = f"2026-{month:02d}-{day:02d}T{number % 24:02d}:30:00Z"
        calls.append(api_call(number, ("acme", "globex")[number % 3 == 0], stamp))
    ingest_batch(metered.engine, metered.tenant.id, calls[:150])
    ingest_batch(metered.engine, metered.tenant.id, calls[150:])
    corrections = [
        {**api_call(1000, "acme", calls[10]["timestamp"]), "voids": calls[10]["id"]},
        {**api_call(1001, "acme", calls[100]["timestamp"]), "amends": calls[100]["id"]},
    ]
    ingest_batch(metered.engine, metered.tenant.id, corrections)


def from_events(metered: Metered, meter_key: str, start: int, end: int) -> dict[int, Any]:
    """The oracle: fold the events in force in the window, per account and group."""
    with read(metered.engine) as connection:
        catalog = load_catalog(connection, metered.tenant.id)
        rows = connection.execute(
            select(
                events.c.seq,
                events.c.account_id,
                events.c.type,
                events.c.ts_us,
                events.c.properties,
                events.c.value_micros,
                events.c.leaf_index,
            ).where(
                events.c.tenant_id == metered.tenant.id,
                events.c.ts_us >= start * 3_600_000_000,
                events.c.ts_us < end * 3_600_000_000,
                in_force(),
            )
        ).all()
    compiled = catalog.meters_by_key[meter_key]
    buckets, _ = fold(fold_inputs(rows), {compiled.meter.event_type: [compiled]})
    counting = compiled.meter.aggregation.value == "count"
    found: dict[int, dict[str, list[Any]]] = {}
    for (_meter, account, dims, _hour), b in buckets.items():
        cell = found.setdefault(account, {}).setdefault(dims, [0, 0, [], []])
        cell[0] += b.event_count if counting else b.sum_micros
        cell[1] += b.event_count
        cell[2].append(b.first_leaf)
        cell[3].append(b.last_leaf)
    return found


@pytest.mark.parametrize("window", WINDOWS)
@pytest.mark.parametrize("meter_key", ["calls", "bytes"])
def test_totals_over_any_window_match_the_raw_events(
    metered: Metered, window: str, meter_key: str
) -> None:
    history(metered)
    start, end = (hour(day) for day in WINDOWS[window])
    with read(metered.engine) as connection:
        compiled = load_catalog(connection, metered.tenant.id).meters_by_key[meter_key]
        totals = window_totals(connection, metered.tenant.id, compiled, start, end, None, NOW)
    expected = from_events(metered, meter_key, start, end)
    assert set(totals) == set(expected)
    for account, groups in totals.items():
        for group in groups:
            value, count, firsts, lasts = expected[account][group.dims]
            scale = Decimal(1) if meter_key == "calls" else Decimal("0.000001")
            assert group.value == Decimal(value) * scale
            assert group.events == count
            assert (group.first_leaf, group.last_leaf) == (min(firsts), max(lasts))


NOW = datetime(2026, 11, 23, tzinfo=UTC)


def test_one_account_reads_only_its_own_totals(metered: Metered) -> None:
    history(metered)
    start, end = hour("2026-08-01"), hour("2026-11-01")
    with read(metered.engine) as connection:
        compiled = load_catalog(connection, metered.tenant.id).meters_by_key["calls"]
        everyone = window_totals(connection, metered.tenant.id, compiled, start, end, None, NOW)
        account_id = min(everyone)
        alone = window_totals(connection, metered.tenant.id, compiled, start, end, account_id, NOW)
    assert alone == {account_id: everyone[account_id]}


def monthly_rows(metered: Metered) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    with read(metered.engine) as connection:
        rows = connection.execute(
            select(rollups_monthly).where(rollups_monthly.c.tenant_id == metered.tenant.id)
        ).all()
    return {
        (r.meter_id, r.month, r.account_id, r.dims): (
            r.event_count,
            sums.join(r.sum_high, r.sum_low),
            r.min_micros,
            r.max_micros,
            r.first_leaf,
            r.last_leaf,
        )
        for r in rows
    }


def months_from_hours(metered: Metered) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    with read(metered.engine) as connection:
        rows = connection.execute(
            select(rollups).where(rollups.c.tenant_id == metered.tenant.id)
        ).all()
    months: dict[tuple[Any, ...], list[Any]] = {}
    for r in rows:
        key = (r.meter_id, month_of_hour(r.hour), r.account_id, r.dims)
        cell = months.setdefault(key, [0, 0, [], [], [], []])
        cell[0] += r.event_count
        cell[1] += sums.join(r.sum_high, r.sum_low)
        for slot, value in (
            (2, r.min_micros),
            (3, r.max_micros),
            (4, r.first_leaf),
            (5, r.last_leaf),
        ):
            if value is not None:
                cell[slot].append(value)
    return {
        key: (
            c[0],
            c[1],
            min(c[2], default=None),
            max(c[3], default=None),
            min(c[4], default=None),
            max(c[5], default=None),
        )
        for key, c in months.items()
    }


def test_the_monthly_tier_is_the_sum_of_its_hours_after_corrections(metered: Metered) -> None:
    history(metered)
    expected = months_from_hours(metered)
    assert monthly_rows(metered) == expected
    assert len(expected) > 10


def test_a_rebuilt_meter_rebuilds_its_months(metered: Metered) -> None:
    history(metered)
    before = monthly_rows(metered)
    with write(metered.engine) as connection:
        apply_meter(
            connection,
            metered.tenant.id,
            Meter(key="calls", event_type="api.call", aggregation="count"),  # no group_by now
        )
    after = monthly_rows(metered)
    calls_id = load_catalog_of(metered).meters_by_key["calls"].id
    regrouped = {k: v for k, v in after.items() if k[0] == calls_id}
    assert {k[3] for k in regrouped} == {"{}"}
    assert sum(v[0] for v in regrouped.values()) == sum(
        v[0] for k, v in before.items() if k[0] == calls_id
    )


def test_consecutive_windows_split_the_totals_of_their_span(metered: Metered) -> None:
    history(metered)
    starts = [datetime(2026, month, 1, tzinfo=UTC) for month in (8, 9, 10)]
    end = datetime(2026, 11, 1, tzinfo=UTC)
    with read(metered.engine) as connection:
        compiled = load_catalog(connection, metered.tenant.id).meters_by_key["calls"]
        account_id = min(
            window_totals(
                connection,
                metered.tenant.id,
                compiled,
                hour("2026-08-01"),
                hour("2026-11-01"),
                None,
                NOW,
            )
        )
        parts = consecutive_totals(
            connection, metered.tenant.id, compiled, account_id, starts, end, NOW
        )
        whole = window_totals(
            connection,
            metered.tenant.id,
            compiled,
            hour("2026-08-01"),
            hour("2026-11-01"),
            account_id,
            NOW,
        )[account_id]
    assert len(parts) == 3
    per_dims: dict[str, Decimal] = {}
    for groups in parts:
        for group in groups:
            assert isinstance(group, GroupTotal)
            per_dims[group.dims] = per_dims.get(group.dims, Decimal(0)) + group.value
    assert per_dims == {group.dims: group.value for group in whole}


def load_catalog_of(metered: Metered) -> Any:
    with read(metered.engine) as connection:
        return load_catalog(connection, metered.tenant.id)
