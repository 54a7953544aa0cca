"""Metering's writes, one transaction each: event types, meters, and catalogues of both.

Each takes the engine, holds the tenant's write lock and commits; the API and the CLI parse
their input, call one of these, and render what it returns. (Usage events have their own
transactions, one per chunk, in `metering.ingest`.)
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Engine

from valueproof.errors import AlreadyExists
from valueproof.metering import registry
from valueproof.metering.definitions import EventType, Meter
from valueproof.metering.registry import Applied
from valueproof.store import tenant_write

__all__ = [
    "apply_catalog",
    "apply_event_type",
    "apply_meter",
    "delete_event_type",
    "delete_meter",
]


def apply_event_type(engine: Engine, tenant_id: int, event_type: EventType) -> bool:
    """Create or replace an event type; True when it is new."""
    with tenant_write(engine, tenant_id) as connection:
        return registry.apply_event_type(connection, tenant_id, event_type)


def delete_event_type(engine: Engine, tenant_id: int, key: str) -> None:
    """Delete an event type that no meter uses."""
    with tenant_write(engine, tenant_id) as connection:
        registry.delete_event_type(connection, tenant_id, key)


def apply_meter(
    engine: Engine, tenant_id: int, meter: Meter, must_be_new: bool = False
) -> registry.MeterApplied:
    """Create or replace a meter, rebuilt from the events on record (with the events it leaves
    out, unreadable as its quantity).

    With `must_be_new`, AlreadyExists when the tenant has a meter of that key.
    """
    with tenant_write(engine, tenant_id) as connection:
        if must_be_new and meter.key in registry.load_catalog(connection, tenant_id).meters_by_key:
            raise AlreadyExists(f"meter {meter.key!r} exists already; PUT it to replace it")
        return registry.apply_meter(connection, tenant_id, meter)


def delete_meter(engine: Engine, tenant_id: int, key: str) -> None:
    """Delete a meter and its rollups; the events stay on record. The shells call
    `contracts.writes.delete_meter`, which first refuses a meter a running contract prices."""
    with tenant_write(engine, tenant_id) as connection:
        registry.delete_meter(connection, tenant_id, key)


def apply_catalog(
    engine: Engine,
    tenant_id: int,
    event_types: Sequence[EventType],
    meters: Sequence[Meter],
) -> list[Applied]:
    """Check event types and meters against the catalogue on record, then apply them all, or
    none when one does not fit."""
    with tenant_write(engine, tenant_id) as connection:
        catalog = registry.load_catalog(connection, tenant_id)
        registry.check_documents(catalog, event_types, meters)
        return registry.apply_documents(connection, tenant_id, catalog, event_types, meters)
