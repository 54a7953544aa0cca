"""Oracles in the store, both backends: signed readings accepted once, refused with reasons, on
the ledger; metric values by rule; and gain-share rated from them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine, func, select

from valueproof.contracts.registry import apply_contract
from valueproof.contracts.service import rate_period
from valueproof.contracts.validation import parse_contract
from valueproof.errors import InvalidInput
from valueproof.ledger import log as ledger_log
from valueproof.ledger.audit import audit
from valueproof.ledger.leaves import parse_leaf
from valueproof.metering.registry import load_catalog
from valueproof.outcomes.aggregation import Flag, MetricValue
from valueproof.outcomes.oracles import (
    MetricDefinition,
    SourceDefinition,
    apply_metric,
    apply_source,
    metric_value,
    stored_readings,
    submit_readings,
)
from valueproof.outcomes.readings import (
    Reading,
    parse_submission,
    public_key_text,
    sign_reading,
    submission,
    verify_signature,
)
from valueproof.outcomes.readings_source import OracleReadingSource
from valueproof.outcomes.tables import oracle_readings
from valueproof.store import read, tenant_lock, write
from valueproof.tenancy.accounts import AccountCreate, create_account
from valueproof.tenancy.tenants import Tenant

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
KEYS = {
    name: Ed25519PrivateKey.from_private_bytes(bytes([i + 1]) * 32)
    for i, name in enumerate(("bi", "crm", "warehouse", "intruder"))
}


def signed(source: str, value: str, as_of: datetime, nonce: str, key: str | None = None) -> Any:
    reading = Reading(source, "nrr", Decimal(value), as_of, nonce)
    return submission(reading, sign_reading(KEYS[key or source], reading))


def register(engine: Engine, tenant: Tenant, *names: str, rule: dict[str, Any]) -> None:
    with write(engine) as connection:
        tenant_lock(connection, tenant.id)
        for name in names:
            definition = SourceDefinition(
                key=name,
                public_key=public_key_text(KEYS[name].public_key()),
                metrics=["nrr"],
                max_age_seconds=400 * 86_400,
            )
            apply_source(connection, tenant.id, definition, 1)
        apply_metric(connection, tenant.id, MetricDefinition(key="nrr", **rule), 1)


def submit(engine: Engine, tenant: Tenant, *items: Any, now: datetime = NOW) -> list[Any]:
    with write(engine) as connection:
        tenant_lock(connection, tenant.id)
        return submit_readings(connection, tenant.id, list(items), now)


@pytest.fixture
def single(engine: Engine, tenant: Tenant) -> Tenant:
    register(engine, tenant, "bi", rule={"rule": "single", "sources": ["bi"]})
    return tenant


def test_a_signed_reading_is_accepted_once_and_is_a_leaf_anyone_can_reverify(
    engine: Engine, single: Tenant
) -> None:
    item = signed("bi", "108.50", NOW - timedelta(hours=1), "nonce-0001")
    [first] = submit(engine, single, item)
    [again] = submit(engine, single, item)
    assert (first.status, again.status) == ("accepted", "duplicate")
    assert again.leaf_index == first.leaf_index == 0
    with read(engine) as connection:
        leaf = parse_leaf(ledger_log.entry(connection, single.id, 0))
    assert leaf.record_type == "oracle_reading"
    reading, signature = parse_submission(
        {
            "reading": {k: leaf.record[k] for k in ("source", "metric", "value", "as_of", "nonce")},
            "signature": leaf.record["signature"],
        }
    )
    verify_signature(KEYS["bi"].public_key(), reading, signature)
    assert reading.payload()["value"] == "108.50"  # the text as signed, not 108.5


def test_refusals_name_the_field_and_store_nothing(engine: Engine, single: Tenant) -> None:
    hour_ago = NOW - timedelta(hours=1)
    good = signed("bi", "101", hour_ago, "good-nonce-1")
    items = [
        signed("bi", "101", hour_ago, "forged-0001", key="intruder"),
        signed("bi", "101", NOW - timedelta(days=401), "stale-00001"),
        signed("bi", "101", NOW + timedelta(hours=1), "future-0001"),
        signed("nobody", "101", hour_ago, "unknown-001", key="intruder"),
        {"reading": good["reading"]},
        good,
    ]
    results = submit(engine, single, *items)
    fields = [[e.field for e in r.errors] for r in results]
    assert [r.status for r in results] == ["rejected"] * 5 + ["accepted"]
    assert fields[:5] == [
        ["signature"],
        ["reading.as_of"],
        ["reading.as_of"],
        ["reading.source"],
        ["signature"],
    ]
    assert "stale" in results[1].errors[0].reason
    tampered = {**good, "reading": {**good["reading"], "value": "109"}}
    [conflict] = submit(engine, single, tampered)
    assert conflict.status in ("rejected", "conflict")  # the signature no longer verifies
    reused = signed("bi", "109", hour_ago, "good-nonce-1")
    [replay] = submit(engine, single, reused)
    assert (replay.status, replay.errors[0].field) == ("conflict", "reading.nonce")
    with read(engine) as connection:
        count = connection.execute(
            select(func.count()).where(oracle_readings.c.tenant_id == single.id)
        ).scalar()
        assert count == 1 and ledger_log.log_size(connection, single.id) == 1
        assert audit(connection, single.id, (OracleReadingSource(),), ()).ok


def test_a_metric_rule_must_name_sources_that_may_report_it(engine: Engine, tenant: Tenant) -> None:
    with write(engine) as connection, pytest.raises(InvalidInput) as caught:
        apply_metric(connection, tenant.id, MetricDefinition(key="nrr", sources=["ghost"]), 1)
    assert caught.value.field == "sources[0]"


def test_the_median_of_several_sources_or_a_flag_when_they_disagree(
    engine: Engine, tenant: Tenant
) -> None:
    rule = {
        "rule": "median",
        "sources": ["bi", "crm", "warehouse"],
        "min_sources": 2,
        "tolerance": "2",
    }
    register(engine, tenant, "bi", "crm", "warehouse", rule=rule)
    day = NOW - timedelta(days=1)
    submit(engine, tenant, signed("bi", "107", day, "n-bi-00001"))
    with read(engine) as connection:
        too_few = metric_value(connection, tenant.id, "nrr", NOW)
    assert isinstance(too_few, Flag)
    submit(engine, tenant, signed("crm", "108", day, "n-crm-0001"))
    with read(engine) as connection:
        two = metric_value(connection, tenant.id, "nrr", NOW)
    assert isinstance(two, MetricValue) and two.value == Decimal("107.5")
    submit(engine, tenant, signed("warehouse", "115", day, "n-wh-00001"))
    with read(engine) as connection:
        wide = metric_value(connection, tenant.id, "nrr", NOW)
        history = stored_readings(connection, tenant.id, "nrr")
    assert isinstance(wide, Flag) and "disagree" in wide.reason
    assert [r.source for r in history] == ["bi", "crm", "warehouse"]


def test_gain_share_is_rated_from_the_oracle_with_the_readings_leaves(
    engine: Engine, single: Tenant
) -> None:
    with write(engine) as connection:
        create_account(connection, single.id, AccountCreate(external_id="acme", name="Acme"))
    start = datetime(2026, 1, 1, tzinfo=UTC)
    [base] = submit(engine, single, signed("bi", "100", start, "baseline-01"))
    [now] = submit(engine, single, signed("bi", "108", NOW - timedelta(days=2), "current-001"))
    document = {
        "contract": "acme-nrr",
        "account": "acme",
        "currency": "USD",
        "term": {"start": "2026-01-01", "end": "2027-01-01"},
        "components": [
            {
                "id": "nrr",
                "type": "gain_share",
                "metric": "nrr",
                "baseline": {"as_of": "2026-01-01T00:00:00Z"},
                "value_per_unit": "10000.00",
                "tiers": [{"threshold": 5, "percent": 5}, {"threshold": 10, "percent": 10}],
            },
        ],
    }
    with write(engine) as connection:
        tenant_lock(connection, single.id)
        catalog = load_catalog(connection, single.id)
        apply_contract(connection, single.id, parse_contract(document), catalog, 1)
    with read(engine) as connection:
        charges = rate_period(connection, single.id, "acme", NOW, NOW)
    [line] = charges.lines
    assert line.amount == Decimal("4000.00")  # 5% of 8 points x 10,000.00
    assert [s.leaves for s in line.sources] == [
        ((base.leaf_index, base.leaf_index),),
        ((now.leaf_index, now.leaf_index),),
    ]
    with read(engine) as connection:  # before the current reading: no measured value this month
        early = rate_period(connection, single.id, "acme", NOW, datetime(2026, 11, 5, tzinfo=UTC))
    assert early.lines[0].amount == Decimal("0.00")
    assert "no current reading from bi" in early.lines[0].detail["missing"]


def test_a_source_keeps_the_metrics_a_rule_reads_from_it(engine: Engine, single: Tenant) -> None:
    narrowed = SourceDefinition(
        key="bi", public_key=public_key_text(KEYS["bi"].public_key()), metrics=["churn"]
    )
    with write(engine) as connection, pytest.raises(InvalidInput, match="metric 'nrr' reads"):
        apply_source(connection, single.id, narrowed, 2)
    with pytest.raises(ValueError, match="public_key"):
        SourceDefinition(key="x", public_key="not a key", metrics=["nrr"])
