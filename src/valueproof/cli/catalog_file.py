"""Catalogue files for `meters apply`: event types and meters in one YAML or JSON document.

Everything is checked before anything is written: each document on its own, then the whole
against what is on record. The caller applies the result in one transaction, so a file is
applied entirely or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from sqlalchemy import Connection

from valueproof.documents import refuse_nul
from valueproof.errors import InvalidInput
from valueproof.metering import registry
from valueproof.metering.definitions import EventType, Meter, check_meter_against, parse_document
from valueproof.metering.registry import Catalog

_SECTIONS = ("event_types", "meters")

Status = Literal["created", "updated", "unchanged"]


@dataclass(frozen=True, slots=True)
class CatalogFile:
    """The validated documents of one file, in file order."""

    event_types: tuple[EventType, ...]
    meters: tuple[Meter, ...]


@dataclass(frozen=True, slots=True)
class Applied:
    """What applying one document did."""

    kind: Literal["event type", "meter"]
    key: str
    status: Status
    events_folded: int = 0


def read_catalog_file(path: Path) -> CatalogFile:
    """Parse and validate every document of the file; errors name the path, as `meters[2].unit`."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise InvalidInput("(document)", _yaml_problem(error)) from None
    except UnicodeDecodeError as error:
        raise InvalidInput("(document)", f"not UTF-8 text: {error.reason}") from None
    refuse_nul(document)
    if not isinstance(document, dict):
        raise InvalidInput("(document)", "expected a mapping with event_types: and meters:")
    for name in document:
        if name not in _SECTIONS:
            raise InvalidInput(str(name), "unknown section; expected event_types and meters")
    return CatalogFile(
        event_types=tuple(_documents(EventType, document, "event_types")),
        meters=tuple(_documents(Meter, document, "meters")),
    )


def _yaml_problem(error: yaml.YAMLError) -> str:
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or "unreadable"
    if mark is None:
        return f"not valid YAML: {problem}"
    return f"not valid YAML at line {mark.line + 1}, column {mark.column + 1}: {problem}"


def _documents(model: type[EventType | Meter], document: dict[str, Any], section: str) -> list[Any]:
    items = document.get(section) or []
    if not isinstance(items, list):
        raise InvalidInput(section, "must be a list")
    parsed: list[Any] = []
    first_at: dict[str, int] = {}
    for index, item in enumerate(items):
        where = f"{section}[{index}]"
        if not isinstance(item, dict):
            raise InvalidInput(where, "must be a mapping")
        checked = parse_document(model, item, f"{where}.")
        if checked.key in first_at:
            earlier = f"{section}[{first_at[checked.key]}]"
            raise InvalidInput(f"{where}.key", f"{checked.key!r} is defined already at {earlier}")
        first_at[checked.key] = index
        parsed.append(checked)
    return parsed


def check_against(file: CatalogFile, catalog: Catalog) -> None:
    """Refuse a file that would not fit the tenant's catalogue once applied."""
    types = dict(catalog.types) | {t.key: t for t in file.event_types}
    for index, meter in enumerate(file.meters):
        event_type = types.get(meter.event_type)
        if event_type is None:
            raise InvalidInput(
                f"meters[{index}].event_type", f"unknown event type {meter.event_type!r}"
            )
        _fits(meter, event_type, f"meters[{index}].")
    # The registry checks a changed event type against the meters on record as they stand.
    for index, event_type in enumerate(file.event_types):
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


def apply_catalog_file(
    connection: Connection, tenant_id: int, file: CatalogFile, catalog: Catalog
) -> list[Applied]:
    """Apply a checked file inside the caller's transaction: event types first, then meters."""
    applied: list[Applied] = []
    for event_type in file.event_types:
        if catalog.types.get(event_type.key) == event_type:
            applied.append(Applied("event type", event_type.key, "unchanged"))
            continue
        created = registry.apply_event_type(connection, tenant_id, event_type)
        applied.append(Applied("event type", event_type.key, "created" if created else "updated"))
    for meter in file.meters:
        existing = catalog.meters_by_key.get(meter.key)
        if existing is not None and existing.meter == meter:
            applied.append(Applied("meter", meter.key, "unchanged"))
            continue
        created, folded = registry.apply_meter(connection, tenant_id, meter)
        applied.append(Applied("meter", meter.key, "created" if created else "updated", folded))
    return applied
