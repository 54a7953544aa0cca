"""Tests on SQLite and PostgreSQL: a metered property is a quantity like `value` (refused per
item), a meter created over values on record reports what it leaves out, and a re-serialized
retry is a duplicate."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import update

from valueproof.metering.definitions import EventType, Meter
from valueproof.metering.ingest import ingest_batch
from valueproof.metering.registry import apply_event_type, apply_meter, rebuild_json
from valueproof.metering.tables import events
from valueproof.store import write

from .conftest import Metered
from .test_ingest import call, statuses, usage


def test_a_bad_metered_property_rejects_its_item_not_the_batch(metered: Metered) -> None:
    batch = [
        call("ok-1", bytes=5),
        call("many-decimals", bytes=0.1234567),
        call("tiny", bytes=1e-7),
        call("huge", bytes=10_000_000_000_000),
        call("negative", bytes=-5),
        call("ok-2", bytes=7),
    ]
    results = ingest_batch(metered.engine, metered.tenant.id, batch)
    assert statuses(results) == ["accepted", *["rejected"] * 4, "accepted"]
    reasons = [(r.errors[0].field, r.errors[0].reason) for r in results[1:5]]
    assert all(field == "properties.bytes" for field, _ in reasons)
    assert "more than 6 decimal places" in reasons[0][1] and "6 decimal" in reasons[1][1]
    assert "out of range" in reasons[2][1] and "must not be negative" in reasons[3][1]
    assert usage(metered, "bytes_max") == {(): Decimal(7)}
    assert usage(metered, "bytes_min") == {(): Decimal(5)}


def test_negative_usage_is_refused_through_value_and_properties_alike(metered: Metered) -> None:
    negative_value = {
        "id": "credit-1",
        "account": "acme",
        "type": "credit.used",
        "timestamp": "2026-01-01T01:00:00Z",
        "value": -5,
    }
    results = ingest_batch(
        metered.engine, metered.tenant.id, [negative_value, call("gb", bytes=-5)]
    )
    assert statuses(results) == ["rejected", "rejected"]
    assert [r.errors[0].field for r in results] == ["value", "properties.bytes"]
    assert all("must not be negative" in r.errors[0].reason for r in results)


def _storage_type(metered: Metered) -> None:
    with write(metered.engine) as connection:
        apply_event_type(
            connection,
            metered.tenant.id,
            EventType(
                key="storage",
                properties={"gb": {"type": "number", "required": True}, "tier": {"type": "string"}},
            ),
        )


def stored(event_id: str, gb: Any, hour: int = 1) -> dict[str, Any]:
    return {
        "id": event_id,
        "account": "acme",
        "type": "storage",
        "timestamp": f"2026-01-01T{hour:02d}:00:00Z",
        "properties": {"gb": gb},
    }


def test_a_meter_over_values_on_record_is_created_and_names_what_it_leaves_out(
    metered: Metered,
) -> None:
    _storage_type(metered)
    # No meter reads `gb` yet: any finite number is a valid property.
    on_record = [stored("s1", 2), stored("s2", 0.1234567), stored("s3", -5), stored("s4", 3.5)]
    results = ingest_batch(metered.engine, metered.tenant.id, on_record)
    assert statuses(results) == ["accepted"] * 4
    with write(metered.engine) as connection:
        applied = apply_meter(
            connection,
            metered.tenant.id,
            Meter(key="gb_sum", event_type="storage", aggregation="sum", value_property="gb"),
        )
    assert applied.created and applied.rebuilt.folded == 2
    report = rebuild_json(applied.rebuilt)
    assert report["events_unmetered"] == 2
    assert report["unmetered"] == [
        {
            "id": "s2",
            "field": "properties.gb",
            "reason": "has more than 6 decimal places",
        },
        {"id": "s3", "field": "properties.gb", "reason": "is negative"},
    ]
    assert usage(metered, "gb_sum") == {(): Decimal("5.5")}
    # From now on the meter's property is checked at the door.
    later = ingest_batch(
        metered.engine, metered.tenant.id, [stored("s5", 0.1234567), stored("s6", 1)]
    )
    assert statuses(later) == ["rejected", "accepted"]
    assert "meter 'gb_sum'" in later[0].errors[0].reason
    # A correction in an hour that holds a left-out event refolds it without failing.
    amend = {**stored("s7", 4), "amends": "s1"}
    assert statuses(ingest_batch(metered.engine, metered.tenant.id, [amend])) == ["accepted"]
    assert usage(metered, "gb_sum") == {(): Decimal("8.5")}


def test_a_retry_with_the_same_record_in_other_json_is_a_duplicate(metered: Metered) -> None:
    first = call("r1", bytes=2, extra={"n": 3, "list": [1, 2]})
    again = call("r1", bytes=2.0, extra={"list": [1.0, 2], "n": 3.0})
    changed = call("r1", bytes=2.5, extra={"n": 3, "list": [1, 2]})
    assert statuses(ingest_batch(metered.engine, metered.tenant.id, [first])) == ["accepted"]
    results = ingest_batch(metered.engine, metered.tenant.id, [again, changed])
    assert statuses(results) == ["duplicate", "conflict"]
    in_one_batch = ingest_batch(
        metered.engine, metered.tenant.id, [call("r2", bytes=1.0), call("r2", bytes=1)]
    )
    assert statuses(in_one_batch) == ["accepted", "duplicate"]


def test_rows_digested_before_the_leaf_was_still_dedupe_by_their_leaf(metered: Metered) -> None:
    ingest_batch(metered.engine, metered.tenant.id, [call("old", bytes=2, note="x")])
    with write(metered.engine) as connection:  # a digest of the earlier kind: not of the leaf
        connection.execute(
            update(events)
            .where(events.c.tenant_id == metered.tenant.id, events.c.event_id == "old")
            .values(content_sha256=b"\x01" * 32)
        )
    results = ingest_batch(
        metered.engine,
        metered.tenant.id,
        [call("old", bytes=2.0, note="x"), call("old", bytes=2, note="y")],
    )
    assert statuses(results) == ["duplicate", "conflict"]
