"""Sums past 2**63 micro-units (9.22 x 10**12 units) stay exact on both backends: in the hourly
and monthly rollups, through corrections and rebuilds, in usage queries over HTTP, in the
totals rating reads and in the daily series of the success analytics."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from valueproof.metering import sums
from valueproof.metering.definitions import Meter
from valueproof.metering.ingest import ingest_batch
from valueproof.metering.registry import apply_meter, load_catalog
from valueproof.metering.tables import rollups, rollups_monthly
from valueproof.metering.totals import window_totals
from valueproof.metering.usage import UsageQuery, query_usage
from valueproof.periods import Granularity, hour_of, to_micros
from valueproof.store import read, write
from valueproof.success.daily import daily_usage
from valueproof.tenancy.accounts import account_ids

from .conftest import Metered

EDGE = 2**63  # micro-units: one BIGINT's range
BIG = 9_000_000_000_000  # units: 9 x 10**18 micro-units, within one event's range
NOW = datetime(2026, 12, 1, tzinfo=UTC)
OCTOBER = (datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC))


def credit(number: int, value: Any, stamp: str = "2026-10-01T00:10:00Z") -> dict[str, Any]:
    """A `credits` event (a sum of the top-level value, which takes exact decimal strings)."""
    return {
        "id": f"w{number}",
        "account": "acme",
        "type": "credit.used",
        "timestamp": stamp,
        "properties": {},
        "value": value,
    }


def send(metered: Metered, *items: dict[str, Any]) -> None:
    results = ingest_batch(metered.engine, metered.tenant.id, list(items))
    assert [r.status for r in results] == ["accepted"] * len(items), results


def usage(metered: Metered, meter: str, granularity: Granularity) -> list[Decimal]:
    query = UsageQuery(meter, *OCTOBER, granularity)
    with read(metered.engine) as connection:
        return [row.value for row in query_usage(connection, metered.tenant.id, query, NOW).rows]


def total(metered: Metered, meter: str, start: datetime, end: datetime) -> Decimal:
    """The one account's total over [start, end), as rating reads it."""
    with read(metered.engine) as connection:
        compiled = load_catalog(connection, metered.tenant.id).meters_by_key[meter]
        found = window_totals(
            connection,
            metered.tenant.id,
            compiled,
            hour_of(to_micros(start)),
            hour_of(to_micros(end)),
            None,
            NOW,
        )
    [groups] = found.values()
    [group] = groups
    return group.value


def stored_sums(metered: Metered) -> list[int]:
    """Every hourly and monthly sum of the tenant, in micro-units."""
    with read(metered.engine) as connection:
        return [
            sums.join(row.sum_high, row.sum_low)
            for table in (rollups, rollups_monthly)
            for row in connection.execute(
                select(table.c.sum_high, table.c.sum_low).where(
                    table.c.tenant_id == metered.tenant.id, table.c.event_count > 0
                )
            )
            if row.sum_high or row.sum_low
        ]


def test_one_bucket_steps_exactly_through_the_bigint_edge(metered: Metered) -> None:
    # Each event its own batch: every step is the upsert adding to the stored words.
    steps = [(BIG, BIG * 10**6), ("223372036854.775807", EDGE - 1)]
    steps += [("0.000001", EDGE), ("0.000001", EDGE + 1), (BIG, EDGE + 1 + BIG * 10**6)]
    for number, (value, expected) in enumerate(steps):
        send(metered, credit(number, value))
        quantity = Decimal(expected) / 10**6
        assert stored_sums(metered) == [expected, expected]  # the hour and its month
        for granularity in Granularity:
            assert usage(metered, "credits", granularity) == [quantity]
        assert total(metered, "credits", *OCTOBER) == quantity  # the monthly tier
        assert total(metered, "credits", OCTOBER[0], datetime(2026, 10, 2, tzinfo=UTC)) == quantity


def test_many_buckets_add_up_exactly_past_the_edge(metered: Metered) -> None:
    # 48 hours of 9 x 10**12 and a millionth each: every read adds 48 rows past 2**63.
    send(
        metered,
        *(
            credit(hour, f"{BIG}.000001", f"2026-10-{1 + hour // 24:02d}T{hour % 24:02d}:30:00Z")
            for hour in range(48)
        ),
    )
    whole = Decimal(f"{48 * BIG}.000048")
    assert usage(metered, "credits", Granularity.MONTH) == [whole]
    assert usage(metered, "credits", Granularity.DAY) == [whole / 2, whole / 2]
    assert usage(metered, "credits", Granularity.HOUR) == [Decimal(f"{BIG}.000001")] * 48
    assert total(metered, "credits", *OCTOBER) == whole
    assert total(metered, "credits", datetime(2026, 9, 30, tzinfo=UTC), OCTOBER[1]) == whole
    with read(metered.engine) as connection:
        compiled = load_catalog(connection, metered.tenant.id).meters_by_key["credits"]
        [acme] = account_ids(connection, metered.tenant.id, ["acme"]).values()
        daily = daily_usage(
            connection, metered.tenant.id, compiled, date(2026, 10, 1), date(2026, 10, 3), [acme]
        )
    # The analytics read floats: near enough, and no overflow on the way.
    assert daily.values.tolist() == [[pytest.approx(float(whole / 2), rel=1e-12)] * 2 + [0.0]]


def test_a_correction_refolds_a_wide_bucket_exactly(metered: Metered) -> None:
    send(metered, credit(1, BIG), credit(2, BIG), credit(3, "0.000001"))
    send(metered, credit(4, "0.000002") | {"amends": "w3"})
    expected = Decimal(f"{2 * BIG}.000002")
    assert usage(metered, "credits", Granularity.HOUR) == [expected]
    assert total(metered, "credits", *OCTOBER) == expected
    assert stored_sums(metered) == [2 * BIG * 10**6 + 2] * 2


def test_a_meter_rebuilt_over_wide_usage_is_exact(metered: Metered) -> None:
    send(metered, *(credit(n, f"{BIG}.00000{n}") for n in range(1, 4)))
    with write(metered.engine) as connection:
        apply_meter(
            connection,
            metered.tenant.id,
            Meter(key="credits_again", event_type="credit.used", aggregation="sum"),
        )
    assert usage(metered, "credits_again", Granularity.DAY) == [Decimal(f"{3 * BIG}.000006")]


def test_day_and_month_queries_over_http_answer_exact_values(
    metered: Metered, http: httpx.Client
) -> None:
    # The byte meter, from a number property: 9e12 + 9e12 + 1, the sum a float would round.
    calls = [
        {
            "id": f"b{n}",
            "account": "acme",
            "type": "api.call",
            "timestamp": "2026-10-01T00:10:00Z",
            "properties": {"endpoint": "/a", "bytes": value},
        }
        for n, value in enumerate([BIG, BIG, 1])
    ]
    for event in calls:  # one batch each: the stored sum is added to in place
        assert http.post("/v1/events", json={"events": [event]}).status_code == 200
    for granularity in ("hour", "day", "month"):
        answer = http.get(
            "/v1/usage",
            params={
                "meter": "bytes",
                "from": "2026-10-01T00:00:00Z",
                "to": "2026-11-01T00:00:00Z",
                "granularity": granularity,
            },
        )
        assert answer.status_code == 200, answer.text
        assert [row["value"] for row in answer.json()["rows"]] == ["18000000000001"]
