"""`/v1/meters` and `/v1/event-types`: the tenant's metering definitions."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from valueproof.api.auth import engine_of, requires
from valueproof.api.openapi import CREATED
from valueproof.contracts import writes as contract_writes
from valueproof.errors import InvalidInput, NotFound
from valueproof.metering import registry, writes
from valueproof.metering.definitions import EventType, Meter
from valueproof.store import read
from valueproof.tenancy.keys import Principal, Scope

router = APIRouter(tags=["meters"])


@router.get("/v1/event-types")
def list_event_types(
    request: Request, who: Principal = Depends(requires(Scope.READ))
) -> dict[str, Any]:
    with read(engine_of(request)) as connection:
        catalog = registry.load_catalog(connection, who.tenant_id)
    return {"event_types": [t.model_dump(mode="json") for t in catalog.types.values()]}


@router.put("/v1/event-types/{key}", responses=CREATED)
def put_event_type(
    request: Request,
    key: str,
    body: EventType,
    response: Response,
    who: Principal = Depends(requires(Scope.ADMIN)),
) -> dict[str, Any]:
    if body.key != key:
        raise InvalidInput("key", f"the body names {body.key!r} but the path {key!r}")
    created = writes.apply_event_type(engine_of(request), who.tenant_id, body)
    response.status_code = 201 if created else 200
    return body.model_dump(mode="json")


@router.delete(
    "/v1/event-types/{key}",
    status_code=204,
    responses={409: {"description": "Meters use the event type."}},
)
def delete_event_type(
    request: Request, key: str, who: Principal = Depends(requires(Scope.ADMIN))
) -> Response:
    writes.delete_event_type(engine_of(request), who.tenant_id, key)
    return Response(status_code=204)


@router.get("/v1/meters")
def list_meters(request: Request, who: Principal = Depends(requires(Scope.READ))) -> dict[str, Any]:
    with read(engine_of(request)) as connection:
        catalog = registry.load_catalog(connection, who.tenant_id)
    return {"meters": [c.meter.model_dump(mode="json") for c in catalog.meters_by_key.values()]}


@router.get("/v1/meters/{key}")
def get_meter(
    request: Request, key: str, who: Principal = Depends(requires(Scope.READ))
) -> dict[str, Any]:
    with read(engine_of(request)) as connection:
        compiled = registry.load_catalog(connection, who.tenant_id).meters_by_key.get(key)
    if compiled is None:
        raise NotFound(f"no meter {key!r}")
    return compiled.meter.model_dump(mode="json")


@router.post(
    "/v1/meters",
    status_code=201,
    responses={409: {"description": "The meter exists already: PUT it to replace it."}},
)
def create_meter(
    request: Request,
    body: Meter,
    response: Response,
    who: Principal = Depends(requires(Scope.ADMIN)),
) -> dict[str, Any]:
    return _apply(request, body, response, who, must_be_new=True)


@router.put("/v1/meters/{key}", responses=CREATED)
def put_meter(
    request: Request,
    key: str,
    body: Meter,
    response: Response,
    who: Principal = Depends(requires(Scope.ADMIN)),
) -> dict[str, Any]:
    if body.key != key:
        raise InvalidInput("key", f"the body names {body.key!r} but the path {key!r}")
    return _apply(request, body, response, who, must_be_new=False)


def _apply(
    request: Request, meter: Meter, response: Response, who: Principal, must_be_new: bool
) -> dict[str, Any]:
    applied = writes.apply_meter(engine_of(request), who.tenant_id, meter, must_be_new)
    response.status_code = 201 if applied.created else 200
    return {**meter.model_dump(mode="json"), **registry.rebuild_json(applied.rebuilt)}


@router.delete(
    "/v1/meters/{key}",
    status_code=204,
    responses={409: {"description": "A contract whose term has not ended prices the meter."}},
)
def delete_meter(
    request: Request, key: str, who: Principal = Depends(requires(Scope.ADMIN))
) -> Response:
    """Delete a meter and its rollups (the events stay on record), unless a running contract
    prices it."""
    contract_writes.delete_meter(engine_of(request), who.tenant_id, key)
    return Response(status_code=204)
