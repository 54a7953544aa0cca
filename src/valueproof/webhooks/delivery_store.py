"""Deliveries in the store: claiming due ones under a lease, recording attempts in one batch
(retries scheduled, endpoints that keep failing disabled), the delivery log, and replay."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Connection, Row, bindparam, func, insert, or_, select, update

from valueproof.errors import Conflict
from valueproof.periods import format_micros
from valueproof.webhooks.endpoint_store import endpoint
from valueproof.webhooks.errors import MessageNotFound
from valueproof.webhooks.schedule import next_attempt_us
from valueproof.webhooks.tables import (
    webhook_attempts,
    webhook_deliveries,
    webhook_endpoints,
    webhook_messages,
)

__all__ = [
    "Attempt",
    "Delivery",
    "DeliveryCounts",
    "Due",
    "Outcome",
    "claim_due",
    "deliveries",
    "delivery_json",
    "record",
    "replay",
]

DeliveryStatus = Literal["pending", "delivered", "failed"]


@dataclass(frozen=True, slots=True)
class Due:
    """A claimed delivery: what a worker needs to send it, the endpoint's sealed secret included."""

    delivery_id: int
    endpoint_id: int
    endpoint: Row[Any]  # the endpoint row: url, public_id and the sealed secret
    message_id: str
    payload: bytes
    attempts: int  # made before this one


@dataclass(frozen=True, slots=True)
class Outcome:
    """One attempt's result; `status_code` None when no response came (`error` says why)."""

    due: Due
    attempted_us: int
    status_code: int | None
    error: str | None
    duration_us: int
    response_head: str

    @property
    def succeeded(self) -> bool:
        """A 2xx answer: Standard Webhooks' only success."""
        return self.status_code is not None and 200 <= self.status_code < 300


@dataclass(frozen=True, slots=True)
class DeliveryCounts:
    """What one pass of the worker did."""

    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    disabled: int = 0  # endpoints disabled for failing too long

    def __add__(self, other: DeliveryCounts) -> DeliveryCounts:
        return DeliveryCounts(
            self.delivered + other.delivered,
            self.retrying + other.retrying,
            self.failed + other.failed,
            self.disabled + other.disabled,
        )


@dataclass(frozen=True, slots=True)
class Attempt:
    """One attempt as logged."""

    attempted_us: int
    status_code: int | None
    error: str | None
    duration_us: int
    response_head: str


@dataclass(frozen=True, slots=True)
class Delivery:
    """A message to one endpoint, with every attempt so far."""

    id: int
    message_id: str
    event_type: str
    endpoint: str  # its public id
    url: str
    status: DeliveryStatus
    next_attempt_us: int | None
    created_us: int
    attempts: tuple[Attempt, ...]


def claim_due(
    connection: Connection, now_us: int, lease_us: int, limit: int, tenant_id: int | None = None
) -> list[Due]:
    """Lease up to `limit` due deliveries of enabled endpoints (of one tenant, or of all) to
    this worker until `now_us + lease_us`; run it in a short transaction of its own.

    Another worker skips a leased row until its lease ends: PostgreSQL locks the rows it picks
    (`FOR UPDATE SKIP LOCKED`, so two workers pick different ones); SQLite runs one writer at a
    time (`BEGIN IMMEDIATE`), so the second sees the first one's leases.
    """
    d, e = webhook_deliveries.c, webhook_endpoints.c
    query = (
        select(d.id)
        .join(webhook_endpoints, e.id == d.endpoint_id)
        .where(
            d.next_attempt_us <= now_us,
            d.status == "pending",
            or_(d.lease_until_us.is_(None), d.lease_until_us < now_us),
            e.enabled.is_(True),
        )
        .order_by(d.next_attempt_us, d.id)
        .limit(limit)
        .with_for_update(of=webhook_deliveries, skip_locked=True)
    )
    if tenant_id is not None:
        query = query.where(d.tenant_id == tenant_id)
    picked = list(connection.execute(query).scalars())
    if not picked:
        return []
    connection.execute(
        update(webhook_deliveries).where(d.id.in_(picked)).values(lease_until_us=now_us + lease_us)
    )
    rows = connection.execute(
        select(
            d.id.label("delivery_id"),
            d.attempts,
            d.message_id,
            webhook_messages.c.payload,
            webhook_endpoints,
        )
        .join(webhook_messages, webhook_messages.c.id == d.message_id)
        .join(webhook_endpoints, e.id == d.endpoint_id)
        .where(d.id.in_(picked))
        .order_by(d.id)
    )
    return [
        Due(row.delivery_id, row.id, row, row.message_id, bytes(row.payload), row.attempts)
        for row in rows
    ]


def record(
    connection: Connection, outcomes: Sequence[Outcome], now_us: int, disable_after_us: int
) -> DeliveryCounts:
    """Log the attempts, settle or reschedule their deliveries, and disable the endpoints whose
    failures since their last success began `disable_after_us` ago; a few statements for the
    whole batch."""
    if not outcomes:
        return DeliveryCounts()
    connection.execute(
        insert(webhook_attempts),
        [
            {
                "delivery_id": o.due.delivery_id,
                "attempted_us": o.attempted_us,
                "status_code": o.status_code,
                "error": o.error,
                "duration_us": o.duration_us,
                "response_head": o.response_head,
            }
            for o in outcomes
        ],
    )
    delivered = retrying = failed = 0
    changes = []
    for o in outcomes:
        attempts = o.due.attempts + 1
        later = None if o.succeeded else next_attempt_us(attempts, o.attempted_us)
        status = "delivered" if o.succeeded else "pending" if later is not None else "failed"
        delivered += status == "delivered"
        retrying += status == "pending"
        failed += status == "failed"
        changes.append({"key": o.due.delivery_id, "s": status, "n": attempts, "at": later})
    d = webhook_deliveries.c
    connection.execute(
        update(webhook_deliveries)
        .where(d.id == bindparam("key"))
        .values(
            status=bindparam("s"),
            attempts=bindparam("n"),
            next_attempt_us=bindparam("at"),
            lease_until_us=None,
            updated_us=now_us,
        ),
        changes,
    )
    disabled = _endpoint_streaks(connection, outcomes, now_us, disable_after_us)
    return DeliveryCounts(delivered, retrying, failed, disabled)


def _endpoint_streaks(
    connection: Connection, outcomes: Sequence[Outcome], now_us: int, disable_after_us: int
) -> int:
    """Clear the failure streak of endpoints that answered 2xx, start or extend it for those
    that did not; disable those failing since `disable_after_us` ago; how many were disabled."""
    succeeded = {o.due.endpoint_id for o in outcomes if o.succeeded}
    first_failure: dict[int, int] = {}
    for o in outcomes:
        if not o.succeeded and o.due.endpoint_id not in succeeded:
            seen = first_failure.get(o.due.endpoint_id, o.attempted_us)
            first_failure[o.due.endpoint_id] = min(seen, o.attempted_us)
    e = webhook_endpoints.c
    if succeeded:
        connection.execute(
            update(webhook_endpoints)
            .where(e.id.in_(sorted(succeeded)), e.failing_since_us.is_not(None))
            .values(failing_since_us=None)
        )
    if not first_failure:
        return 0
    connection.execute(
        update(webhook_endpoints)
        .where(e.id == bindparam("key"), e.failing_since_us.is_(None))
        .values(failing_since_us=bindparam("since")),
        [{"key": key, "since": since} for key, since in sorted(first_failure.items())],
    )
    days = disable_after_us / 86_400_000_000
    reason = f"every delivery failed for {days:g} days (since %s); enable it again when it is fixed"
    due = connection.execute(
        select(e.id, e.failing_since_us).where(
            e.id.in_(sorted(first_failure)),
            e.enabled.is_(True),
            e.failing_since_us <= now_us - disable_after_us,
        )
    ).all()
    for row in due:
        connection.execute(
            update(webhook_endpoints)
            .where(e.id == row.id)
            .values(
                enabled=False,
                disabled_reason=reason % format_micros(row.failing_since_us),
                updated_us=now_us,
            )
        )
    return len(due)


def deliveries(
    connection: Connection,
    tenant_id: int,
    endpoint_id: str | None = None,
    limit: int = 50,
    message_id: str | None = None,
) -> list[Delivery]:
    """The latest deliveries of the tenant (of one endpoint, or of one message), newest first,
    each with its attempts."""
    d, e, m = webhook_deliveries.c, webhook_endpoints.c, webhook_messages.c
    query = (
        select(
            d.id,
            d.message_id,
            m.event_type,
            e.public_id,
            e.url,
            d.status,
            d.next_attempt_us,
            d.created_us,
        )
        .join(webhook_endpoints, e.id == d.endpoint_id)
        .join(webhook_messages, m.id == d.message_id)
        .where(d.tenant_id == tenant_id)
        .order_by(d.id.desc())
        .limit(limit)
    )
    if endpoint_id is not None:
        query = query.where(d.endpoint_id == endpoint(connection, tenant_id, endpoint_id).id)
    if message_id is not None:
        query = query.where(d.message_id == message_id)
    rows = connection.execute(query).all()
    attempts: dict[int, list[Attempt]] = {row.id: [] for row in rows}
    if rows:
        a = webhook_attempts.c
        for attempt in connection.execute(
            select(webhook_attempts)
            .where(a.delivery_id.in_(list(attempts)))
            .order_by(a.delivery_id, a.id)
        ):
            attempts[attempt.delivery_id].append(
                Attempt(
                    attempt.attempted_us,
                    attempt.status_code,
                    attempt.error,
                    attempt.duration_us,
                    attempt.response_head,
                )
            )
    return [
        Delivery(
            row.id,
            row.message_id,
            row.event_type,
            row.public_id,
            row.url,
            row.status,
            row.next_attempt_us,
            row.created_us,
            tuple(attempts[row.id]),
        )
        for row in rows
    ]


def replay(
    connection: Connection,
    tenant_id: int,
    message_id: str,
    endpoint_id: str | None,
    now_us: int,
) -> list[int]:
    """New pending deliveries of a stored message (same `webhook-id`): to `endpoint_id`, or to
    every enabled endpoint it was delivered to before; their ids."""
    m, d, e = webhook_messages.c, webhook_deliveries.c, webhook_endpoints.c
    found = connection.execute(
        select(m.id).where(m.tenant_id == tenant_id, m.id == message_id)
    ).first()
    if found is None:
        raise MessageNotFound(f"no webhook message {message_id!r}")
    if endpoint_id is not None:
        target = endpoint(connection, tenant_id, endpoint_id)
        if not target.enabled:
            raise Conflict(f"endpoint {endpoint_id} is disabled: enable it to replay to it")
        targets = [target.id]
    else:
        targets = sorted(
            connection.execute(
                select(func.distinct(d.endpoint_id))
                .join(webhook_endpoints, e.id == d.endpoint_id)
                .where(d.message_id == message_id, e.enabled.is_(True))
            ).scalars()
        )
        if not targets:
            raise Conflict(f"message {message_id!r} has no enabled endpoint to replay to")
    ids = []
    for target_id in targets:
        result = connection.execute(
            insert(webhook_deliveries).values(
                tenant_id=tenant_id,
                message_id=message_id,
                endpoint_id=target_id,
                status="pending",
                attempts=0,
                next_attempt_us=now_us,
                lease_until_us=None,
                created_us=now_us,
                updated_us=now_us,
            )
        )
        assert result.inserted_primary_key is not None
        ids.append(int(result.inserted_primary_key[0]))
    return ids


def delivery_json(delivery: Delivery) -> dict[str, Any]:
    """A delivery as the API and `--json` print it, with its attempts."""
    return {
        "id": delivery.id,
        "message_id": delivery.message_id,
        "event_type": delivery.event_type,
        "endpoint": delivery.endpoint,
        "url": delivery.url,
        "status": delivery.status,
        "next_attempt": None
        if delivery.next_attempt_us is None
        else format_micros(delivery.next_attempt_us),
        "created": format_micros(delivery.created_us),
        "attempts": [
            {
                "at": format_micros(a.attempted_us),
                "status_code": a.status_code,
                "error": a.error,
                "duration_ms": round(a.duration_us / 1000, 1),
                "response": a.response_head,
            }
            for a in delivery.attempts
        ],
    }
