"""Pushing finalized invoices to Stripe (the fake on loopback): one item per line in minor units,
finalized there, idempotent, resumable after a refusal or a lost reply."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from decimal import Decimal

import pytest

from tests.billing.conftest import Billing, stripe_settings, utc
from tests.billing.fake_stripe import FakeStripe
from tests.conftest import LEDGER_PASSPHRASE, database_url
from tests.contracts.conftest import call, priced_tenant
from valueproof.billing import writes
from valueproof.billing.credit_notes import CreditRequest
from valueproof.billing.errors import StripeNotConfigured
from valueproof.billing.records import invoice_leaf
from valueproof.billing.settings import BillingProfile
from valueproof.billing.stripe_handoff import push_pending, stripe_client
from valueproof.config import Settings
from valueproof.ledger.keyring import generate_key
from valueproof.ledger.merkle import leaf_hash
from valueproof.ledger.publish import log_origin
from valueproof.server import create_app
from valueproof.store import connect_engine, upgrade, write
from valueproof.tenancy.tenants import create_tenant

NOVEMBER = {"term": {"start": "2026-11-01", "end": "2027-01-01"}}


def november(billing: Billing, calls: int = 10) -> None:
    """One finalized invoice: November's, 100.00 platform fee and `calls` calls at 0.002."""
    billing.contract(**NOVEMBER)
    billing.priced.ingest([call(n) for n in range(calls)])
    billing.close(utc(2026, 12, 5))


def test_each_line_is_an_item_in_minor_units_and_the_invoice_is_finalized(
    billing: Billing, stripe: FakeStripe
) -> None:
    writes.set_profile(
        billing.engine,
        billing.tenant_id,
        "acme",
        BillingProfile(name="Acme Corp", email="ap@acme.test", tax_rates={"VAT": Decimal("0.19")}),
    )
    november(billing)
    invoice = billing.invoices()[0]
    [result] = push_pending(
        billing.engine, billing.tenant_id, stripe_settings(billing.engine, stripe)
    )
    assert result.error is None and result.number == invoice.number and not result.resumed
    pushed = stripe.invoices[result.stripe_invoice_id or ""]
    items = stripe.invoice_items(pushed["id"])
    # 100.00 + 0.02, and VAT 19% of 100.02 = 19.0038, rounded once to 19.00
    assert [item["amount"] for item in items] == [10000, 2, 1900]
    assert sum(item["amount"] for item in items) == invoice.total * 100 == 11902
    assert "10 x 0.002 USD" in items[1]["description"]
    assert items[2]["description"] == "VAT 19% on 100.02 USD"
    assert pushed["status"] == "open" and pushed["auto_advance"] is True
    assert pushed["currency"] == "usd" and pushed["collection_method"] == "charge_automatically"
    stem = leaf_hash(invoice_leaf(invoice.document)).hex()
    assert pushed["metadata"] == {
        "valueproof_tenant": billing.priced.tenant.slug,
        "valueproof_invoice": invoice.number,
        "valueproof_leaf_index": str(invoice.leaf_index),
        "valueproof_leaf_hash": stem,
    }
    keys = [r.idempotency_key for r in stripe.requests if r.method == "POST"]
    assert keys[1:] == [
        f"{stem}-invoice",
        f"{stem}-item-0",
        f"{stem}-item-1",
        f"{stem}-item-2",
        f"{stem}-finalize",
    ]
    [customer] = stripe.customers.values()
    assert customer["id"] == pushed["customer"]
    assert customer["name"] == "Acme Corp" and customer["email"] == "ap@acme.test"
    assert customer["metadata"]["valueproof_account"] == "acme"


def test_a_second_push_creates_nothing_and_the_customer_is_created_once(
    billing: Billing, stripe: FakeStripe
) -> None:
    billing.contract(term={"start": "2026-10-01", "end": "2027-01-01"})
    billing.close(utc(2026, 11, 5))  # October
    settings = stripe_settings(billing.engine, stripe)
    assert len(push_pending(billing.engine, billing.tenant_id, settings)) == 1
    asked = len(stripe.requests)
    assert push_pending(billing.engine, billing.tenant_id, settings) == []
    assert len(stripe.requests) == asked  # nothing was even asked
    billing.close(utc(2026, 12, 5))  # November: same account, same Stripe customer
    [later] = push_pending(billing.engine, billing.tenant_id, settings)
    assert later.error is None
    assert len(stripe.posts("/v1/customers")) == 1
    assert len(stripe.posts("/v1/invoices")) == 4  # two invoices, each created and finalized
    assert {i["customer"] for i in stripe.invoices.values()} == set(stripe.customers)


def test_a_negative_line_is_a_negative_item(billing: Billing, stripe: FakeStripe) -> None:
    billing.contract(term={"start": "2026-10-01", "end": "2027-01-01"})
    billing.close(utc(2026, 11, 5))
    october = billing.invoices()[0]
    request = CreditRequest(reason="goodwill", disposition="balance")
    writes.credit(billing.engine, billing.tenant_id, october.number or "", request, billing.policy)
    billing.close(utc(2026, 12, 5))  # November draws the 100.00 credited to the balance
    results = push_pending(
        billing.engine, billing.tenant_id, stripe_settings(billing.engine, stripe)
    )
    assert [r.error for r in results] == [None, None]
    november_items = stripe.invoice_items(results[1].stripe_invoice_id or "")
    assert [item["amount"] for item in november_items] == [10000, 0, -10000]
    assert november_items[2]["description"].startswith("Credit balance applied: 1 x -100.00")
    assert stripe.invoices[results[1].stripe_invoice_id or ""]["status"] == "paid"  # total 0


def test_a_push_refused_half_way_resumes_where_it_stopped(
    billing: Billing, stripe: FakeStripe
) -> None:
    november(billing)
    settings = stripe_settings(billing.engine, stripe)
    stripe.refuse(r"^/v1/invoiceitems$", skip=1)  # the second item
    [failed] = push_pending(billing.engine, billing.tenant_id, settings)
    assert failed.error is not None
    assert failed.error.startswith(f"invoice {failed.number}: adding item 1: refused by the fake")
    [draft] = stripe.invoices.values()
    assert draft["status"] == "draft" and len(stripe.invoice_items(draft["id"])) == 1
    [resumed] = push_pending(billing.engine, billing.tenant_id, settings)
    assert resumed.error is None and resumed.resumed
    assert resumed.stripe_invoice_id == draft["id"]
    assert [i["amount"] for i in stripe.invoice_items(draft["id"])] == [10000, 2]
    assert draft["status"] == "open"
    assert len(stripe.posts("/v1/customers")) == 1


def test_a_lost_reply_is_retried_with_its_key_and_creates_nothing_twice(
    billing: Billing, stripe: FakeStripe
) -> None:
    november(billing)
    stripe.lose_reply(r"^/v1/invoiceitems$")
    [result] = push_pending(
        billing.engine, billing.tenant_id, stripe_settings(billing.engine, stripe)
    )
    assert result.error is None
    assert [i["amount"] for i in stripe.invoice_items(result.stripe_invoice_id or "")] == [10000, 2]
    replays = [r for r in stripe.requests if r.replayed]
    assert len(replays) == 1 and str(replays[0].idempotency_key).endswith("-item-0")


def test_stripe_tax_is_asked_for_and_an_invoice_with_its_own_taxes_is_refused(
    billing: Billing, stripe: FakeStripe
) -> None:
    billing.contract(term={"start": "2026-10-01", "end": "2027-01-01"})
    billing.close(utc(2026, 11, 5))  # October: no tax of ours
    writes.set_profile(
        billing.engine, billing.tenant_id, "acme", BillingProfile(tax_rates={"VAT": Decimal("0.2")})
    )
    billing.close(utc(2026, 12, 5))  # November: VAT of ours
    settings = stripe_settings(billing.engine, stripe, stripe_automatic_tax=True)
    october, november_ = push_pending(billing.engine, billing.tenant_id, settings)
    assert october.error is None
    assert stripe.invoices[october.stripe_invoice_id or ""]["automatic_tax"] == {"enabled": True}
    assert november_.stripe_invoice_id is None and november_.error is not None
    assert november_.error.startswith("tax_rates: invoice ")
    assert "VALUEPROOF_STRIPE_AUTOMATIC_TAX" in november_.error
    assert len(stripe.invoices) == 1  # nothing of November's reached Stripe


def test_send_invoice_is_due_after_the_tenants_payment_terms(
    billing: Billing, stripe: FakeStripe
) -> None:
    billing.settings(payment_terms_days=14)
    november(billing)
    settings = stripe_settings(billing.engine, stripe, stripe_collection_method="send_invoice")
    [result] = push_pending(billing.engine, billing.tenant_id, settings)
    pushed = stripe.invoices[result.stripe_invoice_id or ""]
    assert pushed["collection_method"] == "send_invoice" and pushed["days_until_due"] == 14


def test_only_finalized_invoices_are_pushed(billing: Billing, stripe: FakeStripe) -> None:
    billing.settings(auto_finalize=False)
    november(billing)
    settings = stripe_settings(billing.engine, stripe)
    assert push_pending(billing.engine, billing.tenant_id, settings) == []
    assert stripe.requests == []


def test_without_a_key_the_setting_is_named() -> None:
    with pytest.raises(StripeNotConfigured) as raised:
        stripe_client(Settings(stripe_api_key=None))
    assert raised.value.field == "VALUEPROOF_STRIPE_API_KEY"


def test_serve_pushes_on_its_beat_when_asked(
    billing: Billing,
    stripe: FakeStripe,
    serve: Callable[..., AbstractContextManager[str]],
    request: pytest.FixtureRequest,
) -> None:
    # A database of its own: the beat pushes every tenant's invoices, and those of the shared
    # database's other tests would keep it talking to this fake after the test ends.
    backend = billing.engine.dialect.name
    engine = connect_engine(database_url(backend, request, "stripe_beat"))
    upgrade(engine)
    with write(engine) as connection:
        tenant = create_tenant(connection, "beat")
        generate_key(
            connection, tenant.id, log_origin("test.localhost", "beat"), LEDGER_PASSPHRASE, 1
        )
    alone = Billing(priced_tenant(engine, tenant), billing.policy)
    november(alone)
    settings = stripe_settings(engine, stripe, stripe_push_seconds=1)
    with serve(create_app(engine, settings), lifespan="on"):
        deadline = time.monotonic() + 60  # a bound on waiting, not a speed being tested
        while time.monotonic() < deadline and not stripe.posts("/v1/invoices/"):
            time.sleep(0.05)
    number = alone.invoices()[0].number
    engine.dispose()
    [pushed] = stripe.invoices.values()
    assert pushed["status"] == "open"
    assert pushed["metadata"]["valueproof_invoice"] == number
