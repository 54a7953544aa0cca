"""Billing's events reach a receiver from their real triggers: an invoice drafted and finalized
by a close, voided, paid, and a credit note issued, each with its leaf index."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine

from tests.billing.conftest import Billing, utc
from tests.contracts.conftest import call, priced_tenant
from valueproof.billing import writes
from valueproof.billing.credit_notes import CreditLine, CreditRequest
from valueproof.ledger.keyring import Keyring, StoredKey
from valueproof.ledger.publish import CheckpointPolicy
from valueproof.tenancy.tenants import Tenant
from valueproof.webhooks.delivery import Deliverer

from .conftest import Receiver, subscribe


@pytest.fixture
def billing(engine: Engine, tenant: Tenant, keyring: Keyring, signing_key: StoredKey) -> Billing:
    return Billing(priced_tenant(engine, tenant), CheckpointPolicy(keyring))


def _events(receiver: Receiver) -> list[tuple[str, dict[str, Any]]]:
    return [(r.body["type"], r.body["data"]) for r in receiver.acknowledged()]


def test_each_billing_event_arrives_with_its_leaf(
    billing: Billing, receiver: Receiver, worker: Deliverer
) -> None:
    kinds = [
        "invoice.created",
        "invoice.finalized",
        "invoice.voided",
        "invoice.paid",
        "credit_note.created",
    ]
    subscribe(billing.engine, billing.priced.tenant, receiver, event_types=kinds)
    billing.contract(term={"start": "2026-11-01", "end": "2027-01-01"})
    billing.priced.ingest([call(n) for n in range(5)])
    billing.close(utc(2026, 12, 4))
    first = billing.invoices()[0]
    _, second = writes.void(
        billing.engine, billing.tenant_id, first.number or "", "wrong PO", billing.policy
    )
    assert second is not None and second.number is not None
    writes.mark(billing.engine, billing.tenant_id, second.number, "paid", "wire", billing.policy)
    note = writes.credit(
        billing.engine,
        billing.tenant_id,
        second.number,
        CreditRequest("goodwill", (CreditLine(0, Decimal("5.00")),)),
        billing.policy,
    )
    worker.run_due()
    events = _events(receiver)
    # delivered concurrently: in any order, each once
    assert sorted(kind for kind, _ in events) == sorted(
        [*kinds, "invoice.created", "invoice.finalized"]
    )
    by_kind = {
        kind: data
        for kind, data in events
        if data.get("number") in (None, second.number)
        or kind in ("invoice.voided", "credit_note.created")
    }
    assert by_kind["invoice.finalized"]["number"] == second.number
    assert by_kind["invoice.finalized"]["leaf_index"] == second.leaf_index
    assert by_kind["invoice.created"]["leaf_index"] is None  # a draft is not on the ledger
    assert by_kind["invoice.voided"]["number"] == first.number
    assert by_kind["invoice.voided"]["reason"] == "wrong PO"
    assert by_kind["invoice.paid"]["status"] == "paid"
    assert by_kind["credit_note.created"]["number"] == note.number
    assert by_kind["credit_note.created"]["leaf_index"] == note.leaf_index
    assert by_kind["invoice.finalized"]["invoice"]["total"] == str(second.total)
