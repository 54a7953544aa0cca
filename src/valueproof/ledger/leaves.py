"""Leaves: a record type, a schema version and the record, as RFC 8785 canonical JSON.

Anyone holding the record can recompute its leaf, and so its leaf hash, byte for byte.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from valueproof.ledger.canonical import canonical_json
from valueproof.ledger.errors import LedgerError

__all__ = ["Leaf", "leaf_bytes", "parse_leaf"]


@dataclass(frozen=True, slots=True)
class Leaf:
    """What a leaf says: which kind of record, in which schema version, and the record."""

    record_type: str
    version: int
    record: dict[str, Any]


def leaf_bytes(record_type: str, version: int, record: dict[str, Any]) -> bytes:
    """The canonical bytes of a leaf; CanonicalizationError if the record cannot be encoded."""
    return canonical_json({"type": record_type, "v": version, "record": record})


def parse_leaf(data: bytes, *, canonical: bool = True) -> Leaf:
    """Read a leaf back; LedgerError unless it is a leaf, in canonical form unless `canonical`
    is False (a reader that hashes the bytes itself may skip re-encoding each record)."""
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as error:
        raise LedgerError(f"leaf is not JSON: {error}") from None
    if not (
        isinstance(value, dict)
        and set(value) == {"type", "v", "record"}
        and isinstance(value["type"], str)
        and type(value["v"]) is int
        and isinstance(value["record"], dict)
    ):
        raise LedgerError("leaf is not an object of exactly type, v and record")
    leaf = Leaf(value["type"], value["v"], value["record"])
    if canonical and leaf_bytes(leaf.record_type, leaf.version, leaf.record) != data:
        raise LedgerError("leaf is not in RFC 8785 canonical form")
    return leaf
