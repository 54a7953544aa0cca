"""Alerts in the store: one live alert per account, type and reason, updated by each evaluation
rather than repeated, snoozed by a CSM until a given time, and resolved (`cleared`) when the
condition no longer holds. The caller's transaction holds the tenant lock."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, Row, case, insert, select, update

from valueproof.errors import Conflict, InvalidInput, NotFound
from valueproof.periods import format_micros
from valueproof.success.alerts import Signal
from valueproof.success.tables import success_alerts
from valueproof.tenancy.tables import accounts
from valueproof.webhooks.outbox import enqueue_many

__all__ = [
    "Reconciled",
    "StoredAlert",
    "alert_json",
    "alert_queue",
    "reconcile",
    "snooze",
]

_MAX_SNOOZE_US = 180 * 86_400 * 1_000_000
_LIVE = ("open", "snoozed")


@dataclass(frozen=True, slots=True)
class StoredAlert:
    """An alert as recorded; `numbers` are those of its latest signal."""

    id: int
    account: str
    type: str
    reason: str
    status: str
    severity: str
    message: str
    numbers: dict[str, Any]
    opened_us: int
    updated_us: int
    times_seen: int
    snoozed_until_us: int | None
    resolved_us: int | None
    resolution: str | None


@dataclass(frozen=True, slots=True)
class Reconciled:
    """What one evaluation did to an account's alerts."""

    opened: int = 0
    updated: int = 0
    reopened: int = 0  # snoozed ones whose snooze had ended
    cleared: int = 0


def reconcile(
    connection: Connection,
    tenant_id: int,
    account_id: int,
    signals: Sequence[Signal],
    checked: Collection[str],
    now_us: int,
) -> Reconciled:
    """Bring the account's alerts in line with this evaluation's signals: a new signal opens an
    alert, a repeated one updates its live alert, and a live alert of a `checked` type whose
    signal is gone is resolved as `cleared`. An opened or resolved alert sends its webhook
    (`alert.opened`, `alert.resolved`) in the same transaction."""
    t = success_alerts.c
    live = {
        (row.type, row.reason): row
        for row in connection.execute(
            select(t.id, t.type, t.reason, t.status, t.snoozed_until_us, t.times_seen).where(
                t.tenant_id == tenant_id, t.account_id == account_id, t.status.in_(_LIVE)
            )
        )
    }
    opened = updated = reopened = cleared = 0
    seen = set()
    announced: dict[str, list[int]] = {"alert.opened": [], "alert.resolved": []}
    for signal in signals:
        key = (signal.type, signal.reason)
        if key in seen:
            continue
        seen.add(key)
        values = {
            "severity": signal.severity,
            "message": signal.message,
            "numbers": orjson.dumps(signal.numbers, option=orjson.OPT_SORT_KEYS).decode(),
            "updated_us": now_us,
        }
        row = live.get(key)
        if row is None:
            inserted = connection.execute(
                insert(success_alerts).values(
                    tenant_id=tenant_id,
                    account_id=account_id,
                    type=signal.type,
                    reason=signal.reason,
                    status="open",
                    opened_us=now_us,
                    times_seen=1,
                    **values,
                )
            )
            assert inserted.inserted_primary_key is not None
            announced["alert.opened"].append(int(inserted.inserted_primary_key[0]))
            opened += 1
            continue
        if row.status == "snoozed" and (row.snoozed_until_us or 0) <= now_us:
            values |= {"status": "open", "snoozed_until_us": None}
            reopened += 1
        else:
            updated += 1
        connection.execute(
            update(success_alerts)
            .where(t.id == row.id)
            .values(times_seen=row.times_seen + 1, **values)
        )
    for key, row in live.items():
        if key[0] in checked and key not in seen:
            connection.execute(
                update(success_alerts)
                .where(t.id == row.id)
                .values(
                    status="resolved", resolution="cleared", resolved_us=now_us, updated_us=now_us
                )
            )
            announced["alert.resolved"].append(row.id)
            cleared += 1
    for event_type, ids in announced.items():
        if ids:
            # Alerts are no ledger leaves: `leaf_index` is null.
            snapshots = (
                {**alert_json(_one(connection, tenant_id, alert_id)), "leaf_index": None}
                for alert_id in ids
            )
            enqueue_many(connection, tenant_id, event_type, snapshots, now_us)
    return Reconciled(opened, updated, reopened, cleared)


def snooze(
    connection: Connection, tenant_id: int, alert_id: int, until_us: int, now_us: int
) -> StoredAlert:
    """Snooze a live alert until `until_us`: it stays live and updated, out of the open queue."""
    if until_us <= now_us:
        raise InvalidInput("until", "must be in the future")
    if until_us - now_us > _MAX_SNOOZE_US:
        raise InvalidInput("until", "at most 180 days ahead")
    found = _one(connection, tenant_id, alert_id)
    if found.status == "resolved":
        raise Conflict(f"alert {alert_id} is resolved ({found.resolution})")
    t = success_alerts.c
    connection.execute(
        update(success_alerts)
        .where(t.id == alert_id)
        .values(status="snoozed", snoozed_until_us=until_us, updated_us=now_us)
    )
    return _one(connection, tenant_id, alert_id)


def alert_queue(
    connection: Connection,
    tenant_id: int,
    status: str = "open",
    account: str | None = None,
    now_us: int | None = None,
    limit: int = 200,
    live_at_us: int | None = None,
) -> list[StoredAlert]:
    """Alerts in `status` (open, snoozed, resolved), critical first, then the latest updated.
    With `now_us`, snoozed alerts whose snooze has ended count as open. With `live_at_us`, the
    alerts that were live at that past instant (opened by then, not yet resolved), whatever
    their status now: the queue as it stood then."""
    if status not in ("open", "snoozed", "resolved"):
        raise InvalidInput("status", "must be one of open, snoozed, resolved")
    t = success_alerts.c
    query = _query(tenant_id)
    if live_at_us is not None:
        query = query.where(
            t.opened_us <= live_at_us, t.resolved_us.is_(None) | (t.resolved_us > live_at_us)
        )
    elif status == "open" and now_us is not None:
        query = query.where(
            (t.status == "open") | ((t.status == "snoozed") & (t.snoozed_until_us <= now_us))
        )
    elif status == "snoozed" and now_us is not None:
        query = query.where(t.status == "snoozed", t.snoozed_until_us > now_us)
    else:
        query = query.where(t.status == status)
    if account is not None:
        query = query.where(accounts.c.external_id == account)
    rank = case({"critical": 0, "warning": 1}, value=t.severity, else_=2)
    rows = connection.execute(query.order_by(rank, t.updated_us.desc(), t.id).limit(limit))
    return [_stored(row) for row in rows]


def _query(tenant_id: int) -> Any:
    return (
        select(success_alerts, accounts.c.external_id)
        .join(accounts, accounts.c.id == success_alerts.c.account_id)
        .where(success_alerts.c.tenant_id == tenant_id)
    )


def _one(connection: Connection, tenant_id: int, alert_id: int) -> StoredAlert:
    row = connection.execute(_query(tenant_id).where(success_alerts.c.id == alert_id)).first()
    if row is None:
        raise NotFound(f"no alert {alert_id}")
    return _stored(row)


def _stored(row: Row[Any]) -> StoredAlert:
    return StoredAlert(
        row.id,
        row.external_id,
        row.type,
        row.reason,
        row.status,
        row.severity,
        row.message,
        orjson.loads(row.numbers),
        row.opened_us,
        row.updated_us,
        row.times_seen,
        row.snoozed_until_us,
        row.resolved_us,
        row.resolution,
    )


def alert_json(alert: StoredAlert) -> dict[str, Any]:
    """An alert as the API and `--json` print it."""

    def instant(micros: int | None) -> str | None:
        return None if micros is None else format_micros(micros)

    return {
        "id": alert.id,
        "account": alert.account,
        "type": alert.type,
        "reason": alert.reason,
        "status": alert.status,
        "severity": alert.severity,
        "message": alert.message,
        "numbers": alert.numbers,
        "opened": instant(alert.opened_us),
        "updated": instant(alert.updated_us),
        "times_seen": alert.times_seen,
        "snoozed_until": instant(alert.snoozed_until_us),
        "resolved": instant(alert.resolved_us),
        "resolution": alert.resolution,
    }
