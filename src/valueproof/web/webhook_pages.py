"""The webhooks page: the tenant's endpoints with their state (a disabled one says why), the
recent deliveries with their status, and, for admin keys, a replay button (a CSRF-checked form
like every other on the dashboard)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from valueproof.errors import Conflict, NotFound
from valueproof.periods import format_micros
from valueproof.store import read
from valueproof.tenancy.keys import Scope
from valueproof.web.pages import (
    _form_field,
    _page,
    _refused,
    _signed_in,
    _small_body,
    _to_login,
)
from valueproof.web.sessions import (
    CSRF_FIELD,
    SESSION_COOKIE,
    cross_site,
    engine_of,
    session_csrf_error,
)
from valueproof.webhooks import writes
from valueproof.webhooks.delivery_store import deliveries
from valueproof.webhooks.endpoint_store import endpoints

router = APIRouter(include_in_schema=False)

RECENT = 50


@router.get("/webhooks")
def webhooks_page(request: Request, replayed: str | None = None) -> Response:
    signed = _signed_in(request)
    if signed is None:
        return _to_login(request, clear=SESSION_COOKIE in request.cookies)
    who = signed.who
    with read(engine_of(request)) as connection:
        found = endpoints(connection, who.tenant_id)
        recent = deliveries(connection, who.tenant_id, limit=RECENT)
    return _page(
        "webhooks.html",
        who=who,
        csrf=signed.csrf,
        endpoints=found,
        deliveries=recent,
        admin=Scope.ADMIN in who.scopes,
        replayed=replayed,
        moment=format_micros,
    )


@router.post("/webhooks/replay")
async def replay(request: Request) -> Response:
    refused = cross_site(request)
    if refused is not None:
        return _refused(refused)
    signed = _signed_in(request)
    if signed is None:
        return _to_login(request, clear=SESSION_COOKIE in request.cookies)
    body = await _small_body(request)
    session = request.cookies.get(SESSION_COOKIE, "")
    refused = session_csrf_error(session, _form_field(body, CSRF_FIELD))
    if refused is not None:
        return _refused(refused)
    if Scope.ADMIN not in signed.who.scopes:
        return _refused("Replaying a message needs an admin key.")
    message_id = _form_field(body, "message")
    endpoint_id = _form_field(body, "endpoint") or None
    try:
        await run_in_threadpool(
            writes.replay_message, engine_of(request), signed.who.tenant_id, message_id, endpoint_id
        )
    except (NotFound, Conflict) as error:
        return _page(
            "message.html",
            error.status,
            who=signed.who,
            csrf=signed.csrf,
            heading="Not replayed",
            message=error.detail,
        )
    return RedirectResponse(f"/webhooks?replayed={message_id}", status_code=303)
