"""`/v1/accounts`: the vendor's customer accounts."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response

from valueproof.api.auth import engine_of, requires
from valueproof.store import read
from valueproof.tenancy import accounts as service
from valueproof.tenancy import writes
from valueproof.tenancy.accounts import AccountCreate, AccountPatch, account_json
from valueproof.tenancy.keys import Principal, Scope

router = APIRouter(prefix="/v1/accounts", tags=["accounts"])

# What `account_json` answers, declared so that the suite's schemathesis run holds it to it.
_ACCOUNT: dict[str, Any] = {
    "type": "object",
    "required": ["external_id", "name", "attributes"],
    "additionalProperties": False,
    "properties": {
        "external_id": {"type": "string"},
        "name": {"type": "string"},
        "attributes": {
            "type": "object",
            "additionalProperties": {"type": ["string", "number", "boolean"]},
        },
    },
}
_ONE = {"content": {"application/json": {"schema": _ACCOUNT}}}
_PAGE = {
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["accounts", "next_after"],
                "properties": {
                    "accounts": {"type": "array", "items": _ACCOUNT},
                    "next_after": {"type": ["string", "null"]},
                },
            }
        }
    }
}


@router.get("", responses={200: _PAGE})
def list_accounts(
    request: Request,
    limit: int = Query(100, ge=1, le=1000),
    after: str | None = Query(None, description="Last external id of the previous page."),
    who: Principal = Depends(requires(Scope.READ)),
) -> dict[str, Any]:
    with read(engine_of(request)) as connection:
        found = service.list_accounts(connection, who.tenant_id, limit, after)
    next_after = found[-1].external_id if len(found) == limit else None
    return {"accounts": [account_json(a) for a in found], "next_after": next_after}


@router.post(
    "",
    status_code=201,
    responses={201: _ONE, 409: {"description": "The account exists already."}},
)
def create_account(
    request: Request, body: AccountCreate, who: Principal = Depends(requires(Scope.ADMIN))
) -> dict[str, Any]:
    return account_json(writes.create_account(engine_of(request), who.tenant_id, body))


@router.get("/{external_id}", responses={200: _ONE})
def get_account(
    request: Request, external_id: str, who: Principal = Depends(requires(Scope.READ))
) -> dict[str, Any]:
    with read(engine_of(request)) as connection:
        return account_json(service.get_account(connection, who.tenant_id, external_id))


@router.patch("/{external_id}", responses={200: _ONE})
def update_account(
    request: Request,
    external_id: str,
    body: AccountPatch,
    who: Principal = Depends(requires(Scope.ADMIN)),
) -> dict[str, Any]:
    updated = writes.update_account(engine_of(request), who.tenant_id, external_id, body)
    return account_json(updated)


@router.delete(
    "/{external_id}",
    status_code=204,
    responses={409: {"description": "The account has usage on record: it is kept."}},
)
def delete_account(
    request: Request, external_id: str, who: Principal = Depends(requires(Scope.ADMIN))
) -> Response:
    writes.delete_account(engine_of(request), who.tenant_id, external_id)
    return Response(status_code=204)
