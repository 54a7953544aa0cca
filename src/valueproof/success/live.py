"""Keeping Customer Success current while the server runs: on each beat, refresh the accounts
that received usage since the last beat (their alerts and health follow within one interval of
ingest), and once a day every account (an account that went quiet sends nothing to notice).

The position is the highest event `seq` seen, kept in the tenant's settings table under a key
the settings API does not serve.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, delete, func, insert, select

from valueproof.metering.tables import events
from valueproof.success.refresh import RefreshReport, refresh
from valueproof.success.tables import success_settings
from valueproof.tenancy.tables import accounts, tenants

__all__ = ["MARKER", "refresh_tenant_if_due", "tenant_ids"]

MARKER = "_live_refresh"


def tenant_ids(connection: Connection) -> list[int]:
    return [int(row.id) for row in connection.execute(select(tenants.c.id).order_by(tenants.c.id))]


def refresh_tenant_if_due(
    connection: Connection, tenant_id: int, now: datetime
) -> RefreshReport | None:
    """Refresh every account on a new day, else those with events since the last beat; None
    when nothing was due. The caller holds the tenant lock."""
    marker = _marker(connection, tenant_id)
    top = connection.execute(
        select(func.max(events.c.seq)).where(events.c.tenant_id == tenant_id)
    ).scalar_one()
    top = int(top or 0)
    today = now.date().isoformat()
    report = None
    if marker.get("day") != today:
        report = refresh(connection, tenant_id, now)
    elif top > int(marker.get("seq", 0)):
        touched = connection.execute(
            select(accounts.c.external_id)
            .join(events, events.c.account_id == accounts.c.id)
            .where(events.c.tenant_id == tenant_id, events.c.seq > int(marker.get("seq", 0)))
            .distinct()
        ).scalars()
        report = refresh(connection, tenant_id, now, list(touched))
    if report is not None:
        _store(connection, tenant_id, {"day": today, "seq": top}, now)
    return report


def _marker(connection: Connection, tenant_id: int) -> dict[str, Any]:
    t = success_settings.c
    row = connection.execute(
        select(t.document).where(t.tenant_id == tenant_id, t.key == MARKER)
    ).first()
    found = {} if row is None else orjson.loads(row.document)
    return found if isinstance(found, dict) else {}


def _store(
    connection: Connection, tenant_id: int, document: dict[str, object], now: datetime
) -> None:
    t = success_settings.c
    connection.execute(delete(success_settings).where(t.tenant_id == tenant_id, t.key == MARKER))
    connection.execute(
        insert(success_settings).values(
            tenant_id=tenant_id,
            key=MARKER,
            document=orjson.dumps(document).decode(),
            updated_us=int(now.timestamp() * 1_000_000),
        )
    )
