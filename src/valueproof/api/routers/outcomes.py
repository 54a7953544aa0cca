"""`/v1/outcomes`: outcome definitions (each version on the ledger) and claims with verdicts;
`/v1/accounts/{id}/known-set`: the customer's known set (its secret, sealed, and its hashes)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Engine

from valueproof.api.auth import engine_of, requires, requires_account, requires_or_customer
from valueproof.api.batches import BATCH_RESPONSES, batch_answer
from valueproof.api.bodies import batch_items, json_object, read_body
from valueproof.api.openapi import CREATED
from valueproof.config import Settings
from valueproof.contracts.claim_accounts import submit_under_contracts
from valueproof.errors import InvalidInput, NotFound, PayloadTooLarge
from valueproof.ledger.publish import CheckpointPolicy, after_append
from valueproof.outcomes import claims, known
from valueproof.outcomes.claim_records import batch_status
from valueproof.outcomes.claims import ClaimResult, claim_json, claim_result_json, definition_json
from valueproof.outcomes.definitions import OutcomeDefinition, read_definition
from valueproof.outcomes.knownset import parse_known_hashes, parse_secret
from valueproof.store import read, tenant_lock, write
from valueproof.tenancy.accounts import get_account
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
_CLAIM = {
    "type": "object",
    "additionalProperties": False,
    "required": ["id", "account", "contract", "outcome", "occurred_at", "attributes"],
    "properties": {
        "id": {"type": "string", "minLength": 1, "maxLength": 200},
        "account": {"type": "string", "description": "The account's external id."},
        "contract": {"type": "string"},
        "outcome": {"type": "string"},
        "occurred_at": {"type": "string", "format": "date-time"},
        "attributes": {"type": "object"},
    },
}
_CLAIMS_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["claims"],
                "properties": {"claims": {"type": "array", "items": _CLAIM}},
            }
        }
    },
}
_KNOWN_SET_BODY = {
    "required": True,
    "content": {
        "text/plain": {"schema": {"type": "string", "description": "One 64-hex hash per line."}},
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["hashes"],
                "properties": {"hashes": {"type": "array", "items": {"type": "string"}}},
            }
        },
    },
}


@router.put(
    "/v1/outcomes/definitions/{contract}/{outcome}",
    openapi_extra={"requestBody": _DEFINITION_BODY},
    responses=CREATED,
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
    responses=BATCH_RESPONSES,
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
    secret = config.ledger_passphrase
    passphrase = None if secret is None else secret.get_secret_value()
    results = await run_in_threadpool(
        _submit, engine_of(request), who.tenant_id, items, policy, passphrase
    )
    return _answer(results)


@router.get("/v1/outcomes/claims/{claim_id}", responses={404: {"description": "No such claim."}})
def get_claim(
    request: Request, claim_id: str, who: Principal = Depends(requires_or_customer(Scope.READ))
) -> dict[str, Any]:
    """A claim on record with its verdict, its leaf index and the salts of its commitments (a
    `read` key, or the customer key of the claim's account)."""
    with read(engine_of(request)) as connection:
        found = claims.stored_claim(connection, who.tenant_id, claim_id)
    if who.is_customer and found.account != who.account_external_id:
        # The same answer as for no claim at all: another account's claims are not there.
        raise NotFound(f"no claim {claim_id!r}")
    return claim_json(found)


@router.put(
    "/v1/accounts/{external_id}/known-set/secret",
    responses={409: {"description": f"{known.PASSPHRASE_SETTING} is not set."}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["secret"],
                        "properties": {
                            "secret": {
                                "type": "string",
                                "contentEncoding": "base64",
                                "description": "The base64 text of a 16 to 1024-byte secret.",
                            }
                        },
                    }
                }
            },
        }
    },
)
async def put_known_set_secret(
    request: Request, external_id: str, who: Principal = Depends(requires_account(Scope.ADMIN))
) -> dict[str, Any]:
    """Store the account's known-set secret, encrypted; it is never returned. A new secret
    drops the hashes uploaded under the old one (`hashes_dropped`)."""
    config: Settings = request.app.state.settings
    document = json_object(await read_body(request, config.max_request_bytes))
    text = document.get("secret")
    if not isinstance(text, str):
        raise InvalidInput("secret", "is missing: send the base64 text of a 16 to 1024-byte secret")
    secret = parse_secret(text)
    passphrase = _passphrase(config)
    dropped, status = await run_in_threadpool(
        _store_secret, engine_of(request), who.tenant_id, external_id, secret, passphrase
    )
    return {"hashes_dropped": dropped, **_status_json(status)}


@router.post(
    "/v1/accounts/{external_id}/known-set",
    openapi_extra={"requestBody": _KNOWN_SET_BODY},
    responses={422: {"description": "A line is not a hash; `field` names it (`line N`)."}},
)
async def post_known_set(
    request: Request, external_id: str, who: Principal = Depends(requires_account(Scope.ADMIN))
) -> dict[str, Any]:
    """Add hashes to the account's known set (repeats are no-ops): text/plain, one 64-hex
    HMAC-SHA256 per line, or JSON `{"hashes": [...]}`."""
    config: Settings = request.app.state.settings
    body = await read_body(request, config.max_request_bytes)
    hashes = _known_hashes(request.headers.get("content-type", ""), body)
    added, status = await run_in_threadpool(
        _add_hashes, engine_of(request), who.tenant_id, external_id, hashes
    )
    return {"received": len(hashes), "added": added, **_status_json(status)}


@router.get("/v1/accounts/{external_id}/known-set")
def get_known_set(
    request: Request, external_id: str, who: Principal = Depends(requires_account(Scope.READ))
) -> dict[str, Any]:
    """How many hashes the account's known set holds and whether its secret is stored."""
    with read(engine_of(request)) as connection:
        account = get_account(connection, who.tenant_id, external_id)
        status = known.known_set_status(connection, who.tenant_id, account.id)
    return _status_json(status)


def _store_secret(
    engine: Engine, tenant_id: int, external_id: str, secret: bytes, passphrase: str
) -> tuple[int, known.KnownSetStatus]:
    with write(engine) as connection:
        tenant_lock(connection, tenant_id)
        account = get_account(connection, tenant_id, external_id)
        dropped = known.set_secret(connection, tenant_id, account.id, secret, passphrase, now_us())
        return dropped, known.known_set_status(connection, tenant_id, account.id)


def _add_hashes(
    engine: Engine, tenant_id: int, external_id: str, hashes: set[str]
) -> tuple[int, known.KnownSetStatus]:
    with write(engine) as connection:
        tenant_lock(connection, tenant_id)
        account = get_account(connection, tenant_id, external_id)
        added = known.add_hashes(connection, tenant_id, account.id, hashes, now_us())
        return added, known.known_set_status(connection, tenant_id, account.id)


def _status_json(status: known.KnownSetStatus) -> dict[str, Any]:
    return {"count": status.count, "secret_set": status.secret_set}


def _passphrase(config: Settings) -> str:
    if config.ledger_passphrase is None or not config.ledger_passphrase.get_secret_value():
        raise known.KnownSetUnavailable(
            f"set {known.PASSPHRASE_SETTING}: known-set secrets are stored encrypted with it"
        )
    return config.ledger_passphrase.get_secret_value()


def _known_hashes(content_type: str, body: bytes) -> set[str]:
    media = content_type.split(";")[0].strip().lower()
    if media == "application/json":
        items = json_object(body).get("hashes")
        if not isinstance(items, list):
            raise InvalidInput("hashes", 'send a JSON object {"hashes": [...]}')
        return parse_known_hashes(items, json_list=True)
    if media not in ("text/plain", ""):
        raise InvalidInput(
            "content-type", f"unsupported {media!r}; send text/plain or application/json"
        )
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput("(body)", "not UTF-8 text") from None
    return parse_known_hashes(text.splitlines())


def _submit(
    engine: Engine,
    tenant_id: int,
    items: Sequence[Any],
    policy: CheckpointPolicy,
    passphrase: str | None,
) -> list[ClaimResult]:
    """One write transaction under the tenant lock; a checkpoint after it, if one is due."""
    with write(engine) as connection:
        tenant_lock(connection, tenant_id)
        results = submit_under_contracts(
            connection, tenant_id, items, datetime.now(UTC), passphrase
        )
        if any(result.status == "accepted" for result in results):
            after_append(connection, tenant_id, policy, now_us())
    return results


def _answer(results: list[ClaimResult]) -> Response:
    return batch_answer([batch_status(r) for r in results], [claim_result_json(r) for r in results])
