"""`valueproof meters` and `valueproof event-types`: a tenant's metering definitions."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
import yaml

from valueproof.cli.catalog_file import read_catalog_file
from valueproof.cli.context import TenantOption, engine_of, file_argument, tenant_of
from valueproof.cli.output import JsonFlag, command_group, print_json, print_table, say, warn
from valueproof.contracts import writes as contract_writes
from valueproof.errors import NotFound
from valueproof.metering import registry, writes
from valueproof.metering.definitions import EventType, Meter
from valueproof.metering.registry import Applied
from valueproof.store import read

app = command_group("Meters: how events become usage.")
event_types_app = command_group("Event types: what usage events carry.")

MeterKey = Annotated[str, typer.Argument(metavar="KEY", help="The meter's key.")]


@app.command("apply")
def apply(
    ctx: typer.Context,
    path: Annotated[Path, file_argument("YAML or JSON with `event_types:` and `meters:` lists.")],
    tenant: TenantOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Create or update the event types and meters of a file, all in one transaction.

    Every document is checked first; one error refuses the whole file. A changed meter is
    rebuilt from the events on record."""
    file = read_catalog_file(path)
    owner = tenant_of(ctx, tenant)
    applied = writes.apply_catalog(engine_of(ctx), owner.id, file.event_types, file.meters)
    if as_json:
        print_json(
            {
                "applied": [
                    {"kind": a.kind, "key": a.key, "status": a.status}
                    | registry.rebuild_json(a.rebuilt)
                    for a in applied
                ]
            }
        )
        return
    meters = [a for a in applied if a.kind == "meter"]
    print_table(
        ["kind", "key", "status", "events folded", "unmetered"],
        [
            (a.kind, a.key, a.status, a.rebuilt.folded, a.rebuilt.unmetered_count)
            if a.kind == "meter"
            else (a.kind, a.key, a.status, "", "")
            for a in applied
        ],
        numeric={"events folded", "unmetered"},
    )
    _print_unmetered(meters)


def _print_unmetered(meters: list[Applied]) -> None:
    """Name the events on record that a meter had to leave out, and why."""
    rows = [
        (a.key, item.id, item.field, item.reason) for a in meters for item in a.rebuilt.unmetered
    ]
    if not rows:
        return
    total = sum(a.rebuilt.unmetered_count for a in meters)
    shown = f"first {len(rows)} of {total}" if total > len(rows) else f"{total}"
    warn(f"{total} events on record are left out of the meters: no quantity in them")
    print_table(["meter", "event", "field", "reason"], rows, title=f"unmetered events ({shown})")


@app.command("list")
def list_meters(ctx: typer.Context, tenant: TenantOption = None, as_json: JsonFlag = False) -> None:
    """List the meters."""
    meters = _meters(ctx, tenant)
    if as_json:
        print_json({"meters": [m.model_dump(mode="json") for m in meters]})
        return
    print_table(
        ["key", "event type", "aggregation", "value property", "group by", "unit"],
        [
            (
                m.key,
                m.event_type,
                m.aggregation.value,
                m.value_property,
                ", ".join(m.group_by),
                m.unit,
            )
            for m in meters
        ],
    )


@app.command("show")
def show(
    ctx: typer.Context, key: MeterKey, tenant: TenantOption = None, as_json: JsonFlag = False
) -> None:
    """Show a meter's definition, as YAML (or JSON)."""
    meter = next((m for m in _meters(ctx, tenant) if m.key == key), None)
    if meter is None:
        raise NotFound(f"no meter {key!r}")
    definition = meter.model_dump(mode="json")
    if as_json:
        print_json(definition)
    else:
        say(yaml.safe_dump(definition, sort_keys=False).rstrip())


@app.command("delete")
def delete(ctx: typer.Context, key: MeterKey, tenant: TenantOption = None) -> None:
    """Delete a meter and its rollups; the events stay on record. Exit 4 if a contract whose
    term has not ended prices it (each is named: amend them first)."""
    owner = tenant_of(ctx, tenant)
    contract_writes.delete_meter(engine_of(ctx), owner.id, key)
    say(f"deleted meter {key}")


def _meters(ctx: typer.Context, tenant: str | None) -> list[Meter]:
    owner = tenant_of(ctx, tenant)
    with read(engine_of(ctx)) as connection:
        catalog = registry.load_catalog(connection, owner.id)
    return sorted((c.meter for c in catalog.meters_by_key.values()), key=lambda m: m.key)


@event_types_app.command("list")
def list_event_types(
    ctx: typer.Context, tenant: TenantOption = None, as_json: JsonFlag = False
) -> None:
    """List the event types and the properties they declare (`*` marks the required ones)."""
    owner = tenant_of(ctx, tenant)
    with read(engine_of(ctx)) as connection:
        catalog = registry.load_catalog(connection, owner.id)
    types = sorted(catalog.types.values(), key=lambda t: t.key)
    if as_json:
        print_json({"event_types": [t.model_dump(mode="json") for t in types]})
        return
    print_table(
        ["key", "properties", "description"],
        [(t.key, _properties_text(t), t.description) for t in types],
    )


@event_types_app.command("delete")
def delete_event_type(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(metavar="KEY", help="The event type's key.")],
    tenant: TenantOption = None,
) -> None:
    """Delete an event type that no meter uses."""
    owner = tenant_of(ctx, tenant)
    writes.delete_event_type(engine_of(ctx), owner.id, key)
    say(f"deleted event type {key}")


def _properties_text(event_type: EventType) -> str:
    return ", ".join(
        f"{name}: {spec.type.value}{'*' if spec.required else ''}"
        for name, spec in sorted(event_type.properties.items())
    )
