"""Contract fixtures: a tenant with meters to price, accounts, and helpers to apply and ingest."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import Engine

from valueproof.contracts.registry import Applied, apply_contract
from valueproof.contracts.validation import parse_contract
from valueproof.metering.definitions import EventType, Meter
from valueproof.metering.ingest import IngestOptions, ingest_batch
from valueproof.metering.registry import apply_event_type, apply_meter, load_catalog
from valueproof.store import tenant_lock, write
from valueproof.tenancy.accounts import AccountCreate, create_account
from valueproof.tenancy.tenants import Tenant, create_tenant

EVENT_TYPES = [
    EventType(key="api.call", properties={"region": {"type": "string"}}),
    EventType(key="payment", properties={"amount": {"type": "number", "required": True}}),
    EventType(key="login", properties={"user": {"type": "string", "required": True}}),
]
METERS = [
    Meter(key="calls", event_type="api.call", aggregation="count", group_by=["region"]),
    Meter(key="payments", event_type="payment", aggregation="sum", value_property="amount"),
    Meter(
        key="active_users", event_type="login", aggregation="unique_count", value_property="user"
    ),
]
ACCOUNTS = ("acme", "globex", "initech")


def contract_document(
    key: str = "acme-2026", account: str = "acme", **fields: Any
) -> dict[str, Any]:
    """A contract: a flat fee and a per-call price, for the whole of 2026."""
    return {
        "contract": key,
        "account": account,
        "currency": "USD",
        "term": {"start": "2026-01-01", "end": "2027-01-01"},
        "components": [
            {"id": "platform", "type": "flat", "amount": "100.00"},
            {"id": "api", "type": "per_unit", "meter": "calls", "unit_price": "0.002"},
        ],
        **fields,
    }


def call(number: int, account: str = "acme", day: int = 3, region: str = "eu") -> dict[str, Any]:
    return {
        "id": f"call-{account}-{number}",
        "account": account,
        "type": "api.call",
        "timestamp": f"2026-11-{day:02d}T{number % 24:02d}:00:00Z",
        "properties": {"region": region},
    }


@dataclass(frozen=True)
class Priced:
    """A tenant ready to price: its meters, accounts, and helpers."""

    engine: Engine
    tenant: Tenant

    def apply(self, document: dict[str, Any], now_us: int = 1) -> Applied:
        with write(self.engine) as connection:
            tenant_lock(connection, self.tenant.id)
            catalog = load_catalog(connection, self.tenant.id)
            return apply_contract(
                connection, self.tenant.id, parse_contract(document), catalog, now_us
            )

    def ingest(self, events: list[dict[str, Any]]) -> None:
        results = ingest_batch(self.engine, self.tenant.id, events, IngestOptions())
        assert all(r.status == "accepted" for r in results), results


def priced_tenant(engine: Engine, tenant: Tenant | None = None) -> Priced:
    """A tenant (a new one unless given) with the meters and the accounts to price."""
    with write(engine) as connection:
        if tenant is None:
            tenant = create_tenant(connection, "priced")
        for event_type in EVENT_TYPES:
            apply_event_type(connection, tenant.id, event_type)
        for meter in METERS:
            apply_meter(connection, tenant.id, meter)
        for name in ACCOUNTS:
            create_account(connection, tenant.id, AccountCreate(external_id=name, name=name))
    return Priced(engine, tenant)


@pytest.fixture
def priced(engine: Engine, tenant: Tenant) -> Priced:
    return priced_tenant(engine, tenant)


Apply = Callable[[dict[str, Any]], Applied]
