"""`POST /v1/events`: usage events as JSON batches or CloudEvents (structured and batch mode)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from valueproof.api.auth import engine_of, requires
from valueproof.api.batches import BATCH_RESPONSES, batch_answer
from valueproof.api.bodies import batch_items, read_body
from valueproof.config import Settings
from valueproof.errors import InvalidInput, PayloadTooLarge
from valueproof.ledger.publish import CheckpointPolicy
from valueproof.metering.cloudevents import read_cloudevent_structured, read_cloudevents_batch
from valueproof.metering.ingest import IngestOptions, ItemResult, ingest_batch, result_json
from valueproof.tenancy.keys import Principal, Scope

router = APIRouter(tags=["events"])

CLOUDEVENT = "application/cloudevents+json"
CLOUDEVENTS_BATCH = "application/cloudevents-batch+json"

_REQUEST_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["events"],
                "properties": {"events": {"type": "array", "items": {"type": "object"}}},
            }
        },
        CLOUDEVENT: {"schema": {"type": "object"}},
        CLOUDEVENTS_BATCH: {"schema": {"type": "array", "items": {"type": "object"}}},
    },
}


@router.post(
    "/v1/events",
    openapi_extra={"requestBody": _REQUEST_BODY},
    responses=BATCH_RESPONSES,
)
async def post_events(
    request: Request, who: Principal = Depends(requires(Scope.INGEST))
) -> Response:
    """Ingest a batch; the answer has an outcome for every item, in order."""
    config: Settings = request.app.state.settings
    body = await read_body(request, config.max_request_bytes)
    items = _items(request.headers.get("content-type", "application/json"), body)
    if len(items) > config.max_batch_events:
        raise PayloadTooLarge(
            "events", f"{len(items)} items; at most {config.max_batch_events} per request"
        )
    options = IngestOptions(
        max_future_us=config.max_future_seconds * 1_000_000,
        checkpoints=CheckpointPolicy.from_settings(request.app.state.keyring, config),
    )
    results = await run_in_threadpool(
        ingest_batch, engine_of(request), who.tenant_id, items, options
    )
    return _answer(results)


def _items(content_type: str, body: bytes) -> list[Any]:
    media = content_type.split(";")[0].strip().lower()
    try:
        if media == CLOUDEVENTS_BATCH:
            return list(read_cloudevents_batch(body))
        if media == CLOUDEVENT:
            return [read_cloudevent_structured(body)]
        if media in ("application/json", ""):
            return _json_batch(body)
    except ValueError as error:
        raise InvalidInput("(body)", str(error)) from None
    raise InvalidInput(
        "content-type",
        f"unsupported {media!r}; send application/json, {CLOUDEVENT} or {CLOUDEVENTS_BATCH}",
    )


def _json_batch(body: bytes) -> list[Any]:
    return batch_items(body, "events")


def _answer(results: list[ItemResult]) -> Response:
    return batch_answer([r.status for r in results], [result_json(r) for r in results])
