"""The webhooks API on a real server: endpoints for admin keys only, the secret once, bad input
as a problem naming the field with nothing stored, the delivery log, replay, the serve beat."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager

import httpx
import pytest
from sqlalchemy import Engine

from valueproof.config import Settings
from valueproof.server import create_app
from valueproof.store import write
from valueproof.tenancy.clock import now_us
from valueproof.tenancy.keys import Scope, create_api_key
from valueproof.tenancy.tenants import Tenant
from valueproof.webhooks.delivery import Deliverer
from valueproof.webhooks.outbox import enqueue

from ..conftest import LEDGER_PASSPHRASE
from .conftest import Receiver


def _create(http: httpx.Client, receiver: Receiver, path: str = "/api", **extra: object) -> dict:
    answer = http.post("/v1/webhooks/endpoints", json={"url": receiver.url(path), **extra})
    assert answer.status_code == 201, answer.text
    created: dict = answer.json()
    receiver.secrets[path] = created["secret"]
    return created


def test_an_endpoint_is_created_with_its_secret_shown_once(
    http: httpx.Client, receiver: Receiver
) -> None:
    created = _create(http, receiver, event_types=["alert.opened"], description="CS tool")
    assert created["secret"].startswith("whsec_")
    assert created["id"].startswith("ep_")
    assert created["enabled"] is True and created["disabled_reason"] is None
    assert created["event_types"] == ["alert.opened"]
    shown = http.get(f"/v1/webhooks/endpoints/{created['id']}").json()
    assert "secret" not in shown
    assert shown["description"] == "CS tool"
    listed = http.get("/v1/webhooks/endpoints").json()["endpoints"]
    assert [e["id"] for e in listed] == [created["id"]]
    assert all("secret" not in e for e in listed)


def test_a_url_that_is_not_http_is_a_422_naming_url_and_nothing_is_stored(
    http: httpx.Client,
) -> None:
    answer = http.post("/v1/webhooks/endpoints", json={"url": "file:///etc/passwd"})
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["errors"] == [
        {"field": "url", "reason": "scheme 'file' is not http or https"}
    ]
    assert http.get("/v1/webhooks/endpoints").json()["endpoints"] == []


def test_an_unknown_event_type_is_a_422_with_a_suggestion(http: httpx.Client) -> None:
    answer = http.post(
        "/v1/webhooks/endpoints",
        json={"url": "https://x.test/", "event_types": ["dispute.opend"]},
    )
    assert answer.status_code == 422
    [error] = answer.json()["errors"]
    assert error["field"] == "event_types[0]"
    assert "did you mean 'dispute.opened'?" in error["reason"]


def test_a_read_key_cannot_see_endpoints(
    engine: Engine, tenant: Tenant, server: str, http: httpx.Client, receiver: Receiver
) -> None:
    _create(http, receiver)
    with write(engine) as connection:
        reader = create_api_key(connection, tenant.id, frozenset({Scope.READ}))
    headers = {"Authorization": f"Bearer {reader.token}"}
    answer = httpx.get(f"{server}/v1/webhooks/endpoints", headers=headers)
    assert answer.status_code == 403


def test_patch_disables_and_enables_and_delete_removes(
    http: httpx.Client, receiver: Receiver
) -> None:
    created = _create(http, receiver)
    path = f"/v1/webhooks/endpoints/{created['id']}"
    off = http.patch(path, json={"enabled": False}).json()
    assert off["enabled"] is False and off["disabled_reason"] == "disabled by hand"
    bad = http.patch(path, json={"enabled": "yes", "description": "x"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "enabled"
    assert http.get(path).json()["description"] == ""
    on = http.patch(path, json={"enabled": True, "url": receiver.url("/moved")}).json()
    assert on["enabled"] is True and on["disabled_reason"] is None
    assert on["url"].endswith("/moved")
    assert http.delete(path).status_code == 204
    assert http.get(path).status_code == 404


def test_the_delivery_log_and_replay(
    engine: Engine, tenant: Tenant, http: httpx.Client, receiver: Receiver
) -> None:
    created = _create(http, receiver)
    with write(engine) as connection:
        sent = enqueue(connection, tenant.id, "invoice.finalized", {"leaf_index": 9}, now_us())
    worker = Deliverer(engine, LEDGER_PASSPHRASE, tenant_id=tenant.id)
    try:
        worker.run_due()
        replayed = http.post(f"/v1/webhooks/messages/{sent}/replay")
        assert replayed.status_code == 202
        assert len(replayed.json()["deliveries"]) == 1
        worker.run_due()
    finally:
        worker.close()
    log = http.get(f"/v1/webhooks/endpoints/{created['id']}/deliveries").json()["deliveries"]
    assert [d["message_id"] for d in log] == [sent, sent]
    assert all(d["status"] == "delivered" for d in log)
    assert log[0]["attempts"][0]["status_code"] == 200
    assert [r.id for r in receiver.acknowledged()] == [sent, sent]
    missing = http.post("/v1/webhooks/messages/msg_nope/replay", json={})
    assert missing.status_code == 404


def test_serve_delivers_on_its_beat(
    engine: Engine,
    tenant: Tenant,
    receiver: Receiver,
    serve: Callable[..., AbstractContextManager[str]],
    http: httpx.Client,
) -> None:
    _create(http, receiver)
    settings = Settings(
        database_url=str(engine.url),
        ledger_passphrase=LEDGER_PASSPHRASE,
        webhook_delivery_seconds=0.2,
        success_refresh_seconds=0,
    )
    with serve(create_app(engine, settings), lifespan="on"):
        with write(engine) as connection:
            sent = enqueue(connection, tenant.id, "alert.opened", {"leaf_index": None}, now_us())
        deadline = time.monotonic() + 60
        while not receiver.acknowledged() and time.monotonic() < deadline:
            time.sleep(0.05)
    assert [r.id for r in receiver.acknowledged()] == [sent]


@pytest.mark.parametrize("body", [{"endpoint": 3}, {"endpoint": "ep_missing"}])
def test_replay_to_a_bad_endpoint_is_refused(
    engine: Engine, tenant: Tenant, http: httpx.Client, receiver: Receiver, body: dict
) -> None:
    _create(http, receiver)
    with write(engine) as connection:
        sent = enqueue(connection, tenant.id, "invoice.paid", {"leaf_index": 1}, now_us())
    answer = http.post(f"/v1/webhooks/messages/{sent}/replay", json=body)
    assert answer.status_code in (404, 422)
    assert answer.json()["status"] == answer.status_code
