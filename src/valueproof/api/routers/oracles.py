"""`/v1/oracles`: registered data sources, each metric's rule, signed readings and values."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from valueproof.api.auth import engine_of, requires
from valueproof.api.batches import BATCH_RESPONSES, batch_answer
from valueproof.api.bodies import batch_items, read_body
from valueproof.api.openapi import CREATED
from valueproof.config import Settings
from valueproof.errors import InvalidInput, PayloadTooLarge
from valueproof.ledger.publish import CheckpointPolicy
from valueproof.outcomes import oracles, writes
from valueproof.outcomes.oracles import (
    MetricDefinition,
    ReadingResult,
    SourceDefinition,
    reading_result_json,
    stored_reading_json,
    value_json,
)
from valueproof.periods import parse_instant_field
from valueproof.store import read
from valueproof.tenancy.keys import Principal, Scope

router = APIRouter(tags=["oracles"])

_READINGS_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["readings"],
                "properties": {
                    "readings": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["reading", "signature"],
                            "properties": {
                                "reading": {"type": "object"},
                                "signature": {"type": "string", "format": "byte"},
                            },
                        },
                    }
                },
            }
        }
    },
}


@router.put("/v1/oracles/sources/{key}", responses=CREATED)
def put_source(
    request: Request,
    key: str,
    body: SourceDefinition,
    response: Response,
    who: Principal = Depends(requires(Scope.ADMIN)),
) -> dict[str, Any]:
    """Register a data source and the public key it signs with, or update it."""
    if body.key != key:
        raise InvalidInput("key", f"the body names {body.key!r} but the path {key!r}")
    status = writes.apply_source(engine_of(request), who.tenant_id, body)
    response.status_code = 201 if status == "created" else 200
    return {"status": status, **body.model_dump(mode="json")}


@router.get("/v1/oracles/sources")
def list_sources(
    request: Request, who: Principal = Depends(requires(Scope.READ))
) -> dict[str, Any]:
    with read(engine_of(request)) as connection:
        found = oracles.sources(connection, who.tenant_id)
    return {"sources": [found[key][1].model_dump(mode="json") for key in sorted(found)]}


@router.put("/v1/oracles/metrics/{key}", responses=CREATED)
def put_metric(
    request: Request,
    key: str,
    body: MetricDefinition,
    response: Response,
    who: Principal = Depends(requires(Scope.ADMIN)),
) -> dict[str, Any]:
    """Set how a metric's value is read: one agreed source, or the median of several."""
    if body.key != key:
        raise InvalidInput("key", f"the body names {body.key!r} but the path {key!r}")
    status = writes.apply_metric(engine_of(request), who.tenant_id, body)
    response.status_code = 201 if status == "created" else 200
    return {"status": status, **body.model_dump(mode="json")}


@router.get("/v1/oracles/metrics")
def list_metrics(
    request: Request, who: Principal = Depends(requires(Scope.READ))
) -> dict[str, Any]:
    with read(engine_of(request)) as connection:
        found = oracles.metrics(connection, who.tenant_id)
    return {"metrics": [found[key].model_dump(mode="json") for key in sorted(found)]}


@router.get("/v1/oracles/metrics/{key}/value", responses={404: {"description": "No such metric."}})
def get_metric_value(
    request: Request,
    key: str,
    at: str | None = Query(None, description="RFC 3339; default now."),
    who: Principal = Depends(requires(Scope.READ)),
) -> dict[str, Any]:
    """The metric's value at `at` by its rule, or the flag that stands in for a number."""
    moment = datetime.now(UTC) if at is None else parse_instant_field("at", at)
    with read(engine_of(request)) as connection:
        found = oracles.metric_value(connection, who.tenant_id, key, moment)
    return value_json(found)


@router.post(
    "/v1/oracles/readings",
    openapi_extra={"requestBody": _READINGS_BODY},
    responses=BATCH_RESPONSES,
)
async def post_readings(
    request: Request, who: Principal = Depends(requires(Scope.INGEST))
) -> Response:
    """Verify and record a batch of signed readings; an outcome for every item, in order."""
    config: Settings = request.app.state.settings
    items = batch_items(await read_body(request, config.max_request_bytes), "readings")
    if len(items) > config.max_batch_events:
        raise PayloadTooLarge(
            "readings", f"{len(items)} items; at most {config.max_batch_events} per request"
        )
    policy = CheckpointPolicy.from_settings(request.app.state.keyring, config)
    results = await run_in_threadpool(
        writes.submit_readings, engine_of(request), who.tenant_id, items, policy
    )
    return _answer(results)


@router.get("/v1/oracles/readings")
def list_readings(
    request: Request,
    metric: str = Query(..., description="Metric key."),
    start: str | None = Query(None, alias="from", description="RFC 3339, inclusive (as_of)."),
    end: str | None = Query(None, alias="to", description="RFC 3339, exclusive (as_of)."),
    who: Principal = Depends(requires(Scope.READ)),
) -> dict[str, Any]:
    """A metric's accepted readings, oldest first."""
    since = None if start is None else parse_instant_field("from", start)
    until = None if end is None else parse_instant_field("to", end)
    with read(engine_of(request)) as connection:
        found = oracles.stored_readings(connection, who.tenant_id, metric, since, until)
    return {"metric": metric, "readings": [stored_reading_json(r) for r in found]}


def _answer(results: list[ReadingResult]) -> Response:
    return batch_answer([r.status for r in results], [reading_result_json(r) for r in results])
