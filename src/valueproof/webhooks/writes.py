"""The webhook operations, each one transaction: add, change and remove an endpoint, replay a
message, and run the due deliveries once. Routers, commands and pages call these."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Engine

from valueproof.config import Settings
from valueproof.sealing import PASSPHRASE_SETTING
from valueproof.store import tenant_write
from valueproof.tenancy.clock import now_us
from valueproof.webhooks.delivery import Deliverer
from valueproof.webhooks.delivery_store import DeliveryCounts, replay
from valueproof.webhooks.endpoint_store import (
    Endpoint,
    check_description,
    check_event_types,
    check_url,
    create_endpoint,
    remove_endpoint,
    update_endpoint,
)
from valueproof.webhooks.errors import EndpointInvalid, WebhookSecretUnavailable

__all__ = [
    "add_endpoint",
    "change_endpoint",
    "deliver_due",
    "deliverer",
    "drop_endpoint",
    "replay_message",
]

_CHANGEABLE = ("url", "event_types", "enabled", "description")


def add_endpoint(
    engine: Engine,
    tenant_id: int,
    url: object,
    event_types: object,
    description: object,
    passphrase: str | None,
) -> tuple[Endpoint, str]:
    """A new enabled endpoint and its secret, shown this once."""
    checked = check_url(url), check_event_types(event_types), check_description(description)
    with tenant_write(engine, tenant_id) as connection:
        return create_endpoint(connection, tenant_id, *checked, passphrase, now_us())


def change_endpoint(
    engine: Engine, tenant_id: int, public_id: str, changes: Mapping[str, Any]
) -> Endpoint:
    """Change an endpoint's url, event types, enabled flag or description; all or nothing."""
    checked: dict[str, Any] = {}
    for name, value in changes.items():
        if name == "url":
            checked[name] = check_url(value)
        elif name == "event_types":
            checked[name] = check_event_types(value)
        elif name == "description":
            checked[name] = check_description(value)
        elif name == "enabled":
            if not isinstance(value, bool):
                raise EndpointInvalid("enabled", "must be true or false")
            checked[name] = value
        else:
            raise EndpointInvalid(name, f"is not a changeable field ({', '.join(_CHANGEABLE)})")
    with tenant_write(engine, tenant_id) as connection:
        return update_endpoint(connection, tenant_id, public_id, checked, now_us())


def drop_endpoint(engine: Engine, tenant_id: int, public_id: str) -> None:
    """Remove an endpoint with its delivery log."""
    with tenant_write(engine, tenant_id) as connection:
        remove_endpoint(connection, tenant_id, public_id)


def replay_message(
    engine: Engine, tenant_id: int, message_id: str, endpoint_id: str | None
) -> list[int]:
    """Deliver a message again (same `webhook-id`), to one endpoint or to those it went to."""
    with tenant_write(engine, tenant_id) as connection:
        return replay(connection, tenant_id, message_id, endpoint_id, now_us())


def deliverer(engine: Engine, config: Settings, tenant_id: int | None = None) -> Deliverer:
    """A worker configured from the settings (of one tenant, or of all); the caller closes it."""
    passphrase = config.ledger_passphrase
    return Deliverer(
        engine,
        passphrase.get_secret_value() if passphrase else None,
        timeout_seconds=config.webhook_timeout_seconds,
        disable_after_days=config.webhook_disable_after_days,
        tenant_id=tenant_id,
    )


def deliver_due(engine: Engine, config: Settings, tenant_id: int | None = None) -> DeliveryCounts:
    """Run the due deliveries (of one tenant, or of all) once: `valueproof webhooks deliver`.
    WebhookSecretUnavailable without the passphrase that opens the endpoint secrets."""
    if config.ledger_passphrase is None:
        raise WebhookSecretUnavailable(
            f"set {PASSPHRASE_SETTING}: webhook secrets are stored encrypted with it"
        )
    worker = deliverer(engine, config, tenant_id)
    try:
        return worker.run_due()
    finally:
        worker.close()
