"""A usage event as a ledger record: the leaf every accepted event becomes, and how to rebuild it.

The record is the event as the client sent it, normalized (UTC timestamp, exact decimal value),
so a customer holding its own copy of an event can recompute the leaf and its hash.
"""

from __future__ import annotations

from typing import Any

from valueproof.ledger.leaves import leaf_bytes
from valueproof.metering.quantities import from_micros
from valueproof.periods import format_micros

__all__ = ["USAGE_EVENT", "usage_event_leaf"]

USAGE_EVENT = "usage_event"
_VERSION = 1


def usage_event_leaf(
    event_id: str,
    account: str,
    type_key: str,
    ts_us: int,
    properties: dict[str, Any],
    value_micros: int | None,
    correction: str | None,
    corrects: str | None,
) -> bytes:
    """The canonical leaf of a usage event (schema version 1)."""
    record: dict[str, Any] = {
        "id": event_id,
        "account": account,
        "type": type_key,
        "timestamp": format_micros(ts_us),
        "properties": properties,
    }
    if value_micros is not None:
        record["value"] = str(from_micros(value_micros))
    if correction is not None:
        record["voids" if correction == "void" else "amends"] = corrects
    return leaf_bytes(USAGE_EVENT, _VERSION, record)
