"""The outbox: `enqueue` writes a message and its pending deliveries in the caller's transaction,
so an event is sent if and only if the change that caused it is committed. The payload shape
(Standard Webhooks: `type`, `timestamp`, `data`) is fixed here, once, at enqueue time."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import Connection, insert, select

from valueproof.periods import format_micros
from valueproof.webhooks.tables import webhook_deliveries, webhook_endpoints, webhook_messages

__all__ = [
    "EVENT_TYPES",
    "enqueue",
    "enqueue_many",
    "message_id",
    "payload",
    "subscribes",
]

EVENT_TYPES: tuple[str, ...] = (
    "invoice.created",
    "invoice.finalized",
    "invoice.voided",
    "invoice.paid",
    "credit_note.created",
    "alert.opened",
    "alert.resolved",
    "outcome.verdict",
    "dispute.opened",
    "dispute.answered",
    "dispute.resolved",
    "checkpoint.published",
)


def message_id(now_us: int) -> str:
    """A new message id, `msg_` then the time (so ids sort by creation) and 80 random bits."""
    return f"msg_{now_us:014x}{secrets.token_hex(10)}"


def _plain(value: object) -> str:
    # Amounts reach a payload as Decimal: their text, never a float.
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def payload(event_type: str, data: dict[str, Any], now_us: int) -> bytes:
    """The body POSTed for an event: Standard Webhooks' `{"type", "timestamp", "data"}`."""
    body = {"type": event_type, "timestamp": format_micros(now_us), "data": data}
    return orjson.dumps(body, default=_plain)


def subscribes(event_types: str, event_type: str) -> bool:
    """Whether an endpoint's stored filter (space-separated; empty: all) takes `event_type`."""
    return not event_types or event_type in event_types.split(" ")


def enqueue(
    connection: Connection, tenant_id: int, event_type: str, data: dict[str, Any], now_us: int
) -> str:
    """Write one message (id `msg_<...>`, unique) to the outbox in the caller's transaction, with
    one pending delivery per enabled endpoint of the tenant subscribed to `event_type`;
    returns the message id. `data` is a snapshot of the object with its `leaf_index`."""
    stored = enqueue_many(connection, tenant_id, event_type, [data], now_us)
    return stored[0] if stored else message_id(now_us)


def enqueue_many(
    connection: Connection,
    tenant_id: int,
    event_type: str,
    data: Iterable[dict[str, Any]],
    now_us: int,
) -> list[str]:
    """`enqueue` for several objects of one type with one look at the endpoints; the ids of the
    messages stored, none when no enabled endpoint subscribes to `event_type`.

    `data` is only read when some endpoint subscribes, so a generator of snapshots costs nothing
    on a tenant without endpoints (ingest and claims are hot paths). A message nobody subscribes
    to is not stored, so there is nothing to replay.
    """
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown webhook event type {event_type!r}")
    e = webhook_endpoints.c
    rows = connection.execute(
        select(e.id, e.event_types).where(e.tenant_id == tenant_id, e.enabled.is_(True))
    ).all()
    endpoints = [row.id for row in rows if subscribes(row.event_types, event_type)]
    if not endpoints:
        return []
    messages = [
        {
            "id": message_id(now_us),
            "tenant_id": tenant_id,
            "event_type": event_type,
            "payload": payload(event_type, snapshot, now_us),
            "created_us": now_us,
        }
        for snapshot in data
    ]
    if not messages:
        return []
    connection.execute(insert(webhook_messages), messages)
    connection.execute(
        insert(webhook_deliveries),
        [
            {
                "tenant_id": tenant_id,
                "message_id": message["id"],
                "endpoint_id": endpoint,
                "status": "pending",
                "attempts": 0,
                "next_attempt_us": now_us,
                "lease_until_us": None,
                "created_us": now_us,
                "updated_us": now_us,
            }
            for message in messages
            for endpoint in endpoints
        ],
    )
    return [str(message["id"]) for message in messages]
