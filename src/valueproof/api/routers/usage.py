"""`GET /v1/usage`: usage per bucket and group, answered from the rollups."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Query, Request

from valueproof.api.auth import engine_of, requires
from valueproof.metering.usage import UsageQuery, query_usage, usage_json
from valueproof.periods import Granularity
from valueproof.store import read
from valueproof.tenancy.keys import Principal, Scope

router = APIRouter(tags=["usage"])


@router.get("/v1/usage")
def get_usage(
    request: Request,
    meter: str = Query(..., description="Meter key."),
    start: str = Query(..., alias="from", description="RFC 3339; floored to the hour."),
    end: str = Query(..., alias="to", description="RFC 3339, exclusive; floored to the hour."),
    granularity: Granularity = Query(Granularity.DAY),
    account: str | None = Query(None, description="External id; all accounts when absent."),
    group_by: list[str] = Query(
        [], description="Meter dimensions and/or `account`; repeat or comma-separate."
    ),
    who: Principal = Depends(requires(Scope.READ)),
) -> dict[str, Any]:
    query = UsageQuery.from_text(meter, start, end, granularity, account, group_by)
    with read(engine_of(request)) as connection:
        result = query_usage(connection, who.tenant_id, query, datetime.now(UTC))
    return usage_json(result)
