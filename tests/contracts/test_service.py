"""Rating against the store, both backends: inputs from rollups match the raw events, every
account rates the same alone or in the month-end run, and the same ledger prefix gives the
same bytes."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson
import pytest
from sqlalchemy import select

from valueproof.contracts.rating import Charges, charges_bytes
from valueproof.contracts.service import preview, rate_accounts, rate_period
from valueproof.errors import InvalidInput
from valueproof.metering.tables import events
from valueproof.periods import to_micros
from valueproof.store import read
from valueproof.tenancy.tables import accounts

from .conftest import Priced, call, contract_document

NOW = datetime(2026, 11, 16, tzinfo=UTC)  # half of November has gone by


def line(charges: Charges, component: str, kind: str | None = None) -> Any:
    return next(ln for ln in charges.lines if ln.component == component and kind in (None, ln.kind))


def rate_now(priced: Priced, account: str = "acme", at: datetime = NOW) -> Charges:
    with read(priced.engine) as connection:
        return rate_period(connection, priced.tenant.id, account, at, NOW)


def test_period_to_date_charges_follow_the_events_as_they_land(priced: Priced) -> None:
    priced.apply(contract_document())
    priced.ingest([call(i) for i in range(30)])
    first = rate_now(priced)
    assert line(first, "api").amount == Decimal("0.06")  # 30 x 0.002
    priced.ingest([call(i) for i in range(30, 530)])
    second = rate_now(priced)
    assert line(second, "api").quantity == 530
    assert line(second, "api").amount == Decimal("1.06")
    assert second.total == Decimal("101.06")


def test_the_projection_runs_usage_on_at_the_current_rate(priced: Priced) -> None:
    priced.apply(contract_document())
    priced.ingest([call(i) for i in range(1000)])
    with read(priced.engine) as connection:
        seen = preview(connection, priced.tenant.id, "acme", NOW)
    assert seen.factor == 2  # 360 of 720 hours
    assert line(seen.charges, "api").quantity == 1000
    assert line(seen.projected, "api").quantity == 2000
    assert line(seen.projected, "platform").amount == line(seen.charges, "platform").amount
    assert seen.projected.total == Decimal("104.00")


def test_usage_outside_the_period_or_of_another_account_does_not_count(priced: Priced) -> None:
    priced.apply(contract_document())
    october = {**call(1), "id": "october", "timestamp": "2026-10-31T23:59:59Z"}
    priced.ingest([call(1), october, call(2, account="globex")])
    assert line(rate_now(priced), "api").quantity == 1
    assert line(rate_now(priced, at=datetime(2026, 10, 5, tzinfo=UTC)), "api").quantity == 1


def test_rollup_totals_and_their_leaves_match_the_raw_events(priced: Priced) -> None:
    priced.apply(contract_document())
    batch = [
        call(i, account=("acme", "globex")[i % 2], day=1 + i % 15, region=("eu", "us")[i % 3 == 0])
        for i in range(400)
    ]
    priced.ingest(batch[:250])
    priced.ingest(batch[250:])
    api = line(rate_now(priced), "api")
    with read(priced.engine) as connection:
        rows = connection.execute(
            select(events.c.leaf_index, events.c.ts_us, events.c.properties)
            .join(accounts, accounts.c.id == events.c.account_id)
            .where(events.c.tenant_id == priced.tenant.id, accounts.c.external_id == "acme")
        ).all()
    november = to_micros(datetime(2026, 11, 1, tzinfo=UTC))
    counted = [r.leaf_index for r in rows if r.ts_us >= november]
    assert api.quantity == len(counted)
    [source] = api.sources
    assert source.events == len(counted)
    [(first, last)] = source.leaves
    assert (first, last) == (min(counted), max(counted))
    regions = Counter(orjson.loads(r.properties)["region"] for r in rows)
    assert sum(regions.values()) == api.quantity


def test_a_voided_event_leaves_the_charges_and_their_leaf_span(priced: Priced) -> None:
    priced.apply(contract_document())
    priced.ingest([call(i) for i in range(5)])
    priced.ingest(
        [
            {
                "id": "void-4",
                "account": "acme",
                "type": "api.call",
                "timestamp": "2026-11-03T04:00:00Z",
                "voids": "call-acme-4",
                "properties": {"region": "eu"},
            }
        ]
    )
    api = line(rate_now(priced), "api")
    assert api.quantity == 4
    assert api.sources[0].leaves == ((1, 4),)  # leaf 0 is the contract; call-acme-4 was leaf 5


def test_the_month_end_run_rates_every_account_as_it_rates_alone(priced: Priced) -> None:
    priced.apply(contract_document())
    priced.apply(contract_document(key="globex-2026", account="globex"))
    priced.ingest([call(i, account=("acme", "globex")[i % 2]) for i in range(101)])
    with read(priced.engine) as connection:
        together = {c.account: c for c in rate_accounts(connection, priced.tenant.id, NOW, NOW)}
    assert set(together) == {"acme", "globex"}  # initech has no contract
    for account, charges in together.items():
        assert charges_bytes(charges) == charges_bytes(rate_now(priced, account))


def test_the_same_ledger_prefix_rates_to_the_same_bytes(priced: Priced) -> None:
    priced.apply(contract_document())
    priced.ingest([call(i) for i in range(50)])
    first, again = rate_now(priced), rate_now(priced)
    assert charges_bytes(first) == charges_bytes(again)
    assert first.ledger_size == 51
    priced.ingest([call(50)])
    later = rate_now(priced)
    assert later.ledger_size == 52
    assert charges_bytes(later) != charges_bytes(first)


def test_a_per_transaction_minimum_reads_each_payment(priced: Priced) -> None:
    document = contract_document()
    document["components"] = [
        {"id": "fees", "type": "percentage", "meter": "payments", "percent": 1, "minimum": "0.50"}
    ]
    priced.apply(document)
    priced.ingest(
        [
            {
                "id": f"pay-{i}",
                "account": "acme",
                "type": "payment",
                "timestamp": f"2026-11-02T0{i}:00:00Z",
                "properties": {"amount": amount},
            }
            for i, amount in enumerate([10, 200, 30.5])
        ]
    )
    fees = line(rate_now(priced), "fees")
    assert fees.amount == Decimal("3.00")  # 0.50 (minimum) + 2.00 + 0.50 (minimum)
    assert fees.detail["minimum_applied"] == 2


def test_seats_credit_users_who_never_logged_in(priced: Priced) -> None:
    document = contract_document()
    document["components"] = [
        {
            "id": "seats",
            "type": "seats",
            "seats": 10,
            "active_meter": "active_users",
            "unit_price": "20.00",
        }
    ]
    priced.apply(document)
    logins = [
        {
            "id": f"login-{i}",
            "account": "acme",
            "type": "login",
            "timestamp": f"2026-11-0{1 + i % 9}T08:00:00Z",
            "properties": {"user": f"u{i % 4}"},
        }
        for i in range(30)
    ]
    priced.ingest(logins)
    charges = rate_now(priced)
    assert line(charges, "seats", "seat_credit").amount == Decimal("-120.00")  # 6 idle seats
    assert charges.total == Decimal("80.00")


def test_prepaid_credits_carry_what_earlier_periods_left(priced: Priced) -> None:
    document = contract_document()
    document["components"] = [
        {"id": "api", "type": "per_unit", "meter": "calls", "unit_price": "0.10"},
        {
            "id": "wallet",
            "type": "prepaid_credits",
            "grants": [{"id": "prepaid", "amount": "15.00", "granted": "2026-01-01"}],
        },
    ]
    priced.apply(document)
    october = [
        {**call(i), "id": f"oct-{i}", "timestamp": "2026-10-10T10:00:00Z"} for i in range(100)
    ]
    priced.ingest(october + [call(i) for i in range(80)])  # October 10.00, November 8.00
    charges = rate_now(priced)
    wallet = line(charges, "wallet")
    assert wallet.amount == Decimal("-5.00")  # the 5.00 October left
    assert charges.total == Decimal("3.00")


def test_an_account_without_a_contract_in_force_is_refused(priced: Priced) -> None:
    priced.apply(contract_document())
    with pytest.raises(InvalidInput, match="no contract in force"):
        rate_now(priced, account="globex")
    with pytest.raises(InvalidInput, match="no contract in force"):
        rate_now(priced, at=datetime(2027, 3, 1, tzinfo=UTC))
    with pytest.raises(InvalidInput, match="unknown account"):
        rate_now(priced, account="nobody")
