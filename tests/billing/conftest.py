"""Billing fixtures: a priced tenant with a signing key, a checkpoint policy, and a clock; a
fake Stripe and the settings that point at it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine

from tests.billing.fake_stripe import API_KEY as STRIPE_KEY
from tests.billing.fake_stripe import WEBHOOK_SECRET, FakeStripe, fake_stripe
from tests.conftest import LEDGER_PASSPHRASE
from tests.contracts.conftest import Priced, contract_document, priced_tenant
from valueproof.billing import writes
from valueproof.billing.invoice_store import StoredInvoice, find_invoice, invoices_of
from valueproof.billing.settings import BillingSettings
from valueproof.config import Settings
from valueproof.ledger.keyring import Keyring
from valueproof.ledger.publish import CheckpointPolicy
from valueproof.store import read
from valueproof.tenancy.tenants import Tenant


def utc(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


@dataclass(frozen=True)
class Billing:
    """A tenant to bill: price it, ingest, close, and read its invoices back."""

    priced: Priced
    policy: CheckpointPolicy

    @property
    def engine(self) -> Engine:
        return self.priced.engine

    @property
    def tenant_id(self) -> int:
        return self.priced.tenant.id

    def contract(self, **fields: Any) -> None:
        self.priced.apply(contract_document(**fields))

    def settings(self, **fields: Any) -> None:
        writes.set_settings(self.engine, self.tenant_id, BillingSettings(**fields))

    def close(self, as_of: datetime, account: str | None = None) -> writes.CloseReport:
        return writes.close(self.engine, self.tenant_id, as_of, self.policy, account)

    def invoices(self, status: str | None = None) -> list[StoredInvoice]:
        with read(self.engine) as connection:
            return invoices_of(connection, self.tenant_id, status=status)

    def invoice(self, key: str | int) -> StoredInvoice:
        with read(self.engine) as connection:
            return find_invoice(connection, self.tenant_id, key)


@pytest.fixture
def billing(engine: Engine, tenant: Tenant, keyring: Keyring, signing_key: object) -> Billing:
    return Billing(priced_tenant(engine, tenant), CheckpointPolicy(keyring))


@pytest.fixture
def stripe() -> Iterator[FakeStripe]:
    """The FAKE Stripe API on loopback (tests/billing/fake_stripe.py): Stripe itself cannot be
    reached from the tests."""
    with fake_stripe() as fake:
        yield fake


def stripe_settings(engine: Engine, fake: FakeStripe, **fields: Any) -> Settings:
    """Settings that hand invoices to the fake Stripe and accept its webhooks."""
    return Settings(
        database_url=engine.url.render_as_string(hide_password=False),
        ledger_passphrase=LEDGER_PASSPHRASE,
        stripe_api_key=STRIPE_KEY,
        stripe_webhook_secret=WEBHOOK_SECRET,
        stripe_api_base=fake.url,
        **fields,
    )
