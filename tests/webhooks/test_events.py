"""Every event type the engine emits today reaches a receiver from its real trigger, with the
object as its API renders it and its leaf index: a checkpoint signed, a claim verified, a dispute
opened, answered and resolved, an alert opened and resolved."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from valueproof.ledger.keyring import Keyring, StoredKey
from valueproof.ledger.writes import sign_checkpoint
from valueproof.outcomes.claim_intake import submit_claims
from valueproof.outcomes.definition_store import apply_definition
from valueproof.outcomes.definitions import parse_definition
from valueproof.outcomes.disputes import answer_dispute, open_dispute, resolve_dispute
from valueproof.periods import format_rfc3339
from valueproof.store import tenant_lock, write
from valueproof.success.alert_store import reconcile
from valueproof.success.alerts import Signal
from valueproof.tenancy.accounts import AccountCreate, create_account
from valueproof.tenancy.clock import now_us
from valueproof.tenancy.tenants import Tenant
from valueproof.webhooks.delivery import Deliverer

from .conftest import Receiver, subscribe

DEFINITION: dict[str, Any] = {
    "contract": "acme-leads",
    "outcome": "qualified_lead",
    "attributes": {"ref": {"type": "string", "required": True}},
    "criteria": [{"name": "ref", "expression": 'claim.ref != ""'}],
    "dedupe_key": "claim.ref",
    "verification_window_days": 30,
    "dispute_window_days": 14,
}


def _events(receiver: Receiver) -> list[tuple[str, dict[str, Any]]]:
    return [(r.body["type"], r.body["data"]) for r in receiver.acknowledged()]


def test_a_signed_checkpoint_is_published(
    engine: Engine,
    tenant: Tenant,
    receiver: Receiver,
    worker: Deliverer,
    keyring: Keyring,
    signing_key: StoredKey,
) -> None:
    subscribe(engine, tenant, receiver, event_types=["checkpoint.published"])
    published = sign_checkpoint(engine, tenant.id, keyring)
    worker.run_due()
    [(kind, data)] = _events(receiver)
    assert kind == "checkpoint.published"
    assert data["size"] == published.checkpoint.size
    assert data["note"] == published.note
    assert data["leaf_index"] is None


def test_claims_and_their_dispute_send_verdicts_and_each_dispute_step(
    engine: Engine, tenant: Tenant, receiver: Receiver, worker: Deliverer
) -> None:
    subscribe(engine, tenant, receiver)
    now = datetime.now(UTC)
    claims = [
        {
            "id": claim_id,
            "account": "acme",
            "contract": "acme-leads",
            "outcome": "qualified_lead",
            "occurred_at": format_rfc3339(now - timedelta(days=1)),
            "attributes": {"ref": ref},
        }
        for claim_id, ref in (("c1", "r1"), ("c2", ""))
    ]
    with write(engine) as connection:
        tenant_lock(connection, tenant.id)
        create_account(connection, tenant.id, AccountCreate(external_id="acme", name="Acme"))
        apply_definition(connection, tenant.id, parse_definition(DEFINITION), now_us())
        results = submit_claims(connection, tenant.id, claims, now)
    for step in (
        lambda c: open_dispute(c, tenant.id, "c1", "We knew this lead.", now_us()),
        lambda c: answer_dispute(c, tenant.id, "c1", "It came from your form.", now_us()),
        lambda c: resolve_dispute(c, tenant.id, "c1", "upheld", "Found it.", now_us()),
    ):
        with write(engine) as connection:
            tenant_lock(connection, tenant.id)
            step(connection)
    worker.run_due()
    events = _events(receiver)
    verdicts = {d["id"]: d for kind, d in events if kind == "outcome.verdict"}
    assert verdicts["c1"]["verdict"]["accepted"] is True
    assert verdicts["c2"]["verdict"]["accepted"] is False
    assert [verdicts[r.id or ""]["leaf_index"] for r in results] == [r.leaf_index for r in results]
    steps = [(kind, d) for kind, d in events if kind.startswith("dispute.")]
    assert sorted(kind for kind, _ in steps) == [
        "dispute.answered",
        "dispute.opened",
        "dispute.resolved",
    ]
    by_kind = dict(steps)
    assert by_kind["dispute.opened"]["status"] == "open"
    assert by_kind["dispute.resolved"]["status"] == "upheld"
    resolved_steps = by_kind["dispute.resolved"]["steps"]
    assert by_kind["dispute.resolved"]["leaf_index"] == resolved_steps[-1]["leaf_index"]
    leaves = {d["leaf_index"] for _, d in steps}
    assert len(leaves) == 3 and None not in leaves


def test_an_alert_opened_and_resolved(
    engine: Engine, tenant: Tenant, receiver: Receiver, worker: Deliverer
) -> None:
    subscribe(engine, tenant, receiver, event_types=["alert.opened", "alert.resolved"])
    signal = Signal("decline", "calls", "warning", "calls down", {"actual": 3})
    with write(engine) as connection:
        account = create_account(
            connection, tenant.id, AccountCreate(external_id="acme", name="Acme")
        )
    for signals in ([signal], [signal], []):  # opened, seen again (no event), cleared
        with write(engine) as connection:
            tenant_lock(connection, tenant.id)
            reconcile(connection, tenant.id, account.id, signals, ("decline",), now_us())
    worker.run_due()
    events = _events(receiver)
    assert [kind for kind, _ in sorted(events, key=lambda e: e[0])] == [
        "alert.opened",
        "alert.resolved",
    ]
    data = dict(events)
    assert data["alert.opened"]["account"] == "acme"
    assert data["alert.opened"]["status"] == "open"
    assert data["alert.resolved"]["resolution"] == "cleared"
    assert data["alert.opened"]["id"] == data["alert.resolved"]["id"]
    assert data["alert.opened"]["leaf_index"] is None
