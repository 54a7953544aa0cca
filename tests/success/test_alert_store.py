"""Alerts in the store, both backends: one live alert per account, type and reason, updated and
never repeated; snoozed out of the queue until its time; cleared when the signal goes."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError

from valueproof.errors import Conflict, InvalidInput, NotFound
from valueproof.store import read, tenant_lock, write
from valueproof.success.alert_store import Reconciled, alert_queue, reconcile, snooze
from valueproof.success.alerts import Signal
from valueproof.success.tables import success_alerts
from valueproof.tenancy.accounts import AccountCreate, create_account
from valueproof.tenancy.tenants import Tenant

HOUR = 3_600 * 1_000_000
CHECKED = ("decline", "quiet")


def decline(actual: float, reason: str = "calls") -> Signal:
    return Signal("decline", reason, "warning", f"{reason} down", {"actual": actual})


@pytest.fixture
def acme(engine: Engine, tenant: Tenant) -> int:
    with write(engine) as connection:
        return create_account(
            connection, tenant.id, AccountCreate(external_id="acme", name="Acme")
        ).id


def evaluate(engine: Engine, tenant: Tenant, account: int, signals: list[Signal], at: int) -> Any:
    with write(engine) as connection:
        tenant_lock(connection, tenant.id)
        return reconcile(connection, tenant.id, account, signals, CHECKED, at)


def queue(engine: Engine, tenant: Tenant, status: str = "open", now: int | None = None) -> Any:
    with read(engine) as connection:
        return alert_queue(connection, tenant.id, status, now_us=now)


def test_a_repeated_signal_updates_its_alert_and_a_gone_one_clears_it(
    engine: Engine, tenant: Tenant, acme: int
) -> None:
    assert evaluate(engine, tenant, acme, [decline(40)], HOUR) == Reconciled(opened=1)
    assert evaluate(engine, tenant, acme, [decline(30), decline(31)], 2 * HOUR) == Reconciled(
        updated=1
    )
    [alert] = queue(engine, tenant)
    assert (alert.times_seen, alert.numbers, alert.opened_us, alert.updated_us) == (
        2,
        {"actual": 30},
        HOUR,
        2 * HOUR,
    )
    # A type this evaluation did not check stays as it is.
    other = Signal("surge", "calls", "info", "up", {})
    evaluate(engine, tenant, acme, [decline(30), other], 3 * HOUR)
    with write(engine) as connection:
        kept = reconcile(connection, tenant.id, acme, [decline(30)], ("decline",), 4 * HOUR)
    assert kept == Reconciled(updated=1)
    assert {a.type for a in queue(engine, tenant)} == {"decline", "surge"}
    assert evaluate(engine, tenant, acme, [], 5 * HOUR) == Reconciled(cleared=1)
    [resolved] = queue(engine, tenant, "resolved")
    assert (resolved.type, resolved.resolution, resolved.resolved_us) == (
        "decline",
        "cleared",
        5 * HOUR,
    )
    # The condition coming back opens a new alert; the resolved one stays on record.
    assert evaluate(engine, tenant, acme, [decline(20)], 6 * HOUR) == Reconciled(opened=1)
    with read(engine) as connection:
        total = connection.execute(
            select(func.count())
            .select_from(success_alerts)
            .where(success_alerts.c.tenant_id == tenant.id)
        ).scalar_one()
    assert total == 3


def test_snoozed_alerts_leave_the_queue_until_their_time_and_keep_being_updated(
    engine: Engine, tenant: Tenant, acme: int
) -> None:
    evaluate(engine, tenant, acme, [decline(40)], HOUR)
    [alert] = queue(engine, tenant)
    with write(engine) as connection:
        snoozed = snooze(connection, tenant.id, alert.id, 10 * HOUR, 2 * HOUR)
    assert (snoozed.status, snoozed.snoozed_until_us) == ("snoozed", 10 * HOUR)
    assert queue(engine, tenant, now=3 * HOUR) == []
    assert [a.id for a in queue(engine, tenant, "snoozed", now=3 * HOUR)] == [alert.id]
    assert evaluate(engine, tenant, acme, [decline(35)], 4 * HOUR) == Reconciled(updated=1)
    assert queue(engine, tenant, now=4 * HOUR) == []
    # Past its time the queue shows it again, and the next evaluation reopens it.
    assert [a.id for a in queue(engine, tenant, now=11 * HOUR)] == [alert.id]
    assert evaluate(engine, tenant, acme, [decline(33)], 12 * HOUR) == Reconciled(reopened=1)
    [again] = queue(engine, tenant)
    assert (again.id, again.status, again.snoozed_until_us, again.times_seen) == (
        alert.id,
        "open",
        None,
        3,
    )


def test_bad_snoozes_are_refused(engine: Engine, tenant: Tenant, acme: int) -> None:
    evaluate(engine, tenant, acme, [decline(40)], HOUR)
    [alert] = queue(engine, tenant)
    with write(engine) as connection:
        for until, reason in ((HOUR, "future"), (HOUR * 24 * 200, "180 days")):
            with pytest.raises(InvalidInput, match=reason) as caught:
                snooze(connection, tenant.id, alert.id, until, 2 * HOUR)
            assert caught.value.field == "until"
        with pytest.raises(NotFound):
            snooze(connection, tenant.id, 999_999, 3 * HOUR, 2 * HOUR)
    evaluate(engine, tenant, acme, [], 3 * HOUR)
    with write(engine) as connection, pytest.raises(Conflict, match="resolved"):
        snooze(connection, tenant.id, alert.id, 5 * HOUR, 4 * HOUR)


def test_the_store_itself_refuses_a_second_live_alert_for_the_same_key(
    engine: Engine, tenant: Tenant, acme: int
) -> None:
    evaluate(engine, tenant, acme, [decline(40)], HOUR)
    row = {
        "tenant_id": tenant.id,
        "account_id": acme,
        "type": "decline",
        "reason": "calls",
        "status": "open",
        "severity": "warning",
        "message": "",
        "numbers": "{}",
        "opened_us": 1,
        "updated_us": 1,
        "times_seen": 1,
    }
    with pytest.raises(IntegrityError), write(engine) as connection:
        connection.execute(success_alerts.insert().values(**row))
    with write(engine) as connection:  # a resolved one beside it is fine
        connection.execute(success_alerts.insert().values(**{**row, "status": "resolved"}))


def test_the_queue_puts_critical_first_then_the_latest(
    engine: Engine, tenant: Tenant, acme: int
) -> None:
    quiet = Signal("quiet", "usage", "critical", "quiet", {})
    evaluate(engine, tenant, acme, [decline(1, "calls"), decline(1, "tokens"), quiet], HOUR)
    evaluate(engine, tenant, acme, [decline(1, "calls"), decline(2, "tokens"), quiet], 2 * HOUR)
    order = [(a.type, a.reason) for a in queue(engine, tenant)]
    assert order[0] == ("quiet", "usage")
    assert set(order[1:]) == {("decline", "calls"), ("decline", "tokens")}
    with read(engine) as connection, pytest.raises(InvalidInput):
        alert_queue(connection, tenant.id, "closed")
