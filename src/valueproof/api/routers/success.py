"""`/v1/accounts/{id}/utilization` and the other Customer Success reads: what an account uses of
its period, its commitment and its prepaid credit, as current as the last accepted event."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Query, Request

from valueproof.api.auth import engine_of, requires_account
from valueproof.periods import parse_instant_field
from valueproof.store import read
from valueproof.success.utilization import utilization, utilization_json
from valueproof.tenancy.keys import Principal, Scope

router = APIRouter(tags=["success"])


@router.get("/v1/accounts/{external_id}/utilization")
def get_utilization(
    request: Request,
    external_id: str,
    at: str | None = Query(None, description="RFC 3339; default: now."),
    who: Principal = Depends(requires_account(Scope.READ)),
) -> dict[str, Any]:
    """Per meter: usage of the period to date, daily run rate, projected period end and share
    of wallet; per commitment: utilization, pace against a linear burn, projected overage (> 0)
    or shortfall (< 0); per prepaid wallet: balance, burn and the day it runs out (a `read`
    key, or the account's own customer key)."""
    moment = datetime.now(UTC) if at is None else parse_instant_field("at", at)
    with read(engine_of(request)) as connection:
        return utilization_json(utilization(connection, who.tenant_id, external_id, moment))
