"""`/v1/contracts` and `/v1/accounts/{id}/preview`: contract documents, their versions, and
what an account's contract charges so far this period."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from valueproof.api.auth import engine_of, requires, requires_account
from valueproof.billing import writes as billing_writes
from valueproof.config import Settings
from valueproof.contracts import registry, service
from valueproof.contracts.diff import diff_versions, version_diff_json
from valueproof.contracts.document import ContractDocument
from valueproof.contracts.errors import ContractInvalid
from valueproof.contracts.rating import charges_json
from valueproof.contracts.validation import read_contract
from valueproof.errors import InvalidInput, NotFound, PayloadTooLarge
from valueproof.ledger.publish import CheckpointPolicy
from valueproof.metering.registry import load_catalog
from valueproof.periods import format_rfc3339, from_micros, parse_instant_field
from valueproof.store import read
from valueproof.tenancy.keys import Principal, Scope

router = APIRouter(tags=["contracts"])

YAML_TYPES = frozenset({"application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml"})

_REQUEST_BODY = {
    "required": True,
    "description": "A contract document; its JSON Schema is `GET /v1/contracts/schema`.",
    "content": {
        "application/json": {"schema": {"type": "object"}},
        "application/yaml": {"schema": {"type": "string"}},
    },
}


async def contract_body(request: Request) -> ContractDocument:
    """The request body read as a contract (JSON or YAML), validated whole."""
    media = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if media not in YAML_TYPES and media not in ("application/json", ""):
        raise InvalidInput(
            "content-type", f"unsupported {media!r}; send application/json or application/yaml"
        )
    limit = _settings(request).max_request_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge("(body)", f"{declared} bytes; at most {limit}")
    body = await request.body()
    if len(body) > limit:
        raise PayloadTooLarge("(body)", f"more than {limit} bytes")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ContractInvalid([("(document)", "not UTF-8 text")]) from None
    return await run_in_threadpool(read_contract, text)


@router.post(
    "/v1/contracts",
    status_code=201,
    openapi_extra={"requestBody": _REQUEST_BODY},
    responses={
        200: {"description": "The document equals the latest version: nothing was stored."},
        201: {"description": "A new contract (version 1) or an amendment (a new version)."},
        409: {"description": "The contract belongs to another account."},
        422: {"description": "The document is invalid; `errors` lists every problem."},
    },
)
def apply_contract(
    request: Request,
    response: Response,
    who: Principal = Depends(requires(Scope.ADMIN)),
    document: ContractDocument = Depends(contract_body),
) -> dict[str, Any]:
    """Store a contract document as the contract's next version, on the ledger first."""
    policy = CheckpointPolicy.from_settings(request.app.state.keyring, _settings(request))
    applied = billing_writes.apply_contract(engine_of(request), who.tenant_id, document, policy)
    response.status_code = 200 if applied.status == "unchanged" else 201
    warnings = _warnings_json(applied.warnings)
    return {"status": applied.status, **registry.version_json(applied.version), **warnings}


@router.post(
    "/v1/contracts/validate",
    openapi_extra={"requestBody": _REQUEST_BODY},
    responses={422: {"description": "The document is invalid; `errors` lists every problem."}},
)
def validate_contract(
    request: Request,
    who: Principal = Depends(requires(Scope.READ)),
    document: ContractDocument = Depends(contract_body),
) -> dict[str, Any]:
    """Check a document and what it asks of the tenant's meters, outcome definitions and oracle
    metrics; nothing is stored. `warnings` lists names declared `pending` and still undefined."""
    with read(engine_of(request)) as connection:
        problems = registry.contract_problems(
            connection, who.tenant_id, document, load_catalog(connection, who.tenant_id)
        )
        warnings = registry.contract_warnings(connection, who.tenant_id, document)
    if problems:
        raise ContractInvalid(problems)
    return {"valid": True, "problems": [], **_warnings_json(warnings)}


@router.get("/v1/contracts")
def list_contracts(
    request: Request,
    account: str | None = Query(None, description="One account's external id."),
    who: Principal = Depends(requires(Scope.READ)),
) -> dict[str, Any]:
    """The latest version of each contract, by key."""
    with read(engine_of(request)) as connection:
        found = registry.list_contracts(connection, who.tenant_id, account)
    return {"contracts": [registry.version_json(version) for version in found]}


# Declared before `/v1/contracts/{key}`, which would otherwise take `schema` for a key.
@router.get("/v1/contracts/schema")
def contract_schema() -> dict[str, Any]:
    """The JSON Schema of contract documents (public: it holds no tenant's data)."""
    return ContractDocument.model_json_schema(by_alias=True)


@router.get("/v1/contracts/{key}")
def get_contract(
    request: Request, key: str, who: Principal = Depends(requires(Scope.READ))
) -> dict[str, Any]:
    """The latest version of a contract, and a summary of every version."""
    with read(engine_of(request)) as connection:
        history = registry.versions(connection, who.tenant_id, key)
    summaries = [
        {
            "version": version.version,
            "effective_from": format_rfc3339(version.effective),
            "leaf_index": version.leaf_index,
            "created": format_rfc3339(from_micros(version.created_us)),
        }
        for version in history
    ]
    return {**registry.version_json(history[-1]), "versions": summaries}


@router.get("/v1/contracts/{key}/versions/{number}")
def get_version(
    request: Request, key: str, number: int, who: Principal = Depends(requires(Scope.READ))
) -> dict[str, Any]:
    """One version of a contract, as stored."""
    with read(engine_of(request)) as connection:
        history = registry.versions(connection, who.tenant_id, key)
    if not 1 <= number <= len(history):
        raise NotFound(f"contract {key!r} has no version {number}")
    return registry.version_json(history[number - 1])


@router.get("/v1/contracts/{key}/diff")
def diff_contract(
    request: Request,
    key: str,
    start: int | None = Query(None, alias="from", description="Default: the version before `to`."),
    end: int | None = Query(None, alias="to", description="Default: the latest version."),
    who: Principal = Depends(requires(Scope.READ)),
) -> dict[str, Any]:
    """What changed between two versions, at field paths (components by id)."""
    with read(engine_of(request)) as connection:
        history = registry.versions(connection, who.tenant_id, key)
    return version_diff_json(diff_versions(history, start, end))


@router.get("/v1/accounts/{external_id}/preview")
def preview(
    request: Request,
    external_id: str,
    at: str | None = Query(None, description="RFC 3339; default: now."),
    who: Principal = Depends(requires_account(Scope.READ)),
) -> dict[str, Any]:
    """Charges of the billing period holding `at` so far, and projected to its end (a `read`
    key, or the account's own customer key)."""
    moment = datetime.now(UTC) if at is None else parse_instant_field("at", at)
    with read(engine_of(request)) as connection:
        found = service.preview(connection, who.tenant_id, external_id, moment)
    return {
        "as_of": format_rfc3339(found.as_of),
        "factor": str(found.factor),
        "period_to_date": charges_json(found.charges),
        "projection": charges_json(found.projected),
    }


def _warnings_json(warnings: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """Names declared pending and still undefined: what their components will bill 0 for."""
    return {"warnings": [{"field": field, "reason": reason} for field, reason in warnings]}


def _settings(request: Request) -> Settings:
    config: Settings = request.app.state.settings
    return config
