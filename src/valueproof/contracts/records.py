"""A contract version as a ledger record: the leaf each version becomes, and how to rebuild it.

The record carries the whole document in its canonical JSON form, so a customer holding the
contract it signed can recompute the leaf and find it on the log.
"""

from __future__ import annotations

from typing import Any

import orjson

from valueproof.contracts.document import ContractDocument
from valueproof.ledger.leaves import leaf_bytes

__all__ = ["CONTRACT_VERSION", "contract_version_leaf", "document_json"]

CONTRACT_VERSION = "contract_version"
_VERSION = 1


def document_json(document: ContractDocument) -> dict[str, Any]:
    """The document as stored and put on the record: every field explicit, decimals as text."""
    dumped: dict[str, Any] = document.model_dump(mode="json", by_alias=True)
    return dumped


def document_text(document: ContractDocument) -> str:
    """`document_json` as sorted-key JSON text, the form the store keeps."""
    return orjson.dumps(document_json(document), option=orjson.OPT_SORT_KEYS).decode()


def contract_version_leaf(document: dict[str, Any], version: int) -> bytes:
    """The canonical leaf of one version of a contract (record schema version 1)."""
    effective = document.get("effective_from") or document["term"]["start"]
    record = {
        "contract": document["contract"],
        "account": document["account"],
        "version": version,
        "effective_from": effective,
        "document": document,
    }
    return leaf_bytes(CONTRACT_VERSION, _VERSION, record)
