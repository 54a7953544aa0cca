"""Billing fixtures: a priced tenant to close and bill, invoice documents from real rating, the
vendor's details, a verification block, PDFs read back as text, and a fake Stripe with the
settings that point at it."""

from __future__ import annotations

import base64
import itertools
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from tests.billing.fake_stripe import API_KEY as STRIPE_KEY
from tests.billing.fake_stripe import WEBHOOK_SECRET, FakeStripe, fake_stripe
from tests.conftest import LEDGER_PASSPHRASE
from tests.contracts.conftest import Priced, call, contract_document, priced_tenant
from valueproof.billing import writes
from valueproof.billing.corrections import Correction
from valueproof.billing.invoice import Customer, invoice_document
from valueproof.billing.invoice_store import StoredInvoice, find_invoice, invoices_of
from valueproof.billing.settings import BillingSettings
from valueproof.billing.taxes import TaxProfile, TaxRate
from valueproof.config import Settings
from valueproof.contracts.rating import Charges
from valueproof.contracts.service import rate_period
from valueproof.ledger.keyring import Keyring
from valueproof.ledger.publish import CheckpointPolicy
from valueproof.store import read, write
from valueproof.tenancy.tenants import Tenant, create_tenant

# Numbers carry the year they are finalized in (the wall clock's): `INV-{year}-` by default.
YEAR = datetime.now(UTC).year


def inv(number: int) -> str:
    """The default number of the tenant's `number`th invoice finalized this year."""
    return f"INV-{YEAR}-{number:06d}"


def cn(number: int) -> str:
    """The default number of the tenant's `number`th credit note."""
    return f"CN-{YEAR}-{number:06d}"


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


_tenants = itertools.count()
NOW = datetime(2026, 12, 4, tzinfo=UTC)  # November closed, its grace window passed
NOVEMBER = datetime(2026, 11, 15, tzinfo=UTC)
# A small mark drawn in SVG: shapes only, so no text of it reaches pdftotext.
_MARK = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="120" height="32" viewBox="0 0 120 32">'
    '<rect width="32" height="32" rx="6" fill="#1b4f9c"/>'
    '<path d="M7 24V9l9 9 9-9v15" stroke="#fff" stroke-width="3" fill="none"/>'
    '<rect x="40" y="10" width="70" height="12" rx="3" fill="#8fb3e8"/></svg>'
)
LOGO = "data:image/svg+xml;base64," + base64.b64encode(_MARK.encode()).decode()
VENDOR = {
    "name": "Meterly Inc.",
    "address": "1 Market Street\nSan Francisco, CA 94105\nUnited States",
    "email": "billing@meterly.example",
    "logo": LOGO,
}
VERIFICATION = {
    "leaf_index": 4711,
    "checkpoint_size": 5000,
    "root_hash": "q6ZQb1Q8uVqgXx0s0y3sQ6Zb2GQ3yJ1L6v0b1X9Zc3E=",
    "origin": "billing.meterly.example/acme",
    "key_name": "billing.meterly.example/acme",
    "key_fingerprint": "3f2a9c0d5e7b41a8c6d2e9f0a1b3c5d7e9f1a3b5c7d9e1f3a5b7c9d1e3f5a7b9",
    "verify": "valueproof verify invoice <bundle.json> --vkey <vkey>",
}


def typical_contract(account: str = "acme") -> dict[str, Any]:
    """A contract with a flat fee, graduated and volume tiers, a per-unit price, a discount and
    a commitment: the lines an invoice commonly holds."""
    return contract_document(
        account=account,
        components=[
            {"id": "platform", "type": "flat", "amount": "100.00", "description": "Platform fee"},
            {
                "id": "api",
                "type": "graduated",
                "meter": "calls",
                "description": "API calls",
                "tiers": [
                    {"up_to": "10", "unit_price": "0.05"},
                    {"up_to": "50", "unit_price": "0.02", "flat_fee": "1.00"},
                    {"unit_price": "0.01"},
                ],
            },
            {
                "id": "api_volume",
                "type": "volume",
                "meter": "calls",
                "description": "API calls, volume price",
                "tiers": [{"up_to": "50", "unit_price": "0.004"}, {"unit_price": "0.003"}],
            },
            {
                "id": "users",
                "type": "per_unit",
                "meter": "active_users",
                "unit_price": "4.00",
                "description": "Active users",
            },
            {"id": "minimum", "type": "commitment", "minimum": "500.00"},
        ],
        discounts=[{"id": "launch", "percent": "10", "applies_to": ["api"]}],
    )


def rated_charges(
    engine: Engine,
    account: str = "acme",
    *,
    contract: dict[str, Any] | None = None,
    day: int = 3,
    at: datetime = NOVEMBER,
) -> Charges:
    """November's charges under `contract` (`typical_contract`) from real rating, on a tenant of
        its own: 60 calls over two regions, 3 active users and 4 payments, from `day` on; the period
    is the one holding `at`."""
    with write(engine) as connection:
        tenant = create_tenant(connection, f"documents-{next(_tenants)}-{time.time_ns() % 10**9}")
    priced = priced_tenant(engine, tenant)
    priced.apply(contract or typical_contract(account))
    regions = ("eu", "us")
    priced.ingest([call(i, account, day=day + i % 8, region=regions[i % 2]) for i in range(60)])
    priced.ingest(
        [
            {
                "id": f"login-{i}",
                "account": account,
                "type": "login",
                "timestamp": f"2026-11-{day + i:02d}T09:00:00Z",
                "properties": {"user": f"user-{i}"},
            }
            for i in range(3)
        ]
        + [
            {
                "id": f"payment-{i}",
                "account": account,
                "type": "payment",
                "timestamp": f"2026-11-{day + i:02d}T12:00:00Z",
                "properties": {"amount": 100 * (i + 1)},
            }
            for i in range(4)
        ]
    )
    with read(engine) as connection:
        return rate_period(connection, tenant.id, account, at, NOW)


VAT = TaxProfile((TaxRate("VAT", Decimal("0.19")),), tax_id="DE123456789", jurisdiction="DE")
LATE = Correction(
    "MET-2026-000098",
    {"start": "2026-10-01T00:00:00Z", "end": "2026-11-01T00:00:00Z"},
    "api",
    "graduated",
    "API calls",
    Decimal(12),
    Decimal("0.24"),
    ((3, 14),),
)


def invoice_of(
    charges: Charges,
    *,
    name: str = "Acme Corp",
    number: str | None = "MET-2026-000123",
    tax: TaxProfile = VAT,
) -> dict[str, Any]:
    """The invoice document of `charges`, with a correction to October and 25.00 of credit
    balance drawn; a draft when `number` is None."""
    customer = Customer(
        charges.account, name, "ap@acme.example", "500 Industrial Way\nSpringfield", tax
    )
    return invoice_document(
        charges,
        customer,
        [LATE],
        Decimal("25.00"),
        number=number,
        issued_at=NOW if number else None,
        due_at=datetime(2027, 1, 3, tzinfo=UTC) if number else None,
    )


def pdf_text(content: bytes, folder: Path) -> str:
    """What poppler's `pdftotext -layout` reads from a PDF, as a customer's tools would."""
    path = folder / "document.pdf"
    path.write_bytes(content)
    done = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True
    )
    return done.stdout


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
