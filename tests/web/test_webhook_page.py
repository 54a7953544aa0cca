"""The webhooks page: endpoints with their state (a disabled one says why), the recent
deliveries with their status, and a replay button for admin keys only, CSRF-checked."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import Engine, update

from valueproof.store import write
from valueproof.tenancy.clock import now_us
from valueproof.tenancy.keys import Scope, create_api_key
from valueproof.tenancy.tenants import Tenant
from valueproof.webhooks.delivery import Deliverer
from valueproof.webhooks.delivery_store import deliveries
from valueproof.webhooks.outbox import enqueue
from valueproof.webhooks.tables import webhook_endpoints

from ..conftest import LEDGER_PASSPHRASE
from ..webhooks.conftest import Receiver, subscribe
from .conftest import form_csrf, post_login

REASON = "every delivery failed for 5 days (since 2026-12-01T00:00:00Z)"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    running.start()
    yield running
    running.stop()


@pytest.fixture
def sent(engine: Engine, tenant: Tenant, receiver: Receiver) -> str:
    """One endpoint that got a message, and one disabled for failing."""
    subscribe(engine, tenant, receiver, "/ok")
    with write(engine) as connection:
        message = enqueue(connection, tenant.id, "invoice.paid", {"leaf_index": 1}, now_us())
    broken = subscribe(engine, tenant, receiver, "/broken")
    with write(engine) as connection:
        connection.execute(
            update(webhook_endpoints)
            .where(webhook_endpoints.c.id == broken.id)
            .values(enabled=False, disabled_reason=REASON)
        )
    worker = Deliverer(engine, LEDGER_PASSPHRASE, tenant_id=tenant.id)
    try:
        worker.run_due()
    finally:
        worker.close()
    return message


def sign_in(page: Page, key: str) -> None:
    page.goto("/login")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/$"))


@pytest.mark.browser
def test_browser_shows_endpoints_and_replays_a_delivery(
    sent: str, page: Page, admin_key: str, engine: Engine, tenant: Tenant, receiver: Receiver
) -> None:
    sign_in(page, admin_key)
    page.get_by_role("link", name="Webhooks").click()
    expect(page).to_have_url(re.compile(r"/webhooks$"))
    expect(page.locator("tr.endpoint")).to_have_count(2)
    disabled = page.locator('tr.endpoint[data-enabled="false"]')
    expect(disabled.locator(".disabled-reason")).to_have_text(REASON)
    row = page.locator(f'tr.delivery[data-message="{sent}"]')
    expect(row).to_have_attribute("data-status", "delivered")
    row.get_by_role("button", name=re.compile("^Replay")).click()
    expect(page.locator(".replayed")).to_contain_text(sent)
    expect(page.locator(f'tr.delivery[data-message="{sent}"]')).to_have_count(2)
    with write(engine) as connection:
        statuses = sorted(d.status for d in deliveries(connection, tenant.id))
    assert statuses == ["delivered", "pending"]


def test_a_read_key_sees_the_page_but_cannot_replay(
    sent: str, engine: Engine, tenant: Tenant, server: str
) -> None:
    with write(engine) as connection:
        reader = create_api_key(connection, tenant.id, frozenset({Scope.READ}))
    with httpx.Client(base_url=server, timeout=30) as visitor:
        assert post_login(visitor, reader.token).status_code == 303
        html = visitor.get("/webhooks").text
        assert sent in html and REASON in html
        assert "/webhooks/replay" not in html
        token = form_csrf(html)  # the sign-out form's
        refused = visitor.post(
            "/webhooks/replay",
            data={"csrf": token, "message": sent},
            headers={"Origin": server},
        )
    assert refused.status_code == 403
    with write(engine) as connection:
        assert len(deliveries(connection, tenant.id)) == 1


def test_a_replay_without_the_csrf_token_is_refused(
    sent: str, engine: Engine, tenant: Tenant, server: str, admin_key: str
) -> None:
    with httpx.Client(base_url=server, timeout=30) as visitor:
        assert post_login(visitor, admin_key).status_code == 303
        refused = visitor.post(
            "/webhooks/replay", data={"csrf": "forged", "message": sent}, headers={"Origin": server}
        )
    assert refused.status_code == 403
    with write(engine) as connection:
        assert len(deliveries(connection, tenant.id)) == 1
