"""Tests for metering/ingest.py on SQLite and PostgreSQL: outcomes, exactly-once, corrections."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from valueproof.metering.definitions import Meter
from valueproof.metering.formats import ParseFailure
from valueproof.metering.ingest import IngestOptions, ingest_batch, ingest_stream
from valueproof.metering.registry import apply_meter
from valueproof.metering.tables import events
from valueproof.metering.usage import UsageQuery, query_usage
from valueproof.periods import Granularity
from valueproof.store import read, write
from valueproof.tenancy.accounts import AccountCreate, create_account
from valueproof.tenancy.tenants import create_tenant

from .conftest import Metered, define_catalog

DAY = (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC))
NOW = datetime(2026, 1, 3, tzinfo=UTC)


def call(event_id: str, hour: int = 1, account: str = "acme", **props: Any) -> dict[str, Any]:
    return {
        "id": event_id,
        "account": account,
        "type": "api.call",
        "timestamp": f"2026-01-01T{hour:02d}:15:00Z",
        "properties": {"endpoint": "/v1/x", "bytes": 10, **props},
    }


def usage(metered: Metered, meter: str, **query: Any) -> dict[Any, Decimal]:
    with read(metered.engine) as connection:
        result = query_usage(connection, metered.tenant.id, UsageQuery(meter, *DAY, **query), NOW)
    totals: dict[Any, Decimal] = {}
    for row in result.rows:  # summed over buckets: the day has one, hours several
        key = tuple(sorted(row.group.items()))
        totals[key] = totals.get(key, Decimal(0)) + row.value
    return totals


def statuses(results: list[Any]) -> list[str]:
    return [r.status for r in results]


def test_outcomes_per_item_and_exactly_once(metered: Metered) -> None:
    first = ingest_batch(metered.engine, metered.tenant.id, [call("a"), call("b"), call("a")])
    assert statuses(first) == ["accepted", "accepted", "duplicate"]
    again = ingest_batch(
        metered.engine, metered.tenant.id, [call("a"), call("b", bytes=99), call("c")]
    )
    assert statuses(again) == ["duplicate", "conflict", "accepted"]
    assert again[1].errors[0].field == "id"
    assert usage(metered, "calls", group_by=("endpoint",)) == {(("endpoint", "/v1/x"),): Decimal(3)}
    assert usage(metered, "bytes_max") == {(): Decimal(10)}


def test_rejected_items_never_block_the_accepted(metered: Metered) -> None:
    batch = [
        call("ok-1"),
        call("bad-account", account="nobody"),
        {"id": "bad-time", **{k: v for k, v in call("x").items() if k != "id"}, "timestamp": "x"},
        ParseFailure("line 4", "(item)", "malformed JSON"),
        "not an object",
        call("ok-2", bytes=5),
    ]
    results = ingest_batch(metered.engine, metered.tenant.id, batch)
    assert statuses(results) == [
        "accepted",
        "rejected",
        "rejected",
        "rejected",
        "rejected",
        "accepted",
    ]
    assert results[1].errors[0].reason == "unknown account 'nobody'"
    assert results[2].errors[0].field == "timestamp"
    assert results[3].location == "line 4"
    assert usage(metered, "bytes", group_by=()) == {(): Decimal(15)}


def test_an_unknown_account_is_named_with_the_items_other_problems(metered: Metered) -> None:
    # every problem at once: the bad timestamp and the account that does not exist
    item = {**call("both", account="nobody"), "timestamp": "yesterday"}
    [result] = ingest_batch(metered.engine, metered.tenant.id, [item])
    assert result.status == "rejected"
    assert [(e.field, e.reason) for e in result.errors][-1] == (
        "account",
        "unknown account 'nobody'",
    )
    assert result.errors[0].field == "timestamp"
    # a known account adds nothing to the other problems
    [known] = ingest_batch(
        metered.engine, metered.tenant.id, [{**call("known"), "timestamp": "yesterday"}]
    )
    assert [e.field for e in known.errors] == ["timestamp"]


def test_late_events_update_the_rollups(metered: Metered) -> None:
    ingest_batch(metered.engine, metered.tenant.id, [call("late-2", hour=20, bytes=7)])
    ingest_batch(metered.engine, metered.tenant.id, [call("late-1", hour=2, bytes=3)])
    assert usage(metered, "bytes_latest") == {(): Decimal(7)}
    assert usage(metered, "bytes_min") == {(): Decimal(3)}
    assert usage(metered, "calls", granularity=Granularity.HOUR) == {(): Decimal(2)}


def test_void_and_amend_are_explicit_corrections(metered: Metered) -> None:
    tenant = metered.tenant.id
    ingest_batch(metered.engine, tenant, [call("a", bytes=10, region="eu"), call("b", bytes=20)])
    void = {**call("v"), "voids": "a"}
    amend = {**call("m", bytes=50), "amends": "b"}
    assert statuses(ingest_batch(metered.engine, tenant, [void, amend])) == ["accepted"] * 2
    assert usage(metered, "bytes", group_by=()) == {(): Decimal(50)}
    assert usage(metered, "bytes_max") == {(): Decimal(50)}
    assert usage(metered, "regions") == {}
    assert usage(metered, "calls") == {(): Decimal(1)}
    with read(metered.engine) as connection:
        rows = dict(
            connection.execute(
                select(events.c.event_id, events.c.superseded_by).where(
                    events.c.tenant_id == tenant
                )
            ).all()
        )
    assert rows == {"a": "v", "b": "m", "v": None, "m": None}


def test_corrections_that_cannot_apply_are_rejected(metered: Metered) -> None:
    tenant = metered.tenant.id
    ingest_batch(metered.engine, tenant, [call("a"), {**call("v"), "voids": "a"}])
    results = ingest_batch(
        metered.engine,
        tenant,
        [
            {**call("v2"), "voids": "a"},
            {**call("v3"), "voids": "missing"},
            {**call("v4"), "voids": "v"},
            {**call("m1", account="globex"), "amends": "m0"},
            call("c"),
            {**call("m2", account="globex"), "amends": "c"},
            {**call("m3"), "amends": "c"},
            {**call("m4"), "amends": "c"},
        ],
    )
    assert statuses(results) == [
        "rejected",
        "rejected",
        "rejected",
        "rejected",
        "accepted",
        "rejected",
        "accepted",
        "rejected",
    ]
    reasons = [r.errors[0].reason for r in results if r.errors]
    assert "'a' was already corrected by 'v'" in reasons[0]
    assert "no event 'missing' on record" in reasons[1]
    assert "is a void" in reasons[2]
    assert "differs from the account" in reasons[4]
    assert "'c' was already corrected by 'm3'" in reasons[5]
    assert usage(metered, "calls") == {(): Decimal(1)}


def test_event_ids_are_unique_per_tenant_only(metered: Metered) -> None:
    with write(metered.engine) as connection:
        other = create_tenant(connection, f"{metered.tenant.slug}-other")
    define_catalog(metered.engine, other)
    assert statuses(ingest_batch(metered.engine, metered.tenant.id, [call("same")])) == ["accepted"]
    assert statuses(ingest_batch(metered.engine, other.id, [call("same", bytes=1)])) == ["accepted"]


def test_a_tenant_cannot_write_to_another_tenants_account(metered: Metered) -> None:
    with write(metered.engine) as connection:
        other = create_tenant(connection, f"{metered.tenant.slug}-b")
    define_catalog(metered.engine, other)
    with write(metered.engine) as connection:
        create_account(connection, metered.tenant.id, AccountCreate(external_id="only-a", name="A"))
    result = ingest_batch(metered.engine, other.id, [call("x", account="only-a")])
    assert result[0].errors[0].reason == "unknown account 'only-a'"


def test_a_meter_defined_later_folds_the_events_on_record(metered: Metered) -> None:
    ingest_batch(metered.engine, metered.tenant.id, [call("a", bytes=4), call("b", bytes=6)])
    with write(metered.engine) as connection:
        applied = apply_meter(
            connection,
            metered.tenant.id,
            Meter(key="big", event_type="api.call", aggregation="sum", value_property="bytes"),
        )
    assert (applied.created, applied.rebuilt.folded, applied.rebuilt.unmetered) == (True, 2, ())
    assert usage(metered, "big") == {(): Decimal(10)}


def test_stream_commits_chunk_by_chunk_and_reports_global_indexes(metered: Metered) -> None:
    seen: list[list[int]] = []
    items = [call(f"s{i}", hour=i % 24) for i in range(25)] + [call("s3", hour=3)]
    summary = ingest_stream(
        metered.engine,
        metered.tenant.id,
        iter(items),
        chunk=10,
        on_chunk=lambda results: seen.append([r.index for r in results]),
    )
    assert (summary.accepted, summary.duplicate, summary.total) == (25, 1, 26)
    assert [chunk[0] for chunk in seen] == [0, 10, 20]
    with read(metered.engine) as connection:
        stored = connection.execute(
            select(func.count()).where(events.c.tenant_id == metered.tenant.id)
        ).scalar()
    assert stored == 25


def test_events_too_far_in_the_future_are_rejected(metered: Metered) -> None:
    options = IngestOptions(max_future_us=60_000_000, clock=lambda: 1_767_229_200_000_000)
    results = ingest_batch(
        metered.engine, metered.tenant.id, [call("f", hour=0), call("g", hour=3)], options
    )
    assert statuses(results) == ["accepted", "rejected"]
    assert "in the future" in results[1].errors[0].reason
