"""Webhook endpoints, their delivery logs and replay, for vendor `admin` keys only (an endpoint's
URL and filter are the vendor's configuration; its secret is shown once, at creation)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from valueproof.api.auth import engine_of, requires
from valueproof.api.bodies import json_object, read_body
from valueproof.api.openapi import json_body
from valueproof.config import Settings
from valueproof.store import read
from valueproof.tenancy.keys import Principal, Scope
from valueproof.webhooks import writes
from valueproof.webhooks.delivery_store import deliveries, delivery_json
from valueproof.webhooks.endpoint_store import endpoint, endpoint_json, endpoints
from valueproof.webhooks.errors import EndpointInvalid
from valueproof.webhooks.outbox import EVENT_TYPES

router = APIRouter(tags=["webhooks"])

_FIELDS: dict[str, Any] = {
    "url": {"type": "string", "description": "Where to POST: an http or https URL."},
    "event_types": {
        "type": "array",
        "items": {"enum": list(EVENT_TYPES)},
        "description": "The event types to send; empty or left out: every type.",
    },
    "description": {"type": "string", "description": "What the endpoint is for."},
    "enabled": {"type": "boolean", "description": "Enable or disable the endpoint."},
}
_NO_SECRET: dict[int | str, dict[str, Any]] = {
    409: {"description": "VALUEPROOF_LEDGER_PASSPHRASE is not set: secrets are sealed with it."}
}


@router.post(
    "/v1/webhooks/endpoints",
    status_code=201,
    openapi_extra=json_body(
        {
            "type": "object",
            "required": ["url"],
            "properties": {k: v for k, v in _FIELDS.items() if k != "enabled"},
        }
    ),
    responses=_NO_SECRET,
)
async def add_endpoint(
    request: Request, who: Principal = Depends(requires(Scope.ADMIN))
) -> dict[str, Any]:
    """A new enabled endpoint, with its signing secret `whsec_...`: shown this once, keep it."""
    config: Settings = request.app.state.settings
    document = json_object(await read_body(request, config.max_request_bytes))
    for name in document:
        if name not in ("url", "event_types", "description"):
            raise EndpointInvalid(name, "is not a field of an endpoint")
    passphrase = config.ledger_passphrase
    found, secret = await run_in_threadpool(
        writes.add_endpoint,
        engine_of(request),
        who.tenant_id,
        document.get("url"),
        document.get("event_types", []),
        document.get("description", ""),
        passphrase.get_secret_value() if passphrase else None,
    )
    return {**endpoint_json(found), "secret": secret}


@router.get("/v1/webhooks/endpoints")
def list_endpoints(
    request: Request, who: Principal = Depends(requires(Scope.ADMIN))
) -> dict[str, Any]:
    """The tenant's endpoints; a disabled one says why."""
    with read(engine_of(request)) as connection:
        found = endpoints(connection, who.tenant_id)
    return {"endpoints": [endpoint_json(item) for item in found]}


@router.get("/v1/webhooks/endpoints/{endpoint_id}")
def get_endpoint(
    request: Request, endpoint_id: str, who: Principal = Depends(requires(Scope.ADMIN))
) -> dict[str, Any]:
    """One endpoint (never its secret); a disabled one says why."""
    with read(engine_of(request)) as connection:
        return endpoint_json(endpoint(connection, who.tenant_id, endpoint_id))


@router.patch(
    "/v1/webhooks/endpoints/{endpoint_id}",
    openapi_extra=json_body({"type": "object", "properties": _FIELDS}),
)
async def change_endpoint(
    request: Request, endpoint_id: str, who: Principal = Depends(requires(Scope.ADMIN))
) -> dict[str, Any]:
    """Change an endpoint's URL, event types, description, or enable or disable it (enabling
    clears why it was disabled); all or nothing."""
    config: Settings = request.app.state.settings
    document = json_object(await read_body(request, config.max_request_bytes))
    found = await run_in_threadpool(
        writes.change_endpoint, engine_of(request), who.tenant_id, endpoint_id, document
    )
    return endpoint_json(found)


@router.delete("/v1/webhooks/endpoints/{endpoint_id}", status_code=204)
def remove_endpoint(
    request: Request, endpoint_id: str, who: Principal = Depends(requires(Scope.ADMIN))
) -> Response:
    """Remove an endpoint and its delivery log."""
    writes.drop_endpoint(engine_of(request), who.tenant_id, endpoint_id)
    return Response(status_code=204)


@router.get("/v1/webhooks/endpoints/{endpoint_id}/deliveries")
def list_deliveries(
    request: Request,
    endpoint_id: str,
    limit: int = Query(50, ge=1, le=1000, description="At most this many, newest first."),
    who: Principal = Depends(requires(Scope.ADMIN)),
) -> dict[str, Any]:
    """The endpoint's latest deliveries, newest first, each with every attempt: its time,
    status code or error, duration and the response's first bytes."""
    with read(engine_of(request)) as connection:
        found = deliveries(connection, who.tenant_id, endpoint_id, limit)
    return {"deliveries": [delivery_json(item) for item in found]}


@router.post(
    "/v1/webhooks/messages/{message_id}/replay",
    status_code=202,
    openapi_extra={
        "requestBody": {
            "required": False,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "endpoint": {
                                "type": "string",
                                "description": "Only to this endpoint; left out: to every "
                                "enabled endpoint the message went to.",
                            }
                        },
                    }
                }
            },
        }
    },
    responses={409: {"description": "The endpoint is disabled, or none is left to send to."}},
)
async def replay(
    request: Request, message_id: str, who: Principal = Depends(requires(Scope.ADMIN))
) -> dict[str, Any]:
    """Deliver a message again, with the same `webhook-id`: new deliveries, sent by the worker."""
    config: Settings = request.app.state.settings
    document = json_object(await read_body(request, config.max_request_bytes), empty_ok=True)
    target = document.get("endpoint")
    if target is not None and not isinstance(target, str):
        raise EndpointInvalid("endpoint", "must be an endpoint id")
    ids = await run_in_threadpool(
        writes.replay_message, engine_of(request), who.tenant_id, message_id, target
    )
    return {"message_id": message_id, "deliveries": ids}
