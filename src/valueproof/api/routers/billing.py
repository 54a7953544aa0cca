"""`/v1/billing` and `/v1/invoices`: closing periods, invoices and their lifecycle, credit notes,
billing settings and profiles. Customer keys read their own account's invoices only."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import HTMLResponse

from valueproof.api.auth import engine_of, requires, requires_account, requires_or_customer
from valueproof.api.bodies import json_object, read_body
from valueproof.api.openapi import json_body
from valueproof.billing import writes
from valueproof.billing.bundles import finalized_bundle
from valueproof.billing.errors import InvoiceNotFound
from valueproof.billing.invoice_store import (
    DRAFT,
    STATES,
    StoredCreditNote,
    StoredInvoice,
    credit_notes_of,
    find_credit_note,
    find_invoice,
    invoice_json,
    invoice_summary,
    invoices_of,
    load_profile,
    load_settings,
)
from valueproof.billing.printing import credit_note_page, file_name, invoice_page
from valueproof.billing.requests import CreditBody, MarkBody, VoidBody, parse
from valueproof.billing.settings import BillingProfile, BillingSettings
from valueproof.config import Settings
from valueproof.errors import InvalidInput
from valueproof.ledger.publish import CheckpointPolicy
from valueproof.periods import parse_instant_field
from valueproof.store import read
from valueproof.tenancy.accounts import account_id as account_id_of
from valueproof.tenancy.keys import Principal, Scope

router = APIRouter(tags=["billing"])

_OBJECT = {"type": "object"}


def _settings(request: Request) -> Settings:
    config: Settings = request.app.state.settings
    return config


def _policy(request: Request) -> CheckpointPolicy:
    return CheckpointPolicy.from_settings(request.app.state.keyring, _settings(request))


async def _body(request: Request, empty_ok: bool = False) -> dict[str, Any]:
    return json_object(await read_body(request, _settings(request).max_request_bytes), empty_ok)


def _instant(name: str, text: str | None) -> datetime:
    return datetime.now(UTC) if text is None else parse_instant_field(name, text)


@router.post("/v1/billing/close", openapi_extra=json_body(_OBJECT))
async def close(
    request: Request, who: Principal = Depends(requires(Scope.ADMIN))
) -> dict[str, Any]:
    """Close every period due at `as_of` (default now: periods whose end plus grace has
    passed), of one `account` when given. Idempotent: a second run closes nothing twice."""
    body = await _body(request, empty_ok=True)
    as_of = _instant("as_of", _text(body, "as_of"))
    account = _text(body, "account")
    report = writes.close(engine_of(request), who.tenant_id, as_of, _policy(request), account)
    return report.json()


@router.post(
    "/v1/billing/periods/close",
    openapi_extra=json_body(_OBJECT),
    responses={409: {"description": "The period already has its invoice."}},
)
async def close_period(
    request: Request, who: Principal = Depends(requires(Scope.ADMIN))
) -> dict[str, Any]:
    """Close the period of `account` that holds `at` now, without waiting for its grace."""
    body = await _body(request)
    account = _text(body, "account")
    if account is None:
        raise InvalidInput("account", "is missing")
    at = _instant("at", _text(body, "at"))
    report = writes.close_period(engine_of(request), who.tenant_id, account, at, _policy(request))
    return report.json()


def _text(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise InvalidInput(name, "must be a string")
    return value


@router.get("/v1/billing/settings")
def get_settings(request: Request, who: Principal = Depends(requires(Scope.READ))) -> Any:
    """The tenant's billing settings (defaults where unset)."""
    with read(engine_of(request)) as connection:
        return load_settings(connection, who.tenant_id).model_dump(mode="json")


@router.put("/v1/billing/settings", openapi_extra=json_body(_OBJECT))
async def put_settings(request: Request, who: Principal = Depends(requires(Scope.ADMIN))) -> Any:
    """Replace the tenant's billing settings; every invalid field is named."""
    settings = parse(BillingSettings, await _body(request))
    writes.set_settings(engine_of(request), who.tenant_id, settings)
    return settings.model_dump(mode="json")


@router.get("/v1/accounts/{external_id}/billing-profile")
def get_profile(
    request: Request, external_id: str, who: Principal = Depends(requires_account(Scope.READ))
) -> Any:
    """The account's billing details and taxes."""
    with read(engine_of(request)) as connection:
        owner = account_id_of(connection, who.tenant_id, external_id)
        return load_profile(connection, who.tenant_id, owner).model_dump(mode="json")


@router.put("/v1/accounts/{external_id}/billing-profile", openapi_extra=json_body(_OBJECT))
async def put_profile(
    request: Request, external_id: str, who: Principal = Depends(requires(Scope.ADMIN))
) -> Any:
    """Replace the account's billing details and taxes; later invoices use them."""
    profile = parse(BillingProfile, await _body(request))
    writes.set_profile(engine_of(request), who.tenant_id, external_id, profile)
    return profile.model_dump(mode="json")


@router.get("/v1/invoices")
def list_invoices(
    request: Request,
    status: str | None = Query(None, description="draft, finalized, paid, void or uncollectible"),
    account: str | None = Query(None, description="One account's external id."),
    limit: int = Query(100, ge=1, le=1000),
    who: Principal = Depends(requires_or_customer(Scope.READ)),
) -> dict[str, Any]:
    """Invoices, newest period first. A customer key sees its own account's only."""
    if status is not None and status not in STATES:
        raise InvalidInput("status", f"must be one of {', '.join(STATES)}")
    if who.is_customer:
        account = who.account_external_id
    with read(engine_of(request)) as connection:
        owner = None if account is None else account_id_of(connection, who.tenant_id, account)
        found = invoices_of(connection, who.tenant_id, status=status, account_id=owner, limit=limit)
    if who.is_customer:
        found = [invoice for invoice in found if invoice.status != DRAFT]
    return {"invoices": [invoice_summary(invoice) for invoice in found]}


def visible_invoice(request: Request, who: Principal, key: str) -> StoredInvoice:
    """The invoice `key` (number or id) if the caller may see it; 404 like a missing one."""
    with read(engine_of(request)) as connection:
        invoice = find_invoice(connection, who.tenant_id, key)
    if who.is_customer:
        who.require_account(invoice.account, Scope.READ)
        if invoice.status == DRAFT:  # not issued: the customer has not seen it
            raise InvoiceNotFound(f"no invoice {key!r}")
    return invoice


@router.get("/v1/invoices/{key}")
def get_invoice(
    request: Request, key: str, who: Principal = Depends(requires_or_customer(Scope.READ))
) -> dict[str, Any]:
    """One invoice by number (or id): its state, its document and its credit notes."""
    invoice = visible_invoice(request, who, key)
    with read(engine_of(request)) as connection:
        notes = credit_notes_of(connection, who.tenant_id, invoice.id)
    return {**invoice_json(invoice), "credit_notes": [_note(note) for note in notes]}


_PDF: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/pdf": {}}, "description": "The PDF."}
}


@router.get("/v1/invoices/{key}/pdf", response_class=Response, responses=_PDF)
def invoice_pdf(
    request: Request, key: str, who: Principal = Depends(requires_or_customer(Scope.READ))
) -> Response:
    """The invoice as the customer reads it: PDF, with the verification block (drafts marked)."""
    invoice = visible_invoice(request, who, key)
    with read(engine_of(request)) as connection:
        content = invoice_page(connection, who.tenant_id, invoice, as_pdf=True)
    name = file_name(invoice, ".pdf")
    return Response(content, media_type="application/pdf", headers=_disposition(name))


@router.get("/v1/invoices/{key}/html", response_class=HTMLResponse)
def invoice_html(
    request: Request, key: str, who: Principal = Depends(requires_or_customer(Scope.READ))
) -> HTMLResponse:
    """The invoice as a self-contained HTML page (what the PDF prints)."""
    invoice = visible_invoice(request, who, key)
    with read(engine_of(request)) as connection:
        return HTMLResponse(invoice_page(connection, who.tenant_id, invoice, as_pdf=False))


@router.get(
    "/v1/invoices/{key}/bundle",
    responses={409: {"description": "The invoice is not finalized, or no checkpoint covers it."}},
)
def invoice_bundle_json(
    request: Request, key: str, who: Principal = Depends(requires_or_customer(Scope.READ))
) -> Response:
    """The invoice's proof bundle: its leaf and its contract version's, that account's records
    behind each line with their inclusion proofs, the signed checkpoint, and the stated inputs.
    `valueproof verify invoice BUNDLE --vkey VKEY` re-computes the invoice from it."""
    invoice = visible_invoice(request, who, key)
    with read(engine_of(request)) as connection:
        bundle = finalized_bundle(connection, who.tenant_id, invoice)
    name = file_name(invoice, ".bundle.json")
    return Response(orjson.dumps(bundle), media_type="application/json", headers=_disposition(name))


def _disposition(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}"'}


@router.post(
    "/v1/invoices/{key}/finalize",
    responses={409: {"description": "The invoice is not a draft."}},
)
def finalize(request: Request, key: str, who: Principal = Depends(requires(Scope.ADMIN))) -> Any:
    """Approve a held draft: re-rated as the ledger stands, numbered, put on the ledger."""
    return invoice_json(writes.finalize(engine_of(request), who.tenant_id, key, _policy(request)))


@router.post(
    "/v1/invoices/{key}/void",
    openapi_extra=json_body(VoidBody.model_json_schema()),
    responses={409: {"description": "The invoice cannot be voided in its state."}},
)
async def void(
    request: Request, key: str, who: Principal = Depends(requires(Scope.ADMIN))
) -> dict[str, Any]:
    """Void a finalized invoice with a reason; by default its period is invoiced again under a
    new number that names the voided one."""
    body = parse(VoidBody, await _body(request))
    voided, replacement = writes.void(
        engine_of(request), who.tenant_id, key, body.reason, _policy(request), body.regenerate
    )
    return {
        "voided": invoice_json(voided),
        "replacement": None if replacement is None else invoice_json(replacement),
    }


@router.post(
    "/v1/invoices/{key}/mark",
    openapi_extra=json_body(MarkBody.model_json_schema()),
    responses={409: {"description": "The invoice cannot take this state."}},
)
async def mark(
    request: Request, key: str, who: Principal = Depends(requires(Scope.ADMIN))
) -> dict[str, Any]:
    """Record that a finalized invoice was paid or is uncollectible (a leaf)."""
    body = parse(MarkBody, await _body(request))
    done = writes.mark(
        engine_of(request),
        who.tenant_id,
        key,
        body.status,
        body.reason,
        _policy(request),
        body.reference,
    )
    return invoice_json(done)


@router.post(
    "/v1/invoices/{key}/credit-notes",
    status_code=201,
    openapi_extra=json_body(CreditBody.model_json_schema()),
    responses={409: {"description": "The invoice is not finalized."}},
)
async def credit(
    request: Request, key: str, who: Principal = Depends(requires(Scope.ADMIN))
) -> dict[str, Any]:
    """Issue a credit note against a finalized invoice: whole (no lines) or line by line, never
    more than what is left of a line; refunded or credited to the account's balance."""
    body = parse(CreditBody, await _body(request))
    note = writes.credit(engine_of(request), who.tenant_id, key, body.request(), _policy(request))
    return _note(note)


def _note(note: StoredCreditNote) -> dict[str, Any]:
    return {
        "number": note.number,
        "invoice": note.document["invoice"],
        "disposition": note.disposition,
        "currency": note.currency,
        "total": str(note.total),
        "leaf_index": note.leaf_index,
        "document": note.document,
    }


@router.get("/v1/credit-notes/{number}/pdf", response_class=Response, responses=_PDF)
def credit_note_pdf(
    request: Request, number: str, who: Principal = Depends(requires_or_customer(Scope.READ))
) -> Response:
    """The credit note's PDF."""
    with read(engine_of(request)) as connection:
        note = find_credit_note(connection, who.tenant_id, number)
        if who.is_customer:
            who.require_account(note.document["account"], Scope.READ)
        content = credit_note_page(connection, who.tenant_id, note, as_pdf=True)
    name = file_name(note, ".pdf")
    return Response(content, media_type="application/pdf", headers=_disposition(name))


@router.get("/v1/credit-notes/{number}")
def get_credit_note(
    request: Request, number: str, who: Principal = Depends(requires_or_customer(Scope.READ))
) -> dict[str, Any]:
    """One credit note by number."""
    with read(engine_of(request)) as connection:
        note = find_credit_note(connection, who.tenant_id, number)
    if who.is_customer:
        who.require_account(note.document["account"], Scope.READ)
    return _note(note)
