"""Taking claims: a batch of submitted items checked, verified and recorded together, each claim
taken with its verdict as a ledger leaf in the caller's transaction (which holds the tenant lock).

A claim taken is on record with its verdict, accepted (billable) or not; `rejected` is only
for items that are not claims at all (a missing field, an unknown account or definition).
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, select

from valueproof.ledger import log as ledger_log
from valueproof.ledger.canonical import canonical_json
from valueproof.ledger.errors import CanonicalizationError
from valueproof.metering.definitions import KEY_PATTERN
from valueproof.metering.schema import FieldError
from valueproof.outcomes.claim_records import (
    ClaimResult,
    StoredClaim,
    claim_json,
    reasons_of_text,
    reasons_text,
    verdict_leaf,
)
from valueproof.outcomes.definition_store import latest_definition
from valueproof.outcomes.definitions import (
    CompiledDefinition,
    OutcomeDefinition,
    compile_definition,
)
from valueproof.outcomes.errors import KnownSetUnavailable
from valueproof.outcomes.knownset_store import KnownSetCheck, KnownSets
from valueproof.outcomes.tables import known_set_hashes, outcome_claims
from valueproof.outcomes.verification import Claim, Examined, Verdict, conclude, examine
from valueproof.periods import parse_rfc3339, to_micros
from valueproof.store import placeholder
from valueproof.tenancy.accounts import account_ids
from valueproof.webhooks.outbox import enqueue_many

__all__ = ["submit_claims"]

_MAX_ID = 200
_SALT_BYTES = 16
_ENVELOPE = ("id", "account", "contract", "outcome", "occurred_at", "attributes")
_FIELDS = frozenset(_ENVELOPE)
_KEY = re.compile(KEY_PATTERN)


def _committed(definition: OutcomeDefinition, name: str) -> bool:
    """Whether an attribute reaches the leaf only as a hash: personal, or not declared at all
    (an undeclared attribute may hold anything)."""
    spec = definition.attributes.get(name)
    return spec is None or spec.personal


@dataclass(frozen=True, slots=True)
class _Item:
    id: str
    account: str
    contract: str
    outcome: str
    occurred_at: datetime
    occurred_us: int
    attributes: dict[str, Any]
    content_sha256: bytes
    attributes_json: str  # canonical JSON, as the row keeps them


_SAFE_INTEGER = 2**53 - 1  # RFC 8785 (I-JSON): occurred_at in microseconds must stay below


def _envelope(item: Any) -> tuple[_Item | None, str | None, list[FieldError]]:
    """The checked item, its id when readable, and a FieldError for each problem."""
    if not isinstance(item, dict):
        return None, None, [FieldError("(item)", "a claim is a JSON object")]
    errors = []
    if not _FIELDS.issuperset(item):
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
    occurred_us = to_micros(occurred)
    try:
        digest, attributes_json = _content(item, occurred_us)
    except CanonicalizationError as error:
        return None, claim_id, [FieldError("attributes", f"not canonical JSON: {error}")]
    parsed = _Item(
        item["id"],
        item["account"],
        item["contract"],
        item["outcome"],
        occurred,
        occurred_us,
        item["attributes"],
        digest,
        attributes_json,
    )
    return parsed, claim_id, []


def _content(item: dict[str, Any], occurred_us: int) -> tuple[bytes, str]:
    """The sha256 of the claim's canonical content, and its attributes' canonical JSON."""
    content = {name: item[name] for name in _ENVELOPE} | {"occurred_at": occurred_us}
    attributes = canonical_json(item["attributes"])
    if -_SAFE_INTEGER <= occurred_us <= _SAFE_INTEGER:
        # The envelope's other fields are strings under ASCII keys: sorted orjson writes them
        # canonically, around the attributes encoded once (the row keeps them too).
        try:
            spliced = {**content, "attributes": orjson.Fragment(attributes)}
            encoded = orjson.dumps(spliced, option=orjson.OPT_SORT_KEYS)
            return hashlib.sha256(encoded).digest(), attributes.decode()
        except orjson.JSONEncodeError:
            pass  # a lone surrogate: the reference encoder says what is wrong
    return hashlib.sha256(canonical_json(content)).digest(), attributes.decode()


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
    `passphrase` opens the accounts' known-set secrets (outcomes.knownset_store). The batch is
    verified together (each expression run once per batch, the store asked once per lookup for
    all claims), its verdicts go on the ledger in one append and into the table in one insert.
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
            results.append(batch.admit(index, item))
    batch.verify()
    return batch.record(results)


@dataclass(frozen=True, slots=True)
class _Pending:
    """A new claim admitted to the batch, waiting for its verdict."""

    index: int
    item: _Item
    account_id: int
    version: int
    compiled: CompiledDefinition
    check: KnownSetCheck | None


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
    pending: list[_Pending] = field(default_factory=list)
    repeats: list[tuple[int, int]] = field(default_factory=list)  # (index, its original's)
    verdicts: list[Verdict] = field(default_factory=list)  # of `pending`, in order
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    leaves: list[bytes] = field(default_factory=list)
    stored: list[StoredClaim] = field(default_factory=list)  # of `pending`, leaf index to come

    def admit(self, index: int, item: _Item) -> ClaimResult:
        """The item's result: final for a repeat or a rejection; for a new claim, a
        placeholder that `verify` replaces with its verdict."""
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
        self.pending.append(_Pending(index, item, account_id, version, definition, check))
        self.taken[item.id] = (item.content_sha256, index)
        return ClaimResult(index, item.id, "accepted")

    def verify(self) -> None:
        """Verify the pending claims together, in order: their verdicts, leaves and rows."""
        examined = self._examined()
        known_hashes = self._known_hashes(examined)
        known = self._known(known_hashes)
        firsts = self._first_accepted(examined)
        salts = _Salts(self.pending)
        keys: dict[tuple[str, str, str], str] = {}  # accepted in this batch: key -> claim id
        submitted_us = to_micros(self.now)
        for pending in self.pending:
            item, found = pending.item, examined[pending.index]
            known_hash = known_hashes.get(pending.index)
            key_hash = None if found.dedupe_key is None else _key_hash(found.dedupe_key)
            scope = (item.contract, item.outcome, key_hash or "")
            earlier = None if key_hash is None else keys.get(scope) or firsts.get(scope)
            verdict = conclude(
                pending.compiled,
                found,
                known_hash=known_hash,
                known=known_hash is not None and (pending.account_id, known_hash) in known,
                earlier=earlier,
            )
            if verdict.accepted and key_hash is not None:
                keys.setdefault(scope, item.id)
            stored = StoredClaim(
                item.id,
                item.account,
                item.contract,
                item.outcome,
                pending.version,
                item.occurred_us,
                submitted_us,
                item.attributes,
                salts.take(),
                verdict.accepted,
                verdict.reasons,
                -1,
            )
            self.leaves.append(verdict_leaf(stored))
            self.stored.append(stored)
            self.rows.append(_row(self.tenant_id, pending.account_id, stored, item, key_hash))
            self.verdicts.append(verdict)

    def record(self, results: list[ClaimResult]) -> list[ClaimResult]:
        """Append the verdicts to the ledger and the table, and an `outcome.verdict` webhook
        each; each result with its leaf."""
        if self.rows:
            first = ledger_log.append(
                self.connection, self.tenant_id, self.leaves, to_micros(self.now)
            )
            mark = placeholder(self.connection)
            self.connection.exec_driver_sql(
                f"INSERT INTO outcome_claims ({', '.join(_COLUMNS)})"
                f" VALUES ({', '.join([mark] * len(_COLUMNS))})",
                [(*row, first + offset) for offset, row in enumerate(self.rows)],
            )
            for offset, (pending, verdict) in enumerate(
                zip(self.pending, self.verdicts, strict=True)
            ):
                results[pending.index] = ClaimResult(
                    pending.index,
                    pending.item.id,
                    "accepted",
                    (),
                    verdict.accepted,
                    verdict.reasons,
                    first + offset,
                )
            snapshots = (
                claim_json(replace(stored, leaf_index=first + offset))
                for offset, stored in enumerate(self.stored)
            )
            now_us = to_micros(self.now)
            enqueue_many(self.connection, self.tenant_id, "outcome.verdict", snapshots, now_us)
        for index, original in self.repeats:
            results[index] = replace(results[original], index=index, status="duplicate")
        return results

    def _repeat(self, index: int, item: _Item) -> ClaimResult | None:
        """The result of an id seen before (on record, or earlier in this batch), if it was;
        a repeat within the batch gets its original's verdict in `verify`."""
        row = self.on_record.get(item.id)
        if row is not None:
            if bytes(row.content_sha256) != item.content_sha256:
                error = FieldError("id", "a claim with this id and other content is on record")
                return ClaimResult(index, item.id, "conflict", (error,))
            return ClaimResult(
                index,
                item.id,
                "duplicate",
                (),
                row.accepted,
                reasons_of_text(row.reasons),
                row.leaf_index,
            )
        seen = self.taken.get(item.id)
        if seen is None:
            return None
        digest, original = seen
        if digest != item.content_sha256:
            error = FieldError("id", "a claim with this id and other content is in this batch")
            return ClaimResult(index, item.id, "conflict", (error,))
        self.repeats.append((index, original))
        return ClaimResult(index, item.id, "duplicate")

    def _definition(self, contract: str, outcome: str) -> tuple[int, CompiledDefinition] | None:
        key = (contract, outcome)
        if key not in self.compiled:
            latest = latest_definition(self.connection, self.tenant_id, contract, outcome)
            self.compiled[key] = (
                None
                if latest is None
                else (latest.version, compile_definition(latest.definition, check_types=False))
            )
        return self.compiled[key]

    def _examined(self) -> dict[int, Examined]:
        """Each pending claim examined, a batch per definition; by result index."""
        groups: dict[int, list[_Pending]] = {}
        for pending in self.pending:
            groups.setdefault(id(pending.compiled), []).append(pending)
        examined: dict[int, Examined] = {}
        for group in groups.values():
            claims = [
                Claim(
                    p.item.id,
                    p.item.account,
                    p.item.outcome,
                    p.item.occurred_at,
                    p.item.attributes,
                    self.now,
                )
                for p in group
            ]
            found = examine(
                group[0].compiled, claims, known_sets=[p.check is not None for p in group]
            )
            examined.update((p.index, e) for p, e in zip(group, found, strict=True))
        return examined

    def _known_hashes(self, examined: dict[int, Examined]) -> dict[int, str]:
        """Result index -> the known-set hash of the claim's known_key, where there is one."""
        return {
            pending.index: pending.check.hash_of(value)
            for pending in self.pending
            if pending.check is not None
            and (value := examined[pending.index].known_value) is not None
        }

    def _known(self, known_hashes: dict[int, str]) -> set[tuple[int, str]]:
        """(account id, hash) of these hashes that the customers' known sets hold."""
        wanted: dict[int, set[str]] = {}
        for pending in self.pending:
            if pending.index in known_hashes:
                wanted.setdefault(pending.account_id, set()).add(known_hashes[pending.index])
        t = known_set_hashes.c
        held: set[tuple[int, str]] = set()
        for account_id, hashes in wanted.items():
            for chunk in _chunks(sorted(hashes)):
                rows = self.connection.execute(
                    select(t.hash).where(
                        t.tenant_id == self.tenant_id, t.account_id == account_id, t.hash.in_(chunk)
                    )
                )
                held.update((account_id, h) for h in rows.scalars())
        return held

    def _first_accepted(self, examined: dict[int, Examined]) -> dict[tuple[str, str, str], str]:
        """(contract, outcome, dedupe key hash) -> the first accepted claim on record with it."""
        wanted: dict[tuple[str, str], set[str]] = {}
        for pending in self.pending:
            found = examined[pending.index]
            if found.dedupe_key is not None:
                scope = (pending.item.contract, pending.item.outcome)
                wanted.setdefault(scope, set()).add(_key_hash(found.dedupe_key))
        t = outcome_claims.c
        firsts: dict[tuple[str, str, str], tuple[int, str]] = {}
        for (contract, outcome), hashes in wanted.items():
            for chunk in _chunks(sorted(hashes)):
                rows = self.connection.execute(
                    select(t.dedupe_key_hash, t.leaf_index, t.claim_id).where(
                        t.tenant_id == self.tenant_id,
                        t.contract == contract,
                        t.outcome == outcome,
                        t.dedupe_key_hash.in_(chunk),
                        t.accepted.is_(True),
                    )
                )
                for key_hash, leaf_index, claim_id in rows:
                    keyed = (contract, outcome, key_hash)
                    if keyed not in firsts or leaf_index < firsts[keyed][0]:
                        firsts[keyed] = (leaf_index, claim_id)
        return {scope: str(claim_id) for scope, (_, claim_id) in firsts.items()}


def _chunks(values: list[str], size: int = 500) -> list[list[str]]:
    return [values[start : start + size] for start in range(0, len(values), size)]


def _on_record(connection: Connection, tenant_id: int, ids: Sequence[str]) -> dict[str, Any]:
    """The rows of the claim ids already on record."""
    t = outcome_claims.c
    found: dict[str, Any] = {}
    for chunk in _chunks(list(dict.fromkeys(ids))):
        rows = connection.execute(
            select(t.claim_id, t.content_sha256, t.accepted, t.reasons, t.leaf_index).where(
                t.tenant_id == tenant_id, t.claim_id.in_(chunk)
            )
        )
        found.update({row.claim_id: row for row in rows})
    return found


# The columns a new claim's row sets, in `_row`'s order, then its leaf index (voided_us: null).
_COLUMNS = (
    "tenant_id",
    "claim_id",
    "account_id",
    "contract",
    "outcome",
    "definition_version",
    "occurred_at_us",
    "submitted_at_us",
    "attributes",
    "salts",
    "content_sha256",
    "accepted",
    "reasons",
    "dedupe_key_hash",
    "leaf_index",
)


def _row(
    tenant_id: int, account_id: int, stored: StoredClaim, item: _Item, key_hash: str | None
) -> tuple[Any, ...]:
    return (
        tenant_id,
        item.id,
        account_id,
        item.contract,
        item.outcome,
        stored.definition_version,
        stored.occurred_at_us,
        stored.submitted_at_us,
        item.attributes_json,
        orjson.dumps(stored.salts).decode(),
        item.content_sha256,
        stored.accepted,
        reasons_text(stored.reasons),
        key_hash,
    )


def _key_hash(dedupe_key: str) -> str:
    return hashlib.sha256(dedupe_key.encode()).hexdigest()


class _Salts:
    """The salts of the batch's committed attributes, drawn in one call, claim by claim."""

    def __init__(self, pending: Sequence[_Pending]) -> None:
        rules: dict[int, dict[str, bool]] = {}  # per definition: attribute -> committed
        self.names: list[list[str]] = []
        for claim in pending:
            definition = claim.compiled.definition
            rule = rules.setdefault(id(definition), {})
            for name in claim.item.attributes:
                if name not in rule:
                    rule[name] = _committed(definition, name)
            self.names.append([name for name in claim.item.attributes if rule[name]])
        self.drawn = secrets.token_bytes(_SALT_BYTES * sum(map(len, self.names)))
        self.claims = iter(self.names)
        self.offset = 0

    def take(self) -> dict[str, str]:
        """The salts of the next claim, in the order given, base64."""
        salts = {}
        for name in next(self.claims):
            salt = self.drawn[self.offset : self.offset + _SALT_BYTES]
            salts[name] = base64.b64encode(salt).decode()
            self.offset += _SALT_BYTES
        return salts
