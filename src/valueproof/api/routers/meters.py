"""`/v1/meters` and `/v1/event-types`: the tenant's metering definitions."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from valueproof.api.auth import engine_of, requires
from valueproof.api.openapi import CREATED
from valueproof.errors import AlreadyExists, InvalidInput, NotFound
from valueproof.metering import registry
from valueproof.metering.definitions import EventType, Meter
from valueproof.store import read, tenant_lock, write
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
    with write(engine_of(request)) as connection:
        tenant_lock(connection, who.tenant_id)
        created = registry.apply_event_type(connection, who.tenant_id, body)
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
    with write(engine_of(request)) as connection:
        tenant_lock(connection, who.tenant_id)
        registry.delete_event_type(connection, who.tenant_id, key)
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
    with write(engine_of(request)) as connection:
        tenant_lock(connection, who.tenant_id)
        if (
            must_be_new
            and meter.key in registry.load_catalog(connection, who.tenant_id).meters_by_key
        ):
            raise AlreadyExists(f"meter {meter.key!r} exists already; PUT it to replace it")
        created, folded = registry.apply_meter(connection, who.tenant_id, meter)
    response.status_code = 201 if created else 200
    return {**meter.model_dump(mode="json"), "events_folded": folded}


@router.delete("/v1/meters/{key}", status_code=204)
def delete_meter(
    request: Request, key: str, who: Principal = Depends(requires(Scope.ADMIN))
) -> Response:
    with write(engine_of(request)) as connection:
        tenant_lock(connection, who.tenant_id)
        registry.delete_meter(connection, who.tenant_id, key)
    return Response(status_code=204)
