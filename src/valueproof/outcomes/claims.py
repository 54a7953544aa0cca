"""Outcome definitions and claims in the store: each definition version and each claim's
verdict is a ledger leaf, in the caller's transaction (which holds the tenant lock).

A claim taken is on record with its verdict, accepted (billable) or not; `rejected` is only
for items that are not claims at all (a missing field, an unknown account or definition).
Personal attributes reach the leaf only as salted hashes; the salts stay in the claim's row.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

import orjson
from sqlalchemy import Connection, Row, Select, func, insert, select

from valueproof.errors import NotFound
from valueproof.ledger import log as ledger_log
from valueproof.ledger.canonical import CanonicalizationError, canonical_json
from valueproof.ledger.leaves import leaf_bytes
from valueproof.metering.definitions import KEY_PATTERN
from valueproof.metering.schema import FieldError
from valueproof.outcomes.definitions import (
    CompiledDefinition,
    OutcomeDefinition,
    compile_definition,
)
from valueproof.outcomes.known import KnownSets, KnownSetUnavailable
from valueproof.outcomes.tables import outcome_claims, outcome_definitions
from valueproof.outcomes.verification import Claim, Reason, verify
from valueproof.periods import format_micros, parse_rfc3339, to_micros
from valueproof.store import placeholder
from valueproof.tenancy.accounts import account_ids
from valueproof.tenancy.tables import accounts

__all__ = [
    "OUTCOME_DEFINITION",
    "OUTCOME_VERDICT",
    "ClaimResult",
    "StoredClaim",
    "StoredDefinition",
    "accepted_outcomes",
    "apply_definition",
    "claim_json",
    "claim_of_row",
    "claim_result_json",
    "claim_rows",
    "commitment",
    "definition_json",
    "definition_leaf",
    "definitions",
    "stored_claim",
    "stored_definition",
    "submit_claims",
    "verdict_leaf",
]

OUTCOME_DEFINITION = "outcome_definition"
OUTCOME_VERDICT = "outcome_verdict"
_RECORD_VERSION = 1
_MAX_ID = 200
_SALT_BYTES = 16
_ENVELOPE = ("id", "account", "contract", "outcome", "occurred_at", "attributes")
_KEY = re.compile(KEY_PATTERN)

Status = Literal["created", "updated", "unchanged"]
ClaimStatus = Literal["accepted", "duplicate", "conflict", "rejected"]


@dataclass(frozen=True, slots=True)
class StoredDefinition:
    """One version of an outcome definition, as recorded."""

    contract: str
    outcome: str
    version: int
    definition: OutcomeDefinition
    leaf_index: int
    created_us: int


@dataclass(frozen=True, slots=True)
class ClaimResult:
    """One submitted item's outcome; `accepted` and `reasons` are its verdict when it has one."""

    index: int
    id: str | None
    status: ClaimStatus
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


# --- definitions -------------------------------------------------------------------------------


def _document(definition: OutcomeDefinition) -> str:
    return canonical_json(definition.model_dump(mode="json")).decode()


def definition_leaf(stored: StoredDefinition) -> bytes:
    """The canonical leaf of a definition version (record schema version 1)."""
    record = {
        "contract": stored.contract,
        "outcome": stored.outcome,
        "version": stored.version,
        "definition": stored.definition.model_dump(mode="json"),
    }
    return leaf_bytes(OUTCOME_DEFINITION, _RECORD_VERSION, record)


def apply_definition(
    connection: Connection, tenant_id: int, definition: OutcomeDefinition, now_us: int
) -> Status:
    """Record the definition as a new version when its document changed (each one a leaf)."""
    latest = _latest(connection, tenant_id, definition.contract, definition.outcome)
    if latest is not None and _document(latest.definition) == _document(definition):
        return "unchanged"
    version = 1 if latest is None else latest.version + 1
    pending = StoredDefinition(
        definition.contract, definition.outcome, version, definition, -1, now_us
    )
    leaf_index = ledger_log.append(connection, tenant_id, [definition_leaf(pending)], now_us)
    connection.execute(
        insert(outcome_definitions).values(
            tenant_id=tenant_id,
            contract=definition.contract,
            outcome=definition.outcome,
            version=version,
            definition=_document(definition),
            leaf_index=leaf_index,
            created_us=now_us,
        )
    )
    return "created" if latest is None else "updated"


def stored_definition(row: Row[Any]) -> StoredDefinition:
    return StoredDefinition(
        row.contract,
        row.outcome,
        row.version,
        OutcomeDefinition.model_validate_json(row.definition),
        row.leaf_index,
        row.created_us,
    )


def _latest(
    connection: Connection, tenant_id: int, contract: str, outcome: str
) -> StoredDefinition | None:
    t = outcome_definitions.c
    row = connection.execute(
        select(outcome_definitions)
        .where(t.tenant_id == tenant_id, t.contract == contract, t.outcome == outcome)
        .order_by(t.version.desc())
        .limit(1)
    ).first()
    return None if row is None else stored_definition(row)


def definitions(
    connection: Connection, tenant_id: int, *, every_version: bool = False
) -> list[StoredDefinition]:
    """The tenant's definitions (the latest version of each, or every version), in key order."""
    t = outcome_definitions.c
    query = select(outcome_definitions).where(t.tenant_id == tenant_id)
    if not every_version:
        newest = (
            select(t.contract, t.outcome, func.max(t.version).label("version"))
            .where(t.tenant_id == tenant_id)
            .group_by(t.contract, t.outcome)
            .subquery()
        )
        query = query.join(
            newest,
            (newest.c.contract == t.contract)
            & (newest.c.outcome == t.outcome)
            & (newest.c.version == t.version),
        )
    rows = connection.execute(query.order_by(t.contract, t.outcome, t.version))
    return [stored_definition(row) for row in rows]


# --- claims ------------------------------------------------------------------------------------


def commitment(salt: bytes, value: Any) -> str:
    """The salted hash a leaf holds for a personal value: sha256(salt || canonical JSON), hex."""
    return hashlib.sha256(salt + canonical_json(value)).hexdigest()


def _committed(definition: OutcomeDefinition, name: str) -> bool:
    """Whether an attribute reaches the leaf only as a hash: personal, or not declared at all
    (an undeclared attribute may hold anything)."""
    spec = definition.attributes.get(name)
    return spec is None or spec.personal


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
        "occurred_at": format_micros(claim.occurred_at_us),
        "submitted_at": format_micros(claim.submitted_at_us),
        "attributes": attributes,
        "accepted": claim.accepted,
        "reasons": [_reason_json(r) for r in _without_personal(claim)],
    }
    return leaf_bytes(OUTCOME_VERDICT, _RECORD_VERSION, record)


def _without_personal(claim: StoredClaim) -> list[Reason]:
    """The reasons with committed values quoted in them (a malformed personal timestamp is
    echoed by its parser) written as `(personal)`."""
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


@dataclass(frozen=True, slots=True)
class _Item:
    id: str
    account: str
    contract: str
    outcome: str
    occurred_at: datetime
    attributes: dict[str, Any]
    content_sha256: bytes


def _envelope(item: Any) -> tuple[_Item | None, str | None, list[FieldError]]:
    """The checked item, its id when readable, and a FieldError for each problem."""
    if not isinstance(item, dict):
        return None, None, [FieldError("(item)", "a claim is a JSON object")]
    errors = [
        FieldError(str(name), "is not a field of a claim")
        for name in sorted(map(str, item))
        if name not in _ENVELOPE
    ]
    claim_id = item.get("id")
    if not isinstance(claim_id, str) or not 0 < len(claim_id) <= _MAX_ID:
        errors.append(FieldError("id", f"must be a string of 1 to {_MAX_ID} characters"))
        claim_id = None
    if not isinstance(item.get("account"), str) or not item["account"]:
        errors.append(FieldError("account", "must be an account's external id"))
    for name in ("contract", "outcome"):
        if not isinstance(item.get(name), str) or not _KEY.match(item[name]):
            errors.append(FieldError(name, f"must be a key ({KEY_PATTERN})"))
    occurred = None
    if not isinstance(item.get("occurred_at"), str):
        errors.append(FieldError("occurred_at", "must be an RFC 3339 timestamp"))
    else:
        try:
            occurred = parse_rfc3339(item["occurred_at"])
        except (ValueError, OverflowError) as error:
            errors.append(FieldError("occurred_at", str(error)))
    if not isinstance(item.get("attributes"), dict):
        errors.append(FieldError("attributes", "must be an object"))
    if errors or occurred is None:
        return None, claim_id, errors
    content = {name: item[name] for name in _ENVELOPE} | {"occurred_at": to_micros(occurred)}
    try:
        digest = hashlib.sha256(canonical_json(content)).digest()
    except CanonicalizationError as error:
        return None, claim_id, [FieldError("attributes", f"not canonical JSON: {error}")]
    parsed = _Item(
        item["id"], item["account"], item["contract"], item["outcome"], occurred,
        item["attributes"], digest,
    )  # fmt: skip
    return parsed, claim_id, []


def submit_claims(
    connection: Connection,
    tenant_id: int,
    items: Sequence[Any],
    now: datetime,
    passphrase: str | None = None,
) -> list[ClaimResult]:
    """Verify and record a batch of claims (the caller holds the tenant lock), in order.

    Per item: accepted (on record, with its verdict), duplicate (the same claim again: its
    original verdict), conflict (its id is on record with other content) or rejected.
    `passphrase` opens the accounts' known-set secrets (outcomes.known). The batch's verdicts
    go on the ledger in one append and into the table in one insert.
    """
    parsed = [_envelope(item) for item in items]
    batch = _Batch(
        connection,
        tenant_id,
        now,
        account_ids(connection, tenant_id, {p.account for p, _, _ in parsed if p}),
        KnownSets(connection, tenant_id, passphrase),
        _on_record(connection, tenant_id, [p.id for p, _, _ in parsed if p]),
    )
    results: list[ClaimResult] = []
    for index, (item, claim_id, errors) in enumerate(parsed):
        if item is None:
            results.append(ClaimResult(index, claim_id, "rejected", tuple(errors)))
        else:
            results.append(batch.take(index, item))
    return batch.record(results)


@dataclass(slots=True)
class _Batch:
    """What one batch of claims needs: its lookups, and the verdicts waiting to be recorded."""

    connection: Connection
    tenant_id: int
    now: datetime
    accounts: Mapping[str, int]
    known_sets: KnownSets
    on_record: dict[str, Any]  # claim id -> its row: ids seen before this batch
    compiled: dict[tuple[str, str], tuple[int, CompiledDefinition] | None] = field(
        default_factory=dict
    )
    taken: dict[str, tuple[bytes, int]] = field(default_factory=dict)  # this batch: id -> index
    keys: dict[tuple[str, str, str], str] = field(default_factory=dict)  # accepted dedupe keys
    rows: list[dict[str, Any]] = field(default_factory=list)
    leaves: list[bytes] = field(default_factory=list)
    places: list[int] = field(default_factory=list)  # the result index of each pending row

    def take(self, index: int, item: _Item) -> ClaimResult:
        """The item's result; a new claim's verdict waits in `rows` and `leaves`."""
        repeat = self._repeat(index, item)
        if repeat is not None:
            return repeat
        account_id = self.accounts.get(item.account)
        if account_id is None:
            error = FieldError("account", f"unknown account {item.account!r}")
            return ClaimResult(index, item.id, "rejected", (error,))
        found = self._definition(item.contract, item.outcome)
        if found is None:
            reason = f"no definition of {item.outcome!r} outcomes for contract {item.contract!r}"
            return ClaimResult(index, item.id, "rejected", (FieldError("outcome", reason),))
        version, definition = found
        check = None
        if definition.known_key is not None:
            try:
                check = self.known_sets.check(account_id)
            except KnownSetUnavailable as error:
                # Not taken rather than taken unchecked: the customer would pay for what it knew.
                error_field = FieldError("known_key", error.detail)
                return ClaimResult(index, item.id, "rejected", (error_field,))
        claim = Claim(
            item.id, item.account, item.outcome, item.occurred_at, item.attributes, self.now
        )
        verdict = verify(
            definition,
            claim,
            is_known=(lambda _: False) if check is None else check.holds,
            earlier=lambda dedupe_key: self._earlier(item, _key_hash(dedupe_key)),
            known_hash_of=None if check is None else check.hash_of,
        )
        key_hash = None if verdict.dedupe_key is None else _key_hash(verdict.dedupe_key)
        if verdict.accepted and key_hash is not None:
            self.keys.setdefault((item.contract, item.outcome, key_hash), item.id)
        stored = StoredClaim(
            item.id, item.account, item.contract, item.outcome, version,
            to_micros(item.occurred_at), to_micros(self.now), item.attributes,
            _salts(definition.definition, item.attributes), verdict.accepted, verdict.reasons, -1,
        )  # fmt: skip
        self.leaves.append(verdict_leaf(stored))
        self.rows.append(_row(self.tenant_id, account_id, stored, item, key_hash))
        self.places.append(index)
        self.taken[item.id] = (item.content_sha256, index)
        return ClaimResult(index, item.id, "accepted", (), verdict.accepted, verdict.reasons)

    def record(self, results: list[ClaimResult]) -> list[ClaimResult]:
        """Append the waiting verdicts to the ledger and the table; fill in their leaves."""
        if not self.rows:
            return results
        first = ledger_log.append(self.connection, self.tenant_id, self.leaves, to_micros(self.now))
        for offset, (row, place) in enumerate(zip(self.rows, self.places, strict=True)):
            row["leaf_index"] = first + offset
            results[place] = replace(results[place], leaf_index=first + offset)
        self.connection.execute(insert(outcome_claims), self.rows)
        for position, result in enumerate(results):  # repeats within the batch
            if result.status == "duplicate" and result.leaf_index is None:
                _, original = self.taken[str(result.id)]
                results[position] = replace(result, leaf_index=results[original].leaf_index)
        return results

    def _repeat(self, index: int, item: _Item) -> ClaimResult | None:
        """The result of an id seen before (on record, or earlier in this batch), if it was."""
        row = self.on_record.get(item.id)
        if row is not None:
            if bytes(row.content_sha256) != item.content_sha256:
                error = FieldError("id", "a claim with this id and other content is on record")
                return ClaimResult(index, item.id, "conflict", (error,))
            return ClaimResult(
                index, item.id, "duplicate", (), row.accepted, _reasons(row.reasons),
                row.leaf_index,
            )  # fmt: skip
        seen = self.taken.get(item.id)
        if seen is None:
            return None
        digest, original = seen
        if digest != item.content_sha256:
            error = FieldError("id", "a claim with this id and other content is in this batch")
            return ClaimResult(index, item.id, "conflict", (error,))
        pending = self.places.index(original)
        earlier = self.rows[pending]
        return ClaimResult(
            index, item.id, "duplicate", (), earlier["accepted"], _reasons(earlier["reasons"])
        )

    def _definition(self, contract: str, outcome: str) -> tuple[int, CompiledDefinition] | None:
        key = (contract, outcome)
        if key not in self.compiled:
            latest = _latest(self.connection, self.tenant_id, contract, outcome)
            self.compiled[key] = (
                None if latest is None else (latest.version, compile_definition(latest.definition))
            )
        return self.compiled[key]

    def _earlier(self, item: _Item, key_hash: str) -> str | None:
        """The first accepted claim with this dedupe key: in this batch, else on record."""
        found = self.keys.get((item.contract, item.outcome, key_hash))
        return found or _earlier(self.connection, self.tenant_id, item, key_hash)


def _on_record(connection: Connection, tenant_id: int, ids: Sequence[str]) -> dict[str, Any]:
    """The rows of the claim ids already on record."""
    t = outcome_claims.c
    found: dict[str, Any] = {}
    wanted = list(dict.fromkeys(ids))
    for start in range(0, len(wanted), 500):
        rows = connection.execute(
            select(t.claim_id, t.content_sha256, t.accepted, t.reasons, t.leaf_index).where(
                t.tenant_id == tenant_id, t.claim_id.in_(wanted[start : start + 500])
            )
        )
        found.update({row.claim_id: row for row in rows})
    return found


def _row(
    tenant_id: int, account_id: int, stored: StoredClaim, item: _Item, key_hash: str | None
) -> dict[str, Any]:
    return {
        "tenant_id": tenant_id,
        "claim_id": item.id,
        "account_id": account_id,
        "contract": item.contract,
        "outcome": item.outcome,
        "definition_version": stored.definition_version,
        "occurred_at_us": stored.occurred_at_us,
        "submitted_at_us": stored.submitted_at_us,
        "attributes": canonical_json(item.attributes).decode(),
        "salts": orjson.dumps(stored.salts).decode(),
        "content_sha256": item.content_sha256,
        "accepted": stored.accepted,
        "reasons": _reasons_text(stored.reasons),
        "dedupe_key_hash": key_hash,
        "leaf_index": None,
    }


def _key_hash(dedupe_key: str) -> str:
    return hashlib.sha256(dedupe_key.encode()).hexdigest()


def _earlier(connection: Connection, tenant_id: int, item: _Item, key_hash: str) -> str | None:
    """The first accepted claim on record with this dedupe key."""
    # Plain SQL: it runs once per claim, and building a Core statement costs more than this.
    mark = placeholder(connection)
    found = connection.exec_driver_sql(
        "SELECT claim_id FROM outcome_claims WHERE tenant_id = {0} AND contract = {0}"
        " AND outcome = {0} AND dedupe_key_hash = {0} AND accepted = {1}"
        " ORDER BY leaf_index LIMIT 1".format(mark, "1" if _is_sqlite(connection) else "true"),
        (tenant_id, item.contract, item.outcome, key_hash),
    ).scalar()
    return None if found is None else str(found)


def _is_sqlite(connection: Connection) -> bool:
    return connection.dialect.name == "sqlite"


def _salts(definition: OutcomeDefinition, attributes: Mapping[str, Any]) -> dict[str, str]:
    return {
        name: base64.b64encode(secrets.token_bytes(_SALT_BYTES)).decode()
        for name in attributes
        if _committed(definition, name)
    }


def _reason_json(reason: Reason) -> dict[str, str]:
    return {"code": reason.code, "field": reason.field, "detail": reason.detail}


def _reasons_text(reasons: Sequence[Reason]) -> str:
    return orjson.dumps([_reason_json(r) for r in reasons]).decode()


def _reasons(text: str) -> tuple[Reason, ...]:
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
        row.claim_id, row.external_id, row.contract, row.outcome, row.definition_version,
        row.occurred_at_us, row.submitted_at_us, orjson.loads(row.attributes),
        orjson.loads(row.salts), bool(row.accepted), _reasons(row.reasons), row.leaf_index,
    )  # fmt: skip


def stored_claim(connection: Connection, tenant_id: int, claim_id: str) -> StoredClaim:
    """The claim on record with this id; NotFound otherwise."""
    row = connection.execute(
        claim_rows(tenant_id).where(outcome_claims.c.claim_id == claim_id)
    ).first()
    if row is None:
        raise NotFound(f"no claim {claim_id!r}")
    return claim_of_row(row)


def accepted_outcomes(
    connection: Connection,
    tenant_id: int,
    account_id: int,
    contract: str,
    start_us: int,
    end_us: int,
) -> dict[str, tuple[int, int, int]]:
    """Per outcome: (count, first leaf, last leaf) of the accepted claims of the account under
    `contract` that occurred in [start_us, end_us)."""
    t = outcome_claims.c
    rows = connection.execute(
        select(t.outcome, func.count(), func.min(t.leaf_index), func.max(t.leaf_index))
        .where(
            t.tenant_id == tenant_id,
            t.account_id == account_id,
            t.contract == contract,
            t.accepted.is_(True),
            t.occurred_at_us >= start_us,
            t.occurred_at_us < end_us,
        )
        .group_by(t.outcome)
    )
    return {row[0]: (int(row[1]), int(row[2]), int(row[3])) for row in rows}


# --- JSON --------------------------------------------------------------------------------------


def claim_result_json(result: ClaimResult) -> dict[str, Any]:
    """One submitted claim's outcome as the API prints it."""
    verdict = None
    if result.accepted is not None:
        verdict = {
            "accepted": result.accepted,
            "reasons": [_reason_json(r) for r in result.reasons],
        }
    return {
        "index": result.index,
        "id": result.id,
        "status": result.status,
        "errors": [{"field": e.field, "reason": e.reason} for e in result.errors],
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
            "reasons": [_reason_json(r) for r in claim.reasons],
        },
        "leaf_index": claim.leaf_index,
    }


def definition_json(stored: StoredDefinition) -> dict[str, Any]:
    """A definition version as the API prints it."""
    return {
        "version": stored.version,
        "leaf_index": stored.leaf_index,
        "created": format_micros(stored.created_us),
        "definition": stored.definition.model_dump(mode="json"),
    }
