"""Endpoints: checked input naming the field, a secret shown once and sealed at rest, disabling
after days of failures (and why), enabling again, replay with the same `webhook-id`."""

from __future__ import annotations

import base64

import pytest
from sqlalchemy import Engine, func, select

from valueproof.errors import Conflict
from valueproof.store import read, write
from valueproof.tenancy.clock import now_us
from valueproof.tenancy.tenants import Tenant
from valueproof.webhooks.delivery import Deliverer
from valueproof.webhooks.delivery_store import deliveries
from valueproof.webhooks.endpoint_store import endpoint, endpoints
from valueproof.webhooks.errors import EndpointInvalid, WebhookSecretUnavailable
from valueproof.webhooks.outbox import enqueue
from valueproof.webhooks.tables import webhook_endpoints
from valueproof.webhooks.writes import (
    add_endpoint,
    change_endpoint,
    drop_endpoint,
    replay_message,
)

from ..conftest import LEDGER_PASSPHRASE
from .conftest import Clock, Receiver, subscribe

_DAY = 86_400


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("ftp://example.com/hook", "scheme 'ftp' is not http or https"),
        ("example.com/hook", "is not http or https"),
        ("http:///nohost", "names no host"),
        ("", "must be an http or https URL"),
    ],
)
def test_a_url_that_is_not_http_is_refused_naming_url(
    engine: Engine, tenant: Tenant, url: str, why: str
) -> None:
    with pytest.raises(EndpointInvalid) as refused:
        add_endpoint(engine, tenant.id, url, [], "", LEDGER_PASSPHRASE)
    assert refused.value.field == "url"
    assert why in refused.value.reason
    with read(engine) as connection:
        assert endpoints(connection, tenant.id) == []


def test_an_unknown_event_type_is_refused_with_a_suggestion(engine: Engine, tenant: Tenant) -> None:
    with pytest.raises(EndpointInvalid) as refused:
        add_endpoint(
            engine, tenant.id, "https://x.test/", ["alert.opened", "invoice.payed"], "", "p" * 12
        )
    assert refused.value.field == "event_types[1]"
    assert "did you mean 'invoice.paid'?" in refused.value.reason


def test_a_secret_needs_the_passphrase(engine: Engine, tenant: Tenant) -> None:
    with pytest.raises(WebhookSecretUnavailable, match="VALUEPROOF_LEDGER_PASSPHRASE"):
        add_endpoint(engine, tenant.id, "https://x.test/", [], "", None)


def test_the_secret_is_shown_once_and_sealed_at_rest(engine: Engine, tenant: Tenant) -> None:
    found, secret = add_endpoint(
        engine, tenant.id, "https://x.test/h", [], "billing", LEDGER_PASSPHRASE
    )
    raw = base64.b64decode(secret.removeprefix("whsec_"))
    assert secret.startswith("whsec_") and len(raw) == 24
    with read(engine) as connection:
        row = connection.execute(
            select(webhook_endpoints).where(webhook_endpoints.c.id == found.id)
        ).one()
    stored = b"".join(bytes(v) for v in (row.salt, row.nonce, row.ciphertext))
    assert raw not in stored
    assert secret not in str(tuple(row))


def test_a_wrong_passphrase_is_logged_as_the_attempt_error(
    engine: Engine, tenant: Tenant, receiver: Receiver
) -> None:
    subscribe(engine, tenant, receiver)
    with write(engine) as connection:
        enqueue(connection, tenant.id, "invoice.paid", {"leaf_index": 1}, now_us())
    wrong = Deliverer(engine, "not the passphrase at all", tenant_id=tenant.id)
    try:
        assert wrong.run_due().retrying == 1
    finally:
        wrong.close()
    assert receiver.received == []
    with read(engine) as connection:
        [logged] = deliveries(connection, tenant.id)
    assert "does not open the secret" in (logged.attempts[0].error or "")


def test_an_endpoint_failing_for_days_is_disabled_with_its_reason(
    engine: Engine, tenant: Tenant, receiver: Receiver, worker: Deliverer, clock: Clock
) -> None:
    found = subscribe(engine, tenant, receiver)
    receiver.answer = 500
    for _ in range(6):  # a message a day, each failing
        with write(engine) as connection:
            enqueue(connection, tenant.id, "invoice.paid", {"leaf_index": 1}, clock())
        counts = worker.run_due()
        clock.advance(_DAY)
    assert counts.disabled == 1
    with read(engine) as connection:
        disabled = endpoint(connection, tenant.id, found.public_id)
    assert not disabled.enabled
    assert disabled.disabled_reason is not None
    assert "failed for 5 days" in disabled.disabled_reason
    # A disabled endpoint gets no new deliveries; enabling it clears the reason and the streak.
    with write(engine) as connection:
        assert len(deliveries(connection, tenant.id)) == 6
        enqueue(connection, tenant.id, "invoice.paid", {"leaf_index": 2}, clock())
        assert len(deliveries(connection, tenant.id)) == 6
    enabled = change_endpoint(engine, tenant.id, found.public_id, {"enabled": True})
    assert enabled.enabled and enabled.disabled_reason is None and enabled.failing_since_us is None


def test_a_success_ends_the_failure_streak(
    engine: Engine, tenant: Tenant, receiver: Receiver, worker: Deliverer, clock: Clock
) -> None:
    found = subscribe(engine, tenant, receiver)
    receiver.answer = 500
    with write(engine) as connection:
        enqueue(connection, tenant.id, "invoice.paid", {"leaf_index": 1}, clock())
    worker.run_due()
    with read(engine) as connection:
        assert endpoint(connection, tenant.id, found.public_id).failing_since_us is not None
    receiver.answer = 200
    clock.advance(5)
    assert worker.run_due().delivered == 1
    with read(engine) as connection:
        assert endpoint(connection, tenant.id, found.public_id).failing_since_us is None


def test_replay_sends_the_same_webhook_id_again(
    engine: Engine, tenant: Tenant, receiver: Receiver, worker: Deliverer
) -> None:
    found = subscribe(engine, tenant, receiver)
    with write(engine) as connection:
        sent = enqueue(connection, tenant.id, "dispute.opened", {"leaf_index": 3}, now_us())
    worker.run_due()
    assert len(replay_message(engine, tenant.id, sent, None)) == 1
    assert len(replay_message(engine, tenant.id, sent, found.public_id)) == 1
    assert worker.run_due().delivered == 2
    assert [r.id for r in receiver.acknowledged()] == [sent] * 3
    assert receiver.received[0].body == receiver.received[2].body


def test_replay_to_a_disabled_endpoint_is_refused(
    engine: Engine, tenant: Tenant, receiver: Receiver
) -> None:
    found = subscribe(engine, tenant, receiver)
    with write(engine) as connection:
        sent = enqueue(connection, tenant.id, "dispute.opened", {"leaf_index": 3}, now_us())
    change_endpoint(engine, tenant.id, found.public_id, {"enabled": False})
    with pytest.raises(Conflict, match="disabled"):
        replay_message(engine, tenant.id, sent, found.public_id)


def test_a_bad_change_changes_nothing(engine: Engine, tenant: Tenant, receiver: Receiver) -> None:
    found = subscribe(engine, tenant, receiver)
    with pytest.raises(EndpointInvalid) as refused:
        change_endpoint(
            engine, tenant.id, found.public_id, {"description": "new", "url": "gopher://x"}
        )
    assert refused.value.field == "url"
    with read(engine) as connection:
        assert endpoint(connection, tenant.id, found.public_id) == found


def test_removing_an_endpoint_removes_its_log(
    engine: Engine, tenant: Tenant, receiver: Receiver, worker: Deliverer
) -> None:
    found = subscribe(engine, tenant, receiver)
    with write(engine) as connection:
        enqueue(connection, tenant.id, "dispute.opened", {"leaf_index": 3}, now_us())
    worker.run_due()
    drop_endpoint(engine, tenant.id, found.public_id)
    with read(engine) as connection:
        assert deliveries(connection, tenant.id) == []
        assert (
            connection.execute(
                select(func.count()).where(webhook_endpoints.c.tenant_id == tenant.id)
            ).scalar_one()
            == 0
        )
