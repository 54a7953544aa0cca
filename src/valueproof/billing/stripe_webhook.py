"""Stripe's webhooks: a verified `invoice.paid` or `invoice.marked_uncollectible` moves our
invoice to paid or uncollectible, with its leaf; each Stripe event applies once.

The tenant is the one the Stripe invoice's metadata names (`valueproof_tenant`, set by the
push), and the Stripe invoice must be one that tenant pushed. Events of other types, and of
invoices valueproof did not push, are acknowledged and ignored: Stripe retries any other answer
for days. The signature is checked before anything is read; a bad one changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Engine

from valueproof.billing import lifecycle, stripe_store
from valueproof.billing.errors import StripeNotConfigured, StripeSignatureInvalid
from valueproof.billing.invoice_store import PAID, UNCOLLECTIBLE, find_invoice
from valueproof.billing.stripe_handoff import TENANT_KEY
from valueproof.config import Settings
from valueproof.errors import InvalidInput, NotFound
from valueproof.ledger.log import PendingLeaves
from valueproof.ledger.publish import CheckpointPolicy, after_append
from valueproof.store import read, tenant_write
from valueproof.tenancy.clock import now_us
from valueproof.tenancy.tenants import get_tenant

__all__ = ["EVENT_STATUS", "IGNORED", "SIGNATURE_HEADER", "Received", "receive", "verified_event"]

SIGNATURE_HEADER = "Stripe-Signature"
EVENT_STATUS = {"invoice.paid": PAID, "invoice.marked_uncollectible": UNCOLLECTIBLE}
IGNORED = "ignored"


@dataclass(frozen=True, slots=True)
class Received:
    """What a Stripe event did: applied (with its leaf), unchanged (the invoice was in that
    state already), or ignored; `replay` when the event was handled before."""

    event_id: str
    type: str
    outcome: str
    invoice: str | None = None
    leaf_index: int | None = None
    replay: bool = False

    def json(self) -> dict[str, object]:
        return {
            "event": self.event_id,
            "type": self.type,
            "outcome": self.outcome,
            "invoice": self.invoice,
            "leaf_index": self.leaf_index,
            "replay": self.replay,
        }


def verified_event(config: Settings, payload: bytes, signature: str | None) -> dict[str, Any]:
    """The event Stripe signed, after checking `Stripe-Signature` against the endpoint's secret
    with the SDK (HMAC-SHA256 over the timestamp and the body, at most 5 minutes old)."""
    secret = config.stripe_webhook_secret
    if secret is None:
        raise StripeNotConfigured(
            "VALUEPROOF_STRIPE_WEBHOOK_SECRET",
            "is not set: Stripe webhooks cannot be verified, so none is accepted",
        )
    # Imported here: the SDK takes a second to import, which the API's start-up never pays.
    from stripe import SignatureVerificationError, Webhook

    try:
        Webhook.construct_event(payload, signature, secret.get_secret_value())
    except SignatureVerificationError as error:
        raise StripeSignatureInvalid(SIGNATURE_HEADER, str(error)) from None
    except ValueError:
        raise InvalidInput("body", "a signed Stripe event must be JSON") from None
    event = orjson.loads(payload)
    if not isinstance(event, dict) or not isinstance(event.get("id"), str):
        raise InvalidInput("body", "a Stripe event is a JSON object with an `id`")
    return event


def receive(
    engine: Engine,
    config: Settings,
    payload: bytes,
    signature: str | None,
    policy: CheckpointPolicy,
) -> Received:
    """Verify a Stripe webhook and apply it: one transaction records the invoice's new state
    (its leaf) and the event's id, so a replay of the event changes nothing."""
    event = verified_event(config, payload, signature)
    event_id, kind = event["id"], str(event.get("type"))
    status = EVENT_STATUS.get(kind)
    found = _mapping(_mapping(event.get("data")).get("object"))
    if status is None or found.get("object") != "invoice":
        return Received(event_id, kind, IGNORED)
    stripe_invoice_id = str(found.get("id"))
    slug = _mapping(found.get("metadata")).get(TENANT_KEY)
    if not isinstance(slug, str):
        return Received(event_id, kind, IGNORED)
    with read(engine) as connection:
        try:
            tenant_id = get_tenant(connection, slug).id
        except NotFound:
            return Received(event_id, kind, IGNORED)
        invoice_id = stripe_store.invoice_of_stripe(connection, tenant_id, stripe_invoice_id)
    if invoice_id is None:
        return Received(event_id, kind, IGNORED)
    with tenant_write(engine, tenant_id) as connection:
        now = now_us()
        invoice = find_invoice(connection, tenant_id, invoice_id)
        seen = stripe_store.event_seen(connection, event_id)
        if seen is not None:
            return Received(event_id, kind, seen, invoice.number, replay=True)
        leaf_index = None
        outcome = stripe_store.UNCHANGED
        if invoice.status != status:
            reason = f"Stripe {kind} ({event_id})"
            leaves = PendingLeaves(connection, tenant_id)
            leaf_index = lifecycle.mark(
                connection, tenant_id, invoice, status, reason, now, leaves, stripe_invoice_id
            )
            leaves.flush(now)
            outcome = stripe_store.APPLIED
        stripe_store.record_event(connection, tenant_id, event_id, kind, invoice.id, outcome, now)
        after_append(connection, tenant_id, policy, now)
    return Received(event_id, kind, outcome, invoice.number, leaf_index)


def _mapping(value: object) -> dict[str, Any]:
    """`value` if it is a JSON object, else an empty one: what an event lacks is not ours."""
    return value if isinstance(value, dict) else {}
