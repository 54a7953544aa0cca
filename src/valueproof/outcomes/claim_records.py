"""Claims as recorded: the verdict of each claim taken, its ledger leaf, and reading claims back.

Personal attributes reach the leaf only as salted hashes; the salts stay in the claim's row.
"""

from __future__ import annotations

import base64
import functools
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, Row, Select, select

from valueproof.batches import BatchStatus
from valueproof.errors import NotFound
from valueproof.ledger.canonical import canonical_json
from valueproof.ledger.errors import CanonicalizationError
from valueproof.ledger.leaves import leaf_bytes
from valueproof.metering.schema import FieldError
from valueproof.outcomes.tables import outcome_claims
from valueproof.outcomes.verification import Reason
from valueproof.periods import format_micros
from valueproof.tenancy.tables import accounts

__all__ = [
    "OUTCOME_VERDICT",
    "ClaimResult",
    "StoredClaim",
    "batch_status",
    "claim_json",
    "claim_of_row",
    "claim_result_json",
    "claim_rows",
    "commitment",
    "reason_json",
    "reasons_of_text",
    "reasons_text",
    "stored_claim",
    "verdict_leaf",
]

OUTCOME_VERDICT = "outcome_verdict"
_RECORD_VERSION = 1


@dataclass(frozen=True, slots=True)
class ClaimResult:
    """One submitted item's outcome; `accepted` and `reasons` are its verdict when it has one."""

    index: int
    id: str | None
    status: BatchStatus
    errors: tuple[FieldError, ...] = ()
    accepted: bool | None = None
    reasons: tuple[Reason, ...] = ()
    leaf_index: int | None = None


@dataclass(frozen=True, slots=True)
class StoredClaim:
    """A claim on record with its verdict; `salts` let its owner recompute the commitments."""

    id: str
    account: str
    contract: str
    outcome: str
    definition_version: int
    occurred_at_us: int
    submitted_at_us: int
    attributes: dict[str, Any]
    salts: dict[str, str]
    accepted: bool
    reasons: tuple[Reason, ...]
    leaf_index: int


# --- verdict leaves ----------------------------------------------------------------------------


def commitment(salt: bytes, value: Any) -> str:
    """The salted hash a leaf holds for a personal value: sha256(salt || canonical JSON), hex."""
    return hashlib.sha256(salt + canonical_json(value)).hexdigest()


def verdict_leaf(claim: StoredClaim) -> bytes:
    """The canonical leaf of a claim's verdict (record schema version 1); personal attributes
    appear as `{"sha256": hex}` commitments, their salts kept off the ledger."""
    attributes = {
        name: {"sha256": commitment(base64.b64decode(claim.salts[name]), value)}
        if name in claim.salts
        else value
        for name, value in claim.attributes.items()
    }
    record = {
        "claim": claim.id,
        "account": claim.account,
        "contract": claim.contract,
        "outcome": claim.outcome,
        "definition_version": claim.definition_version,
        "occurred_at": _time_text(claim.occurred_at_us),
        "submitted_at": _time_text(claim.submitted_at_us),
        "attributes": attributes,
        "accepted": claim.accepted,
        "reasons": [reason_json(r) for r in _without_personal(claim)],
    }
    try:
        # Only the attributes may need the canonical encoder's care (floats, odd keys): the
        # rest is ASCII keys, strings, booleans and a small integer, which sorted orjson
        # writes canonically, so the attributes are encoded once and spliced in.
        spliced = {**record, "attributes": orjson.Fragment(canonical_json(attributes))}
        return orjson.dumps(
            {"type": OUTCOME_VERDICT, "v": _RECORD_VERSION, "record": spliced},
            option=orjson.OPT_SORT_KEYS,
        )
    except (orjson.JSONEncodeError, CanonicalizationError):
        return leaf_bytes(OUTCOME_VERDICT, _RECORD_VERSION, record)  # raises what is wrong


@functools.lru_cache(maxsize=4_096)
def _time_text(micros: int) -> str:
    # A batch's verdicts share their submission time, and often their occurrence times.
    return format_micros(micros)


def _without_personal(claim: StoredClaim) -> list[Reason]:
    """The reasons with committed values quoted in them (a malformed personal timestamp is
    echoed by its parser) written as `(personal)`."""
    if not claim.reasons:
        return []
    quoted = [
        form
        for name in claim.salts
        if isinstance(value := claim.attributes[name], str) and value
        for form in (repr(value), orjson.dumps(value).decode())
    ]
    if not quoted:
        return list(claim.reasons)
    cleaned = []
    for reason in claim.reasons:
        detail = reason.detail
        for form in quoted:
            detail = detail.replace(form, "(personal)")
        cleaned.append(Reason(reason.code, reason.field, detail))
    return cleaned


def reason_json(reason: Reason) -> dict[str, str]:
    return {"code": reason.code, "field": reason.field, "detail": reason.detail}


def reasons_text(reasons: Sequence[Reason]) -> str:
    if not reasons:
        return "[]"
    return orjson.dumps([reason_json(r) for r in reasons]).decode()


def reasons_of_text(text: str) -> tuple[Reason, ...]:
    return tuple(Reason(r["code"], r["field"], r["detail"]) for r in orjson.loads(text))


# --- reading claims back -----------------------------------------------------------------------


def claim_rows(tenant_id: int) -> Select[Any]:
    """The select of a tenant's claims with their account's external id (for the audit too)."""
    return (
        select(outcome_claims, accounts.c.external_id)
        .join(accounts, accounts.c.id == outcome_claims.c.account_id)
        .where(outcome_claims.c.tenant_id == tenant_id)
    )


def claim_of_row(row: Row[Any]) -> StoredClaim:
    return StoredClaim(
        row.claim_id,
        row.external_id,
        row.contract,
        row.outcome,
        row.definition_version,
        row.occurred_at_us,
        row.submitted_at_us,
        orjson.loads(row.attributes),
        orjson.loads(row.salts),
        bool(row.accepted),
        reasons_of_text(row.reasons),
        row.leaf_index,
    )


def stored_claim(connection: Connection, tenant_id: int, claim_id: str) -> StoredClaim:
    """The claim on record with this id; NotFound otherwise."""
    row = connection.execute(
        claim_rows(tenant_id).where(outcome_claims.c.claim_id == claim_id)
    ).first()
    if row is None:
        raise NotFound(f"no claim {claim_id!r}")
    return claim_of_row(row)


# --- JSON --------------------------------------------------------------------------------------


def batch_status(result: ClaimResult) -> BatchStatus:
    """The item's word in a batch answer: a claim its verdict refused is `rejected`, whether
    recorded now or earlier (it is on the ledger, with its reasons, but bills nothing), so that
    `accepted` and `duplicate` only ever mean a claim on record that the verdict accepted."""
    return "rejected" if result.accepted is False else result.status


def claim_result_json(result: ClaimResult) -> dict[str, Any]:
    """One submitted claim's outcome as the API prints it: a refused claim's `errors` are its
    verdict's reasons (`field`, and `reason` as `code: detail`)."""
    verdict = None
    if result.accepted is not None:
        verdict = {
            "accepted": result.accepted,
            "reasons": [reason_json(r) for r in result.reasons],
        }
    return {
        "index": result.index,
        "id": result.id,
        "status": batch_status(result),
        "errors": [{"field": e.field, "reason": e.reason} for e in result.errors]
        or [{"field": r.field, "reason": f"{r.code}: {r.detail}"} for r in result.reasons],
        "verdict": verdict,
        "leaf_index": result.leaf_index,
    }


def claim_json(claim: StoredClaim) -> dict[str, Any]:
    """A claim on record with its verdict, its leaf, and the salts of its commitments."""
    return {
        "id": claim.id,
        "account": claim.account,
        "contract": claim.contract,
        "outcome": claim.outcome,
        "definition_version": claim.definition_version,
        "occurred_at": format_micros(claim.occurred_at_us),
        "submitted_at": format_micros(claim.submitted_at_us),
        "attributes": claim.attributes,
        "salts": claim.salts,
        "verdict": {
            "accepted": claim.accepted,
            "reasons": [reason_json(r) for r in claim.reasons],
        },
        "leaf_index": claim.leaf_index,
    }
