"""`/v1/outcomes`: outcome definitions (each version on the ledger) and claims with verdicts;
`/v1/accounts/{id}/known-set`: the customer's known set (its secret, sealed, and its hashes)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.concurrency import run_in_threadpool

from valueproof.api.auth import engine_of, requires, requires_account, requires_or_customer
from valueproof.api.batches import BATCH_RESPONSES, batch_answer
from valueproof.api.bodies import batch_items, json_object, read_body
from valueproof.api.openapi import CREATED, json_body
from valueproof.config import Settings
from valueproof.contracts.writes import submit_claims
from valueproof.errors import InvalidInput, NotFound, PayloadTooLarge
from valueproof.ledger.publish import CheckpointPolicy
from valueproof.outcomes import (
    claim_records,
    definition_store,
    knownset_store,
    writes,
)
from valueproof.outcomes.claim_records import (
    ClaimResult,
    batch_status,
    claim_json,
    claim_result_json,
)
from valueproof.outcomes.definition_store import definition_json
from valueproof.outcomes.definitions import read_definition
from valueproof.outcomes.errors import KnownSetUnavailable
from valueproof.outcomes.knownset import parse_known_hashes, parse_secret
from valueproof.store import read
from valueproof.tenancy.accounts import get_account
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
    status, stored = await run_in_threadpool(
        writes.apply_definition, engine_of(request), who.tenant_id, definition
    )
    response.status_code = 201 if status != "unchanged" else 200
    return {"status": status, **definition_json(stored)}


@router.get("/v1/outcomes/definitions")
def list_definitions(
    request: Request, who: Principal = Depends(requires(Scope.READ))
) -> dict[str, Any]:
    """The latest version of every outcome definition."""
    with read(engine_of(request)) as connection:
        found = definition_store.definitions(connection, who.tenant_id)
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
    policy = CheckpointPolicy.from_settings(request.app.state.keyring, config)
    secret = config.ledger_passphrase
    passphrase = None if secret is None else secret.get_secret_value()
    results = await run_in_threadpool(
        submit_claims, engine_of(request), who.tenant_id, items, passphrase, policy
    )
    return _answer(results)


@router.get("/v1/outcomes/claims/{claim_id}", responses={404: {"description": "No such claim."}})
def get_claim(
    request: Request, claim_id: str, who: Principal = Depends(requires_or_customer(Scope.READ))
) -> dict[str, Any]:
    """A claim on record with its verdict, its leaf index and the salts of its commitments (a
    `read` key, or the customer key of the claim's account)."""
    with read(engine_of(request)) as connection:
        found = claim_records.stored_claim(connection, who.tenant_id, claim_id)
    if who.is_customer and found.account != who.account_external_id:
        # The same answer as for no claim at all: another account's claims are not there.
        raise NotFound(f"no claim {claim_id!r}")
    return claim_json(found)


@router.put(
    "/v1/accounts/{external_id}/known-set/secret",
    responses={409: {"description": f"{knownset_store.PASSPHRASE_SETTING} is not set."}},
    openapi_extra=json_body(
        {
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
    ),
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
        writes.set_known_secret, engine_of(request), who.tenant_id, external_id, secret, passphrase
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
        writes.add_known_hashes, engine_of(request), who.tenant_id, external_id, hashes
    )
    return {"received": len(hashes), "added": added, **_status_json(status)}


@router.get("/v1/accounts/{external_id}/known-set")
def get_known_set(
    request: Request, external_id: str, who: Principal = Depends(requires_account(Scope.READ))
) -> dict[str, Any]:
    """How many hashes the account's known set holds and whether its secret is stored."""
    with read(engine_of(request)) as connection:
        account = get_account(connection, who.tenant_id, external_id)
        status = knownset_store.known_set_status(connection, who.tenant_id, account.id)
    return _status_json(status)


def _status_json(status: knownset_store.KnownSetStatus) -> dict[str, Any]:
    return {"count": status.count, "secret_set": status.secret_set}


def _passphrase(config: Settings) -> str:
    if config.ledger_passphrase is None or not config.ledger_passphrase.get_secret_value():
        setting = knownset_store.PASSPHRASE_SETTING
        raise KnownSetUnavailable(f"set {setting}: known-set secrets are stored encrypted with it")
    return config.ledger_passphrase.get_secret_value()


def _known_hashes(content_type: str, body: bytes) -> set[str]:
    media = content_type.split(";")[0].strip().lower()
    if media == "application/json":
        items = json_object(body).get("hashes")
        if not isinstance(items, list):
            raise InvalidInput("hashes", 'send a JSON object {"hashes": [...]}')
        if not items:
            raise InvalidInput("hashes", "is empty: send at least one hash")
        return parse_known_hashes(items, json_list=True)
    if media not in ("text/plain", ""):
        raise InvalidInput(
            "content-type", f"unsupported {media!r}; send text/plain or application/json"
        )
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput("(body)", "not UTF-8 text") from None
    if not text.strip():
        raise InvalidInput("(body)", "is empty: send at least one hash, one per line")
    return parse_known_hashes(text.splitlines())


def _answer(results: list[ClaimResult]) -> Response:
    return batch_answer([batch_status(r) for r in results], [claim_result_json(r) for r in results])
