"""Disputes of accepted outcomes: the customer's key opens one, the vendor answers and resolves.

Each step is a ledger leaf. The customer key of the claim's account is the only party that
opens a dispute; answering and resolving take a vendor `admin` key. A customer key sees its own
account's disputes only; another account's are answered as if they did not exist.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Connection

from valueproof.api.auth import engine_of, principal, requires, requires_or_customer
from valueproof.api.bodies import json_object, read_body
from valueproof.api.openapi import json_body
from valueproof.config import Settings
from valueproof.errors import Forbidden, InvalidInput, NotFound
from valueproof.ledger.publish import CheckpointPolicy
from valueproof.outcomes import disputes
from valueproof.outcomes.claim_records import stored_claim
from valueproof.outcomes.disputes import Dispute, dispute_json
from valueproof.store import read
from valueproof.success import writes
from valueproof.success.plans import Adherence, adherence, adherence_json
from valueproof.tenancy.accounts import account_id
from valueproof.tenancy.keys import Principal, Scope

router = APIRouter(tags=["disputes"])

_CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"description": "Not disputable now: rejected claim, closed window, resolved."}
}


# What `disputes` takes as a text: not blank, no NUL byte.
_SOME_TEXT = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"


def _body(
    fields: dict[str, str], enums: dict[str, tuple[str, ...]] | None = None
) -> dict[str, Any]:
    """A JSON body of required texts (`enums`: those with a closed set of values)."""
    return json_body(
        {
            "type": "object",
            "required": list(fields),
            "properties": {
                name: {"enum": list(enums[name]), "description": text}
                if enums and name in enums
                else {"type": "string", "pattern": _SOME_TEXT, "description": text}
                for name, text in fields.items()
            },
        }
    )


@router.post(
    "/v1/outcomes/claims/{claim_id}/dispute",
    status_code=201,
    openapi_extra=_body({"reason": "Why the outcome should not count."}),
    responses={**_CONFLICT, 403: {"description": "Not the customer key of the claim's account."}},
)
async def open_dispute(
    request: Request, claim_id: str, who: Principal = Depends(principal)
) -> dict[str, Any]:
    """The customer disputes its accepted outcome inside the dispute window, with a reason."""
    if not who.is_customer:
        raise Forbidden("a dispute is opened with the customer key of the claim's account")
    reason = (await _fields(request, "reason"))["reason"]
    account = who.account_external_id
    assert account is not None  # a customer key is its account's
    step = await run_in_threadpool(
        writes.open_dispute,
        engine_of(request),
        who.tenant_id,
        claim_id,
        reason,
        account,
        _policy(request),
    )
    return _step_json(step)


@router.post(
    "/v1/outcomes/claims/{claim_id}/dispute/answers",
    openapi_extra=_body({"answer": "The vendor's answer."}),
    responses=_CONFLICT,
)
async def answer_dispute(
    request: Request, claim_id: str, who: Principal = Depends(requires(Scope.ADMIN))
) -> dict[str, Any]:
    """The vendor answers an open dispute (as often as needed before resolving it)."""
    answer = (await _fields(request, "answer"))["answer"]
    step = await run_in_threadpool(
        writes.answer_dispute,
        engine_of(request),
        who.tenant_id,
        claim_id,
        answer,
        _policy(request),
    )
    return _step_json(step)


@router.post(
    "/v1/outcomes/claims/{claim_id}/dispute/resolution",
    openapi_extra=_body(
        {"resolution": "upheld (the outcome is voided) or rejected", "note": "Why."},
        {"resolution": disputes.RESOLUTIONS},
    ),
    responses=_CONFLICT,
)
async def resolve_dispute(
    request: Request, claim_id: str, who: Principal = Depends(requires(Scope.ADMIN))
) -> dict[str, Any]:
    """The vendor resolves a dispute: `upheld` voids the outcome (credited on the next invoice
    when it was billed already), `rejected` leaves it billable."""
    given = await _fields(request, "resolution", "note")
    step = await run_in_threadpool(
        writes.resolve_dispute,
        engine_of(request),
        who.tenant_id,
        claim_id,
        given["resolution"],
        given["note"],
        _policy(request),
    )
    return _step_json(step)


@router.get(
    "/v1/outcomes/claims/{claim_id}/dispute", responses={404: {"description": "No dispute."}}
)
def get_dispute(
    request: Request, claim_id: str, who: Principal = Depends(requires_or_customer(Scope.READ))
) -> dict[str, Any]:
    """A dispute with every step, the salts that open its texts' commitments, and the claim's
    account's success-plan adherence when the dispute was opened."""
    with read(engine_of(request)) as connection:
        _own(connection, who, claim_id)
        found = disputes.dispute(connection, who.tenant_id, claim_id)
        return _with_plan(connection, who.tenant_id, found)


@router.get("/v1/outcomes/disputes")
def list_disputes(
    request: Request,
    account: str | None = None,
    status: str | None = Query(None, json_schema_extra={"enum": list(disputes.STATUSES)}),
    who: Principal = Depends(requires_or_customer(Scope.READ)),
) -> dict[str, Any]:
    """Disputes oldest first, of one account or all (a customer key: its own account only),
    optionally in one status: open, answered, upheld or rejected."""
    if who.is_customer:
        if account not in (None, who.account_external_id):
            raise NotFound(f"no account {account!r}")
        account = who.account_external_id
    with read(engine_of(request)) as connection:
        found = disputes.disputes(connection, who.tenant_id, account, status)
    return {"disputes": [dispute_json(item) for item in found]}


def _own(connection: Connection, who: Principal, claim_id: str) -> None:
    """For a customer key, NotFound unless the claim is its account's (the same answer as for
    no claim at all)."""
    if who.is_customer:
        claim = stored_claim(connection, who.tenant_id, claim_id)
        if claim.account != who.account_external_id:
            raise NotFound(f"no claim {claim_id!r}")


def _with_plan(connection: Connection, tenant_id: int, found: Dispute) -> dict[str, Any]:
    answer = dispute_json(found)
    opened = found.steps[0].at_us
    owner = account_id(connection, tenant_id, found.claim.account)
    answer["success_plan"] = adherence_json(adherence(connection, tenant_id, owner, opened))
    return answer


async def _fields(request: Request, *names: str) -> dict[str, str]:
    config: Settings = request.app.state.settings
    document = json_object(await read_body(request, config.max_request_bytes))
    found = {}
    for name in names:
        value = document.get(name)
        if not isinstance(value, str):
            raise InvalidInput(name, "required, a text")
        found[name] = value
    return found


def _policy(request: Request) -> CheckpointPolicy:
    return CheckpointPolicy.from_settings(request.app.state.keyring, request.app.state.settings)


def _step_json(step: tuple[Dispute, Adherence]) -> dict[str, Any]:
    found, plan = step
    return {**dispute_json(found), "success_plan": adherence_json(plan)}
