"""Catalogue files for `meters apply`: event types and meters in one YAML or JSON document.

Each document is checked here on its own; `metering.writes.apply_catalog` checks the whole
against what is on record and applies it in one transaction, so a file is applied entirely or
not at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from valueproof.documents import refuse_nul
from valueproof.errors import InvalidInput
from valueproof.metering.definitions import EventType, Meter, parse_document

_SECTIONS = ("event_types", "meters")


@dataclass(frozen=True, slots=True)
class CatalogFile:
    """The validated documents of one file, in file order."""

    event_types: tuple[EventType, ...]
    meters: tuple[Meter, ...]


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
