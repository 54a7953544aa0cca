"""Stripe's webhooks over real HTTP: a signed `invoice.paid` or `invoice.marked_uncollectible`
moves the pushed invoice with a leaf, once; a bad signature is a 400 that changes nothing."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass

import httpx
import pytest

from tests.billing.conftest import Billing, stripe_settings, utc
from tests.billing.fake_stripe import FakeStripe, sign
from tests.contracts.conftest import call
from valueproof.billing import writes
from valueproof.billing.invoice_store import StoredInvoice
from valueproof.billing.stripe_handoff import push_pending
from valueproof.ledger import log
from valueproof.ledger.leaves import parse_leaf
from valueproof.server import create_app
from valueproof.store import read

PATH = "/v1/integrations/stripe/webhook"


@dataclass(frozen=True)
class Pushed:
    """November's invoice, pushed to the fake Stripe, and a server that takes Stripe's webhooks."""

    billing: Billing
    stripe: FakeStripe
    url: str
    stripe_invoice_id: str

    def invoice(self) -> StoredInvoice:
        return self.billing.invoices()[0]

    def log_size(self) -> int:
        with read(self.billing.engine) as connection:
            return log.log_size(connection, self.billing.tenant_id)

    def post(self, body: bytes, signature: str | None) -> httpx.Response:
        headers = {"Content-Type": "application/json"}
        if signature is not None:
            headers["Stripe-Signature"] = signature
        return httpx.post(self.url + PATH, content=body, headers=headers, timeout=30)


@pytest.fixture
def pushed(
    billing: Billing, stripe: FakeStripe, serve: Callable[..., AbstractContextManager[str]]
) -> Iterator[Pushed]:
    billing.contract(term={"start": "2026-11-01", "end": "2027-01-01"})
    billing.priced.ingest([call(n) for n in range(3)])
    billing.close(utc(2026, 12, 5))
    settings = stripe_settings(billing.engine, stripe)
    [result] = push_pending(billing.engine, billing.tenant_id, settings)
    assert result.stripe_invoice_id is not None
    with serve(create_app(billing.engine, settings)) as url:
        yield Pushed(billing, stripe, url, result.stripe_invoice_id)


def test_a_signed_invoice_paid_marks_the_invoice_paid_with_a_leaf_once(pushed: Pushed) -> None:
    body, signature = pushed.stripe.event("invoice.paid", pushed.stripe_invoice_id, "paid")
    answer = pushed.post(body, signature)
    assert answer.status_code == 200, answer.text
    applied = answer.json()
    invoice = pushed.invoice()
    assert applied["outcome"] == "applied" and applied["invoice"] == invoice.number
    assert invoice.status == "paid"
    with read(pushed.billing.engine) as connection:
        leaf = parse_leaf(log.entry(connection, pushed.billing.tenant_id, applied["leaf_index"]))
    assert leaf.record_type == "invoice_status"
    assert leaf.record["invoice"] == invoice.number and leaf.record["status"] == "paid"
    assert leaf.record["reference"] == pushed.stripe_invoice_id
    assert applied["event"] in leaf.record["reason"]
    size = pushed.log_size()
    again = pushed.post(body, sign(body))  # Stripe's retry: the same event, signed anew
    assert again.status_code == 200
    assert again.json()["replay"] is True and again.json()["outcome"] == "applied"
    assert pushed.log_size() == size


def test_a_bad_signature_is_refused_and_changes_nothing(pushed: Pushed) -> None:
    body, _ = pushed.stripe.event("invoice.paid", pushed.stripe_invoice_id, "paid")
    size = pushed.log_size()
    for signature in (sign(body, secret="whsec_someone_else"), "t=1,v1=00", None):
        answer = pushed.post(body, signature)
        assert answer.status_code == 400, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["errors"][0]["field"] == "Stripe-Signature"
    tampered = body.replace(b'"invoice.paid"', b'"invoice.paid" ')
    assert pushed.post(tampered, sign(body)).status_code == 400
    assert pushed.invoice().status == "finalized"
    assert pushed.log_size() == size


def test_marked_uncollectible_then_paid_each_move_the_invoice(pushed: Pushed) -> None:
    body, signature = pushed.stripe.event(
        "invoice.marked_uncollectible", pushed.stripe_invoice_id, "uncollectible"
    )
    answer = pushed.post(body, signature)
    assert answer.status_code == 200 and answer.json()["outcome"] == "applied"
    assert pushed.invoice().status == "uncollectible"
    body, signature = pushed.stripe.event("invoice.paid", pushed.stripe_invoice_id, "paid")
    assert pushed.post(body, signature).json()["outcome"] == "applied"
    assert pushed.invoice().status == "paid"
    with read(pushed.billing.engine) as connection:
        size = log.log_size(connection, pushed.billing.tenant_id)
        statuses = [
            parse_leaf(log.entry(connection, pushed.billing.tenant_id, i)).record.get("status")
            for i in range(size - 2, size)
        ]
    assert statuses == ["uncollectible", "paid"]


def test_events_of_other_types_and_other_invoices_are_acknowledged_and_ignored(
    pushed: Pushed,
) -> None:
    body, signature = pushed.stripe.event("invoice.finalized", pushed.stripe_invoice_id)
    assert pushed.post(body, signature).json()["outcome"] == "ignored"
    stranger = body.replace(pushed.stripe_invoice_id.encode(), b"in_not_ours").replace(
        b'"invoice.finalized"', b'"invoice.paid"'
    )
    answer = pushed.post(stranger, sign(stranger))
    assert answer.status_code == 200 and answer.json()["outcome"] == "ignored"
    odd = b'{"id": "evt_odd", "type": "invoice.paid", "data": []}'
    answer = pushed.post(odd, sign(odd))
    assert answer.status_code == 200 and answer.json()["outcome"] == "ignored"
    assert pushed.invoice().status == "finalized"


def test_a_second_event_for_a_paid_invoice_changes_nothing(pushed: Pushed) -> None:
    first, signature = pushed.stripe.event("invoice.paid", pushed.stripe_invoice_id, "paid")
    assert pushed.post(first, signature).json()["outcome"] == "applied"
    size = pushed.log_size()
    second, signature = pushed.stripe.event("invoice.paid", pushed.stripe_invoice_id)
    answer = pushed.post(second, signature)
    assert answer.status_code == 200 and answer.json()["outcome"] == "unchanged"
    assert pushed.log_size() == size


def test_payment_of_a_voided_invoice_is_a_conflict_that_changes_nothing(pushed: Pushed) -> None:
    number = pushed.invoice().number or ""
    billing = pushed.billing
    writes.void(billing.engine, billing.tenant_id, number, "wrong address", billing.policy, False)
    size = pushed.log_size()
    body, signature = pushed.stripe.event("invoice.paid", pushed.stripe_invoice_id, "paid")
    answer = pushed.post(body, signature)
    assert answer.status_code == 409
    assert number in answer.json()["detail"]
    assert billing.invoice(number).status == "void"
    assert pushed.log_size() == size


def test_without_a_webhook_secret_every_event_is_refused(pushed: Pushed, server: str) -> None:
    body, signature = pushed.stripe.event("invoice.paid", pushed.stripe_invoice_id, "paid")
    answer = httpx.post(server + PATH, content=body, headers={"Stripe-Signature": signature})
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == "VALUEPROOF_STRIPE_WEBHOOK_SECRET"
    assert pushed.invoice().status == "finalized"
