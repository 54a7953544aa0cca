"""Customer Success inputs and their analyses: segments (`POST /v1/success/segments` recomputes
them), a CSM's engagements with an account, and driver series with what they explain."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import select

from valueproof.api.auth import engine_of, requires
from valueproof.api.bodies import json_object, read_body
from valueproof.api.openapi import json_body
from valueproof.config import Settings
from valueproof.errors import InvalidInput
from valueproof.periods import parse_instant_field, to_micros
from valueproof.store import read
from valueproof.success import writes
from valueproof.success.driver_store import analyse_drivers, analysis_json
from valueproof.success.engagements import (
    KINDS,
    engagement_json,
    engagements,
)
from valueproof.success.segment_store import segment_report_json
from valueproof.success.tables import success_segments
from valueproof.tenancy.accounts import get_account
from valueproof.tenancy.keys import Principal, Scope
from valueproof.tenancy.tables import accounts

router = APIRouter(tags=["success"])


async def _object(request: Request) -> dict[str, Any]:
    config: Settings = request.app.state.settings
    return json_object(await read_body(request, config.max_request_bytes), empty_ok=True)


@router.post("/v1/success/segments")
async def post_segments(
    request: Request, who: Principal = Depends(requires(Scope.ADMIN))
) -> dict[str, Any]:
    """Recompute every account's segments: by the tenant's segment rules, and by k-means on
    usage features (`{"meter": ..., "k": ...}`, both optional), each explained in words."""
    document = await _object(request)
    meter, k = document.get("meter"), document.get("k")
    if meter is not None and not isinstance(meter, str):
        raise InvalidInput("meter", "a meter key")
    if k is not None and (not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= 20):
        raise InvalidInput("k", "a whole number of clusters from 1 to 20")
    report = await run_in_threadpool(
        writes.segment_accounts, engine_of(request), who.tenant_id, meter, k
    )
    return segment_report_json(report)


@router.get("/v1/segments")
def list_segments(
    request: Request,
    segment: str | None = Query(None, description="Only accounts in this segment."),
    who: Principal = Depends(requires(Scope.READ)),
) -> dict[str, Any]:
    """Each account's segments as last computed, with the words that explain them."""
    t = success_segments.c
    query = (
        select(accounts.c.external_id, t.kind, t.segment, t.explanation)
        .join(accounts, accounts.c.id == t.account_id)
        .where(t.tenant_id == who.tenant_id)
        .order_by(accounts.c.external_id, t.kind)
    )
    if segment is not None:
        query = query.where(t.segment == segment)
    with read(engine_of(request)) as connection:
        rows = connection.execute(query).all()
    return {
        "segments": [
            {
                "account": r.external_id,
                "kind": r.kind,
                "segment": r.segment,
                "explanation": r.explanation,
            }
            for r in rows
        ]
    }


_ENGAGEMENT = {
    "type": "object",
    "required": ["kind", "by"],
    "properties": {
        "kind": {"enum": list(KINDS)},
        "by": {"type": "string", "description": "Who engaged (the CSM)."},
        "note": {"type": "string"},
        "at": {"type": "string", "format": "date-time", "description": "Default: now."},
    },
}
_POINTS = {
    "type": "object",
    "required": ["points"],
    "properties": {
        "points": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["day", "value"],
                "additionalProperties": False,
                "properties": {
                    "day": {"type": "string", "format": "date"},
                    "value": {"type": "number"},
                },
            },
        }
    },
}


@router.post(
    "/v1/accounts/{external_id}/engagements",
    status_code=201,
    openapi_extra=json_body(_ENGAGEMENT),
)
async def post_engagement(
    request: Request, external_id: str, who: Principal = Depends(requires(Scope.READ))
) -> dict[str, Any]:
    """Record an engagement `{kind, by, note, at?}` (kind: call, meeting, email,
    business_review, training, other); health measures the days since the last one."""
    document = await _object(request)
    at = document.get("at")
    when = None if at is None else to_micros(parse_instant_field("at", str(at)))
    kind, by, note = (_text(document, name) for name in ("kind", "by", "note"))
    found = writes.record_engagement(
        engine_of(request), who.tenant_id, external_id, kind, by, note, when
    )
    return engagement_json(found)


def _text(document: dict[str, Any], name: str) -> str:
    value = document.get(name, "" if name == "note" else None)
    if not isinstance(value, str):
        raise InvalidInput(name, "required, a text" if name != "note" else "a text")
    return value


@router.get("/v1/accounts/{external_id}/engagements")
def get_engagements(
    request: Request, external_id: str, who: Principal = Depends(requires(Scope.READ))
) -> dict[str, Any]:
    """The account's latest engagements, newest first."""
    with read(engine_of(request)) as connection:
        account = get_account(connection, who.tenant_id, external_id)
        found = engagements(connection, who.tenant_id, account.id)
    return {"engagements": [engagement_json(item) for item in found]}


@router.put("/v1/accounts/{external_id}/drivers/{driver}", openapi_extra=json_body(_POINTS))
async def put_driver(
    request: Request,
    external_id: str,
    driver: str,
    who: Principal = Depends(requires(Scope.INGEST)),
) -> dict[str, Any]:
    """Replace one driver series of the account: `{"points": [{"day", "value"}, ...]}` (e.g.
    the customer's daily order volume). Refused whole, naming the point, on a bad one."""
    points = (await _object(request)).get("points")
    if not isinstance(points, list):
        raise InvalidInput("points", 'send {"points": [{"day": "YYYY-MM-DD", "value": n}, ...]}')
    stored = writes.put_driver_series(
        engine_of(request), who.tenant_id, external_id, driver, points
    )
    return {"driver": driver, "points": stored}


@router.get("/v1/accounts/{external_id}/drivers")
def get_drivers(
    request: Request,
    external_id: str,
    meter: str = Query(..., description="The meter whose daily usage is explained."),
    log_scale: bool = Query(False, description="Fit on log(1 + x): elasticities."),
    who: Principal = Depends(requires(Scope.READ)),
) -> dict[str, Any]:
    """How much of the account's daily usage each of its drivers explains (OLS, R² split
    among the drivers exactly by LMG), in numbers and in a sentence."""
    with read(engine_of(request)) as connection:
        account = get_account(connection, who.tenant_id, external_id)
        found = analyse_drivers(connection, who.tenant_id, account.id, meter, log_scale)
    return analysis_json(found)
