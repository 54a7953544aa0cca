"""`/v1/accounts/{id}/utilization` and the other Customer Success reads: what an account uses of
its period, its commitment and its prepaid credit, as current as the last accepted event."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool

from valueproof.api.auth import engine_of, requires, requires_account
from valueproof.api.bodies import json_object, read_body
from valueproof.api.openapi import json_body
from valueproof.config import Settings
from valueproof.errors import InvalidInput, NotFound
from valueproof.periods import parse_instant_field, to_micros
from valueproof.store import read
from valueproof.success import writes
from valueproof.success.alert_store import alert_json, alert_queue
from valueproof.success.hourly import HOURLY_WEEKS, hourly_profiles
from valueproof.success.reads import health_of, health_table, profiles_of
from valueproof.success.refresh import refresh_instant, report_json
from valueproof.success.settings import SETTINGS, load_setting, setting_json
from valueproof.success.utilization import utilization, utilization_json
from valueproof.tenancy.accounts import get_account
from valueproof.tenancy.clock import now_us
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


@router.get("/v1/alerts")
def list_alerts(
    request: Request,
    status: str = Query(
        "open",
        description="open (snoozes that ended count), snoozed, resolved",
        json_schema_extra={"enum": ["open", "snoozed", "resolved"]},
    ),
    account: str | None = Query(None, description="Only this account's alerts."),
    limit: int = Query(200, ge=1, le=1000),
    who: Principal = Depends(requires(Scope.READ)),
) -> dict[str, Any]:
    """The alert queue: critical first, then the latest updated, each with the numbers that
    raised it."""
    with read(engine_of(request)) as connection:
        found = alert_queue(connection, who.tenant_id, status, account, now_us(), limit)
    return {"alerts": [alert_json(alert) for alert in found]}


@router.post(
    "/v1/alerts/{alert_id}/snooze",
    responses={409: {"description": "The alert is resolved."}},
    openapi_extra=json_body(
        {
            "type": "object",
            "required": ["until"],
            "properties": {"until": {"type": "string", "format": "date-time"}},
        }
    ),
)
async def snooze_alert(
    request: Request, alert_id: int, who: Principal = Depends(requires(Scope.READ))
) -> dict[str, Any]:
    """Snooze a live alert until `{"until": RFC 3339}` (at most 180 days ahead): it is still
    updated, out of the open queue until then. A `read` key will do: alert state is a CSM's
    working state, not a record of the ledger."""
    config: Settings = request.app.state.settings
    document = json_object(await read_body(request, config.max_request_bytes))
    given = document.get("until")
    if not isinstance(given, str):
        raise InvalidInput("until", "required, an RFC 3339 instant")
    until = to_micros(parse_instant_field("until", given))
    return alert_json(writes.snooze(engine_of(request), who.tenant_id, alert_id, until))


@router.get("/v1/success/settings/{key}")
def get_setting(
    request: Request, key: str, who: Principal = Depends(requires(Scope.READ))
) -> dict[str, Any]:
    """A settings document (`alerts`, ...) as in force: the stored one, or the defaults."""
    parse = _parser(key)
    with read(engine_of(request)) as connection:
        return setting_json(load_setting(connection, who.tenant_id, key, parse))


@router.put("/v1/success/settings/{key}")
async def put_setting(
    request: Request, key: str, who: Principal = Depends(requires(Scope.ADMIN))
) -> dict[str, Any]:
    """Replace a settings document; a bad one is refused whole, naming the field."""
    parse = _parser(key)
    config: Settings = request.app.state.settings
    document = json_object(await read_body(request, config.max_request_bytes))
    stored = writes.store_setting(engine_of(request), who.tenant_id, key, document, parse)
    return setting_json(stored)


def _parser(key: str) -> Any:
    parse = SETTINGS.get(key)
    if parse is None:
        raise NotFound(f"no settings {key!r}; there are {', '.join(sorted(SETTINGS))}")
    return parse


@router.post("/v1/success/refresh")
async def post_refresh(
    request: Request,
    as_of_query: str | None = Query(
        None, alias="as_of", description="RFC 3339: refresh as of this past instant."
    ),
    who: Principal = Depends(requires(Scope.ADMIN)),
) -> dict[str, Any]:
    """Refresh seasonality, baselines, alerts and health for every account, or for
    `{"accounts": [...]}`, as of now or of a past `as_of` (RFC 3339, also a query parameter);
    the counts of what it did."""
    config: Settings = request.app.state.settings
    document = json_object(await read_body(request, config.max_request_bytes), empty_ok=True)
    as_of = document.get("as_of", as_of_query)
    if as_of is not None and not isinstance(as_of, str):
        raise InvalidInput("as_of", "an RFC 3339 instant")
    moment = refresh_instant("as_of", as_of, datetime.now(UTC))
    only = document.get("accounts")
    if only is not None and (
        not isinstance(only, list) or not all(isinstance(a, str) for a in only)
    ):
        raise InvalidInput("accounts", "a list of account ids")
    report = await run_in_threadpool(
        writes.refresh, engine_of(request), who.tenant_id, moment, only
    )
    return report_json(report)


@router.get("/v1/health")
def list_health(
    request: Request,
    band: str | None = Query(None, description="Only accounts in this band."),
    who: Principal = Depends(requires(Scope.READ)),
) -> dict[str, Any]:
    """Every account's latest health score, lowest first, with its measures and trend."""
    with read(engine_of(request)) as connection:
        return {"accounts": health_table(connection, who.tenant_id, band)}


@router.get("/v1/accounts/{external_id}/health")
def get_health(
    request: Request, external_id: str, who: Principal = Depends(requires(Scope.READ))
) -> dict[str, Any]:
    """The account's latest health score: each measure's raw value, points and weight after
    redistribution, and the trend against the score before."""
    with read(engine_of(request)) as connection:
        internal = get_account(connection, who.tenant_id, external_id).id
        return health_of(connection, who.tenant_id, internal)


@router.get("/v1/accounts/{external_id}/seasonality")
def get_seasonality(
    request: Request,
    external_id: str,
    granularity: Literal["daily", "hourly"] = Query(
        "daily", description="daily: as of the last refresh; hourly: read now from the rollups."
    ),
    weeks: int = Query(HOURLY_WEEKS, ge=1, le=52, description="Hourly: weeks of history read."),
    who: Principal = Depends(requires_account(Scope.READ)),
) -> dict[str, Any]:
    """The account's seasonal profile per meter. Daily, as of the last refresh: each candidate
    period with its strength and whether it was detected, and the recent days against the
    seasonal baseline's prediction interval (or why there is no baseline yet). Hourly, read now
    from the last `weeks` weeks of hourly rollups: the daily (24 h) and weekly (168 h) cycles,
    the typical day and its busiest and quietest hour (UTC)."""
    with read(engine_of(request)) as connection:
        internal = get_account(connection, who.tenant_id, external_id).id
        if granularity == "hourly":
            found = hourly_profiles(connection, who.tenant_id, internal, datetime.now(UTC), weeks)
        else:
            found = profiles_of(connection, who.tenant_id, internal)
        return {"account": external_id, "granularity": granularity, "meters": found}
