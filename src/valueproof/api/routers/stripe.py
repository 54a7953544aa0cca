"""Stripe's webhooks: `POST /v1/integrations/stripe/webhook`, authenticated by its signature.

No API key: Stripe holds none. `Stripe-Signature` (checked with the endpoint's secret,
`VALUEPROOF_STRIPE_WEBHOOK_SECRET`) is the authentication, and the Stripe invoice's metadata
names the tenant (`billing.stripe_webhook`). A bad signature is a 400 naming the header, with
nothing changed.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from fastapi.concurrency import run_in_threadpool

from valueproof.api.auth import engine_of
from valueproof.api.bodies import read_body
from valueproof.api.openapi import json_body
from valueproof.billing.stripe_webhook import receive
from valueproof.config import Settings
from valueproof.ledger.publish import CheckpointPolicy

router = APIRouter(tags=["integrations"])

WEBHOOK_PATH = "/v1/integrations/stripe/webhook"


@router.post(
    WEBHOOK_PATH,
    openapi_extra=json_body({"type": "object", "description": "A Stripe event as Stripe sent it."}),
    responses={
        400: {"description": "`Stripe-Signature` is missing or does not verify."},
        409: {"description": "The invoice's state does not allow the change (a voided one)."},
    },
)
async def stripe_webhook(
    request: Request,
    stripe_signature: Annotated[
        str | None,
        Header(
            alias="Stripe-Signature",
            description="Stripe's signature of the body: `t=<unix time>,v1=<HMAC-SHA256>`.",
        ),
    ] = None,
) -> dict[str, Any]:
    """A Stripe event: `invoice.paid` and `invoice.marked_uncollectible` of a pushed invoice
    change its state, with a leaf; a replayed event changes nothing; other events are ignored."""
    config: Settings = request.app.state.settings
    payload = await read_body(request, config.max_request_bytes)
    policy = CheckpointPolicy.from_settings(request.app.state.keyring, config)
    received = await run_in_threadpool(
        receive, engine_of(request), config, payload, stripe_signature, policy
    )
    return received.json()
