"""Metering fixtures: a tenant with a catalogue that exercises every aggregation."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import Engine

from valueproof.metering.definitions import EventType, Meter
from valueproof.metering.registry import apply_event_type, apply_meter
from valueproof.store import write
from valueproof.tenancy.accounts import AccountCreate, create_account
from valueproof.tenancy.tenants import Tenant

EVENT_TYPES = [
    EventType(
        key="api.call",
        properties={
            "endpoint": {"type": "string", "required": True},
            "bytes": {"type": "number", "required": True},
            "region": {"type": "string"},
            "ok": {"type": "boolean"},
        },
    ),
    EventType(key="credit.used", properties={"reason": {"type": "string"}}),
    EventType(
        key="seat.level",
        properties={
            "seats": {"type": "integer", "required": True},
            "plan": {"type": "string", "required": True},
        },
    ),
]

METERS = [
    Meter(key="calls", event_type="api.call", aggregation="count", group_by=["endpoint"]),
    Meter(
        key="calls_ok",
        event_type="api.call",
        aggregation="count",
        filters=[{"property": "ok", "op": "eq", "value": True}],
    ),
    Meter(
        key="bytes",
        event_type="api.call",
        aggregation="sum",
        value_property="bytes",
        group_by=["endpoint", "region"],
    ),
    Meter(key="bytes_max", event_type="api.call", aggregation="max", value_property="bytes"),
    Meter(key="bytes_min", event_type="api.call", aggregation="min", value_property="bytes"),
    Meter(key="bytes_latest", event_type="api.call", aggregation="latest", value_property="bytes"),
    Meter(
        key="regions", event_type="api.call", aggregation="unique_count", value_property="region"
    ),
    Meter(key="credits", event_type="credit.used", aggregation="sum"),
    Meter(
        key="seat_hours",
        event_type="seat.level",
        aggregation="time_weighted_sum",
        value_property="seats",
        group_by=["plan"],
    ),
]

ACCOUNTS = ["acme", "globex", "initech"]


@dataclass(frozen=True)
class Metered:
    """A tenant with the catalogue above and three accounts."""

    engine: Engine
    tenant: Tenant


def define_catalog(engine: Engine, tenant: Tenant) -> None:
    with write(engine) as connection:
        for event_type in EVENT_TYPES:
            apply_event_type(connection, tenant.id, event_type)
        for meter in METERS:
            apply_meter(connection, tenant.id, meter)
        for name in ACCOUNTS:
            create_account(
                connection, tenant.id, AccountCreate(external_id=name, name=name.title())
            )


@pytest.fixture
def metered(engine: Engine, tenant: Tenant) -> Metered:
    define_catalog(engine, tenant)
    return Metered(engine, tenant)
