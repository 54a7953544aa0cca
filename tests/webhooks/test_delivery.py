"""Delivery to a real receiver on loopback: signed, retried on the schedule while the receiver
is down or failing, the same `webhook-id` every time, once per acknowledgement, logged."""

from __future__ import annotations

import threading

from sqlalchemy import Engine, func, select

from valueproof.store import read, write
from valueproof.tenancy.clock import now_us
from valueproof.tenancy.tenants import Tenant
from valueproof.webhooks.delivery import Deliverer
from valueproof.webhooks.delivery_store import deliveries
from valueproof.webhooks.outbox import enqueue
from valueproof.webhooks.schedule import RETRY_DELAYS_SECONDS
from valueproof.webhooks.tables import webhook_deliveries, webhook_messages

from ..conftest import LEDGER_PASSPHRASE
from .conftest import Clock, Receiver, subscribe


def _send(
    engine: Engine, tenant: Tenant, n: int = 1, event_type: str = "invoice.paid"
) -> list[str]:
    with write(engine) as connection:
        return [
            enqueue(connection, tenant.id, event_type, {"n": i, "leaf_index": i}, now_us())
            for i in range(n)
        ]


def test_a_message_arrives_signed_with_its_payload_and_is_logged(
    engine: Engine, tenant: Tenant, receiver: Receiver, worker: Deliverer
) -> None:
    endpoint = subscribe(engine, tenant, receiver)
    [sent] = _send(engine, tenant)
    counts = worker.run_due()
    assert (counts.delivered, counts.retrying, counts.failed) == (1, 0, 0)
    [got] = receiver.received
    assert receiver.forged == []
    assert got.id == sent
    assert got.body["type"] == "invoice.paid"
    assert got.body["data"] == {"n": 0, "leaf_index": 0}
    with read(engine) as connection:
        [logged] = deliveries(connection, tenant.id, endpoint.public_id)
    assert logged.status == "delivered" and logged.message_id == sent
    [attempt] = logged.attempts
    assert attempt.status_code == 200 and attempt.error is None
    assert attempt.response_head == '{"ok": true}'
    assert worker.run_due().delivered == 0  # nothing is sent twice


def test_while_the_receiver_is_down_deliveries_wait_and_arrive_once_it_is_back(
    engine: Engine, tenant: Tenant, receiver: Receiver, worker: Deliverer, clock: Clock
) -> None:
    endpoint = subscribe(engine, tenant, receiver)
    receiver.stop()
    sent = _send(engine, tenant, 3)
    assert worker.run_due().retrying == 3
    assert worker.run_due().retrying == 0  # not due again before the first retry delay
    receiver.start()  # on the same port
    clock.advance(RETRY_DELAYS_SECONDS[0])
    assert worker.run_due().delivered == 3
    assert sorted(r.id for r in receiver.acknowledged()) == sorted(sent)
    with read(engine) as connection:
        logs = deliveries(connection, tenant.id, endpoint.public_id)
    for logged in logs:
        refused, answered = logged.attempts
        assert refused.status_code is None and refused.error is not None
        assert "Connect" in refused.error
        assert answered.status_code == 200
    clock.advance(10 * 86_400)
    assert worker.run_due().delivered == 0
    assert len(receiver.received) == 3


def test_a_retry_carries_the_same_webhook_id_and_body(
    engine: Engine, tenant: Tenant, receiver: Receiver, worker: Deliverer, clock: Clock
) -> None:
    subscribe(engine, tenant, receiver)
    receiver.answer = 503
    [sent] = _send(engine, tenant)
    assert worker.run_due().retrying == 1
    receiver.answer = 204
    clock.advance(RETRY_DELAYS_SECONDS[0])
    assert worker.run_due().delivered == 1
    first, second = receiver.received
    assert first.id == second.id == sent
    assert first.body == second.body
    assert (first.answered, second.answered) == (503, 204)
    assert len(receiver.acknowledged()) == 1


def test_after_the_last_retry_a_delivery_has_failed(
    engine: Engine, tenant: Tenant, receiver: Receiver, worker: Deliverer, clock: Clock
) -> None:
    endpoint = subscribe(engine, tenant, receiver)
    receiver.answer = 500
    _send(engine, tenant)
    assert worker.run_due().retrying == 1
    for delay in RETRY_DELAYS_SECONDS[:-1]:
        clock.advance(delay)
        assert worker.run_due().retrying == 1
    clock.advance(RETRY_DELAYS_SECONDS[-1])
    assert worker.run_due().failed == 1
    with read(engine) as connection:
        [logged] = deliveries(connection, tenant.id, endpoint.public_id)
    assert logged.status == "failed" and logged.next_attempt_us is None
    assert [a.status_code for a in logged.attempts] == [500] * 8
    assert logged.attempts[0].response_head == "try later"
    assert len({r.id for r in receiver.received}) == 1


def test_two_workers_never_send_the_same_delivery(
    engine: Engine, tenant: Tenant, receiver: Receiver
) -> None:
    subscribe(engine, tenant, receiver)
    sent = _send(engine, tenant, 300)
    workers = [
        Deliverer(engine, LEDGER_PASSPHRASE, batch=20, threads=4, tenant_id=tenant.id)
        for _ in range(2)
    ]
    threads = [threading.Thread(target=w.run_due) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for w in workers:
        w.close()
    ids = [r.id for r in receiver.received]
    assert sorted(ids) == sorted(sent)  # every one, each once


def test_a_tenant_without_endpoints_stores_nothing(engine: Engine, tenant: Tenant) -> None:
    [sent] = _send(engine, tenant)
    assert sent.startswith("msg_")
    with read(engine) as connection:
        stored = connection.execute(
            select(func.count()).where(webhook_messages.c.tenant_id == tenant.id)
        ).scalar_one()
    assert stored == 0


def test_an_endpoint_gets_only_the_types_it_chose(
    engine: Engine, tenant: Tenant, receiver: Receiver, worker: Deliverer
) -> None:
    subscribe(engine, tenant, receiver, "/alerts", ["alert.opened", "alert.resolved"])
    subscribe(engine, tenant, receiver, "/all")
    _send(engine, tenant, 1, "invoice.paid")
    _send(engine, tenant, 1, "alert.opened")
    worker.run_due()
    got = sorted((r.path, r.body["type"]) for r in receiver.received)
    assert got == [("/alerts", "alert.opened"), ("/all", "alert.opened"), ("/all", "invoice.paid")]
    with read(engine) as connection:
        total = connection.execute(
            select(func.count()).where(webhook_deliveries.c.tenant_id == tenant.id)
        ).scalar_one()
    assert total == 3
