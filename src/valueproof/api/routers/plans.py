"""`/v1/accounts/{id}/success-plan`: the actions vendor and customer agreed, each change a ledger
leaf, and how the customer kept to its own (adherence). The account's customer key may read the
plan and change its own actions' status and evidence."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from valueproof.api.auth import engine_of, requires_account
from valueproof.api.bodies import read_body
from valueproof.config import Settings
from valueproof.errors import InvalidInput
from valueproof.ledger.publish import CheckpointPolicy
from valueproof.periods import parse_instant_field, to_micros
from valueproof.store import read
from valueproof.success import plans, writes
from valueproof.success.plans import ActionDocument, Party, action_json
from valueproof.tenancy.accounts import get_account
from valueproof.tenancy.clock import now_us
from valueproof.tenancy.keys import Principal, Scope

router = APIRouter(tags=["success plans"])

_ACTION_BODY = {
    "required": True,
    "content": {
        "application/json": {"schema": ActionDocument.model_json_schema()},
        "application/yaml": {"schema": {"type": "string"}},
    },
}
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such account (or another account's customer key)."}
}


@router.get("/v1/accounts/{external_id}/success-plan", responses=_NOT_FOUND)
def get_plan(
    request: Request,
    external_id: str,
    at: str | None = Query(None, description="RFC 3339: the plan as it stood then; default now."),
    who: Principal = Depends(requires_account(Scope.READ)),
) -> dict[str, Any]:
    """The account's success plan (each action's latest version at `at`) and the customer's
    adherence to its own actions due by then."""
    as_of = now_us() if at is None else to_micros(parse_instant_field("at", at))
    with read(engine_of(request)) as connection:
        account = get_account(connection, who.tenant_id, external_id)
        actions = plans.plan(connection, who.tenant_id, account.id, as_of)
        found = plans.adherence_of(account.external_id, actions, as_of)
    return plans.plan_json(actions, found)


@router.put(
    "/v1/accounts/{external_id}/success-plan/actions/{action}",
    openapi_extra={"requestBody": _ACTION_BODY},
    responses={
        200: {"description": "A new version of the action, or the same document (unchanged)."},
        201: {"description": "A new action (version 1)."},
        403: {"description": "A customer key changing what only the vendor may."},
        **_NOT_FOUND,
    },
)
async def put_action(
    request: Request,
    external_id: str,
    action: str,
    response: Response,
    who: Principal = Depends(requires_account(Scope.ADMIN)),
) -> dict[str, Any]:
    """Create or change an action (JSON or YAML; `key` defaults to the path's); every change is
    a new version and a ledger leaf. `done_at` is set by the server when status becomes done."""
    config: Settings = request.app.state.settings
    text = (await read_body(request, config.max_request_bytes)).decode("utf-8", errors="replace")
    data = plans.action_data(text)
    if isinstance(data, dict):
        data.setdefault("key", action)
        if data["key"] != action:
            raise InvalidInput("key", f"the body names {data['key']!r} but the path {action!r}")
    document = plans.parse_action(data)
    party: Party = "customer" if who.is_customer else "vendor"
    policy = CheckpointPolicy.from_settings(request.app.state.keyring, config)
    status, stored = await run_in_threadpool(
        writes.set_action, engine_of(request), who.tenant_id, external_id, document, party, policy
    )
    response.status_code = 201 if status == "created" else 200
    return {"change": status, **action_json(stored)}


@router.get(
    "/v1/accounts/{external_id}/success-plan/actions/{action}/history",
    responses={404: {"description": "No such account or action."}},
)
def get_history(
    request: Request,
    external_id: str,
    action: str,
    who: Principal = Depends(requires_account(Scope.READ)),
) -> dict[str, Any]:
    """Every version of one action, oldest first: who changed it, when, and its leaf."""
    with read(engine_of(request)) as connection:
        account = get_account(connection, who.tenant_id, external_id)
        versions = plans.history(connection, who.tenant_id, account.id, action)
    return {
        "account": external_id,
        "action": action,
        "versions": [action_json(v) for v in versions],
    }
