"""The tenant's catalogue of event types and meters: apply, list, delete, and load compiled."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson
from sqlalchemy import Connection, delete, insert, select, update

from valueproof.errors import Conflict, InvalidInput, NotFound
from valueproof.metering.aggregations import CompiledMeter, compile_meter
from valueproof.metering.definitions import (
    NUMERIC_AGGREGATIONS,
    EventType,
    Meter,
    check_meter_against,
)
from valueproof.metering.rollups import Rebuilt, drop_meter_rollups, rebuild_meter
from valueproof.metering.tables import event_types, meters
from valueproof.tenancy.clock import now_us

Status = Literal["created", "updated", "unchanged"]


@dataclass(frozen=True, slots=True)
class Catalog:
    """Everything ingest needs to know of a tenant's definitions, loaded once per batch."""

    types: dict[str, EventType]
    meters_by_type: dict[str, list[CompiledMeter]]
    meters_by_key: dict[str, CompiledMeter]

    @property
    def value_required_by(self) -> dict[str, str]:
        """Event type -> the key of a meter that aggregates the top-level `value`."""
        needed: dict[str, str] = {}
        for type_key, compiled in self.meters_by_type.items():
            for item in compiled:
                meter = item.meter
                if meter.value_property is None and meter.aggregation in NUMERIC_AGGREGATIONS:
                    needed.setdefault(type_key, item.meter.key)
        return needed

    @property
    def metered_by(self) -> dict[str, dict[str, str]]:
        """Event type -> property -> the first meter whose numeric value that property is."""
        metered: dict[str, dict[str, str]] = {}
        for type_key, compiled in self.meters_by_type.items():
            for item in compiled:
                meter = item.meter
                if meter.value_property is not None and meter.aggregation in NUMERIC_AGGREGATIONS:
                    metered.setdefault(type_key, {}).setdefault(meter.value_property, meter.key)
        return metered


def _dump(model: EventType | Meter) -> str:
    return orjson.dumps(model.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS).decode()


def load_catalog(connection: Connection, tenant_id: int) -> Catalog:
    """The tenant's event types and compiled meters."""
    types = {
        row.key: EventType(key=row.key, description=row.description, **orjson.loads(row.properties))
        for row in connection.execute(
            select(event_types).where(event_types.c.tenant_id == tenant_id)
        )
    }
    by_type: dict[str, list[CompiledMeter]] = {}
    by_key: dict[str, CompiledMeter] = {}
    for row in connection.execute(
        select(meters).where(meters.c.tenant_id == tenant_id).order_by(meters.c.id)
    ):
        compiled = compile_meter(row.id, Meter.model_validate_json(row.definition))
        by_type.setdefault(compiled.meter.event_type, []).append(compiled)
        by_key[compiled.meter.key] = compiled
    return Catalog(types=types, meters_by_type=by_type, meters_by_key=by_key)


def apply_event_type(connection: Connection, tenant_id: int, event_type: EventType) -> bool:
    """Create or replace an event type; True if it was new. Meters on it must still fit."""
    catalog = load_catalog(connection, tenant_id)
    for compiled in catalog.meters_by_type.get(event_type.key, []):
        check_meter_against(compiled.meter, event_type)
    properties = orjson.dumps(
        {"properties": event_type.model_dump(mode="json")["properties"]}
    ).decode()
    if event_type.key in catalog.types:
        connection.execute(
            update(event_types)
            .where(event_types.c.tenant_id == tenant_id, event_types.c.key == event_type.key)
            .values(description=event_type.description, properties=properties)
        )
        return False
    connection.execute(
        insert(event_types).values(
            tenant_id=tenant_id,
            key=event_type.key,
            description=event_type.description,
            properties=properties,
            created_us=now_us(),
        )
    )
    return True


@dataclass(frozen=True, slots=True)
class MeterApplied:
    """What applying a meter did: whether it is new, and what its rebuild read."""

    created: bool
    rebuilt: Rebuilt


def apply_meter(connection: Connection, tenant_id: int, meter: Meter) -> MeterApplied:
    """Create or replace a meter and rebuild its rollups from the events on record.

    An unchanged definition rebuilds nothing. Events on record the meter cannot read a
    quantity from are left out of it and reported in the result (`Rebuilt.unmetered`).
    """
    catalog = load_catalog(connection, tenant_id)
    event_type = catalog.types.get(meter.event_type)
    if event_type is None:
        raise InvalidInput("event_type", f"unknown event type {meter.event_type!r}")
    check_meter_against(meter, event_type)
    existing = catalog.meters_by_key.get(meter.key)
    now = now_us()
    if existing is not None and existing.meter == meter:
        return MeterApplied(False, Rebuilt(0))
    if existing is not None:
        connection.execute(
            update(meters)
            .where(meters.c.id == existing.id)
            .values(definition=_dump(meter), updated_us=now)
        )
        meter_id = existing.id
        drop_meter_rollups(connection, tenant_id, meter_id)
    else:
        meter_id = connection.execute(
            insert(meters)
            .values(
                tenant_id=tenant_id,
                key=meter.key,
                definition=_dump(meter),
                created_us=now,
                updated_us=now,
            )
            .returning(meters.c.id)
        ).scalar_one()
    rebuilt = rebuild_meter(connection, tenant_id, compile_meter(meter_id, meter))
    return MeterApplied(existing is None, rebuilt)


def rebuild_json(rebuilt: Rebuilt) -> dict[str, Any]:
    """A meter's rebuild as the API and the CLI report it."""
    return {
        "events_folded": rebuilt.folded,
        "events_unmetered": rebuilt.unmetered_count,
        "unmetered": [
            {"id": item.id, "field": item.field, "reason": item.reason}
            for item in rebuilt.unmetered
        ],
    }


def delete_meter(connection: Connection, tenant_id: int, key: str) -> None:
    """Delete a meter and its rollups (the events stay on record)."""
    compiled = load_catalog(connection, tenant_id).meters_by_key.get(key)
    if compiled is None:
        raise NotFound(f"no meter {key!r}")
    drop_meter_rollups(connection, tenant_id, compiled.id)
    connection.execute(delete(meters).where(meters.c.id == compiled.id))


def delete_event_type(connection: Connection, tenant_id: int, key: str) -> None:
    """Delete an event type that no meter uses."""
    catalog = load_catalog(connection, tenant_id)
    if key not in catalog.types:
        raise NotFound(f"no event type {key!r}")
    if catalog.meters_by_type.get(key):
        users = ", ".join(item.meter.key for item in catalog.meters_by_type[key])
        raise Conflict(f"event type {key!r} is used by meters: {users}")
    connection.execute(
        delete(event_types).where(event_types.c.tenant_id == tenant_id, event_types.c.key == key)
    )


@dataclass(frozen=True, slots=True)
class Applied:
    """What applying one document of a catalogue did."""

    kind: Literal["event type", "meter"]
    key: str
    status: Status
    rebuilt: Rebuilt = field(default_factory=lambda: Rebuilt(0))


def check_documents(
    catalog: Catalog, new_types: Sequence[EventType], new_meters: Sequence[Meter]
) -> None:
    """Refuse documents that would not fit the tenant's catalogue once applied; errors name
    the document as `meters[2].unit`."""
    types = dict(catalog.types) | {t.key: t for t in new_types}
    for index, meter in enumerate(new_meters):
        event_type = types.get(meter.event_type)
        if event_type is None:
            raise InvalidInput(
                f"meters[{index}].event_type", f"unknown event type {meter.event_type!r}"
            )
        _fits(meter, event_type, f"meters[{index}].")
    # The registry checks a changed event type against the meters on record as they stand.
    for index, event_type in enumerate(new_types):
        for compiled in catalog.meters_by_type.get(event_type.key, []):
            try:
                check_meter_against(compiled.meter, event_type)
            except InvalidInput as error:
                reason = f"meter {compiled.meter.key!r} on record no longer fits: {error}"
                raise InvalidInput(f"event_types[{index}]", reason) from None


def _fits(meter: Meter, event_type: EventType, where: str) -> None:
    try:
        check_meter_against(meter, event_type)
    except InvalidInput as error:
        raise InvalidInput(f"{where}{error.field}", error.reason) from None


def apply_documents(
    connection: Connection,
    tenant_id: int,
    catalog: Catalog,
    new_types: Sequence[EventType],
    new_meters: Sequence[Meter],
) -> list[Applied]:
    """Apply checked documents inside the caller's transaction: event types first, then meters."""
    applied: list[Applied] = []
    for event_type in new_types:
        if catalog.types.get(event_type.key) == event_type:
            applied.append(Applied("event type", event_type.key, "unchanged"))
            continue
        created = apply_event_type(connection, tenant_id, event_type)
        applied.append(Applied("event type", event_type.key, "created" if created else "updated"))
    for meter in new_meters:
        existing = catalog.meters_by_key.get(meter.key)
        if existing is not None and existing.meter == meter:
            applied.append(Applied("meter", meter.key, "unchanged"))
            continue
        done = apply_meter(connection, tenant_id, meter)
        status: Status = "created" if done.created else "updated"
        applied.append(Applied("meter", meter.key, status, done.rebuilt))
    return applied
