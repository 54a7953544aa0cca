"""PLACEHOLDER replaced by h/webhooks at merge: the outbox's enqueue signature."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection


def enqueue(
    connection: Connection, tenant_id: int, event_type: str, data: dict[str, Any], now_us: int
) -> str:
    return ""
