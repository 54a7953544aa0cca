"""Disputes of accepted outcomes: the customer opens one inside the definition's dispute window,
the vendor answers, and the vendor's resolution either upholds it (the outcome is voided, and
credited on the next invoice when it was already billed) or rejects it.

Each step is a row and an `outcome_dispute` ledger leaf, written in the caller's transaction
(which holds the tenant lock). A step's free text (reason, answer, note) may name people, so
the leaf holds `sha256(salt || text)` and the salt stays in the row, as for personal attributes
of claims: shown the text and the salt, anyone can check it against the leaf.

A claim is disputed at most once; the window runs from the verdict (`submitted_at`) for the
`dispute_window_days` of the definition version that judged it.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any, Literal, get_args

from sqlalchemy import Connection, Row, func, insert, or_, select, update

from valueproof.errors import Conflict, InvalidInput, NotFound
from valueproof.ledger import log as ledger_log
from valueproof.ledger.leaves import leaf_bytes
from valueproof.outcomes.claim_records import StoredClaim, stored_claim
from valueproof.outcomes.definition_store import stored_definition
from valueproof.outcomes.tables import outcome_claims, outcome_definitions, outcome_dispute_steps
from valueproof.periods import format_micros
from valueproof.webhooks.outbox import enqueue

__all__ = [
    "OUTCOME_DISPUTE",
    "Dispute",
    "DisputeStep",
    "VoidedOutcome",
    "answer_dispute",
    "billable_outcomes",
    "dispute",
    "dispute_json",
    "dispute_leaf",
    "disputes",
    "open_dispute",
    "resolve_dispute",
    "step_of_row",
    "voided_between",
]

OUTCOME_DISPUTE = "outcome_dispute"
_RECORD_VERSION = 1
_SALT_BYTES = 16
_MAX_TEXT = 4_000
_DAY_US = 86_400 * 1_000_000

StepKind = Literal["opened", "answered", "resolved"]
Party = Literal["customer", "vendor"]
Resolution = Literal["upheld", "rejected"]
Status = Literal["open", "answered", "upheld", "rejected"]
STATUSES: tuple[str, ...] = get_args(Status)
RESOLUTIONS: tuple[str, ...] = get_args(Resolution)


@dataclass(frozen=True, slots=True)
class DisputeStep:
    """One step of a dispute, as recorded."""

    claim: str
    seq: int
    step: StepKind
    party: Party
    text: str
    salt: bytes
    resolution: Resolution | None
    at_us: int
    leaf_index: int


@dataclass(frozen=True, slots=True)
class Dispute:
    """A dispute with its claim, its steps in order, and the window it was opened in."""

    claim: StoredClaim
    steps: tuple[DisputeStep, ...]
    window_closes_us: int

    @property
    def status(self) -> Status:
        last = self.steps[-1]
        if last.step == "resolved":
            return "upheld" if last.resolution == "upheld" else "rejected"
        return "answered" if last.step == "answered" else "open"

    @property
    def resolved(self) -> bool:
        return self.steps[-1].step == "resolved"


@dataclass(frozen=True, slots=True)
class VoidedOutcome:
    """An accepted outcome an upheld dispute voided: when it occurred and when it was voided,
    and the leaf of the resolution that voided it."""

    outcome: str
    occurred_at_us: int
    voided_us: int
    leaf_index: int


def text_commitment(salt: bytes, text: str) -> str:
    """What a step's leaf holds for its text: sha256(salt || UTF-8 text), hex."""
    return hashlib.sha256(salt + text.encode("utf-8")).hexdigest()


def dispute_leaf(step: DisputeStep) -> bytes:
    """The canonical leaf of a dispute step (record schema version 1)."""
    record: dict[str, Any] = {
        "claim": step.claim,
        "seq": step.seq,
        "step": step.step,
        "party": step.party,
        "text_sha256": text_commitment(step.salt, step.text),
        "at": format_micros(step.at_us),
    }
    if step.resolution is not None:
        record["resolution"] = step.resolution
    return leaf_bytes(OUTCOME_DISPUTE, _RECORD_VERSION, record)


def open_dispute(
    connection: Connection, tenant_id: int, claim_id: str, reason: str, now_us: int
) -> Dispute:
    """The customer disputes its accepted outcome `claim_id` inside the dispute window.

    The caller has checked that the customer is the claim's account. Conflict when the claim
    was not accepted, is disputed already, or its window has closed.
    """
    text = _text("reason", reason)
    claim = stored_claim(connection, tenant_id, claim_id)
    if not claim.accepted:
        raise Conflict(f"claim {claim_id!r} was rejected: only an accepted outcome is disputed")
    if _steps(connection, tenant_id, claim_id):
        raise Conflict(f"claim {claim_id!r} is disputed already; see its dispute")
    closes = _window_closes(connection, tenant_id, claim)
    if now_us > closes:
        raise Conflict(
            f"the dispute window of claim {claim_id!r} closed at {format_micros(closes)}"
        )
    _record(connection, tenant_id, claim_id, 1, "opened", "customer", text, None, now_us)
    return _announced(connection, tenant_id, claim_id, "dispute.opened", now_us)


def answer_dispute(
    connection: Connection, tenant_id: int, claim_id: str, answer: str, now_us: int
) -> Dispute:
    """The vendor's answer to an open dispute (it may answer more than once before resolving)."""
    text = _text("answer", answer)
    found = dispute(connection, tenant_id, claim_id)
    _still_open(found)
    seq = found.steps[-1].seq + 1
    _record(connection, tenant_id, claim_id, seq, "answered", "vendor", text, None, now_us)
    return _announced(connection, tenant_id, claim_id, "dispute.answered", now_us)


def resolve_dispute(
    connection: Connection,
    tenant_id: int,
    claim_id: str,
    resolution: str,
    note: str,
    now_us: int,
) -> Dispute:
    """Record the vendor's resolution; `upheld` voids the outcome from `now_us` on."""
    if resolution not in RESOLUTIONS:
        raise InvalidInput("resolution", f"must be one of {', '.join(RESOLUTIONS)}")
    text = _text("note", note)
    found = dispute(connection, tenant_id, claim_id)
    _still_open(found)
    seq = found.steps[-1].seq + 1
    outcome: Resolution = "upheld" if resolution == "upheld" else "rejected"
    _record(connection, tenant_id, claim_id, seq, "resolved", "vendor", text, outcome, now_us)
    if outcome == "upheld":
        t = outcome_claims.c
        connection.execute(
            update(outcome_claims)
            .where(t.tenant_id == tenant_id, t.claim_id == claim_id)
            .values(voided_us=now_us)
        )
    return _announced(connection, tenant_id, claim_id, "dispute.resolved", now_us)


def dispute(connection: Connection, tenant_id: int, claim_id: str) -> Dispute:
    """The dispute of `claim_id`; NotFound when there is none."""
    steps = _steps(connection, tenant_id, claim_id)
    if not steps:
        raise NotFound(f"no dispute of claim {claim_id!r}")
    claim = stored_claim(connection, tenant_id, claim_id)
    return Dispute(claim, steps, _window_closes(connection, tenant_id, claim))


def disputes(
    connection: Connection,
    tenant_id: int,
    account: str | None = None,
    status: str | None = None,
) -> list[Dispute]:
    """Every dispute of the tenant (or of one account, by external id), oldest first,
    optionally only those in `status`."""
    if status is not None and status not in STATUSES:
        raise InvalidInput("status", f"must be one of {', '.join(STATUSES)}")
    t = outcome_dispute_steps.c
    rows = connection.execute(
        select(outcome_dispute_steps).where(t.tenant_id == tenant_id).order_by(t.claim_id, t.seq)
    )
    grouped: dict[str, list[DisputeStep]] = {}
    for row in rows:
        grouped.setdefault(row.claim_id, []).append(step_of_row(row))
    found = []
    for claim_id, steps in grouped.items():
        claim = stored_claim(connection, tenant_id, claim_id)
        if account is not None and claim.account != account:
            continue
        item = Dispute(claim, tuple(steps), _window_closes(connection, tenant_id, claim))
        if status is None or item.status == status:
            found.append(item)
    found.sort(key=lambda d: d.steps[0].leaf_index)
    return found


def billable_outcomes(
    connection: Connection,
    tenant_id: int,
    account_id: int,
    contract: str,
    start_us: int,
    end_us: int,
    standing_at_us: int,
) -> dict[str, tuple[int, int, int]]:
    """Per outcome: (count, first leaf, last leaf) of the account's accepted outcomes under
    `contract` that occurred in [start_us, end_us) and were not voided before `standing_at_us`."""
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
            or_(t.voided_us.is_(None), t.voided_us >= standing_at_us),
        )
        .group_by(t.outcome)
    )
    return {row[0]: (int(row[1]), int(row[2]), int(row[3])) for row in rows}


def voided_between(
    connection: Connection,
    tenant_id: int,
    account_id: int,
    contract: str,
    start_us: int,
    end_us: int,
) -> list[VoidedOutcome]:
    """The account's outcomes under `contract` voided in [start_us, end_us), in void order."""
    c, s = outcome_claims.c, outcome_dispute_steps.c
    rows = connection.execute(
        select(c.outcome, c.occurred_at_us, c.voided_us, s.leaf_index)
        .join(
            outcome_dispute_steps,
            (s.tenant_id == c.tenant_id) & (s.claim_id == c.claim_id) & (s.step == "resolved"),
        )
        .where(
            c.tenant_id == tenant_id,
            c.account_id == account_id,
            c.contract == contract,
            c.voided_us >= start_us,
            c.voided_us < end_us,
        )
        .order_by(c.voided_us, s.leaf_index)
    )
    return [VoidedOutcome(row[0], int(row[1]), int(row[2]), int(row[3])) for row in rows]


def step_of_row(row: Row[Any]) -> DisputeStep:
    return DisputeStep(
        row.claim_id,
        row.seq,
        row.step,
        row.party,
        row.text,
        bytes(row.salt),
        row.resolution,
        row.at_us,
        row.leaf_index,
    )


def dispute_json(found: Dispute) -> dict[str, Any]:
    """A dispute as the API and `--json` print it; `salt` lets the reader check each text
    against its leaf."""
    claim = found.claim
    return {
        "claim": claim.id,
        "account": claim.account,
        "contract": claim.contract,
        "outcome": claim.outcome,
        "status": found.status,
        "window_closes": format_micros(found.window_closes_us),
        "voided": found.status == "upheld",
        "steps": [_step_json(step) for step in found.steps],
    }


def _step_json(step: DisputeStep) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "seq": step.seq,
        "step": step.step,
        "party": step.party,
        "text": step.text,
        "salt": step.salt.hex(),
        "at": format_micros(step.at_us),
        "leaf_index": step.leaf_index,
    }
    if step.resolution is not None:
        answer["resolution"] = step.resolution
    return answer


def _announced(
    connection: Connection, tenant_id: int, claim_id: str, event_type: str, now_us: int
) -> Dispute:
    """The dispute after a step, with a webhook of it: the dispute as the API renders it and
    the leaf index of the step just recorded."""
    found = dispute(connection, tenant_id, claim_id)
    data = {**dispute_json(found), "leaf_index": found.steps[-1].leaf_index}
    enqueue(connection, tenant_id, event_type, data, now_us)
    return found


def _text(field: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(field, "must be a non-empty text")
    if len(value) > _MAX_TEXT:
        raise InvalidInput(field, f"{len(value)} characters; at most {_MAX_TEXT}")
    return value


def _still_open(found: Dispute) -> None:
    if found.resolved:
        raise Conflict(f"the dispute of claim {found.claim.id!r} is resolved ({found.status})")


def _steps(connection: Connection, tenant_id: int, claim_id: str) -> tuple[DisputeStep, ...]:
    t = outcome_dispute_steps.c
    rows = connection.execute(
        select(outcome_dispute_steps)
        .where(t.tenant_id == tenant_id, t.claim_id == claim_id)
        .order_by(t.seq)
    )
    return tuple(step_of_row(row) for row in rows)


def _window_closes(connection: Connection, tenant_id: int, claim: StoredClaim) -> int:
    t = outcome_definitions.c
    row = connection.execute(
        select(outcome_definitions).where(
            t.tenant_id == tenant_id,
            t.contract == claim.contract,
            t.outcome == claim.outcome,
            t.version == claim.definition_version,
        )
    ).one()
    days = stored_definition(row).definition.dispute_window_days
    return claim.submitted_at_us + days * _DAY_US


def _record(
    connection: Connection,
    tenant_id: int,
    claim_id: str,
    seq: int,
    step: StepKind,
    party: Party,
    text: str,
    resolution: Resolution | None,
    now_us: int,
) -> None:
    pending = DisputeStep(
        claim_id, seq, step, party, text, secrets.token_bytes(_SALT_BYTES), resolution, now_us, -1
    )
    leaf_index = ledger_log.append(connection, tenant_id, [dispute_leaf(pending)], now_us)
    connection.execute(
        insert(outcome_dispute_steps).values(
            tenant_id=tenant_id,
            claim_id=claim_id,
            seq=seq,
            step=step,
            party=party,
            text=text,
            salt=pending.salt,
            resolution=resolution,
            at_us=now_us,
            leaf_index=leaf_index,
        )
    )
