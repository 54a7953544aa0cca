"""`/v1/outcomes`: outcome definitions (each version on the ledger) and claims with verdicts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
from fastapi import APIRouter, Depends, Request, Response
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Engine

from valueproof.api.auth import engine_of, requires
from valueproof.api.bodies import batch_items, read_body
from valueproof.config import Settings
from valueproof.errors import InvalidInput, PayloadTooLarge
from valueproof.ledger.publish import CheckpointPolicy, after_append
from valueproof.outcomes import claims
from valueproof.outcomes.claims import ClaimResult, claim_json, claim_result_json, definition_json
from valueproof.outcomes.definitions import OutcomeDefinition, read_definition
from valueproof.store import read, tenant_lock, write
from valueproof.tenancy.clock import now_us
from valueproof.tenancy.keys import Principal, Scope

router = APIRouter(tags=["outcomes"])

_DEFINITION_BODY = {
    "required": True,
    "content": {
        "application/json": {"schema": {"type": "object"}},
        "application/yaml": {"schema": {"type": "string"}},
    },
}
_CLAIMS_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["claims"],
                "properties": {
                    "claims": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": [
                                "id", "account", "contract", "outcome", "occurred_at",
                                "attributes",
                            ],
                        },
                    }
                },
            }
        }
    },
}  # fmt: skip


@router.put(
    "/v1/outcomes/definitions/{contract}/{outcome}",
    openapi_extra={"requestBody": _DEFINITION_BODY},
)
async def put_definition(
    request: Request,
    contract: str,
    outcome: str,
    response: Response,
    who: Principal = Depends(requires(Scope.ADMIN)),
) -> dict[str, Any]:
    """Record an outcome definition (YAML or JSON); a changed document is a new version."""
    config: Settings = request.app.state.settings
    text = (await read_body(request, config.max_request_bytes)).decode("utf-8", errors="replace")
    definition = read_definition(text)
    if (definition.contract, definition.outcome) != (contract, outcome):
        found = f"{definition.contract}/{definition.outcome}"
        raise InvalidInput(
            "contract", f"the body defines {found!r} but the path {contract}/{outcome}"
        )
    status, stored = await run_in_threadpool(_apply, engine_of(request), who.tenant_id, definition)
    response.status_code = 201 if status != "unchanged" else 200
    return {"status": status, **definition_json(stored)}


def _apply(
    engine: Engine, tenant_id: int, definition: OutcomeDefinition
) -> tuple[str, claims.StoredDefinition]:
    with write(engine) as connection:
        tenant_lock(connection, tenant_id)
        status = claims.apply_definition(connection, tenant_id, definition, now_us())
        [stored] = [
            d
            for d in claims.definitions(connection, tenant_id)
            if (d.contract, d.outcome) == (definition.contract, definition.outcome)
        ]
    return status, stored


@router.get("/v1/outcomes/definitions")
def list_definitions(
    request: Request, who: Principal = Depends(requires(Scope.READ))
) -> dict[str, Any]:
    """The latest version of every outcome definition."""
    with read(engine_of(request)) as connection:
        found = claims.definitions(connection, who.tenant_id)
    return {"definitions": [definition_json(d) for d in found]}


@router.post(
    "/v1/outcomes/claims",
    openapi_extra={"requestBody": _CLAIMS_BODY},
    responses={
        200: {"description": "Every item is on record (taken now, or a duplicate)."},
        207: {"description": "Some items are on record, others rejected or in conflict."},
        422: {"description": "No item is on record."},
    },
)
async def post_claims(
    request: Request, who: Principal = Depends(requires(Scope.INGEST))
) -> Response:
    """Verify and record a batch of claims; each taken claim's verdict is a ledger leaf."""
    config: Settings = request.app.state.settings
    items = batch_items(await read_body(request, config.max_request_bytes), "claims")
    if len(items) > config.max_batch_events:
        raise PayloadTooLarge(
            "claims", f"{len(items)} items; at most {config.max_batch_events} per request"
        )
    policy = CheckpointPolicy(
        request.app.state.keyring, config.checkpoint_interval_seconds * 1_000_000
    )
    results = await run_in_threadpool(_submit, engine_of(request), who.tenant_id, items, policy)
    return _answer(results)


@router.get("/v1/outcomes/claims/{claim_id}", responses={404: {"description": "No such claim."}})
def get_claim(
    request: Request, claim_id: str, who: Principal = Depends(requires(Scope.READ))
) -> dict[str, Any]:
    """A claim on record with its verdict, its leaf index and the salts of its commitments."""
    with read(engine_of(request)) as connection:
        found = claims.stored_claim(connection, who.tenant_id, claim_id)
    return claim_json(found)


def _submit(
    engine: Engine, tenant_id: int, items: Sequence[Any], policy: CheckpointPolicy
) -> list[ClaimResult]:
    """One write transaction under the tenant lock; a checkpoint after it, if one is due."""
    with write(engine) as connection:
        tenant_lock(connection, tenant_id)
        results = claims.submit_claims(connection, tenant_id, items, datetime.now(UTC))
        if any(result.status == "accepted" for result in results):
            after_append(connection, tenant_id, policy, now_us())
    return results


def _answer(results: list[ClaimResult]) -> Response:
    counts = {status: 0 for status in ("accepted", "duplicate", "conflict", "rejected")}
    for result in results:
        counts[result.status] += 1
    body = {**counts, "results": [claim_result_json(r) for r in results]}
    if counts["conflict"] == 0 and counts["rejected"] == 0:
        status = 200
    elif counts["accepted"] or counts["duplicate"]:
        status = 207
    else:
        status = 422
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")
